// Fuzzes the JSON configuration parsers: a `drift train --config` file
// (TrainConfig::from_json + validate, tools/run_config.cpp) and the U-Net
// configuration a checkpoint carries (UNetConfig::from_json). Property: a
// configuration that parses and validates survives to_json -> from_json.
#include <string>

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
    nn::UNetConfig u = nn::UNetConfig::from_json(text);
    FUZZ_CHECK(nn::UNetConfig::from_json(u.to_json()).to_json() == u.to_json());
  } catch (const Error&) {
  }
  return 0;
}
