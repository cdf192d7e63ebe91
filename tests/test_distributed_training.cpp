// Data-parallel training: K steps with W ranks at batch B / W each give the
// same parameters as one process at batch B, and the data loader's shards are
// exactly the single-process batches. Run by ctest under `mpirun -np 2`.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "data/loader.h"
#include "diffusion/schedule.h"
#include "diffusion/trainer.h"
#include "dist/comm.h"
#include "tensor/ops.h"
#include "tests/dist_env.h"

using namespace drift;

namespace {

nn::UNetConfig small_unet() {
  nn::UNetConfig u;
  u.in_channels = 1;
  u.image_size = 8;
  u.base_channels = 8;
  u.channel_mult = {1, 2};
  u.num_res_blocks = 1;
  u.attention_resolutions = {4};
  u.groups = 4;
  u.dropout = 0.2;  // masks: each rank's rows of the whole batch's mask
  u.num_classes = 3;
  u.seed = 3;
  return u;
}

diffusion::TrainerConfig trainer_config() {
  diffusion::TrainerConfig tc;
  tc.lr = 1e-3;
  tc.warmup_steps = 2;
  tc.grad_clip = 0.5;  // clips: the norm must be the global one
  tc.ema_decay = 0.9;
  tc.label_dropout = 0.25;
  tc.loss_weighting = diffusion::LossWeighting::MinSNR;
  tc.seed = 5;
  return tc;
}

}  // namespace

// Tolerance: gradients of the whole batch and the mean of the ranks' half-batch
// gradients differ only in float32 summation order (~1e-7 relative). AdamW
// divides each gradient by its own running magnitude, so a weight moves by
// about lr = 1e-3 per step and the rounding differences move it by about
// lr x (relative gradient error): we require the root-mean-square difference
// of the weights (and of the EMA weights) after K = 3 steps to be under 1e-5,
// 1% of one step; a wrong split (other noise rows, no averaging) gives ~lr.
// The largest single difference is printed, not bounded: a weight whose
// gradient is at rounding level can move by up to lr differently (measured
// max: 2.8e-6 in the Release build, 5.2e-6 with the sanitizers' kernels).
// The ranks themselves agree bitwise (check_replicas).
TEST(DistributedTraining, MatchesOneProcessAtTheWholeBatch) {
  dist::Communicator& comm = dist::world();
  const int W = comm.size(), r = comm.rank();
  const int64_t B = 8, K = 3;
  ASSERT_EQ(B % W, 0);
  Generator data_gen(17);
  Tensor x = ops::uniform({K * B, 1, 8, 8}, -1, 1, data_gen);
  Tensor y = ops::randint(0, 3, {K * B}, data_gen);
  const diffusion::DiscreteSchedule sched = diffusion::DiscreteSchedule::linear(100);

  // The reference: one process with the whole batch (computed on every rank).
  nn::UNet ref(small_unet());
  diffusion::UNetDenoiser ref_den(ref, diffusion::Prediction::Eps);
  diffusion::Trainer ref_tr(ref_den, ref, sched, trainer_config());
  std::vector<double> ref_loss, ref_norm;
  for (int64_t k = 0; k < K; ++k) {
    diffusion::TrainStats st = ref_tr.step(ops::narrow(x, 0, k * B, B), ops::narrow(y, 0, k * B, B));
    ref_loss.push_back(st.loss);
    ref_norm.push_back(st.grad_norm);
  }

  // Data-parallel: this rank's rows of every batch; small buckets, so several.
  nn::UNet net(small_unet());
  diffusion::UNetDenoiser den(net, diffusion::Prediction::Eps);
  diffusion::Trainer tr(den, net, sched, trainer_config());
  tr.set_data_parallel(comm, 64 << 10);
  const int64_t b = B / W;
  for (int64_t k = 0; k < K; ++k) {
    Tensor xs = ops::contiguous(ops::narrow(x, 0, k * B + r * b, b));
    Tensor ys = ops::contiguous(ops::narrow(y, 0, k * B + r * b, b));
    diffusion::TrainStats st = tr.step(xs, ys);
    EXPECT_NEAR(st.loss, ref_loss[static_cast<size_t>(k)], 1e-5 * ref_loss[static_cast<size_t>(k)]);
    EXPECT_NEAR(st.grad_norm, ref_norm[static_cast<size_t>(k)], 1e-5 * ref_norm[static_cast<size_t>(k)]);
  }
  EXPECT_GT(ref_norm[0], trainer_config().grad_clip);  // clipping was active
  if (W > 1) {
    EXPECT_GE(tr.reducer()->stats().buckets, 2);
    EXPECT_GE(tr.reducer()->stats().started_during_backward, 1);
  }

  // max and rms of the difference over a list of tensor pairs
  auto diff = [](const std::vector<Tensor>& a, const std::vector<Tensor>& b) {
    double worst = 0, sq = 0, n = 0;
    for (size_t i = 0; i < a.size(); ++i) {
      std::vector<double> x = ops::to_vector_f64(a[i]), y = ops::to_vector_f64(b[i]);
      for (size_t k = 0; k < x.size(); ++k) {
        worst = std::max(worst, std::abs(x[k] - y[k]));
        sq += (x[k] - y[k]) * (x[k] - y[k]);
        n += 1;
      }
    }
    return std::make_pair(worst, std::sqrt(sq / n));
  };
  std::vector<Tensor> ema, ref_ema;
  for (size_t i = 0; i < tr.ema()->shadow().size(); ++i) {
    ema.push_back(tr.ema()->shadow()[i].second);
    ref_ema.push_back(ref_tr.ema()->shadow()[i].second);
  }
  const auto [w_max, w_rms] = diff(net.parameters(), ref.parameters());
  const auto [e_max, e_rms] = diff(ema, ref_ema);
  EXPECT_LE(w_rms, 1e-5);
  EXPECT_LE(e_rms, 1e-5);
  if (r == 0)
    std::printf("weight difference: rms %.3g, max %.3g; EMA: rms %.3g, max %.3g (%d ranks)\n", w_rms, w_max, e_rms,
                e_max, W);
  EXPECT_EQ(tr.generator().offset, ref_tr.generator().offset);  // the noise stream advanced by the whole batch
  EXPECT_NO_THROW(tr.check_replicas("after the test's steps"));
}

