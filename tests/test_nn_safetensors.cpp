// safetensors: round trips of every dtype and the metadata, reading a file
// written by PyTorch, atomic writes, and clear errors (naming the file, the
// tensor, expected vs found) for truncated, corrupt and mismatched files.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "nn/safetensors.h"
#include "nn/unet.h"
#include "tests/test_util.h"

using namespace drift;
using drift::test::expect_error;
using namespace drift::nn;

namespace {

std::string temp_path(const std::string& name) {
  return testing::TempDir() + "drift_st_" + std::to_string(::getpid()) + "_" + name;
}

std::string read_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}
void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}
// A file with the given JSON header and `data_bytes` zero bytes of data.
void write_raw(const std::string& path, const std::string& header, size_t data_bytes) {
  std::string out(8, '\0');
  uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>(n >> (8 * i));
  out += header;
  out.append(data_bytes, '\0');
  write_bytes(path, out);
}
}  // namespace

TEST(Safetensors, RoundTripAllDtypesAndMetadata) {
  const std::string path = temp_path("roundtrip.safetensors");
  Generator g(1);
  Tensor f32 = ops::randn({2, 3}, g);
  Tensor f64 = ops::randn({4}, g, DType::Float64);
  Tensor i64 = ops::from_vector(std::vector<int64_t>{-1, 0, 1LL << 40}, {3});
  Tensor scalar = ops::scalar_tensor(2.5);
  Tensor empty = ops::zeros({0, 5});
  // A transposed view: written in its logical (contiguous) order.
  Tensor tview = ops::transpose(ops::reshape(ops::arange(0, 6, 1), {2, 3}), 0, 1);
  save_safetensors(path, {{"w", f32}, {"d", f64}, {"i", i64}, {"s", scalar}, {"e", empty}, {"tv", tview}},
                   {{"step", "12"}, {"note", "hello \"world\""}});
  SafetensorsContents c = load_safetensors(path);
  ASSERT_EQ(c.tensors.size(), 6u);
  EXPECT_EQ(c.tensors[0].first, "w");  // file order = write order
  EXPECT_EQ(ops::to_vector_f32(find_tensor(c.tensors, "w")), ops::to_vector_f32(f32));
  EXPECT_EQ(find_tensor(c.tensors, "d").dtype(), DType::Float64);
  EXPECT_EQ(ops::to_vector_f64(find_tensor(c.tensors, "d")), ops::to_vector_f64(f64));
  EXPECT_EQ(ops::to_vector_i64(find_tensor(c.tensors, "i")), ops::to_vector_i64(i64));
  EXPECT_EQ(find_tensor(c.tensors, "s").dim(), 0);
  EXPECT_EQ(find_tensor(c.tensors, "e").shape(), (Shape{0, 5}));
  EXPECT_EQ(find_tensor(c.tensors, "tv").shape(), (Shape{3, 2}));
  EXPECT_EQ(ops::to_vector_f32(find_tensor(c.tensors, "tv")), (std::vector<float>{0, 3, 1, 4, 2, 5}));
  EXPECT_EQ(c.metadata.at("step"), "12");
  EXPECT_EQ(c.metadata.at("note"), "hello \"world\"");
  // The header is padded to 8 bytes, so the data starts aligned.
  std::string bytes = read_bytes(path);
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= static_cast<uint64_t>(static_cast<uint8_t>(bytes[i])) << (8 * i);
  EXPECT_EQ(n % 8, 0u);
  std::remove(path.c_str());
}

TEST(Safetensors, ReadsThePyTorchReferenceFile) {
  SafetensorsContents c = load_safetensors(std::string(DRIFT_TEST_DATA) + "/parity/tiny/io.safetensors");
  EXPECT_EQ(find_tensor(c.tensors, "x").shape(), (Shape{2, 1, 8, 8}));
  EXPECT_EQ(ops::to_vector_i64(find_tensor(c.tensors, "t")), (std::vector<int64_t>{17, 842}));
  EXPECT_EQ(c.metadata.at("groups"), "4");
}

TEST(Safetensors, AtomicWriteLeavesNoTemporaryAndReplaces) {
  const std::string path = temp_path("atomic.safetensors");
  save_safetensors(path, {{"a", ops::ones({2})}});
  save_safetensors(path, {{"b", ops::zeros({3})}});  // replaces the old file
  SafetensorsContents c = load_safetensors(path);
  ASSERT_EQ(c.tensors.size(), 1u);
  EXPECT_EQ(c.tensors[0].first, "b");
  EXPECT_FALSE(std::ifstream(path + ".tmp." + std::to_string(::getpid())).good());
  // A folder that does not exist: the error names the path, nothing is created.
  expect_error([] { save_safetensors("/nonexistent_dir_drift/x.safetensors", {{"a", ops::ones({1})}}); },
               {"/nonexistent_dir_drift/x.safetensors"});
  expect_error([] { save_safetensors("unused", {{"a", ops::ones({1})}, {"a", ops::ones({1})}}); },
               {"'a'", "twice"});
  std::remove(path.c_str());
}

