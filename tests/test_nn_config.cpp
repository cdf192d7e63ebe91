// The configuration tables (nn/config.h): JSON and command-line values are
// checked for type, range and whole numbers with the key (or flag) and the
// file named; unknown keys are errors; nesting is bounded; the U-Net's
// limits are checked before anything is allocated.
#include <gtest/gtest.h>

#include <string>

#include "nn/config.h"
#include "nn/json_bounded.h"
#include "nn/unet.h"
#include "tests/test_util.h"

using namespace drift;
using drift::test::expect_error;

namespace {

enum class Color { Red, Green };
DRIFT_CONFIG_ENUM(Color, {Color::Red, "red"}, {Color::Green, "green"}, {Color::Green, "verde"})

#define INNER_FIELDS(X) X(int64_t, width, 4, config::in(1, 64), "a width")

struct Inner {
  DRIFT_CONFIG_FIELDS(INNER_FIELDS)
};

#define FLAT_FIELDS(X) X(double, rate, 0.5, config::in(0, 1), "a rate")

struct Flat {
  DRIFT_CONFIG_FIELDS(FLAT_FIELDS)
};

#define DEMO_FIELDS(X)                                                         \
  X(int64_t, batch_size, 8, config::in(1, 1024), "a count")                    \
  X(uint64_t, seed, 0, config::any(), "a seed")                                \
  X(int64_t, steps, 10, config::in(1, 1e12), "a length")                       \
  X(bool, flip, false, config::any(), "a switch")                              \
  X(std::string, name, "x", config::any(), "a name")                           \
  X(std::vector<int64_t>, mult, (std::vector<int64_t>{1, 2}), config::list(3, 1, 8), "a list") \
  X(Color, color, Color::Red, config::any(), "a colour")                       \
  X(Inner, inner, {}, config::any(), "a nested group")                         \
  X(Flat, flat, {}, config::flat(), "fields at the top level")

struct Demo {
  DRIFT_CONFIG_FIELDS(DEMO_FIELDS)
};

Demo from_json(const std::string& text) {
  Demo d;
  config::apply_json(d, nn::parse_json_bounded<config::Json>(text, "config 'demo.json'"), {"config 'demo.json'"});
  return d;
}

}  // namespace

TEST(ConfigTable, DefaultsRoundTripAndFlatFields) {
  Demo d;
  EXPECT_EQ(d.batch_size, 8);
  EXPECT_EQ(d.mult, (std::vector<int64_t>{1, 2}));
  const std::string text = config::to_json(d).dump();
  EXPECT_EQ(text,
            R"({"batch_size":8,"seed":0,"steps":10,"flip":false,"name":"x","mult":[1,2],"color":"red",)"
            R"("inner":{"width":4},"rate":0.5})");
  Demo e = from_json(R"({"batch_size": 3, "seed": 18446744073709551615, "steps": 1e4, "flip": true, "name": "y",
                         "mult": [3], "color": "verde", "inner": {"width": 7}, "rate": 1})");
  EXPECT_EQ(e.batch_size, 3);
  EXPECT_EQ(e.seed, 18446744073709551615ull);
  EXPECT_EQ(e.steps, 10000);  // a whole number written with an exponent is fine
  EXPECT_TRUE(e.flip);
  EXPECT_EQ(e.mult, std::vector<int64_t>{3});
  EXPECT_EQ(e.color, Color::Green);
  EXPECT_EQ(e.inner.width, 7);
  EXPECT_EQ(e.flat.rate, 1.0);
  EXPECT_EQ(config::to_json(from_json(config::to_json(e).dump())).dump(), config::to_json(e).dump());
}

