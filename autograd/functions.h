#pragma once
// Differentiable ops: the API models are written in. Each computes its
// forward with a tensor op (tensor/ops.h) and, when gradients are needed,
// records a backward formula written once, with tensor ops, so it runs on
// every backend. Names and semantics follow PyTorch.
#include <vector>

#include "autograd/engine.h"
#include "tensor/ops.h"
#include "tensor/random_rows.h"

namespace drift {

// views
Tensor reshape(const Tensor& t, const Shape& shape);
Tensor view(const Tensor& t, const Shape& shape);
Tensor flatten(const Tensor& t, int64_t start_dim = 0, int64_t end_dim = -1);
Tensor permute(const Tensor& t, const std::vector<int64_t>& dims);
Tensor transpose(const Tensor& t, int64_t d0, int64_t d1);
Tensor narrow(const Tensor& t, int64_t dim, int64_t start, int64_t length);
Tensor select(const Tensor& t, int64_t dim, int64_t index);
Tensor expand(const Tensor& t, const Shape& shape);
Tensor squeeze(const Tensor& t, int64_t dim);
Tensor unsqueeze(const Tensor& t, int64_t dim);
std::vector<Tensor> split(const Tensor& t, const std::vector<int64_t>& sizes, int64_t dim);
std::vector<Tensor> chunk(const Tensor& t, int64_t chunks, int64_t dim);
Tensor contiguous(const Tensor& t);
Tensor to(const Tensor& t, DType dtype);
Tensor to(const Tensor& t, Device device);
Tensor cat(const std::vector<Tensor>& ts, int64_t dim);
Tensor stack(const std::vector<Tensor>& ts, int64_t dim);

// elementwise (broadcasting)
Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
Tensor pow(const Tensor& a, const Tensor& b);
Tensor maximum(const Tensor& a, const Tensor& b);
Tensor minimum(const Tensor& a, const Tensor& b);
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);  // cond is not differentiated
Tensor neg(const Tensor& x);
Tensor abs(const Tensor& x);
Tensor exp(const Tensor& x);
Tensor log(const Tensor& x);
Tensor sqrt(const Tensor& x);
Tensor rsqrt(const Tensor& x);
Tensor sin(const Tensor& x);
Tensor cos(const Tensor& x);
Tensor tanh(const Tensor& x);
Tensor sigmoid(const Tensor& x);
Tensor relu(const Tensor& x);
Tensor silu(const Tensor& x);
Tensor gelu(const Tensor& x);
Tensor square(const Tensor& x);
Tensor add(const Tensor& x, double s);
Tensor sub(const Tensor& x, double s);
Tensor mul(const Tensor& x, double s);
Tensor div(const Tensor& x, double s);
Tensor rsub(double s, const Tensor& x);
Tensor pow(const Tensor& x, double e);
Tensor clamp(const Tensor& x, double lo, double hi);

// reductions
Tensor sum(const Tensor& x, const std::vector<int64_t>& dims = {}, bool keepdim = false);
Tensor mean(const Tensor& x, const std::vector<int64_t>& dims = {}, bool keepdim = false);
Tensor var(const Tensor& x, const std::vector<int64_t>& dims = {}, bool keepdim = false, int64_t correction = 1);
Tensor amax(const Tensor& x, const std::vector<int64_t>& dims = {}, bool keepdim = false);
Tensor amin(const Tensor& x, const std::vector<int64_t>& dims = {}, bool keepdim = false);
Tensor logsumexp(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim = false);

// linear algebra, convolution, resampling
Tensor matmul(const Tensor& a, const Tensor& b);
Tensor linear(const Tensor& x, const Tensor& w, const Tensor& b);  // x w^T + b; b may be undefined
Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& bias, int64_t stride = 1, int64_t padding = 0);
Tensor avg_pool2d(const Tensor& x, int64_t k);
Tensor upsample_nearest2d(const Tensor& x, int64_t scale);

// indexing
Tensor index_select(const Tensor& t, int64_t dim, const Tensor& index);
Tensor embedding(const Tensor& weight, const Tensor& ids);

// softmax, normalisation, dropout, losses
Tensor softmax(const Tensor& x, int64_t dim);
// Fused attention (ops::attention): q [G, d, Nq], k [G, d, Nk], v [G, dv, Nk] -> [G, dv, Nq],
// out[:, :, i] = sum_j softmax_j(scale q_i . k_j) v_j; the backward recomputes the weights.
Tensor attention(const Tensor& q, const Tensor& k, const Tensor& v, double scale);
Tensor log_softmax(const Tensor& x, int64_t dim);
Tensor group_norm(const Tensor& x, int64_t groups, const Tensor& weight, const Tensor& bias, double eps = 1e-5);
// silu(group_norm(x)) in one kernel each way on the CPU (the U-Net's norm + activation).
Tensor group_norm_silu(const Tensor& x, int64_t groups, const Tensor& weight, const Tensor& bias, double eps = 1e-5);
Tensor layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps = 1e-5);
// Inverted dropout: zeroes with probability p, scales the rest by 1/(1-p).
// `rows`: a data-parallel rank's rows of the whole batch's mask (tensor/random_rows.h).
Tensor dropout(const Tensor& x, double p, Generator& gen, const ops::RowShard& rows = {});
Tensor mse_loss(const Tensor& pred, const Tensor& target);
Tensor cross_entropy(const Tensor& logits, const Tensor& labels);

// Operator sugar for readable model code.
inline Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
inline Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
inline Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
inline Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
inline Tensor operator-(const Tensor& a) { return neg(a); }
inline Tensor operator+(const Tensor& a, double s) { return add(a, s); }
inline Tensor operator-(const Tensor& a, double s) { return sub(a, s); }
inline Tensor operator*(const Tensor& a, double s) { return mul(a, s); }
inline Tensor operator/(const Tensor& a, double s) { return div(a, s); }
inline Tensor operator+(double s, const Tensor& a) { return add(a, s); }
inline Tensor operator-(double s, const Tensor& a) { return rsub(s, a); }
inline Tensor operator*(double s, const Tensor& a) { return mul(a, s); }

}  // namespace drift
