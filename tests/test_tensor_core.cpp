// Tensor core: factories, views (sharing storage), copies, dtype/device conversion, printing.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "tensor/backend.h"
#include "tensor/profiler.h"
#include "tensor/cpu/isa.h"
#include "tensor/ops.h"
#include "tests/test_util.h"

using namespace drift;
using drift::test::expect_error;
using drift::test::vals;

TEST(TensorFactory, EmptyZerosOnesFull) {
  Tensor e = ops::empty({2, 3});
  EXPECT_EQ(e.shape(), (Shape{2, 3}));
  EXPECT_EQ(e.strides(), (Shape{3, 1}));
  EXPECT_EQ(e.dtype(), DType::Float32);
  EXPECT_EQ(e.device(), Device::CPU);
  EXPECT_EQ(vals(ops::zeros({2, 2})), (std::vector<double>{0, 0, 0, 0}));
  EXPECT_EQ(vals(ops::ones({3}, DType::Float64)), (std::vector<double>{1, 1, 1}));
  EXPECT_EQ(vals(ops::full({2}, 7.5)), (std::vector<double>{7.5, 7.5}));
  EXPECT_EQ(ops::to_vector_i64(ops::full({2}, 3, DType::Int64)), (std::vector<int64_t>{3, 3}));
  Tensor s = ops::scalar_tensor(4.0);
  EXPECT_EQ(s.dim(), 0);
  EXPECT_EQ(s.numel(), 1);
  EXPECT_EQ(ops::item(s), 4.0);
  Tensor z = ops::zeros({0, 3});
  EXPECT_EQ(z.numel(), 0);
  EXPECT_TRUE(vals(z).empty());
  expect_error([] { ops::empty({2, -1}); }, {"empty", "[2, -1]"});
}

// Shapes can come from files: their element count is checked, never wrapped.
TEST(TensorFactory, ShapeArithmeticIsChecked) {
  const int64_t big = int64_t{1} << 32;
  EXPECT_EQ(shape_numel({}), 1);
  EXPECT_EQ(shape_numel({big, (int64_t{1} << 31) - 1}), big * ((int64_t{1} << 31) - 1));
  EXPECT_EQ(shape_numel({0, big, big / 4}), 0);  // fits even without the 0
  expect_error([&] { shape_numel({big, big}); }, {"[4294967296, 4294967296]", "2^63"});
  expect_error([&] { shape_numel({0, big, big}); }, {"2^63"});  // the strides would overflow
  expect_error([] { shape_numel({3, -2}); }, {"[3, -2]", "negative"});
  // 2^62 float32 elements fit in int64 but not in 2^64 bytes.
  expect_error([] { ops::empty({int64_t{1} << 62}); }, {"empty", "[4611686018427387904]", "2^64 bytes"});
}

TEST(TensorFactory, LikeFactoriesKeepShapeDtype) {
  Tensor a = ops::ones({2, 3}, DType::Float64);
  Tensor z = ops::zeros_like(a), o = ops::ones_like(a), f = ops::full_like(a, 2), e = ops::empty_like(a);
  for (const Tensor* t : {&z, &o, &f, &e}) {
    EXPECT_EQ(t->shape(), a.shape());
    EXPECT_EQ(t->dtype(), DType::Float64);
  }
  EXPECT_EQ(vals(f), std::vector<double>(6, 2.0));
}

TEST(TensorFactory, ArangeLinspace) {
  EXPECT_EQ(ops::to_vector_i64(ops::arange(4)), (std::vector<int64_t>{0, 1, 2, 3}));
  EXPECT_EQ(vals(ops::arange(1, 2, 0.25)), (std::vector<double>{1, 1.25, 1.5, 1.75}));
  EXPECT_EQ(vals(ops::arange(3, 0, -1)), (std::vector<double>{3, 2, 1}));
  EXPECT_EQ(ops::arange(2, 1, 1).numel(), 0);
  EXPECT_EQ(vals(ops::linspace(0, 1, 5, DType::Float64)), (std::vector<double>{0, 0.25, 0.5, 0.75, 1}));
  EXPECT_EQ(vals(ops::linspace(2, 3, 1)), (std::vector<double>{2}));
  expect_error([] { ops::arange(0, 1, 0); }, {"step"});
}

