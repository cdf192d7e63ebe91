#pragma once
// A small convolutional image classifier, shared by examples/train_classifier
// and `drift eval` (whose Fréchet classifier distance uses its penultimate
// features). Header-only so that both programs can include it.
//
//   x [B, C, S, S]
//   -> conv3x3(C -> w) -> ReLU -> avgpool 2       [B, w, S/2, S/2]
//   -> conv3x3(w -> 2w) -> ReLU -> avgpool 2      [B, 2w, S/4, S/4]
//   -> flatten -> linear(-> hidden) -> ReLU        [B, hidden]   ("features")
//   -> linear(-> classes)                          [B, classes]  (logits)
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "autograd/functions.h"
#include "data/loader.h"
#include "nn/layers.h"
#include "nn/optim.h"

namespace drift::tools {

struct ClassifierConfig {
  int64_t in_channels = 1;
  int64_t image_size = 28;  // divisible by 4
  int64_t num_classes = 10;
  int64_t width = 32;       // channels of the first convolution
  int64_t hidden = 128;     // size of the feature vector
  uint64_t seed = 0;        // initialisation
};

class Classifier : public nn::Module {
 public:
  explicit Classifier(const ClassifierConfig& cfg) : nn::Module("Classifier"), config(cfg) {
    DRIFT_CHECK(cfg.image_size % 4 == 0, "Classifier: image_size must be divisible by 4, got ", cfg.image_size);
    Generator init(cfg.seed);
    const int64_t s = cfg.image_size / 4;
    conv1 = register_module("conv1", std::make_shared<nn::Conv2d>(cfg.in_channels, cfg.width, 3, init, 1, 1));
    conv2 = register_module("conv2", std::make_shared<nn::Conv2d>(cfg.width, 2 * cfg.width, 3, init, 1, 1));
    fc1 = register_module("fc1", std::make_shared<nn::Linear>(2 * cfg.width * s * s, cfg.hidden, init));
    fc2 = register_module("fc2", std::make_shared<nn::Linear>(cfg.hidden, cfg.num_classes, init));
  }

  // The penultimate activations [B, hidden].
  Tensor features(const Tensor& x) {
    DRIFT_CHECK(x.dim() == 4 && x.size(1) == config.in_channels && x.size(2) == config.image_size &&
                    x.size(3) == config.image_size,
                "Classifier: expected images [B, ", config.in_channels, ", ", config.image_size, ", ",
                config.image_size, "], got ", shape_str(x.shape()));
    Tensor h = avg_pool2d(relu(conv1->forward(x)), 2);
    h = avg_pool2d(relu(conv2->forward(h)), 2);
    return relu(fc1->forward(flatten(h, 1)));
  }
  Tensor forward(const Tensor& x) override { return fc2->forward(features(x)); }

  ClassifierConfig config;
  std::shared_ptr<nn::Conv2d> conv1, conv2;
  std::shared_ptr<nn::Linear> fc1, fc2;
};

// Applies `fn` to [first, first + n) of `images` in chunks of `batch` under no-grad
// and concatenates the results along dim 0.
template <class F>
Tensor map_batches(const Tensor& images, int64_t batch, F fn) {
  NoGradGuard no_grad;
  std::vector<Tensor> parts;
  const int64_t n = images.size(0);
  for (int64_t i = 0; i < n; i += batch) parts.push_back(fn(ops::narrow(images, 0, i, std::min(batch, n - i))));
  return parts.size() == 1 ? parts[0] : ops::cat(parts, 0);
}

// Predicted class of each image (argmax of the logits), int64 [N].
inline Tensor predict_labels(Classifier& model, const Tensor& images, int64_t batch = 500) {
  return map_batches(images, batch, [&](const Tensor& x) { return ops::argmax(model.forward(x), 1); });
}

// Fraction of images whose predicted class equals the label.
inline double accuracy(Classifier& model, const Tensor& images, const Tensor& labels, int64_t batch = 500) {
  std::vector<int64_t> pred = ops::to_vector_i64(predict_labels(model, images, batch));
  std::vector<int64_t> truth = ops::to_vector_i64(labels);
  int64_t correct = 0;
  for (size_t i = 0; i < pred.size(); ++i) correct += pred[i] == truth[i];
  return pred.empty() ? 0.0 : static_cast<double>(correct) / static_cast<double>(pred.size());
}

// Trains with Adam on cross-entropy for `steps` minibatches from `loader`,
// printing the running loss every `log_every` steps (0: silent).
inline void train_classifier(Classifier& model, DataLoader& loader, int64_t steps, double lr, Device device,
                             int64_t log_every = 100) {
  nn::AdamOptions aopt;
  aopt.lr = lr;
  nn::Adam opt(model.named_parameters(), aopt);
  model.train();
  double running = 0;
  int64_t count = 0;
  for (int64_t step = 1; step <= steps; ++step) {
    Batch b = loader.next();
    Tensor x = device == Device::CPU ? b.images : ops::to(b.images, device);
    Tensor y = device == Device::CPU ? b.labels : ops::to(b.labels, device);
    // Cosine decay of the learning rate to 0 over the run.
    opt.set_lr(lr * 0.5 * (1.0 + std::cos(M_PI * static_cast<double>(step - 1) / static_cast<double>(steps))));
    Tensor loss = cross_entropy(model.forward(x), y);
    opt.zero_grad();
    backward(loss);
    opt.step();
    running += ops::item(loss);
    ++count;
    if (log_every > 0 && (step % log_every == 0 || step == steps)) {
      std::printf("  step %5lld/%lld  loss %.4f\n", static_cast<long long>(step), static_cast<long long>(steps),
                  running / static_cast<double>(count));
      std::fflush(stdout);
      running = 0;
      count = 0;
    }
  }
  model.eval();
}

}  // namespace drift::tools