TEST(ConfigTable, JsonValuesAreCheckedNamingFileAndKey) {
  expect_error([] { from_json(R"({"batch_size": 1.5})"); },
             {"demo.json", "'batch_size'", "expected an integer", "1.5"});
  expect_error([] { from_json(R"({"seed": -1})"); }, {"demo.json", "'seed'", "non-negative integer", "-1"});
  expect_error([] { from_json(R"({"steps": 1e30})"); }, {"demo.json", "'steps'", "in [1, 1e+12]", "1e+30"});
  expect_error([] { from_json(R"({"batch_size": 0})"); }, {"'batch_size'", "in [1, 1024]", "got 0"});
  expect_error([] { from_json(R"({"batch_size": "8"})"); }, {"'batch_size'", "expected an integer", "'8'"});
  expect_error([] { from_json(R"({"batch_size": true})"); }, {"'batch_size'", "got true"});
  expect_error([] { from_json(R"({"rate": 2})"); }, {"'rate'", "in [0, 1]", "got 2"});
  expect_error([] { from_json(R"({"flip": 1})"); }, {"'flip'", "true or false"});
  expect_error([] { from_json(R"({"mult": [1, 2, 3, 4]})"); }, {"'mult'", "at most 3 items", "got 4"});
  expect_error([] { from_json(R"({"mult": [1, 9]})"); }, {"'mult' item 1", "in [1, 8]", "got 9"});
  expect_error([] { from_json(R"({"color": "blue"})"); }, {"'color'", "'blue'", "red or green"});
  expect_error([] { from_json(R"({"inner": 3})"); }, {"'inner'", "expected an object"});
  expect_error([] { from_json(R"({"inner": {"width": 100}})"); }, {"'inner.width'", "in [1, 64]"});
  expect_error([] { from_json(R"({"inner": {"height": 1}})"); }, {"demo.json", "unknown key 'inner.height'"});
  expect_error([] { from_json(R"({"batchsize": 1})"); }, {"demo.json", "unknown key 'batchsize'", "batch_size"});
  expect_error([] { from_json("[1]"); }, {"demo.json", "expected a JSON object"});
  // A value that fails leaves the earlier ones applied but nothing half-written.
  Demo d;
  EXPECT_THROW(config::apply_json(d, config::Json::parse(R"({"mult": [1, 99]})"), {"x"}), Error);
  EXPECT_EQ(d.mult, (std::vector<int64_t>{1, 2}));
}

TEST(ConfigTable, UnknownKeysCanBeSkippedForPartialReaders) {
  Demo d;
  config::apply_json(d, config::Json::parse(R"({"batch_size": 5, "lr": 1, "inner": {"width": 2, "x": 1}})"),
                     {"checkpoint", /*ignore_unknown=*/true});
  EXPECT_EQ(d.batch_size, 5);
  EXPECT_EQ(d.inner.width, 2);
}

TEST(ConfigTable, DeepNestingIsRefusedWhileParsing) {
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  expect_error([&] { nn::parse_json_bounded<config::Json>(deep, "config 'deep.json'"); },
             {"deep.json", "deeper than"});
  const std::string nested_obj = R"({"inner": )" + std::string(200, '[') + std::string(200, ']') + "}";
  expect_error([&] { from_json(nested_obj); }, {"demo.json", "deeper than"});
}