TEST(TensorFactory, FromVectorAndBuffer) {
  Tensor t = ops::from_vector(std::vector<float>{1, 2, 3, 4, 5, 6}, {2, 3});
  EXPECT_EQ(t.dtype(), DType::Float32);
  EXPECT_EQ(ops::to_vector_f32(t), (std::vector<float>{1, 2, 3, 4, 5, 6}));
  double buf[2] = {0.5, -1};
  Tensor b = ops::from_buffer(buf, {2}, DType::Float64);
  EXPECT_EQ(vals(b), (std::vector<double>{0.5, -1}));
  buf[0] = 9;  // a copy, not a reference
  EXPECT_EQ(vals(b)[0], 0.5);
  expect_error([] { ops::from_vector(std::vector<double>{1, 2, 3}, {2, 2}); }, {"[2, 2]", "4", "3"});
}

// ---- views ---------------------------------------------------------------------

TEST(TensorView, ViewsShareStorageNoCopy) {
  Tensor t = ops::arange(0, 24, 1);
  Tensor v = ops::view(t, {2, 3, 4});
  Tensor p = ops::permute(v, {2, 0, 1});
  Tensor tr = ops::transpose(v, 0, 2);
  Tensor n = ops::narrow(v, 1, 1, 2);
  Tensor s = ops::select(v, 2, 3);
  Tensor sl = ops::slice(v, 2, 0, 4, 2);
  Tensor u = ops::unsqueeze(v, 1);
  Tensor sq = ops::squeeze(u, 1);
  Tensor ex = ops::expand(ops::view(t, {1, 24}), {5, 24});
  Tensor f = ops::flatten(v, 1);
  Tensor r = ops::reshape(v, {6, 4});
  for (const Tensor* x : {&v, &p, &tr, &n, &s, &sl, &u, &sq, &ex, &f, &r})
    EXPECT_EQ(x->storage().get(), t.storage().get());
  EXPECT_EQ(p.shape(), (Shape{4, 2, 3}));
  EXPECT_EQ(p.strides(), (Shape{1, 12, 4}));
  EXPECT_EQ(n.offset(), 4);
  EXPECT_EQ(s.shape(), (Shape{2, 3}));
  EXPECT_EQ(vals(s), (std::vector<double>{3, 7, 11, 15, 19, 23}));
  EXPECT_EQ(sl.shape(), (Shape{2, 3, 2}));
  EXPECT_EQ(vals(ops::select(ops::select(sl, 0, 1), 0, 2)), (std::vector<double>{20, 22}));
  EXPECT_EQ(ex.strides(), (Shape{0, 1}));
  EXPECT_EQ(u.shape(), (Shape{2, 1, 3, 4}));
  EXPECT_EQ(f.shape(), (Shape{2, 12}));

  // Writes through a view are visible in the base.
  Tensor col = ops::select(v, 2, 0);
  ops::fill_(col, -1);
  EXPECT_EQ(vals(t)[0], -1);
  EXPECT_EQ(vals(t)[4], -1);
  EXPECT_EQ(vals(t)[1], 1);
}

TEST(TensorView, ViewInfersAndRejects) {
  Tensor t = ops::zeros({2, 3, 4});
  EXPECT_EQ(ops::view(t, {-1, 4}).shape(), (Shape{6, 4}));
  EXPECT_EQ(ops::view(t, {4, -1}).shape(), (Shape{4, 6}));
  expect_error([&] { ops::view(t, {5, -1}); }, {"[5, -1]", "[2, 3, 4]"});
  expect_error([&] { ops::view(t, {-1, -1}); }, {"one -1"});
  // A transposed tensor cannot be flattened without a copy.
  Tensor tr = ops::transpose(t, 1, 2);
  expect_error([&] { ops::view(tr, {24}); }, {"view", "[2, 4, 3]", "reshape"});
  // ... but some views of it still work (splitting a dim, merging chunk-contiguous dims).
  EXPECT_EQ(ops::view(tr, {2, 2, 2, 3}).strides(), (Shape{12, 2, 1, 4}));
  Tensor merged = ops::view(ops::permute(t, {1, 2, 0}), {12, 2});
  EXPECT_EQ(merged.strides(), (Shape{1, 12}));
}

TEST(TensorView, ReshapeCopiesOnlyWhenNeeded) {
  Tensor t = ops::arange(0, 6, 1);
  Tensor m = ops::view(t, {2, 3});
  Tensor tr = ops::transpose(m, 0, 1);  // [3, 2], values [[0,3],[1,4],[2,5]]
  Tensor r = ops::reshape(tr, {6});
  EXPECT_NE(r.storage().get(), t.storage().get());
  EXPECT_EQ(vals(r), (std::vector<double>{0, 3, 1, 4, 2, 5}));
  Tensor r2 = ops::reshape(m, {3, 2});
  EXPECT_EQ(r2.storage().get(), t.storage().get());
}

