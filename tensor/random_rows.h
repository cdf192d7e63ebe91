#pragma once
// Random draws for one rank's rows of a batch split over processes.
//
// A data-parallel rank holds rows [begin, begin + n) of a global batch of
// `global` rows. Its noise must be exactly those rows of what one process
// would draw for the whole batch, so that the union of the ranks equals the
// single-process run for the same seed. The Philox generator is counter-based
// (tensor/rng.h: element i of a draw uses block offset + i / 4, lane i % 4), so a
// rank draws only its own rows, starting at the block of its first element,
// and every rank then advances the generator by the whole draw.
#include <cstdint>

#include "tensor/ops.h"

namespace drift::ops {

struct RowShard {
  int64_t begin = 0;   // first global row of this rank
  int64_t global = 0;  // rows of the whole batch; 0: not split (the local batch is the batch)
  bool active() const { return global > 0; }
};

// Rows [s.begin, s.begin + shape[0]) of randn({s.global, shape[1:]...}, gen, ...).
Tensor randn_rows(const Shape& shape, const RowShard& s, Generator& gen, DType dtype, Device device);
// The same for uniform and randint.
Tensor uniform_rows(const Shape& shape, double low, double high, const RowShard& s, Generator& gen, DType dtype,
                    Device device);
Tensor randint_rows(int64_t low, int64_t high, const Shape& shape, const RowShard& s, Generator& gen, Device device);

}  // namespace drift::ops
