// Trains a small convolutional classifier on Fashion-MNIST (default) or MNIST
// with drift's autograd, nn layers and Adam, then reports test accuracy.
//
//   train_classifier                              # Fashion-MNIST from the data folder
//   train_classifier --data ~/.local/share/drift/mnist   # MNIST (drift data get mnist)
//   train_classifier --epochs 3 --width 16
//
// Reading order: load the IDX files (data/idx.h) -> a DataLoader that
// shuffles and scales to [-1, 1] (data/loader.h) -> the model (tools/classifier.h)
// -> the training loop: forward, cross-entropy, backward, Adam step.
#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>

#include "data/download.h"
#include "data/idx.h"
#include "data/loader.h"
#include "tools/classifier.h"

using namespace drift;

int main(int argc, char** argv) {
  CLI::App app{"Train a small CNN classifier on Fashion-MNIST or MNIST with drift"};
  std::string data_dir;  // default: Fashion-MNIST in the data folder (data/download.h)
  double epochs = 1.0;
  int64_t batch_size = 128, width = 16;
  double lr = 2e-3;
  uint64_t seed = 0;
  app.add_option("--data", data_dir,
                 "folder with {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz] (default: Fashion-MNIST from "
                 "the data folder, `drift data get fashion-mnist`, or Debian's dataset-fashion-mnist)");
  app.add_option("--epochs", epochs, "passes over the training set (fractions allowed)")->capture_default_str();
  app.add_option("--batch", batch_size, "minibatch size")->capture_default_str();
  app.add_option("--lr", lr, "Adam learning rate (cosine-decayed to 0)")->capture_default_str();
  app.add_option("--width", width, "channels of the first convolution")->capture_default_str();
  app.add_option("--seed", seed, "seed for initialisation and data order")->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  try {
    auto t0 = std::chrono::steady_clock::now();
    if (data_dir.empty()) data_dir = find_dataset("fashion-mnist");
    Dataset train = load_mnist(data_dir, Split::Train);
    Dataset test = load_mnist(data_dir, Split::Test);
    std::printf("data: %s  train %lld, test %lld images of %lldx%lld (mean grey level %.2f)\n", data_dir.c_str(),
                static_cast<long long>(train.size()), static_cast<long long>(test.size()),
                static_cast<long long>(train.height), static_cast<long long>(train.width), train.pixel_mean());

    tools::ClassifierConfig cfg;
    cfg.in_channels = train.channels;
    cfg.image_size = train.height;
    cfg.num_classes = train.num_classes;
    cfg.width = width;
    cfg.seed = seed;
    tools::Classifier model(cfg);
    std::printf("model: %lld parameters\n", static_cast<long long>(model.num_parameters()));

    LoaderOptions lopt;
    lopt.batch_size = batch_size;
    lopt.seed = seed;
    DataLoader loader(std::move(train), lopt);
    const int64_t steps = std::max<int64_t>(1, static_cast<int64_t>(epochs * loader.batches_per_epoch()));
    std::printf("training: %lld steps of %lld images\n", static_cast<long long>(steps),
                static_cast<long long>(batch_size));
    tools::train_classifier(model, loader, steps, lr, Device::CPU, 100);
    auto t1 = std::chrono::steady_clock::now();

    Batch all = dataset_to_tensors(test);
    double acc = tools::accuracy(model, all.images, all.labels);
    auto t2 = std::chrono::steady_clock::now();
    std::printf("test accuracy: %.2f%%  (training %.1f s, evaluation %.1f s)\n", 100.0 * acc,
                std::chrono::duration<double>(t1 - t0).count(), std::chrono::duration<double>(t2 - t1).count());
  } catch (const Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
