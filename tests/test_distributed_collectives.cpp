// The communicator's collectives, the bucketed gradient reducer and the
// per-rank random rows. Run by ctest under `mpirun -np 2` (also correct with
// one process, where every collective is the identity).
#include <gtest/gtest.h>

#include <cstdlib>

#include "autograd/engine.h"
#include "autograd/functions.h"
#include "dist/comm.h"
#include "dist/reducer.h"
#include "tensor/ops.h"
#include "tensor/random_rows.h"
#include "tests/dist_env.h"

using namespace drift;

namespace {

// Rank r holds values r * 1000 + i: the sums over ranks are integers, exact in float32.
Tensor rank_values(int64_t n, DType dtype) {
  std::vector<double> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[static_cast<size_t>(i)] = dist::rank() * 1000.0 + static_cast<double>(i);
  return ops::to(ops::from_vector(v, {n}), dtype);
}

double expected_sum(int64_t i) {
  const int W = dist::world_size();
  return 1000.0 * W * (W - 1) / 2 + static_cast<double>(i) * W;
}

}  // namespace

// Under mpirun the program really is one of several processes (not a silent
// single-process fallback).
TEST(DistributedCollectives, WorldIsMpirunsWorld) {
  const char* n = std::getenv("OMPI_COMM_WORLD_SIZE");
  if (n == nullptr) GTEST_SKIP() << "not started by mpirun";
  EXPECT_EQ(dist::world_size(), std::atoi(n));
  EXPECT_STREQ(dist::world().name(), dist::world_size() > 1 || dist::mpi_available() ? "mpi" : "single");
}

TEST(DistributedCollectives, AllReduceSumIsExact) {
  for (DType dt : {DType::Float32, DType::Float64, DType::Int64}) {
    Tensor t = rank_values(1000, dt);
    dist::world().all_reduce(t, dist::ReduceOp::Sum);
    std::vector<double> got = ops::to_vector_f64(t);
    for (int64_t i = 0; i < 1000; ++i) ASSERT_EQ(got[static_cast<size_t>(i)], expected_sum(i)) << dtype_name(dt);
  }
}

TEST(DistributedCollectives, AllReduceMeanAndAsync) {
  Tensor a = rank_values(10, DType::Float64), b = rank_values(10, DType::Float32);
  auto wa = dist::world().all_reduce_async(a, dist::ReduceOp::Mean);
  auto wb = dist::world().all_reduce_async(b, dist::ReduceOp::Sum);  // two in flight at once
  wb->wait();
  wa->wait();
  for (int64_t i = 0; i < 10; ++i) {
    EXPECT_DOUBLE_EQ(ops::to_vector_f64(a)[static_cast<size_t>(i)], expected_sum(i) / dist::world_size());
    EXPECT_EQ(ops::to_vector_f64(b)[static_cast<size_t>(i)], expected_sum(i));
  }
  Tensor ints = rank_values(3, DType::Int64);
  EXPECT_THROW(dist::world().all_reduce(ints, dist::ReduceOp::Mean), Error);  // mean of integers: refused
}

TEST(DistributedCollectives, BroadcastAndAllGather) {
  const int W = dist::world_size();
  Tensor t = rank_values(5, DType::Float32);
  dist::world().broadcast(t, W - 1);  // the last rank's values everywhere
  for (int64_t i = 0; i < 5; ++i) EXPECT_EQ(ops::to_vector_f64(t)[static_cast<size_t>(i)], (W - 1) * 1000.0 + i);

  Tensor mine = ops::reshape(rank_values(6, DType::Int64), {2, 3});
  Tensor all = dist::world().all_gather(mine);
  ASSERT_EQ(all.shape(), (Shape{2 * W, 3}));
  std::vector<int64_t> v = ops::to_vector_i64(all);
  for (int r = 0; r < W; ++r)
    for (int64_t i = 0; i < 6; ++i) EXPECT_EQ(v[static_cast<size_t>(r * 6 + i)], r * 1000 + i);

  Tensor strided = ops::transpose(ops::zeros({2, 3}), 0, 1);
  EXPECT_THROW(dist::world().all_reduce(strided, dist::ReduceOp::Sum), Error);
}