TEST(TensorView, ExpandBroadcastSqueezeSplitChunk) {
  Tensor b = ops::from_vector(std::vector<float>{1, 2, 3}, {3, 1});
  Tensor e = ops::expand(b, {2, 3, 4});
  EXPECT_EQ(e.strides(), (Shape{0, 1, 0}));
  EXPECT_EQ(vals(ops::select(ops::select(e, 0, 1), 0, 2)), (std::vector<double>{3, 3, 3, 3}));
  EXPECT_EQ(ops::expand(b, {-1, 5}).shape(), (Shape{3, 5}));
  expect_error([&] { ops::expand(b, {4, 4}); }, {"[3, 1]", "[4, 4]"});
  EXPECT_EQ(ops::broadcast_to(b, {2, 3, 3}).shape(), (Shape{2, 3, 3}));
  expect_error([&] { ops::broadcast_to(b, {3}); }, {"[3, 1]", "[3]"});

  Tensor s = ops::zeros({1, 3, 1, 2});
  EXPECT_EQ(ops::squeeze(s).shape(), (Shape{3, 2}));
  EXPECT_EQ(ops::squeeze(s, 2).shape(), (Shape{1, 3, 2}));
  EXPECT_EQ(ops::squeeze(s, 1).shape(), s.shape());
  EXPECT_EQ(ops::unsqueeze(s, -1).shape(), (Shape{1, 3, 1, 2, 1}));

  Tensor t = ops::arange(0, 10, 1);
  auto parts = ops::split(t, {3, 7}, 0);
  ASSERT_EQ(parts.size(), 2u);
  EXPECT_EQ(vals(parts[0]), (std::vector<double>{0, 1, 2}));
  EXPECT_EQ(parts[1].offset(), 3);
  auto ch = ops::chunk(t, 3, 0);
  ASSERT_EQ(ch.size(), 3u);
  EXPECT_EQ(ch[0].numel(), 4);
  EXPECT_EQ(ch[2].numel(), 2);
  expect_error([&] { ops::split(t, {3, 3}, 0); }, {"[3, 3]", "6", "10"});
}

TEST(TensorView, BadDimsAndRanges) {
  Tensor t = ops::zeros({2, 3});
  expect_error([&] { ops::permute(t, {0}); }, {"permute", "rank 2"});
  expect_error([&] { ops::permute(t, {0, 0}); }, {"repeated"});
  expect_error([&] { ops::narrow(t, 1, 2, 2); }, {"narrow", "[2, 4)", "size 3"});
  expect_error([&] { ops::select(t, 0, 2); }, {"select", "index 2"});
  expect_error([&] { ops::transpose(t, 0, 2); }, {"dim 2", "rank 2"});
  EXPECT_EQ(ops::slice(t, 1, -2, 100).shape(), (Shape{2, 2}));
}

// ---- copies ----------------------------------------------------------------------

TEST(TensorCopy, ContiguousCloneOfStridedViews) {
  Tensor t = ops::view(ops::arange(0, 24, 1, DType::Float64), {2, 3, 4});
  EXPECT_TRUE(ops::contiguous(t).is_same(t));  // no copy when already contiguous
  Tensor p = ops::permute(t, {2, 0, 1});
  Tensor c = ops::contiguous(p);
  EXPECT_TRUE(c.is_contiguous());
  EXPECT_NE(c.storage().get(), t.storage().get());
  std::vector<double> got = vals(c);
  // c[k, i, j] = t[i, j, k] = 12 i + 4 j + k
  for (int k = 0; k < 4; ++k)
    for (int i = 0; i < 2; ++i)
      for (int j = 0; j < 3; ++j) EXPECT_EQ(got[k * 6 + i * 3 + j], 12 * i + 4 * j + k);
  Tensor cl = ops::clone(t);
  EXPECT_NE(cl.storage().get(), t.storage().get());
  EXPECT_EQ(vals(cl), vals(t));
  // Stepped slice and broadcast view.
  Tensor s = ops::slice(t, 2, 1, 4, 2);  // k = 1, 3
  EXPECT_EQ(vals(s), (std::vector<double>{1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23}));
}

