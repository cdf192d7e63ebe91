// drift img2img and drift inpaint: edit a PNG with a trained model.
//   img2img (SDEdit, Meng et al. 2022): noise the input to time strength * T
//     and run the reverse process from there; low strength stays close to the
//     input, high strength keeps only its coarse layout.
//   inpaint (Song et al. 2021, appendix I.2): regenerate the masked region;
//     after every step the known pixels are reset to the input noised to the
//     current time, so the new content blends with them.
// The output grid's first image is the input (for inpaint, then the input
// with the region blanked), followed by the results.
#include <cmath>
#include <cstdio>
#include <sstream>

#include "data/image.h"
#include "tools/cli.h"
#include "tools/sample_args.h"

namespace drift::cli {

namespace {

struct EditArgs {
  SampleArgs s;
  std::string input;
  std::string out = "edited.png";
  double strength = 0.5;      // img2img
  std::string mask;           // inpaint: PNG, white = repaint
  std::string box;            // inpaint: "x0,y0,x1,y1" in model pixels, repaint inside
};

// The input PNG as [n, C, S, S] in [-1, 1], resized to the model's size.
Tensor load_input(const std::string& path, const diffusion::ModelConfig& c, int64_t n) {
  const int S = static_cast<int>(c.unet.image_size);
  Image img = read_image(path, static_cast<int>(c.unet.in_channels));
  if (img.width != S || img.height != S) {
    std::printf("note: resizing %s from %dx%d to the model's %dx%d\n", path.c_str(), img.width, img.height, S, S);
    img = resize_image(img, S, S);
  }
  Tensor one = ops::unsqueeze(image_to_tensor(img), 0);  // [1, C, S, S]
  return ops::contiguous(ops::expand(one, {n, c.unet.in_channels, S, S}));
}

// The mask [1, 1, S, S]: 1 where pixels are known (kept), 0 where repainted.
Tensor make_known_mask(const EditArgs& a, int64_t S) {
  std::vector<float> known(static_cast<size_t>(S * S), 1.0f);
  if (!a.mask.empty()) {
    Image m = read_image(a.mask, 1);
    if (m.width != S || m.height != S) m = resize_image(m, static_cast<int>(S), static_cast<int>(S));
    for (int64_t i = 0; i < S * S; ++i) known[i] = m.pixels[i] > 127 ? 0.0f : 1.0f;  // white = repaint
  } else {
    int64_t x0 = S / 4, y0 = S / 4, x1 = S - S / 4, y1 = S - S / 4;  // default: the central square
    if (!a.box.empty()) {
      char comma;
      std::stringstream ss(a.box);
      DRIFT_CHECK(static_cast<bool>(ss >> x0 >> comma >> y0 >> comma >> x1 >> comma >> y1),
                  "--box: expected x0,y0,x1,y1 (pixels of the model's ", S, "x", S, " images), got '", a.box, "'");
    }
    DRIFT_CHECK(0 <= x0 && x0 < x1 && x1 <= S && 0 <= y0 && y0 < y1 && y1 <= S, "--box: ", x0, ",", y0, ",", x1,
                ",", y1, " is not a non-empty box inside [0, ", S, "]");
    for (int64_t y = y0; y < y1; ++y)
      for (int64_t x = x0; x < x1; ++x) known[y * S + x] = 0.0f;
  }
  return ops::from_vector(known, {1, 1, S, S});
}

void run_edit(const EditArgs& a, bool inpaint) {
  check_output_path(a.out, "--out");
  LoadedModel m = load_trained_model(a.s.checkpoint, !a.s.no_ema);
  const diffusion::ModelConfig& c = m.config;
  const diffusion::Process& process = m.process;
  diffusion::Denoiser& den = m.denoiser;
  SamplerSettings st = a.s.settings(process);
  const int64_t n = a.s.n;
  diffusion::SampleOptions common;
  common.device = a.s.to_device(m);
  Tensor x = ops::to(load_input(a.input, c, n), common.device);
  common.guidance.labels = a.s.label_tensor(m, n);
  if (common.guidance.labels.defined()) common.guidance.labels = ops::to(common.guidance.labels, common.device);
  common.guidance.scale = a.s.guidance;
  std::vector<Tensor> shown = {ops::narrow(x, 0, 0, 1)};
  if (inpaint) {
    DRIFT_CHECK(!diffusion::find_sampler(st.name).adaptive, "inpaint: the adaptive sampler ", st.name,
                " does not support inpainting; use a fixed-step sampler (or --solver euler, heun or rk4)");
    Tensor known = make_known_mask(a, c.unet.image_size);
    known = ops::to(known, common.device);
    common.inpaint_mask = known;
    common.x_known = x;
    shown.push_back(ops::mul(ops::narrow(x, 0, 0, 1), known));  // repaint region shown as mid-grey (0)
  } else {
    DRIFT_CHECK(a.strength > 0 && a.strength <= 1, "--strength must be in (0, 1], got ", a.strength);
    common.x_init = x;
    common.strength = a.strength;
  }
  Generator gen(a.s.seed);
  const Shape shape = x.shape();
  SamplingProgress progress(1, !a.s.quiet);
  diffusion::SampleResult r = run_sampler(den, process, shape, gen, st, progress.attach(common));
  progress.finish();
  shown.push_back(ops::clamp(r.x, -1.0, 1.0));
  for (Tensor& s : shown) s = ops::to(s, Device::CPU);
  const int nrow = static_cast<int>(std::min<int64_t>(n + static_cast<int64_t>(shown.size()) - 1, 10));
  save_grid(a.out, ops::cat(shown, 0), nrow);
  std::printf("wrote %s: input%s, then %lld results (%s, %lld model evaluations)\n", a.out.c_str(),
              inpaint ? ", masked input" : "", static_cast<long long>(n), st.name.c_str(),
              static_cast<long long>(r.nfe));
}

}  // namespace

void add_edit_commands(CLI::App& app) {
  auto a = std::make_shared<EditArgs>();
  a->s.n = 4;
  CLI::App* img = app.add_subcommand("img2img", "Edit a PNG with SDEdit: noise it part-way, then denoise");
  img->footer("Example:\n  drift img2img -c runs/mnist/checkpoint.safetensors --input digit.png --strength 0.6 "
              "--out variations.png");
  add_sampler_options(img, a->s);
  img->add_option("--input,-i", a->input, "input PNG (resized to the model's size)")->required();
  img->add_option("--strength", a->strength, "how far to noise the input: 0 (keep) .. 1 (pure noise)")
      ->capture_default_str();
  img->add_option("--out,-o", a->out, "output PNG grid")->capture_default_str();
  img->callback([a] { run_edit(*a, false); });

  auto b = std::make_shared<EditArgs>();
  b->s.n = 4;
  b->out = "inpainted.png";
  CLI::App* inp = app.add_subcommand("inpaint", "Regenerate a region of a PNG, keeping the rest");
  inp->footer("The region is --mask (a PNG, white = repaint) or --box x0,y0,x1,y1 (default: the central square).\n"
              "Example:\n  drift inpaint -c runs/mnist/checkpoint.safetensors --input digit.png --box 0,14,28,28");
  add_sampler_options(inp, b->s);
  inp->add_option("--input,-i", b->input, "input PNG (resized to the model's size)")->required();
  inp->add_option("--mask", b->mask, "mask PNG: white pixels are repainted");
  inp->add_option("--box", b->box, "repaint the box x0,y0,x1,y1 (model pixels)");
  inp->add_option("--out,-o", b->out, "output PNG grid")->capture_default_str();
  inp->callback([b] { run_edit(*b, true); });
}

}  // namespace drift::cli