TEST(DistributedCollectives, CheckSameNamesTheRanks) {
  EXPECT_NO_THROW(dist::check_same(42, "a constant"));
  if (dist::world_size() == 1) return;
  try {
    dist::check_same(static_cast<uint64_t>(dist::rank()), "the rank");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("rank(s) 1"), std::string::npos) << e.what();
  }
}

// The reducer averages every gradient over ranks, in several buckets started
// during backward (from the engine's ready hook), and leaves unused
// parameters without a gradient.
TEST(DistributedCollectives, GradReducerAveragesInBuckets) {
  // Buckets take the parameters last to first: {p5, p4}, {p3, p2}, {p1, p0, unused}.
  Tensor unused = ops::ones({4}).set_requires_grad();
  std::vector<Tensor> params;
  for (int64_t k = 0; k < 6; ++k) params.push_back(ops::full({100 + k}, 1.0, DType::Float32).set_requires_grad());
  std::vector<Tensor> all = {unused};
  all.insert(all.end(), params.begin(), params.end());
  dist::GradReducer red(dist::world(), all, 1000);
  EXPECT_EQ(red.stats().buckets, 3);

  // loss = sum_k (rank + 1) * (k + 1) * sum(p_k^2) / 2  =>  grad p_k = (rank + 1) (k + 1) p_k
  Tensor loss;
  for (int64_t k = 0; k < 6; ++k) {
    Tensor term = mul(sum(square(params[static_cast<size_t>(k)])), 0.5 * (dist::rank() + 1) * (k + 1));
    loss = loss.defined() ? add(loss, term) : term;
  }
  red.begin();
  backward(loss, Tensor(), false, [&](const AutogradMeta* leaf) { red.ready(leaf); });
  red.finish();
  // The two buckets of used parameters went out during backward; the last one
  // (with the unused parameter) only in finish().
  EXPECT_EQ(red.stats().started_during_backward, 2);
  const int W = dist::world_size();
  const double mean_rank_factor = (W + 1) / 2.0;  // mean of (rank + 1)
  for (int64_t k = 0; k < 6; ++k) {
    std::vector<double> g = ops::to_vector_f64(params[static_cast<size_t>(k)].grad());
    for (double x : g) ASSERT_DOUBLE_EQ(x, mean_rank_factor * (k + 1));
  }
  EXPECT_FALSE(unused.grad().defined());
}

// Each rank's rows of a draw are exactly those rows of the one-process draw,
// for any split, and every rank's generator ends where the whole draw ends.
TEST(DistributedCollectives, RandomRowsMatchTheWholeDraw) {
  for (Shape shape : {Shape{6, 3}, Shape{5, 7}, Shape{9, 2, 2}}) {
    Generator whole_gen(11, 3);
    Tensor whole = ops::randn(shape, whole_gen, DType::Float32);
    Tensor whole_u = ops::randint(0, 1000, {shape[0]}, whole_gen);
    for (std::vector<int64_t> cuts : {std::vector<int64_t>{0, 2, shape[0]}, {0, 1, 3, shape[0]}}) {
      std::vector<Tensor> parts, parts_u;
      for (size_t r = 0; r + 1 < cuts.size(); ++r) {
        Generator g(11, 3);
        Shape local = shape;
        local[0] = cuts[r + 1] - cuts[r];
        ops::RowShard s{cuts[r], shape[0]};
        parts.push_back(ops::randn_rows(local, s, g, DType::Float32, Device::CPU));
        parts_u.push_back(ops::randint_rows(0, 1000, {local[0]}, s, g, Device::CPU));
        EXPECT_EQ(g.offset, whole_gen.offset);
      }
      EXPECT_EQ(ops::to_vector_f32(ops::cat(parts, 0)), ops::to_vector_f32(whole)) << shape_str(shape);
      EXPECT_EQ(ops::to_vector_i64(ops::cat(parts_u, 0)), ops::to_vector_i64(whole_u));
    }
  }
}