TEST(ConfigTable, CommandLineTextIsParsedStrictly) {
  Demo d;
  EXPECT_TRUE(config::set_from_text(d, "batch_size", "12", "--batch-size"));
  EXPECT_EQ(d.batch_size, 12);
  EXPECT_TRUE(config::set_from_text(d, "steps", "1e3", "--steps"));
  EXPECT_EQ(d.steps, 1000);
  EXPECT_TRUE(config::set_from_text(d, "inner.width", "9", "--inner.width"));
  EXPECT_EQ(d.inner.width, 9);
  EXPECT_TRUE(config::set_from_text(d, "rate", "0.25", "--rate"));  // a flat field: no prefix
  EXPECT_EQ(d.flat.rate, 0.25);
  EXPECT_TRUE(config::set_from_text(d, "mult", "2,4,8", "--mult"));
  EXPECT_EQ(d.mult, (std::vector<int64_t>{2, 4, 8}));
  EXPECT_TRUE(config::set_from_text(d, "mult", "", "--mult"));
  EXPECT_TRUE(d.mult.empty());
  EXPECT_TRUE(config::set_from_text(d, "flip", "true", "--flip"));
  EXPECT_TRUE(d.flip);
  EXPECT_FALSE(config::set_from_text(d, "nothing", "1", "--nothing"));
  expect_error([&] { config::set_from_text(d, "batch_size", "3abc", "--batch-size"); },
             {"--batch-size", "expected an integer", "'3abc'"});
  expect_error([&] { config::set_from_text(d, "batch_size", "1.5", "--batch-size"); },
             {"--batch-size", "1.5"});
  expect_error([&] { config::set_from_text(d, "seed", "-1", "--seed"); }, {"--seed", "non-negative"});
  expect_error([&] { config::set_from_text(d, "steps", "1e30", "--steps"); }, {"--steps", "1e+30"});
  expect_error([&] { config::set_from_text(d, "mult", "1,x", "--mult"); }, {"--mult item 1", "'x'"});
  expect_error([&] { config::set_from_text(d, "mult", "1,", "--mult"); }, {"--mult item 1"});
  expect_error([&] { config::set_from_text(d, "flip", "maybe", "--flip"); }, {"--flip", "'maybe'"});
  expect_error([&] { config::set_from_text(d, "color", "blue", "--color"); }, {"--color", "'blue'"});
  EXPECT_EQ(d.batch_size, 12);  // the failed ones changed nothing
  EXPECT_EQ(config::flag_name("inner.base_channels"), "--inner.base-channels");
}

TEST(ConfigTable, ValuesSetInCodeAreChecked) {
  Demo d;
  d.inner.width = 0;
  expect_error([&] { config::check(d, "Demo"); }, {"Demo", "'inner.width'", "got 0"});
}

TEST(UNetConfigLimits, CheckedBeforeTheNetworkIsBuilt) {
  // 65 levels would shift by 64; 2^62 channels would overflow and allocate.
  std::string mults = "[1";
  for (int i = 0; i < 64; ++i) mults += ",1";
  mults += "]";
  expect_error([&] { nn::UNetConfig::from_json(R"({"channel_mult": )" + mults + "}"); },
             {"'channel_mult'", "at most 8 items", "got 65"});
  expect_error([] { nn::UNetConfig::from_json(R"({"base_channels": 4611686018427387904})"); },
             {"'base_channels'", "in [1, 4096]", "4611686018427387904"});
  nn::UNetConfig c = nn::UNetConfig::tiny();
  c.base_channels = int64_t{1} << 40;  // set in code: the constructor checks before allocating
  expect_error([&] { nn::UNet u(c); }, {"'base_channels'", "in [1, 4096]"});
  c = nn::UNetConfig::tiny();
  c.channel_mult = std::vector<int64_t>(9, 1);
  expect_error([&] { nn::UNet u(c); }, {"'channel_mult'", "at most 8"});
  // Each field within its limits, the whole far too large: refused by its size.
  c = nn::UNetConfig::tiny();
  c.image_size = 64;
  c.base_channels = 4096;
  c.channel_mult = {64, 64};
  c.groups = 1;
  expect_error([&] { nn::UNet u(c); }, {"parameters", "limit"});
  c = nn::UNetConfig::tiny();
  c.image_size = 12;  // 2 levels: divisible by 2, fine; 4 levels: needs 8
  c.channel_mult = {1, 1, 1, 1};
  expect_error([&] { nn::UNet u(c); }, {"image_size 12", "divisible"});
  EXPECT_LT(nn::UNetConfig::mnist().parameter_estimate(), nn::UNetConfig::kMaxParameters);
  EXPECT_GE(nn::UNetConfig::mnist().parameter_estimate(), 1623169.0);  // an upper bound of the real count
  EXPECT_GE(nn::UNetConfig::cifar().parameter_estimate(), 8952067.0);
}
