// Loads a checkpoint written by `drift train` and samples a grid (DDIM, or
// Heun / flow Heun for edm / flow models) —
// what a program using the installed library (#include <drift/drift.h>,
// drift::drift) needs, in a few lines: the checkpoint carries the model's
// configuration, so diffusion::load_model rebuilds the U-Net, its process
// (schedule) and its prediction target from the file alone (EMA weights when present).
//
//   sample_checkpoint runs/demo/checkpoint.safetensors grid.png
#include <cstdio>
#include <vector>

#include "data/image.h"
#include "diffusion/model_config.h"
#include "diffusion/sampler.h"

using namespace drift;

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s CHECKPOINT [OUT.png]\n", argv[0]);
    return 2;
  }
  try {
    diffusion::LoadedModel m = diffusion::load_model(argv[1]);  // config + weights, eval mode
    Generator gen(1);
    diffusion::SamplerOptions opt;
    opt.steps = 50;
    if (m.class_conditional()) {  // one label per image, every class in turn
      std::vector<int64_t> labels(16);
      for (size_t i = 0; i < labels.size(); ++i) labels[i] = static_cast<int64_t>(i) % m.config.unet.num_classes;
      opt.common.guidance.labels = ops::from_vector(labels, {16});
    }
    // A sampler that fits the model's formulation (drift sample's defaults).
    const char* sampler = m.config.process == diffusion::ProcessKind::EDM    ? "heun"
                          : m.config.process == diffusion::ProcessKind::Flow ? "flow-heun"
                                                                             : "ddim";
    diffusion::SampleResult r = diffusion::sample(sampler, m.denoiser, m.process, m.sample_shape(16), gen, opt);
    const char* out = argc > 2 ? argv[2] : "grid.png";
    save_grid(out, ops::clamp(r.x, -1.0, 1.0), 4);  // samples are in [-1, 1]
    std::printf("%s: 16 samples of the step-%lld model\n", out, static_cast<long long>(m.step));
  } catch (const Error& e) {
    std::fprintf(stderr, "sample_checkpoint: %s\n", e.what());
    return 1;
  }
  return 0;
}
