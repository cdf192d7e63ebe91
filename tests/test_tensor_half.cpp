// bfloat16 / float16 storage types (tensor/half.h): conversions against an
// independent nearest-even reference, every op through dispatch's float32
// widening, safetensors BF16/F16 entries, and the mixed-precision policy
// (nn/autocast.h): autocast layers, the fp16 loss scaler, bf16 training.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <vector>

#include "diffusion/oracle.h"
#include "diffusion/schedule.h"
#include "diffusion/toy.h"
#include "diffusion/trainer.h"
#include "nn/autocast.h"
#include "nn/checkpoint.h"
#include "nn/layers.h"
#include "nn/safetensors.h"
#include "tensor/ops.h"
#include "tensor/rng.h"
#include "test_util.h"

using namespace drift;

namespace {

// All finite values of a 16-bit format, sorted, with their bit patterns: the
// reference rounds a float to the nearest of them (ties to the even pattern).
struct Table {
  std::vector<std::pair<double, uint16_t>> v;
};
template <class ToFloat>
Table make_table(ToFloat to_float) {
  Table t;
  for (uint32_t b = 0; b < 65536; ++b) {
    float f = to_float(static_cast<uint16_t>(b));
    if (std::isfinite(f) && !(b & 0x8000)) t.v.push_back({f, static_cast<uint16_t>(b)});  // x >= 0
  }
  std::sort(t.v.begin(), t.v.end());
  return t;
}
// Nearest representable value to x (finite, within range), ties to the even
// mantissa; the sign bit set for x < 0 (so tiny negatives round to -0).
uint16_t nearest_abs(const Table& t, double x);
uint16_t nearest(const Table& t, double x) {
  return static_cast<uint16_t>(nearest_abs(t, std::abs(x)) | (std::signbit(x) ? 0x8000 : 0));
}
uint16_t nearest_abs(const Table& t, double x) {
  auto it = std::lower_bound(t.v.begin(), t.v.end(), std::make_pair(x, uint16_t(0)));
  if (it == t.v.end()) return (--it)->second;
  if (it == t.v.begin() || it->first == x) return it->second;
  auto lo = it - 1;
  double dl = x - lo->first, dh = it->first - x;
  if (dl < dh) return lo->second;
  if (dh < dl) return it->second;
  return (lo->second & 1) ? it->second : lo->second;
}

// Random float32 bit patterns spread over every exponent.
std::vector<float> sweep(size_t n) {
  std::vector<float> out;
  uint64_t s = 0x9e3779b97f4a7c15ull;
  for (size_t i = 0; i < n; ++i) {
    s ^= s << 13, s ^= s >> 7, s ^= s << 17;
    out.push_back(bits_float(static_cast<uint32_t>(s)));
  }
  return out;
}

}  // namespace

TEST(TensorHalf, Bfloat16RoundTripsAndRoundsToNearestEven) {
  for (uint32_t b = 0; b < 65536; ++b) {  // every pattern survives bf16 -> float -> bf16
    float f = bf16_bits_to_float(static_cast<uint16_t>(b));
    if (std::isnan(f)) {
      EXPECT_TRUE(std::isnan(bf16_bits_to_float(float_to_bf16_bits(f))));
    } else {
      ASSERT_EQ(float_to_bf16_bits(f), b) << "pattern " << b;
    }
  }
  Table t = make_table(bf16_bits_to_float);
  const double bf16_max = t.v.back().first;
  int checked = 0;
  for (float f : sweep(200000)) {
    if (!std::isfinite(f) || std::abs(f) > bf16_max) continue;
    uint16_t got = float_to_bf16_bits(f);
    if (f == 0) continue;  // signed zero: pattern checked by the round trip
    ASSERT_EQ(got, nearest(t, f)) << "float " << f;
    ++checked;
  }
  EXPECT_GT(checked, 100000);
  // Ties: 1 + 2^-8 is halfway between 1 and 1 + 2^-7 -> even (1); 1 + 3 * 2^-8 -> 1 + 2^-6.
  EXPECT_EQ(bf16_bits_to_float(float_to_bf16_bits(1.f + std::ldexp(1.f, -8))), 1.f);
  EXPECT_EQ(bf16_bits_to_float(float_to_bf16_bits(1.f + 3 * std::ldexp(1.f, -8))), 1.f + std::ldexp(1.f, -6));
  EXPECT_TRUE(std::isinf(bf16_bits_to_float(float_to_bf16_bits(INFINITY))));
  EXPECT_TRUE(std::isnan(bf16_bits_to_float(float_to_bf16_bits(NAN))));
}