TEST(TensorCopy, DtypeConversion) {
  Tensor f = ops::from_vector(std::vector<float>{1.5f, -2.75f, 3}, {3});
  Tensor d = ops::to(f, DType::Float64);
  EXPECT_EQ(d.dtype(), DType::Float64);
  EXPECT_EQ(vals(d), (std::vector<double>{1.5, -2.75, 3}));
  Tensor i = ops::to(f, DType::Int64);
  EXPECT_EQ(ops::to_vector_i64(i), (std::vector<int64_t>{1, -2, 3}));  // truncation toward zero
  EXPECT_TRUE(ops::to(f, DType::Float32).is_same(f));
  // Conversion of a non-contiguous view.
  Tensor m = ops::transpose(ops::view(ops::arange(6, DType::Int64), {2, 3}), 0, 1);
  EXPECT_EQ(ops::to_vector_f32(ops::to(m, DType::Float32)), (std::vector<float>{0, 3, 1, 4, 2, 5}));
  EXPECT_TRUE(ops::to(f, Device::CPU).is_same(f));
}

TEST(TensorCopy, CopyFillBroadcastAndOverlap) {
  Tensor dst = ops::zeros({2, 3});
  ops::copy_(dst, ops::from_vector(std::vector<double>{1, 2, 3}, {3}));  // broadcast + dtype conversion
  EXPECT_EQ(vals(dst), (std::vector<double>{1, 2, 3, 1, 2, 3}));
  Tensor col = ops::select(dst, 1, 1);
  ops::fill_(col, 9);
  EXPECT_EQ(vals(dst), (std::vector<double>{1, 9, 3, 1, 9, 3}));
  expect_error([&] { ops::copy_(dst, ops::zeros({2})); }, {"[2]", "[2, 3]"});
  // Overlapping source and destination behave as if the source were read first.
  Tensor t = ops::arange(0, 5, 1);
  Tensor a = ops::narrow(t, 0, 1, 4), b = ops::narrow(t, 0, 0, 4);
  ops::copy_(a, b);
  EXPECT_EQ(vals(t), (std::vector<double>{0, 0, 1, 2, 3}));
  // Copy into a transposed destination.
  Tensor m = ops::zeros({3, 2});
  Tensor mt = ops::transpose(m, 0, 1);
  ops::copy_(mt, ops::view(ops::arange(0, 6, 1), {2, 3}));
  EXPECT_EQ(vals(m), (std::vector<double>{0, 3, 1, 4, 2, 5}));
}

TEST(TensorCopy, LargeStridedCopyMatchesReference) {
  // Large enough to go multi-threaded; permuted 4-d source.
  Tensor t = ops::view(ops::arange(0, 64 * 32 * 9 * 7, 1, DType::Float64), {64, 32, 9, 7});
  Tensor p = ops::contiguous(ops::permute(t, {0, 2, 3, 1}));  // [64, 9, 7, 32]
  std::vector<double> got = vals(p);
  size_t bad = 0;
  for (int n = 0; n < 64; ++n)
    for (int h = 0; h < 9; ++h)
      for (int w = 0; w < 7; ++w)
        for (int c = 0; c < 32; ++c) {
          double want = ((n * 32 + c) * 9 + h) * 7 + w;
          bad += got[((n * 9 + h) * 7 + w) * 32 + c] != want;
        }
  EXPECT_EQ(bad, 0u);
}

TEST(TensorCopy, PermutedCopiesOfManyShapes) {
  // NCHW -> NHWC copies; strides that are multiples of 512 bytes take the tiled path.
  for (Shape s : {Shape{2, 16, 32, 32}, Shape{3, 40, 16, 8}, Shape{1, 33, 8, 16}, Shape{2, 5, 28, 28}}) {
    SCOPED_TRACE(shape_str(s));
    Tensor x = ops::view(ops::arange(0, static_cast<double>(shape_numel(s)), 1), s);
    std::vector<double> got = vals(ops::contiguous(ops::permute(x, {0, 2, 3, 1})));
    Tensor d = ops::empty({s[0], s[2], s[3], s[1]}, DType::Float64);  // with float32 -> float64 conversion
    ops::copy_(d, ops::permute(x, {0, 2, 3, 1}));
    std::vector<double> got64 = vals(d);
    size_t bad = 0;
    for (int64_t n = 0; n < s[0]; ++n)
      for (int64_t c = 0; c < s[1]; ++c)
        for (int64_t hw = 0; hw < s[2] * s[3]; ++hw) {
          double want = static_cast<double>((n * s[1] + c) * s[2] * s[3] + hw);
          size_t at = static_cast<size_t>((n * s[2] * s[3] + hw) * s[1] + c);
          bad += got[at] != want;
          bad += got64[at] != want;
        }
    EXPECT_EQ(bad, 0u);
  }
}

