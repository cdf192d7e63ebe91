#pragma once
// The training state the checkpoint fuzzer loads into, and make_corpus saves
// its seed from: two Linear layers, a model generator, AdamW, EMA and one
// data generator -- every part a checkpoint holds, small enough to be fast.
#include <memory>

#include "nn/checkpoint.h"
#include "nn/layers.h"

namespace drift::fuzz {

struct TinyModel : nn::Module {
  Generator init{1}, dropout{2};
  std::shared_ptr<nn::Linear> a, b;
  TinyModel() : nn::Module("TinyModel") {
    a = register_module("a", std::make_shared<nn::Linear>(3, 2, init));
    b = register_module("b", std::make_shared<nn::Linear>(2, 1, init));
  }
  std::vector<std::pair<std::string, Generator*>> generators() override { return {{"dropout", &dropout}}; }
};

struct TinyRun {
  TinyModel model;
  nn::AdamW opt{model.named_parameters(), nn::AdamOptions{}};
  nn::EMA ema{model, 0.9};
  Generator data{3};
  int64_t step = 0;
  std::string config = R"({"preset": "tiny"})";
  nn::TrainingState state() {
    nn::TrainingState s;
    s.model = &model;
    s.optimizer = &opt;
    s.ema = &ema;
    s.step = step;
    s.generators = {{"data", &data}};
    s.config_json = config;
    return s;
  }
};

}  // namespace drift::fuzz