TEST(Safetensors, TruncatedAndCorruptFiles) {
  const std::string good = temp_path("good.safetensors"), bad = temp_path("bad.safetensors");
  save_safetensors(good, {{"weight", ops::ones({4, 4})}, {"bias", ops::ones({4})}});
  const std::string bytes = read_bytes(good);

  expect_error([&] { load_safetensors(temp_path("missing.safetensors")); }, {"cannot open", "missing.safetensors"});

  write_bytes(bad, bytes.substr(0, 5));  // shorter than the length field
  expect_error([&] { load_safetensors(bad); }, {bad, "truncated", "5 bytes"});

  write_bytes(bad, bytes.substr(0, 20));  // the header is cut
  expect_error([&] { load_safetensors(bad); }, {bad, "truncated or corrupt", "header"});

  write_bytes(bad, bytes.substr(0, bytes.size() - 10));  // the data is cut: the last tensor does not fit
  expect_error([&] { load_safetensors(bad); }, {bad, "'bias'", "truncated"});

  write_raw(bad, "{\"weight\": {\"dtype\": \"F32\", ", 0);
  expect_error([&] { load_safetensors(bad); }, {bad, "not valid JSON"});

  write_raw(bad, "[1, 2]", 0);
  expect_error([&] { load_safetensors(bad); }, {bad, "JSON object"});

  write_raw(bad, R"({"w": {"dtype": "F8_E4M3", "shape": [2], "data_offsets": [0, 4]}})", 4);
  expect_error([&] { load_safetensors(bad); }, {bad, "'w'", "unsupported dtype 'F8_E4M3'"});

  write_raw(bad, R"({"w": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 16]}})", 16);
  expect_error([&] { load_safetensors(bad); }, {bad, "'w'", "[2, 3]", "24 bytes", "16"});

  write_raw(bad, R"({"w": {"dtype": "F32", "shape": [2], "data_offsets": [8, 0]}})", 8);
  expect_error([&] { load_safetensors(bad); }, {"'w'", "reversed"});

  write_raw(bad, R"({"w": {"dtype": "F32", "shape": [-2], "data_offsets": [0, 8]}})", 8);
  expect_error([&] { load_safetensors(bad); }, {"'w'", "non-negative"});

  write_raw(bad, R"({"w": {"dtype": "F32", "shape": [2]}})", 8);
  expect_error([&] { load_safetensors(bad); }, {"'w'", "data_offsets"});

  write_raw(bad, R"({"__metadata__": {"a": 1}})", 0);
  expect_error([&] { load_safetensors(bad); }, {"__metadata__", "'a'", "string"});

  // Hostile headers (found by fuzzing): deep nesting used to overflow the
  // stack in dump(); a [2^62] F32 tensor wrapped to "0 bytes" and loaded
  // with no storage; a size product past int64 overflowed.
  write_raw(bad, std::string(100000, '[') + std::string(100000, ']'), 0);
  expect_error([&] { load_safetensors(bad); }, {bad, "header", "deeper than the limit of 16"});
  write_raw(bad, R"({"w": {"dtype": "F32", "shape": [4611686018427387904], "data_offsets": [0, 0]}})", 0);
  expect_error([&] { load_safetensors(bad); }, {bad, "'w'", "[4611686018427387904]", "2^64 bytes"});
  write_raw(bad, R"({"w": {"dtype": "F32", "shape": [0, 4294967296, 4294967296], "data_offsets": [0, 0]}})", 0);
  expect_error([&] { load_safetensors(bad); }, {bad, "'w'", "2^63"});
  write_raw(bad, R"({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8], "x": [[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]}})", 8);
  expect_error([&] { load_safetensors(bad); }, {bad, "deeper"});
  {
    std::string head(8, '\0');
    head[5] = 1;  // a header length of 2^40 bytes, in a 16-byte file
    write_bytes(bad, head + "{}      ");
    expect_error([&] { load_safetensors(bad); }, {bad, "header length", "limit"});
  }
  // An empty name, which save_safetensors would refuse to write back.
  write_raw(bad, R"({"": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}})", 4);
  expect_error([&] { load_safetensors(bad); }, {bad, "non-empty name"});
  // A tensor of zero elements whose other sizes multiply to 2^62 loads fine
  // as long as the product fits.
  write_raw(bad, R"({"w": {"dtype": "F32", "shape": [0, 4611686018427387904], "data_offsets": [0, 0]}})", 0);
  EXPECT_EQ(load_safetensors(bad).tensors.at(0).second.numel(), 0);
  std::remove(good.c_str());
  std::remove(bad.c_str());
}

TEST(Safetensors, ModuleLoadMismatchesNameTheFileAndTensor) {
  const std::string path = temp_path("module.safetensors");
  UNet net(UNetConfig::tiny());
  save_module(net, path);
  UNetConfig other_cfg = UNetConfig::tiny();
  other_cfg.seed = 5;
  UNet other(other_cfg);
  load_module(other, path);
  for (auto& [n, t] : other.state_dict()) EXPECT_EQ(ops::max_abs_diff(t, find_tensor(net.state_dict(), n)), 0) << n;

  // Wrong shape: a model with more channels.
  UNetConfig wide = UNetConfig::tiny();
  wide.base_channels = 32;
  wide.seed = 6;
  UNet w(wide);
  const std::vector<float> before = ops::to_vector_f32(w.state_dict()[0].second);
  expect_error([&] { load_module(w, path); }, {path, "temb.0.weight", "[128, 32]", "[64, 16]"});
  EXPECT_EQ(ops::to_vector_f32(w.state_dict()[0].second), before);  // nothing half-loaded

  // Wrong dtype.
  NamedTensors sd;
  for (auto& [n, t] : net.state_dict()) sd.emplace_back(n, n == "conv_out.bias" ? ops::to(t, DType::Float64) : t);
  save_safetensors(path, sd);
  expect_error([&] { load_module(other, path); }, {path, "conv_out.bias", "float64", "float32"});

  // Wrong name.
  sd = net.state_dict();
  sd[2].first = "temb.2.weights";
  save_safetensors(path, sd);
  expect_error([&] { load_module(other, path); }, {path, "temb.2.weight", "temb.2.weights"});
  std::remove(path.c_str());
}
