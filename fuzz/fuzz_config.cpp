// Fuzzes the JSON configuration parsers: a `drift train --config` file
// (TrainConfig::from_json + validate, tools/run_config.cpp), the model
// configuration a checkpoint carries (diffusion::ModelConfig::from_json, read
// by load_model) and the U-Net's own (nn::UNetConfig::from_json). Property: a
// configuration that parses and validates survives to_json -> from_json.
#include <string>

#include "diffusion/model_config.h"
#include "fuzz/fuzz_common.h"
#include "tools/run_config.h"

using namespace drift;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    cli::TrainConfig c = cli::TrainConfig::from_json(text, "fuzz.json");
    c.validate();
    const std::string saved = c.to_json();
    FUZZ_CHECK(cli::TrainConfig::from_json(saved, "saved.json").to_json() == saved);
  } catch (const Error&) {
  }
  try {
    diffusion::ModelConfig m = diffusion::ModelConfig::from_json(text, "fuzz.json", /*ignore_unknown=*/true);
    m.validate();
    const std::string saved = m.to_json();
    FUZZ_CHECK(diffusion::ModelConfig::from_json(saved, "saved.json").to_json() == saved);
  } catch (const Error&) {
  }
  try {
    nn::UNetConfig u = nn::UNetConfig::from_json(text);
    u.validate();
    FUZZ_CHECK(nn::UNetConfig::from_json(u.to_json()).to_json() == u.to_json());
  } catch (const Error&) {
  }
  return 0;
}
