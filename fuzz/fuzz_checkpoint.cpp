// Fuzzes load_checkpoint (nn/checkpoint.cpp) on top of load_safetensors: the
// metadata (format, step, optimizer JSON, generators, config), the names,
// shapes and dtypes of the model, EMA and optimizer tensors.
// Property: a load that fails leaves every part of the training state --
// weights, EMA, optimizer slots and step, generators -- bitwise unchanged.
#include <cstring>
#include <vector>

#include "fuzz/checkpoint_model.h"
#include "fuzz/fuzz_common.h"

using namespace drift;

namespace {

// Every byte of a training state, for before/after comparison.
std::vector<uint8_t> snapshot(fuzz::TinyRun& run) {
  std::vector<uint8_t> out;
  auto add = [&](const void* p, size_t n) {
    out.insert(out.end(), static_cast<const uint8_t*>(p), static_cast<const uint8_t*>(p) + n);
  };
  for (const nn::NamedTensors& list : {run.model.state_dict(), run.ema.shadow(), run.opt.state_tensors()})
    for (const auto& [name, t] : list) {
      add(name.data(), name.size());
      Tensor c = ops::contiguous(t);
      add(c.data_ptr(), static_cast<size_t>(c.numel()) * c.element_size());
    }
  const int64_t opt_step = run.opt.step_count();
  const double lr = run.opt.lr();
  add(&opt_step, sizeof(opt_step));
  add(&lr, sizeof(lr));
  for (const Generator* g : {&run.data, &run.model.dropout}) {
    add(&g->seed, sizeof(g->seed));
    add(&g->offset, sizeof(g->offset));
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static fuzz::TinyRun* run = new fuzz::TinyRun;  // kept across inputs, like a real run
  const std::string path = fuzz::input_file(data, size, "in.ckpt");
  const std::vector<uint8_t> before = snapshot(*run);
  nn::TrainingState s = run->state();
  try {
    nn::load_checkpoint(path, s);
  } catch (const Error&) {
    FUZZ_CHECK(snapshot(*run) == before);  // a failed load changed nothing
    FUZZ_CHECK(s.step == run->step && s.config_json == run->config);
    return 0;
  }
  run->step = s.step;
  run->config = s.config_json;
  return 0;
}
