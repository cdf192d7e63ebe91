#include "data/loader.h"

#include <algorithm>
#include <numeric>

#include "tensor/rng.h"

namespace drift {

namespace {

// Independent Philox streams for the shuffle and the flips of one seed.
constexpr uint64_t kShuffleStream = 0x53485546464C4531ull;  // "SHUFFLE1"
constexpr uint64_t kFlipStream = 0x464C495048524931ull;     // "FLIPHRI1"

// A 64-bit random number for (seed, stream, epoch, i).
uint64_t random_u64(uint64_t seed, uint64_t stream, int64_t epoch, int64_t i) {
  uint64_t key = seed ^ stream;
  uint64_t counter = (static_cast<uint64_t>(epoch) << 40) ^ static_cast<uint64_t>(i);
  Philox4 r = philox4x32_10(counter, key);
  return (static_cast<uint64_t>(r.v[0]) << 32) | r.v[1];
}

// Writes sample `src` (C x H x W bytes) into `dst` scaled to [-1, 1]:
// x = p / 127.5 - 1, mirrored left-right when `flip`.
void convert_image(const uint8_t* src, float* dst, int64_t C, int64_t H, int64_t W, bool flip) {
  const float scale = 1.0f / 127.5f;
  for (int64_t c = 0; c < C; ++c) {
    for (int64_t y = 0; y < H; ++y) {
      const uint8_t* row = src + (c * H + y) * W;
      float* out = dst + (c * H + y) * W;
      if (flip) {
        for (int64_t x = 0; x < W; ++x) out[x] = row[W - 1 - x] * scale - 1.0f;
      } else {
        for (int64_t x = 0; x < W; ++x) out[x] = row[x] * scale - 1.0f;
      }
    }
  }
}

}  // namespace

Tensor new_cpu_tensor(const Shape& shape, DType dtype) {
  auto storage = std::make_shared<Storage>(static_cast<size_t>(shape_numel(shape)) * dtype_size(dtype), Device::CPU);
  return Tensor(std::move(storage), shape, contiguous_strides(shape), 0, dtype);
}

DataLoader::DataLoader(std::shared_ptr<const Dataset> data, const LoaderOptions& options)
    : data_(std::move(data)), options_(options) {
  DRIFT_CHECK(data_ != nullptr, "DataLoader: null data set");
  DRIFT_CHECK(options_.batch_size > 0, "DataLoader: batch_size must be positive, got ", options_.batch_size);
  DRIFT_CHECK(data_->size() > 0, "DataLoader: data set '", data_->source, "' is empty");
  DRIFT_CHECK(data_->images.size() == static_cast<size_t>(data_->size() * data_->image_bytes()),
              "DataLoader: data set '", data_->source, "' has ", data_->labels.size(), " labels but ",
              data_->images.size(), " pixel bytes (", data_->image_bytes(), " per image)");
  DRIFT_CHECK(options_.last_batch == LastBatch::Keep || data_->size() >= options_.batch_size,
              "DataLoader: batch_size ", options_.batch_size, " exceeds the data set size ", data_->size(),
              " with LastBatch::Drop (no batch would ever be produced)");
  DRIFT_CHECK(options_.shard_count >= 1 && options_.shard_rank >= 0 && options_.shard_rank < options_.shard_count,
              "DataLoader: shard_rank ", options_.shard_rank, " out of range for shard_count ", options_.shard_count);
  state_.seed = options_.seed;
}

DataLoader::~DataLoader() { cancel_prefetch(); }

void DataLoader::cancel_prefetch() {
  if (pending_.valid()) pending_.wait();
  pending_ = std::future<Batch>();
}

int64_t DataLoader::batches_per_epoch() const {
  const int64_t n = data_->size(), b = options_.batch_size;
  return options_.last_batch == LastBatch::Drop ? n / b : (n + b - 1) / b;
}

std::vector<int64_t> DataLoader::epoch_order(int64_t epoch) const { return order_for(state_.seed, epoch); }

std::vector<int64_t> DataLoader::order_for(uint64_t seed, int64_t epoch) const {
  std::vector<int64_t> order(static_cast<size_t>(data_->size()));
  std::iota(order.begin(), order.end(), int64_t{0});
  if (options_.shuffle == Shuffle::On) {
    // Fisher–Yates: for i = n-1 .. 1 swap order[i] with order[j], j uniform in [0, i].
    for (int64_t i = data_->size() - 1; i > 0; --i) {
      uint64_t j = random_u64(seed, kShuffleStream, epoch, i) % static_cast<uint64_t>(i + 1);
      std::swap(order[i], order[j]);
    }
  }
  return order;
}

LoaderState DataLoader::advance(const LoaderState& s) const {
  LoaderState next = s;
  const int64_t n = data_->size(), b = options_.batch_size;
  next.position += b;
  const bool epoch_done = options_.last_batch == LastBatch::Drop ? next.position + b > n : next.position >= n;
  if (epoch_done) {
    next.epoch += 1;
    next.position = 0;
  }
  return next;
}

Batch DataLoader::make_batch(const LoaderState& s) {
  if (cached_epoch_ != s.epoch) {
    cached_order_ = order_for(s.seed, s.epoch);
    cached_epoch_ = s.epoch;
  }
  const Dataset& d = *data_;
  const int64_t C = d.channels, H = d.height, W = d.width;
  const int64_t G = std::min(options_.batch_size, d.size() - s.position);  // rows of the whole batch
  const int64_t r0 = G * options_.shard_rank / options_.shard_count;         // this shard's rows [r0, r1)
  const int64_t r1 = G * (options_.shard_rank + 1) / options_.shard_count;
  const int64_t B = r1 - r0;
  Batch batch;
  batch.epoch = s.epoch;
  batch.global_rows = G;
  batch.first_row = r0;
  batch.images = new_cpu_tensor({B, C, H, W}, DType::Float32);
  batch.labels = new_cpu_tensor({B}, DType::Int64);
  float* img = batch.images.data<float>();
  int64_t* lab = batch.labels.data<int64_t>();
  for (int64_t r = 0; r < B; ++r) {
    const int64_t pos = s.position + r0 + r;
    const int64_t idx = cached_order_[pos];
    const bool flip = options_.flip == Flip::RandomHorizontal &&
                      (random_u64(s.seed, kFlipStream, s.epoch, pos) >> 63) != 0;  // p = 1/2
    convert_image(d.image(idx), img + r * C * H * W, C, H, W, flip);
    lab[r] = d.labels[idx];
    batch.indices.push_back(idx);
  }
  return batch;
}

Batch DataLoader::next() {
  Batch out;
  if (pending_.valid() && pending_state_ == state_) {
    out = pending_.get();
  } else {
    cancel_prefetch();
    out = make_batch(state_);
  }
  state_ = advance(state_);
  if (options_.prefetch) {
    pending_state_ = state_;
    LoaderState s = state_;
    pending_ = std::async(std::launch::async, [this, s] { return make_batch(s); });
  }
  return out;
}

std::vector<Batch> DataLoader::rest_of_epoch() {
  std::vector<Batch> out;
  const int64_t epoch = state_.epoch;
  while (state_.epoch == epoch) out.push_back(next());
  return out;
}

void DataLoader::set_state(const LoaderState& s) {
  DRIFT_CHECK(s.position >= 0 && s.position < data_->size() && s.epoch >= 0, "DataLoader::set_state: position ",
              s.position, " / epoch ", s.epoch, " out of range for a data set of ", data_->size());
  cancel_prefetch();
  if (s.seed != state_.seed) cached_epoch_ = -1;
  state_ = s;
}

Batch dataset_to_tensors(const Dataset& d, int64_t limit) {
  const int64_t n = limit < 0 ? d.size() : std::min(limit, d.size());
  const int64_t C = d.channels, H = d.height, W = d.width;
  Batch b;
  b.global_rows = n;
  b.images = new_cpu_tensor({n, C, H, W}, DType::Float32);
  b.labels = new_cpu_tensor({n}, DType::Int64);
  float* img = b.images.data<float>();
  int64_t* lab = b.labels.data<int64_t>();
  for (int64_t i = 0; i < n; ++i) {
    convert_image(d.image(i), img + i * C * H * W, C, H, W, false);
    lab[i] = d.labels[i];
    b.indices.push_back(i);
  }
  return b;
}

}  // namespace drift