TEST(TensorHalf, Float16RoundTripsRoundsAndOverflows) {
  for (uint32_t b = 0; b < 65536; ++b) {
    float f = f16_bits_to_float(static_cast<uint16_t>(b));
    if (std::isnan(f)) {
      EXPECT_TRUE(std::isnan(f16_bits_to_float(float_to_f16_bits(f))));
    } else {
      ASSERT_EQ(float_to_f16_bits(f), b) << "pattern " << b;
    }
  }
  Table t = make_table(f16_bits_to_float);
  int checked = 0;
  for (float f : sweep(400000)) {
    // Scale into float16's range, subnormals included: |f| in about [2^-30, 2^16].
    if (!std::isfinite(f) || f == 0) continue;
    int e;
    std::frexp(f, &e);
    float g = std::ldexp(f, -e + (std::abs(e) % 46) - 30);
    if (std::abs(g) >= 65520.f) {
      EXPECT_TRUE(std::isinf(f16_bits_to_float(float_to_f16_bits(g)))) << g;
      continue;
    }
    ASSERT_EQ(float_to_f16_bits(g), nearest(t, g)) << "float " << g;
    ++checked;
  }
  EXPECT_GT(checked, 100000);
  EXPECT_EQ(f16_bits_to_float(float_to_f16_bits(65504.f)), 65504.f);
  EXPECT_EQ(f16_bits_to_float(float_to_f16_bits(65519.f)), 65504.f);
  EXPECT_TRUE(std::isinf(f16_bits_to_float(float_to_f16_bits(65520.f))));
  EXPECT_EQ(f16_bits_to_float(float_to_f16_bits(std::ldexp(1.f, -24))), std::ldexp(1.f, -24));  // smallest subnormal
  EXPECT_EQ(f16_bits_to_float(float_to_f16_bits(std::ldexp(1.f, -25))), 0.f);  // tie -> even (zero)
}

// Every op on 16-bit tensors = the float32 op on the rounded inputs, rounded
// back: bitwise, because that is exactly what dispatch does.
TEST(TensorHalf, OpsOnHalfTensorsEqualFloat32OnRoundedInputs) {
  Generator g(5);
  for (DType dt : {DType::BFloat16, DType::Float16}) {
    SCOPED_TRACE(dtype_name(dt));
    Tensor a = ops::to(ops::randn({3, 8, 6, 6}, g), dt), b = ops::to(ops::randn({3, 8, 6, 6}, g), dt);
    Tensor w = ops::to(ops::randn({4, 8, 3, 3}, g), dt), m = ops::to(ops::randn({6, 5}, g), dt);
    auto f32 = [](const Tensor& t) { return ops::to(t, DType::Float32); };
    auto same = [&](const Tensor& half, const Tensor& ref32) {
      ASSERT_EQ(half.dtype(), dt);
      EXPECT_EQ(ops::to_vector_f32(f32(half)), ops::to_vector_f32(f32(ops::to(ref32, dt))));
    };
    same(ops::add(a, b), ops::add(f32(a), f32(b)));
    same(ops::mul(a, 0.5), ops::mul(f32(a), 0.5));
    same(ops::silu(a), ops::silu(f32(a)));
    same(ops::matmul(a, m), ops::matmul(f32(a), f32(m)));
    same(ops::conv2d(a, w, Tensor(), 1, 1), ops::conv2d(f32(a), f32(w), Tensor(), 1, 1));
    same(ops::softmax(a, -1), ops::softmax(f32(a), -1));
    same(ops::sum(a, {1, 2}), ops::sum(f32(a), {1, 2}));
    same(ops::group_norm(a, 2, Tensor(), Tensor(), 1e-5).y, ops::group_norm(f32(a), 2, Tensor(), Tensor(), 1e-5).y);
    // Views and strided copies keep the type.
    Tensor tr = ops::contiguous(ops::transpose(a, 2, 3));
    EXPECT_EQ(tr.dtype(), dt);
    same(tr, ops::contiguous(ops::transpose(f32(a), 2, 3)));
    EXPECT_EQ(ops::item(ops::full({}, 3.0, dt)), 3.0);
    EXPECT_NE(a.to_string().find(dtype_name(dt)), std::string::npos);
  }
}

