// EDM and flow-matching training of the small MLP on the 2-D mixture (slow:
// two 1,000-step trainings), sampled with EDM's Heun and flow Heun.
#include <gtest/gtest.h>

#include <cmath>

#include "diffusion/metrics.h"
#include "diffusion/oracle.h"
#include "diffusion/sampler.h"
#include "diffusion/sigma_process.h"
#include "diffusion/toy.h"
#include "diffusion/trainer.h"

using namespace drift;
using namespace drift::diffusion;

// EDM (log-normal sigma, preconditioning, lambda weighting) and flow matching
// (logit-normal t, velocity target) train the MLP on the 2-D mixture.
TEST(DiffusionTraining, EdmAndFlowLearnTheMixture) {
  GaussianMixture mix = demo_mixture_2d();
  EdmProcess edm(0.002, 80.0, 1.5);  // the mixture's standard deviation is about 1.5
  FlowProcess flow;
  for (int kind = 0; kind < 2; ++kind) {
    MlpConfig mc;
    mc.seed = 1;
    mc.time_scale = kind == 0 ? 250.0 : 1000.0;  // EDM: c_noise = ln(sigma) / 4; flow: t in [0, 1]
    mc.target = kind == 0 ? Prediction::X0 : Prediction::Flow;
    MlpDenoiser mlp(mc);
    EdmDenoiser precond(mlp, edm, 1.5);
    Denoiser& model = kind == 0 ? static_cast<Denoiser&>(precond) : mlp;
    const Process& process = kind == 0 ? static_cast<const Process&>(edm) : flow;
    TrainerConfig tc;
    tc.lr = 3e-3;
    tc.warmup_steps = 50;
    tc.total_steps = 1000;
    tc.lr_decay = nn::LRDecay::Cosine;
    tc.ema_decay = 0.99;
    tc.seed = 2;
    tc.time_sampling = kind == 0 ? TimeSampling::LogNormal : TimeSampling::LogitNormal;
    tc.loss_weighting = kind == 0 ? LossWeighting::EDM : LossWeighting::Simple;
    tc.sigma_data = 1.5;
    Trainer trainer(model, mlp, process, tc);
    Generator data(3);
    for (int64_t s = 0; s < 1000; ++s) ASSERT_TRUE(std::isfinite(trainer.step(mix.sample(256, data).x).loss));
    nn::EMAScope ema(*trainer.ema());
    SamplerOptions so;
    so.steps = kind == 0 ? 18 : 20;
    Generator g(4);
    Tensor x = sample(kind == 0 ? "heun" : "flow-heun", model, process, {2000, 2}, g, so).x;
    ModeStats st = mode_stats(mix, x);
    std::printf("%s: weights %.3f %.3f %.3f %.3f\n", kind == 0 ? "EDM" : "flow", st.weights[0], st.weights[1],
                st.weights[2], st.weights[3]);
    for (int64_t k = 0; k < mix.components(); ++k) EXPECT_NEAR(st.weights[k], mix.weights[k], 0.08) << kind;
  }
}
