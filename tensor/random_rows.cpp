#include "tensor/random_rows.h"

namespace drift::ops {

namespace {

// draw(shape, gen) is one of ops::randn / uniform / randint with its other arguments bound.
template <class Draw>
Tensor rows_of(const Shape& shape, const RowShard& s, Generator& gen, Draw draw) {
  if (!s.active()) return draw(shape, gen);
  DRIFT_CHECK(!shape.empty() && s.begin >= 0 && s.begin + shape[0] <= s.global, "RowShard: rows [", s.begin, ", ",
              s.begin + (shape.empty() ? 0 : shape[0]), ") are not inside a batch of ", s.global, " rows");
  const int64_t n = shape_numel(shape);
  const int64_t inner = shape[0] == 0 ? 0 : n / shape[0];
  const int64_t first = s.begin * inner;  // this rank's first element in the global draw
  // Start at the block holding element `first`: the lanes line up (Box-Muller
  // pairs included), and the first `first % 4` elements are dropped.
  Generator g(gen.seed, gen.offset + static_cast<uint64_t>(first / 4));
  const int64_t skip = first % 4;
  Tensor flat = draw(Shape{skip + n}, g);
  gen.advance(s.global * inner);
  return ops::reshape(ops::contiguous(ops::narrow(flat, 0, skip, n)), shape);
}

}  // namespace

Tensor randn_rows(const Shape& shape, const RowShard& s, Generator& gen, DType dtype, Device device) {
  return rows_of(shape, s, gen, [&](const Shape& sh, Generator& g) { return ops::randn(sh, g, dtype, device); });
}

Tensor uniform_rows(const Shape& shape, double low, double high, const RowShard& s, Generator& gen, DType dtype,
                    Device device) {
  return rows_of(shape, s, gen,
                 [&](const Shape& sh, Generator& g) { return ops::uniform(sh, low, high, g, dtype, device); });
}

Tensor randint_rows(int64_t low, int64_t high, const Shape& shape, const RowShard& s, Generator& gen, Device device) {
  return rows_of(shape, s, gen, [&](const Shape& sh, Generator& g) { return ops::randint(low, high, sh, g, device); });
}

}  // namespace drift::ops
