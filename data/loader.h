#pragma once
// DataLoader: turns an in-memory 8-bit Dataset into an endless stream of
// float32 batches [B, C, H, W] scaled to [-1, 1] with int64 labels [B].
//
// Every batch is a pure function of (seed, epoch, position): the epoch's
// permutation and each sample's flip come from the counter-based Philox
// generator keyed by the seed, so a run is reproducible and can be resumed
// from a saved LoaderState. A background thread builds the next batch while
// the caller computes on the current one.
#include <cstdint>
#include <future>
#include <memory>
#include <vector>

#include "data/dataset.h"
#include "tensor/tensor.h"

namespace drift {

enum class Shuffle { Off, On };
enum class LastBatch { Drop, Keep };      // what to do with a final partial batch
enum class Flip { None, RandomHorizontal };  // augmentation

struct LoaderOptions {
  int64_t batch_size = 128;
  Shuffle shuffle = Shuffle::On;
  LastBatch last_batch = LastBatch::Drop;
  Flip flip = Flip::None;
  uint64_t seed = 0;
  bool prefetch = true;  // build the next batch on a background thread
  // Data-parallel runs: this process builds only its rows of every batch,
  // [B * shard_rank / shard_count, B * (shard_rank + 1) / shard_count) for a batch
  // of B rows. The order, the flips and the state are those of the whole batch,
  // so the processes together see exactly the single-process batches, and a
  // saved state resumes with any number of processes.
  int64_t shard_rank = 0;
  int64_t shard_count = 1;
};

// Where the stream stands: the next batch starts at sample `position` of
// epoch `epoch`'s order.
struct LoaderState {
  uint64_t seed = 0;
  int64_t epoch = 0;
  int64_t position = 0;
  bool operator==(const LoaderState& o) const { return seed == o.seed && epoch == o.epoch && position == o.position; }
};

struct Batch {
  Tensor images;  // float32 [B, C, H, W] in [-1, 1]
  Tensor labels;  // int64 [B]
  int64_t epoch = 0;
  std::vector<int64_t> indices;  // dataset index of each row
  int64_t global_rows = 0;       // rows of the whole batch (= rows here unless sharded)
  int64_t first_row = 0;         // this shard's first row in the whole batch
};

class DataLoader {
 public:
  DataLoader(std::shared_ptr<const Dataset> data, const LoaderOptions& options);
  DataLoader(Dataset data, const LoaderOptions& options)
      : DataLoader(std::make_shared<const Dataset>(std::move(data)), options) {}
  ~DataLoader();
  DataLoader(const DataLoader&) = delete;
  DataLoader& operator=(const DataLoader&) = delete;

  // The next batch; crosses epoch boundaries forever.
  Batch next();
  // One epoch from the current position to its end (for evaluation loops:
  // use Shuffle::Off and LastBatch::Keep to see every sample once).
  std::vector<Batch> rest_of_epoch();

  int64_t batches_per_epoch() const;
  const Dataset& dataset() const { return *data_; }
  const LoaderOptions& options() const { return options_; }

  // The state before the batch the next call to next() returns.
  LoaderState state() const { return state_; }
  void set_state(const LoaderState& s);

  // The sample order of an epoch (identity when shuffle is off).
  std::vector<int64_t> epoch_order(int64_t epoch) const;

 private:
  std::vector<int64_t> order_for(uint64_t seed, int64_t epoch) const;
  LoaderState advance(const LoaderState& s) const;  // the state after one batch from s
  Batch make_batch(const LoaderState& s);           // pure in s (caches the epoch order)
  void cancel_prefetch();

  std::shared_ptr<const Dataset> data_;
  LoaderOptions options_;
  LoaderState state_;
  // Cache of one epoch's order; touched only by whichever thread is building
  // a batch (never two at once).
  int64_t cached_epoch_ = -1;
  std::vector<int64_t> cached_order_;
  std::future<Batch> pending_;  // the batch for state_, being built
  LoaderState pending_state_;
};

// A fresh contiguous CPU tensor (uninitialised).
Tensor new_cpu_tensor(const Shape& shape, DType dtype);

// The whole data set (or its first `limit` images) as float32 [N, C, H, W] in
// [-1, 1] plus int64 labels [N], in order.
Batch dataset_to_tensors(const Dataset& data, int64_t limit = -1);

}  // namespace drift