TEST(TensorHalf, SafetensorsStoresBf16AndF16AsPyTorchDoes) {
  const std::string path = testing::TempDir() + "half.safetensors";
  std::vector<float> v = {1.f, -2.5f, 3.140625f, 65504.f};
  Tensor bf = ops::to(ops::from_vector(v, {4}), DType::BFloat16);
  Tensor hf = ops::to(ops::from_vector(v, {2, 2}), DType::Float16);
  nn::save_safetensors(path, {{"bf", bf}, {"hf", hf}});
  // The header names the dtypes as PyTorch's safetensors does; the data are the raw little-endian patterns.
  std::ifstream in(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(bytes.find("\"BF16\""), std::string::npos);
  EXPECT_NE(bytes.find("\"F16\""), std::string::npos);
  const uint16_t one_bf16 = 0x3f80, one_f16 = 0x3c00;
  EXPECT_NE(bytes.find(std::string(reinterpret_cast<const char*>(&one_bf16), 2)), std::string::npos);
  EXPECT_NE(bytes.find(std::string(reinterpret_cast<const char*>(&one_f16), 2)), std::string::npos);
  nn::SafetensorsContents f = nn::load_safetensors(path);
  ASSERT_EQ(f.tensors.size(), 2u);
  EXPECT_EQ(f.tensors[0].second.dtype(), DType::BFloat16);
  EXPECT_EQ(f.tensors[1].second.dtype(), DType::Float16);
  EXPECT_EQ(ops::to_vector_f32(f.tensors[0].second), ops::to_vector_f32(bf));
  EXPECT_EQ(ops::to_vector_f32(f.tensors[1].second), ops::to_vector_f32(hf));
  EXPECT_EQ(ops::to_vector_f32(hf)[3], 65504.f);
  std::remove(path.c_str());
}

TEST(TensorHalf, AutocastRunsLayersIn16BitsWithFloat32ResultsAndGradients) {
  Generator init(1), g(2);
  nn::Linear lin(16, 8, init);
  nn::Conv2d conv(4, 6, 3, init, 1, 1);
  Tensor x = ops::randn({5, 16}, g), xc = ops::randn({2, 4, 5, 5}, g);
  Tensor y32 = lin.forward(x), c32 = conv.forward(xc);
  EXPECT_FALSE(nn::autocast_precision() != nn::Precision::FP32);
  for (nn::Precision p : {nn::Precision::BF16, nn::Precision::FP16}) {
    SCOPED_TRACE(nn::precision_name(p));
    const DType dt = nn::precision_dtype(p);
    Tensor y, c;
    {
      nn::Autocast ac(p);
      y = lin.forward(x);
      c = conv.forward(xc);
    }
    EXPECT_EQ(nn::autocast_precision(), nn::Precision::FP32);  // the scope ended
    ASSERT_EQ(y.dtype(), DType::Float32);
    ASSERT_EQ(c.dtype(), DType::Float32);
    // = the float32 layer on operands rounded to 16 bits, result rounded to 16 bits.
    auto r = [&](const Tensor& t) { return ops::to(ops::to(t, dt), DType::Float32); };
    Tensor ref = r(ops::add(ops::matmul(r(x), ops::transpose(r(lin.weight), 0, 1)), r(lin.bias)));  // one rounding
    std::vector<float> yv = ops::to_vector_f32(y), rv = ops::to_vector_f32(ref), y32v = ops::to_vector_f32(y32);
    double err = 0, scale = 0;
    for (float v : y32v) scale = std::max(scale, double(std::abs(v)));
    // The product and the bias add are each rounded to 16 bits (as cuBLAS
    // writes a 16-bit result): within two 16-bit ulps of the largest output.
    const double ulp = dt == DType::BFloat16 ? std::ldexp(1.0, -7) : std::ldexp(1.0, -10);
    for (size_t i = 0; i < yv.size(); ++i) {
      err = std::max(err, double(std::abs(yv[i] - y32v[i])));
      EXPECT_NEAR(yv[i], rv[i], 2 * ulp * scale);
    }
    EXPECT_GT(err, 0.0);  // it really ran in 16 bits
    EXPECT_LT(err / scale, dt == DType::BFloat16 ? 3e-2 : 4e-3);
    // Gradients reach the float32 master weights, close to the float32 gradients.
    lin.zero_grad();
    {
      nn::Autocast ac(p);
      backward(sum(mul(lin.forward(x), lin.forward(x))));
    }
    Tensor g16 = lin.weight.grad();
    lin.zero_grad();
    backward(sum(mul(lin.forward(x), lin.forward(x))));
    Tensor g32 = lin.weight.grad();
    ASSERT_EQ(g16.dtype(), DType::Float32);
    double gerr = ops::item(ops::amax(ops::abs(ops::sub(g16, g32)))) / ops::item(ops::amax(ops::abs(g32)));
    EXPECT_LT(gerr, dt == DType::BFloat16 ? 5e-2 : 5e-3);
  }
}

TEST(TensorHalf, GradScalerBacksOffOnOverflowAndGrowsAfterGoodSteps) {
  nn::GradScaler s(1024.0, 3);
  s.update(true);
  EXPECT_EQ(s.scale(), 512.0);
  EXPECT_EQ(s.skipped_steps(), 1);
  s.update(false);
  s.update(false);
  EXPECT_EQ(s.scale(), 512.0);
  s.update(false);
  EXPECT_EQ(s.scale(), 1024.0);  // 3 good steps in a row
  Generator init(1);
  nn::Linear lin(3, 2, init);
  Tensor x = ops::ones({1, 3});
  backward(s.scale_loss(sum(lin.forward(x))));
  s.unscale(lin.parameters());
  EXPECT_NEAR(ops::item(ops::sum(lin.bias.grad())), 2.0, 1e-6);  // d sum / d bias = 1 each, unscaled
  EXPECT_EQ(config::parse_enum<nn::Precision>("bf16", "--precision"), nn::Precision::BF16);
  test::expect_error([] { config::parse_enum<nn::Precision>("fp8", "--precision"); }, {"--precision: unknown value 'fp8'"});
}

// Mixed-precision training of the 2-D mixture MLP: bf16 and fp16 learn like
// fp32 (the float32 master weights stay float32); fp16 starts at a loss
// scale of 65536 and must skip steps until the scale fits.
TEST(TensorHalf, MixedPrecisionTrainingLearnsLikeFloat32) {
  diffusion::GaussianMixture mix = diffusion::demo_mixture_2d();
  diffusion::DiscreteSchedule sch = diffusion::DiscreteSchedule::linear();
  auto train = [&](nn::Precision p, int64_t* skipped) {
    diffusion::MlpConfig mc;
    mc.seed = 1;
    diffusion::MlpDenoiser model(mc);
    diffusion::TrainerConfig tc;
    tc.lr = 3e-3;
    tc.warmup_steps = 20;
    tc.ema_decay = 0;
    tc.seed = 2;
    tc.precision = p;
    diffusion::Trainer trainer(model, model, sch, tc);
    Generator data(3);
    double first = 0, last = 0;
    for (int i = 0; i < 200; ++i) {
      diffusion::TrainStats s = trainer.step(mix.sample(128, data).x);
      if (i < 30) first += s.loss / 30;
      if (i >= 170) last += s.loss / 30;
    }
    for (const Tensor& w : model.parameters()) EXPECT_EQ(w.dtype(), DType::Float32);
    if (skipped) *skipped = trainer.grad_scaler() ? trainer.grad_scaler()->skipped_steps() : 0;
    return std::make_pair(first, last);
  };
  auto [f32_first, f32_last] = train(nn::Precision::FP32, nullptr);
  auto [bf_first, bf_last] = train(nn::Precision::BF16, nullptr);
  int64_t skipped = 0;
  auto [h_first, h_last] = train(nn::Precision::FP16, &skipped);
  EXPECT_LT(f32_last, 0.7 * f32_first);
  EXPECT_LT(bf_last, 0.7 * bf_first);
  EXPECT_LT(h_last, 0.7 * h_first);
  EXPECT_NEAR(bf_last, f32_last, 0.15 * f32_last);
  EXPECT_NEAR(h_last, f32_last, 0.15 * f32_last);
  EXPECT_LT(skipped, 30);
}

// fp16 training on the CPU, saved and resumed: the loss scaler's scale, its
// run of good steps and the skipped-step count come back from the checkpoint,
// and the resumed run takes the same steps (parameters bitwise equal) as one
// that never stopped, skipped steps included.
TEST(TensorHalf, Fp16ResumeRestoresTheLossScaler) {
  diffusion::GaussianMixture mix = diffusion::demo_mixture_2d();
  diffusion::DiscreteSchedule sch = diffusion::DiscreteSchedule::linear();
  struct Run {
    diffusion::MlpDenoiser model;
    diffusion::Trainer trainer;
    Generator data;
    Run(const diffusion::DiscreteSchedule& sch, uint64_t seed)
        : model(config(seed)), trainer(model, model, sch, trainer_config(seed)), data(seed + 7) {}
    static diffusion::MlpConfig config(uint64_t seed) {
      diffusion::MlpConfig mc;
      mc.seed = seed;
      return mc;
    }
    static diffusion::TrainerConfig trainer_config(uint64_t seed) {
      diffusion::TrainerConfig tc;
      tc.lr = 3e-3;
      tc.warmup_steps = 5;
      tc.seed = seed + 1;
      tc.precision = nn::Precision::FP16;
      return tc;
    }
    nn::TrainingState state() {
      nn::TrainingState s;
      s.model = &model;
      s.optimizer = &trainer.optimizer();
      s.ema = trainer.ema();
      s.grad_scaler = trainer.grad_scaler();
      s.step = trainer.step_count();
      s.generators = {{"noise", &trainer.generator()}, {"data", &data}};
      return s;
    }
    int64_t steps(int n, const diffusion::GaussianMixture& mix) {
      int64_t skipped = 0;
      // Data x300: the gradients at the starting scale of 65536 overflow float16, so
      // steps are skipped at first and again later (steps 0-4 and 8 of this run).
      for (int i = 0; i < n; ++i) skipped += trainer.step(ops::mul(mix.sample(64, data).x, 300.0)).skipped ? 1 : 0;
      return skipped;
    }
  };
  const int N = 24, K = 6;  // resume after K steps
  Run straight(sch, 1);
  const int64_t straight_skipped = straight.steps(N, mix);
  ASSERT_NE(straight.trainer.grad_scaler(), nullptr);

  const std::string path = testing::TempDir() + "drift_fp16_resume.safetensors";
  {
    Run first(sch, 1);
    const int64_t skipped = first.steps(K, mix);
    // fp16 from a scale of 65536 overflows at first: the checkpoint holds a changed scale.
    ASSERT_GT(skipped, 0);
    ASSERT_LT(first.trainer.grad_scaler()->scale(), 65536.0);
    EXPECT_EQ(first.trainer.grad_scaler()->skipped_steps(), skipped);
    nn::save_checkpoint(path, first.state());
  }
  Run resumed(sch, 5);  // other seeds: everything must come from the file
  nn::TrainingState s = resumed.state();
  nn::load_checkpoint(path, s);
  EXPECT_GT(resumed.steps(N - K, mix), 0);  // skips after the resume too
  const nn::GradScaler& a = *straight.trainer.grad_scaler();
  const nn::GradScaler& b = *resumed.trainer.grad_scaler();
  EXPECT_EQ(a.scale(), b.scale());
  EXPECT_EQ(a.good_steps(), b.good_steps());
  EXPECT_EQ(a.skipped_steps(), b.skipped_steps());
  EXPECT_EQ(a.skipped_steps(), straight_skipped);
  EXPECT_EQ(straight.trainer.step_count(), resumed.trainer.step_count());
  EXPECT_EQ(straight.trainer.step_count(), N - straight_skipped);
  const auto pa = straight.model.state_dict(), pb = resumed.model.state_dict();
  ASSERT_EQ(pa.size(), pb.size());
  for (size_t i = 0; i < pa.size(); ++i)
    EXPECT_EQ(ops::to_vector_f32(pa[i].second), ops::to_vector_f32(pb[i].second)) << pa[i].first;
  std::remove(path.c_str());
}