TEST(TensorCopy, CatStack) {
  Tensor a = ops::view(ops::arange(0, 4, 1), {2, 2});
  Tensor b = ops::view(ops::arange(4, 10, 1), {2, 3});
  Tensor c = ops::cat({a, b}, 1);
  EXPECT_EQ(c.shape(), (Shape{2, 5}));
  EXPECT_EQ(vals(c), (std::vector<double>{0, 1, 4, 5, 6, 2, 3, 7, 8, 9}));
  Tensor d = ops::cat({a, ops::transpose(a, 0, 1)}, 0);
  EXPECT_EQ(vals(d), (std::vector<double>{0, 1, 2, 3, 0, 2, 1, 3}));
  Tensor s = ops::stack({a, a}, 0);
  EXPECT_EQ(s.shape(), (Shape{2, 2, 2}));
  Tensor s2 = ops::stack({ops::arange(0, 2, 1), ops::arange(2, 4, 1)}, -1);
  EXPECT_EQ(s2.shape(), (Shape{2, 2}));
  EXPECT_EQ(vals(s2), (std::vector<double>{0, 2, 1, 3}));
  expect_error([&] { ops::cat({a, b}, 0); }, {"[2, 3]", "[2, 2]"});
  expect_error([&] { ops::cat({a, ops::zeros({2, 2}, DType::Float64)}, 0); }, {"float64", "float32"});
  expect_error([&] { ops::stack({a, b}, 0); }, {"[2, 3]", "[2, 2]"});
}

TEST(TensorCopy, HostAccessAndItem) {
  Tensor t = ops::from_vector(std::vector<int64_t>{5, -6}, {2});
  EXPECT_EQ(ops::to_vector_f32(t), (std::vector<float>{5, -6}));
  EXPECT_EQ(ops::item(ops::select(t, 0, 1)), -6);
  expect_error([&] { ops::item(t); }, {"one element", "[2]"});
}

TEST(TensorPrint, ShowsShapeDtypeDeviceAndTruncates) {
  Tensor t = ops::view(ops::arange(0, 200, 1), {2, 100});
  std::string s = t.to_string();
  EXPECT_NE(s.find("shape=[2, 100]"), std::string::npos) << s;
  EXPECT_NE(s.find("float32"), std::string::npos);
  EXPECT_NE(s.find("cpu"), std::string::npos);
  EXPECT_NE(s.find("..."), std::string::npos);
  EXPECT_NE(s.find("199"), std::string::npos);
  EXPECT_EQ(s.find("50"), std::string::npos);  // the middle is elided
  std::string small = ops::from_vector(std::vector<int64_t>{1, 2, 3}, {3}).to_string();
  EXPECT_NE(small.find("[1, 2, 3]"), std::string::npos) << small;
  EXPECT_EQ(small.find("..."), std::string::npos);
}

TEST(TensorBackend, CpuTableIsComplete) {
  EXPECT_TRUE(backend_available(Device::CPU));
  EXPECT_EQ(missing_ops(backend(Device::CPU)), "");
}

// The caching allocator (tensor/caching_allocator.h, shared with CUDA): a
// freed block comes back for a request of the same rounded size.
TEST(TensorBackend, CachingAllocatorReusesFreedBlocks) {
  Allocator& a = cpu_allocator();
  a.empty_cache();
  EXPECT_EQ(a.cached_bytes(), 0u);
  void* p = a.allocate(1000);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % 64, 0u);  // 64-byte aligned
  a.deallocate(p, 1000);
  EXPECT_EQ(a.cached_bytes(), 1024u);  // rounded up to a multiple of 64
  void* q = a.allocate(990);           // the same bucket: the same block comes back
  EXPECT_EQ(p, q);
  EXPECT_EQ(a.cached_bytes(), 0u);
  void* big = a.allocate((size_t(1) << 20) + 1);  // above 1 MiB: steps of 1/8 of the next power of two
  a.deallocate(big, (size_t(1) << 20) + 1);
  EXPECT_EQ(a.cached_bytes(), (size_t(1) << 20) + (size_t(1) << 18));
  a.deallocate(q, 990);
  a.empty_cache();
  EXPECT_EQ(a.cached_bytes(), 0u);
}