namespace {

// n images 2x2, image i has every pixel i and label i (so rows name their image).
Dataset numbered(int64_t n) {
  Dataset d;
  d.channels = 1;
  d.height = d.width = 2;
  d.num_classes = static_cast<int>(n);
  for (int64_t i = 0; i < n; ++i) {
    for (int k = 0; k < 4; ++k) d.images.push_back(static_cast<uint8_t>(i));
    d.labels.push_back(i);
  }
  d.source = "numbered";
  return d;
}

// The rows of every rank, gathered in rank order (padded with -1 to B rows each).
std::vector<int64_t> gather_rows(const Batch& b, int64_t B) {
  std::vector<int64_t> mine = b.indices;
  mine.resize(static_cast<size_t>(B), -1);
  std::vector<int64_t> all = ops::to_vector_i64(dist::world().all_gather(ops::from_vector(mine, {B})));
  all.erase(std::remove(all.begin(), all.end(), -1), all.end());
  return all;
}

}  // namespace

// The ranks' shards of every batch are, in rank order, exactly the batch one
// process gets for the same seed; over an epoch every image comes once.
TEST(DistributedTraining, LoaderShardsCoverTheDataOncePerEpoch) {
  const int W = dist::world_size();
  for (LastBatch last : {LastBatch::Drop, LastBatch::Keep}) {
    const int64_t N = 23, B = 6;
    LoaderOptions whole_opt;
    whole_opt.batch_size = B;
    whole_opt.seed = 9;
    whole_opt.last_batch = last;
    whole_opt.flip = Flip::RandomHorizontal;
    LoaderOptions shard_opt = whole_opt;
    shard_opt.shard_rank = dist::rank();
    shard_opt.shard_count = W;
    DataLoader whole(numbered(N), whole_opt), shard(numbered(N), shard_opt);
    for (int epoch = 0; epoch < 2; ++epoch) {
      std::vector<int64_t> seen;
      const int64_t batches = whole.batches_per_epoch();
      for (int64_t i = 0; i < batches; ++i) {
        Batch w = whole.next(), s = shard.next();
        EXPECT_EQ(w.epoch, epoch);
        EXPECT_EQ(s.global_rows, w.indices.size());
        std::vector<int64_t> rows = gather_rows(s, B);
        ASSERT_EQ(rows, w.indices) << "epoch " << epoch << " batch " << i;
        // The pixels (with their flips) of this shard are those rows of the whole batch.
        Tensor mine = ops::narrow(w.images, 0, s.first_row, s.images.size(0));
        EXPECT_EQ(ops::to_vector_f32(s.images), ops::to_vector_f32(mine));
        seen.insert(seen.end(), rows.begin(), rows.end());
      }
      EXPECT_EQ(shard.state(), whole.state());
      std::sort(seen.begin(), seen.end());
      EXPECT_TRUE(std::adjacent_find(seen.begin(), seen.end()) == seen.end()) << "an image came twice";
      EXPECT_EQ(static_cast<int64_t>(seen.size()), last == LastBatch::Keep ? N : (N / B) * B);
    }
  }
}
