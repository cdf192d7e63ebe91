// Bounded JSON parsing (nn/json_bounded.h): text from files is refused past a
// nesting depth or a size, with a drift::Error naming the source and the
// limit, before anything recursive (dump, copy) touches the value.
#include <gtest/gtest.h>

#include <string>

#include "nn/json_bounded.h"

using namespace drift;
using namespace drift::nn;

namespace {
std::string error_of(const std::string& text, const JsonLimits& limits = {}) {
  try {
    parse_json_bounded(text, "cfg.json", limits);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}
std::string nested(int depth) { return std::string(depth, '[') + std::string(depth, ']'); }
}  // namespace

TEST(JsonBounded, AcceptsUpToTheDepthLimit) {
  JsonLimits l{1 << 20, 4};
  EXPECT_EQ(parse_json_bounded(nested(4), "x", l).dump(), "[[[[]]]]");
  EXPECT_EQ(parse_json_bounded(R"({"a": {"b": [1, {"c": 2}]}})", "x", l)["a"]["b"][1]["c"], 2);
  EXPECT_EQ(parse_json_bounded("3", "x", JsonLimits{1, 0}), 3);  // scalars have no depth
}

TEST(JsonBounded, RefusesDeeperNesting) {
  JsonLimits l{1 << 20, 4};
  std::string msg = error_of(nested(5), l);
  EXPECT_NE(msg.find("cfg.json"), std::string::npos) << msg;
  EXPECT_NE(msg.find("limit of 4"), std::string::npos) << msg;
  EXPECT_NE(error_of(R"({"a": {"b": [1, {"c": [2]}]}})", l).find("deeper"), std::string::npos);
  // Far past the default limit: a million levels must not touch the stack.
  msg = error_of(nested(1000000));
  EXPECT_NE(msg.find("limit of 64"), std::string::npos) << msg;
}

TEST(JsonBounded, RefusesLongTextAndInvalidJson) {
  std::string msg = error_of("[1, 2, 3]", JsonLimits{8, 4});
  EXPECT_NE(msg.find("9 bytes"), std::string::npos) << msg;
  EXPECT_NE(msg.find("limit of 8"), std::string::npos) << msg;
  msg = error_of("{\"a\": ");
  EXPECT_NE(msg.find("cfg.json"), std::string::npos) << msg;
  EXPECT_NE(msg.find("not valid JSON"), std::string::npos) << msg;
}

TEST(JsonBounded, OrderedJsonKeepsOrder) {
  auto j = parse_json_bounded<nlohmann::ordered_json>(R"({"z": 1, "a": 2})", "x");
  EXPECT_EQ(j.begin().key(), "z");
}

TEST(JsonBounded, ExcerptIsShort) {
  auto j = parse_json_bounded(std::string("\"") + std::string(1000, 'x') + "\"", "x");
  EXPECT_EQ(json_excerpt(j, 10), "\"xxxxxxxxx...");
}