// Bytes in use and their peak (bench_unet's peak GPU memory, as
// torch.cuda.max_memory_allocated): counted in rounded block sizes, whether a
// block is fresh or comes from the cache; reset_peak starts from what is in use.
TEST(TensorBackend, CachingAllocatorCountsBytesInUseAndTheirPeak) {
  Allocator& a = cpu_allocator();
  const size_t base = a.allocated_bytes();
  a.reset_peak();
  EXPECT_EQ(a.peak_allocated_bytes(), base);
  void* p = a.allocate(1000);  // 1024 bytes
  void* q = a.allocate(64);
  EXPECT_EQ(a.allocated_bytes(), base + 1024 + 64);
  a.deallocate(p, 1000);
  EXPECT_EQ(a.allocated_bytes(), base + 64);
  EXPECT_EQ(a.peak_allocated_bytes(), base + 1024 + 64);
  void* r = a.allocate(1000);  // from the cache: counted again
  EXPECT_EQ(a.allocated_bytes(), base + 1024 + 64);
  a.deallocate(r, 1000);
  a.deallocate(q, 64);
  EXPECT_EQ(a.allocated_bytes(), base);
  a.reset_peak();
  EXPECT_EQ(a.peak_allocated_bytes(), base);
}

// Private pools (CUDA graph capture): blocks handed out or given back while a
// pool is active stay in it, are reused only inside it, and return to the
// common cache with release_pool.
TEST(TensorBackend, CachingAllocatorPinsPoolBlocksUntilReleased) {
  Allocator& a = cpu_allocator();
  a.empty_cache();
  void* before = a.allocate(4096);  // allocated before the "capture"
  const uint64_t pool = a.begin_pool();
  ASSERT_NE(pool, 0u);
  void* p = a.allocate(2048);
  a.deallocate(p, 2048);
  void* q = a.allocate(2048);  // reused inside the pool
  EXPECT_EQ(p, q);
  a.deallocate(before, 4096);  // given back during the capture: pinned too
  a.empty_cache();             // releases nothing during a capture
  a.end_pool();
  a.deallocate(q, 2048);
  EXPECT_EQ(a.cached_bytes(), 0u);  // both blocks are in the pool, not in the common cache
  void* r = a.allocate(2048);       // outside the pool: never one of its blocks
  EXPECT_NE(r, p);
  void* s = a.allocate(4096);
  EXPECT_NE(s, before);
  a.deallocate(r, 2048);
  a.deallocate(s, 4096);
  const size_t common = a.cached_bytes();
  a.release_pool(pool);
  EXPECT_EQ(a.cached_bytes(), common + 2048 + 4096);  // the pool's blocks are common again
  void* t = a.allocate(2048);
  a.deallocate(t, 2048);
  a.empty_cache();
  EXPECT_EQ(a.cached_bytes(), 0u);
}

// The DRIFT_PROFILE table: calls and time add up per op, sorted by time, reset empties it.
TEST(TensorBackend, ProfilerTableAddsUpPerOp) {
  profiler::reset();
  EXPECT_EQ(profiler::report(), "");
  KernelArgs args;
  profiler::record(OpKind::Add, Device::CPU, args, 0.002);
  profiler::record(OpKind::Add, Device::CPU, args, 0.003);
  profiler::record(OpKind::Conv2d, Device::CPU, args, 0.010);
  const std::string r = profiler::report();
  EXPECT_NE(r.find("15.0 ms in kernels"), std::string::npos) << r;
  EXPECT_NE(r.find(std::string("CPU kernels: ") + cpu::isa_name(cpu::active_isa())), std::string::npos) << r;
  const size_t conv = r.find("Conv2d"), add = r.find("Add");
  ASSERT_NE(conv, std::string::npos) << r;
  ASSERT_NE(add, std::string::npos) << r;
  EXPECT_LT(conv, add) << "rows are sorted by total time:\n" << r;
  EXPECT_NE(r.find("         2         5.00"), std::string::npos) << "Add: 2 calls, 5 ms:\n" << r;
  EXPECT_NE(r.find("66.7%"), std::string::npos) << r;
  profiler::reset();
  EXPECT_EQ(profiler::report(), "");
}
