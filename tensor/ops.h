#pragma once
// Tensor ops without autograd: the frontend of every kernel. Each function
// checks its arguments (messages name what was expected and what was found),
// broadcasts, allocates the output and dispatches to the backend of the
// inputs' device. The differentiable versions used by models live in
// autograd/functions.h and are built from these.
#include <cstdint>
#include <vector>

#include "tensor/rng.h"
#include "tensor/tensor.h"

namespace drift::ops {

// ---------------------------------------------------------------- factories
Tensor empty(const Shape& shape, DType dtype = DType::Float32, Device device = Device::CPU);
Tensor empty_like(const Tensor& t);
Tensor zeros(const Shape& shape, DType dtype = DType::Float32, Device device = Device::CPU);
Tensor ones(const Shape& shape, DType dtype = DType::Float32, Device device = Device::CPU);
Tensor full(const Shape& shape, double value, DType dtype = DType::Float32, Device device = Device::CPU);
Tensor zeros_like(const Tensor& t);
Tensor ones_like(const Tensor& t);
Tensor full_like(const Tensor& t, double value);
Tensor scalar_tensor(double value, DType dtype = DType::Float32, Device device = Device::CPU);  // shape []
// [start, end) with step, like numpy.arange.
Tensor arange(double start, double end, double step = 1, DType dtype = DType::Float32, Device device = Device::CPU);
Tensor arange(int64_t n, DType dtype = DType::Int64, Device device = Device::CPU);
// n points from start to end inclusive.
Tensor linspace(double start, double end, int64_t n, DType dtype = DType::Float32, Device device = Device::CPU);
// Copies `shape_numel(shape)` elements of `dtype` from host memory.
Tensor from_buffer(const void* host_data, const Shape& shape, DType dtype, Device device = Device::CPU);
Tensor from_vector(const std::vector<float>& v, const Shape& shape, Device device = Device::CPU);
Tensor from_vector(const std::vector<double>& v, const Shape& shape, Device device = Device::CPU);
Tensor from_vector(const std::vector<int64_t>& v, const Shape& shape, Device device = Device::CPU);
// Random tensors from the counter-based generator; `gen` advances.
Tensor rand(const Shape& shape, Generator& gen, DType dtype = DType::Float32, Device device = Device::CPU);    // U[0,1)
Tensor randn(const Shape& shape, Generator& gen, DType dtype = DType::Float32, Device device = Device::CPU);   // N(0,1)
Tensor uniform(const Shape& shape, double low, double high, Generator& gen, DType dtype = DType::Float32, Device device = Device::CPU);
Tensor normal(const Shape& shape, double mean, double std, Generator& gen, DType dtype = DType::Float32, Device device = Device::CPU);
Tensor randn_like(const Tensor& t, Generator& gen);
// Integers uniform in [low, high).
Tensor randint(int64_t low, int64_t high, const Shape& shape, Generator& gen, Device device = Device::CPU);

// ---------------------------------------------------------------- host access
// Copies to a host vector (any device; converts the dtype).
std::vector<float> to_vector_f32(const Tensor& t);
std::vector<double> to_vector_f64(const Tensor& t);
std::vector<int64_t> to_vector_i64(const Tensor& t);
double item(const Tensor& t);  // a one-element tensor's value

// ---------------------------------------------------------------- views (no copy)
Tensor view(const Tensor& t, const Shape& shape);     // throws if strides do not allow it; one -1 allowed
Tensor reshape(const Tensor& t, const Shape& shape);  // a view when possible, else a copy
Tensor flatten(const Tensor& t, int64_t start_dim = 0, int64_t end_dim = -1);
Tensor permute(const Tensor& t, const std::vector<int64_t>& dims);
Tensor transpose(const Tensor& t, int64_t d0, int64_t d1);
Tensor narrow(const Tensor& t, int64_t dim, int64_t start, int64_t length);
Tensor slice(const Tensor& t, int64_t dim, int64_t start, int64_t end, int64_t step = 1);
Tensor select(const Tensor& t, int64_t dim, int64_t index);  // drops dim
Tensor expand(const Tensor& t, const Shape& shape);           // -1 keeps a size; new leading dims allowed
Tensor broadcast_to(const Tensor& t, const Shape& shape);
Tensor squeeze(const Tensor& t, int64_t dim);
Tensor squeeze(const Tensor& t);  // all size-1 dims
Tensor unsqueeze(const Tensor& t, int64_t dim);
std::vector<Tensor> split(const Tensor& t, const std::vector<int64_t>& sizes, int64_t dim);
std::vector<Tensor> chunk(const Tensor& t, int64_t chunks, int64_t dim);

// ---------------------------------------------------------------- copies
Tensor contiguous(const Tensor& t);  // t itself if already contiguous
Tensor clone(const Tensor& t);       // always a fresh contiguous copy
Tensor to(const Tensor& t, DType dtype);
Tensor to(const Tensor& t, Device device);
// dst <- src (shapes must match after broadcasting src to dst; any strides, dtype conversion).
void copy_(Tensor& dst, const Tensor& src);
void fill_(Tensor& dst, double value);
Tensor cat(const std::vector<Tensor>& ts, int64_t dim);
Tensor stack(const std::vector<Tensor>& ts, int64_t dim);

// ---------------------------------------------------------------- elementwise
// Binary ops broadcast (NumPy rules) and require equal dtypes and devices.
Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
Tensor pow(const Tensor& a, const Tensor& b);
Tensor maximum(const Tensor& a, const Tensor& b);
// grad * d silu(x)/dx = grad s (1 + x (1 - s)), s = sigmoid(x), in one kernel
// (the backward of silu; broadcasts like the other binary ops).
Tensor silu_backward(const Tensor& grad, const Tensor& x);
Tensor minimum(const Tensor& a, const Tensor& b);
// Comparisons give 1 or 0 in the inputs' dtype.
Tensor eq(const Tensor& a, const Tensor& b);
Tensor ne(const Tensor& a, const Tensor& b);
Tensor lt(const Tensor& a, const Tensor& b);
Tensor le(const Tensor& a, const Tensor& b);
Tensor gt(const Tensor& a, const Tensor& b);
Tensor ge(const Tensor& a, const Tensor& b);
// cond != 0 ? a : b (cond in the same dtype as a and b).
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);

Tensor neg(const Tensor& x);
Tensor abs(const Tensor& x);
Tensor sign(const Tensor& x);
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
Tensor gelu(const Tensor& x);  // exact: x * Phi(x)
Tensor erf(const Tensor& x);
Tensor square(const Tensor& x);

// Scalar forms.
Tensor affine(const Tensor& x, double a, double b);  // a*x + b
Tensor add(const Tensor& x, double s);
Tensor sub(const Tensor& x, double s);
Tensor mul(const Tensor& x, double s);
Tensor div(const Tensor& x, double s);
Tensor rsub(double s, const Tensor& x);  // s - x
Tensor pow(const Tensor& x, double e);
Tensor clamp(const Tensor& x, double lo, double hi);
Tensor maximum(const Tensor& x, double s);
Tensor minimum(const Tensor& x, double s);

// ---------------------------------------------------------------- reductions
// Over any set of dims (empty = all dims), keepdim as in PyTorch.
Tensor sum(const Tensor& x, const std::vector<int64_t>& dims = {}, bool keepdim = false);
Tensor mean(const Tensor& x, const std::vector<int64_t>& dims = {}, bool keepdim = false);
// Variance; correction = 1 is the unbiased estimate (PyTorch's default).
Tensor var(const Tensor& x, const std::vector<int64_t>& dims = {}, bool keepdim = false, int64_t correction = 1);
Tensor amax(const Tensor& x, const std::vector<int64_t>& dims = {}, bool keepdim = false);
Tensor amin(const Tensor& x, const std::vector<int64_t>& dims = {}, bool keepdim = false);
Tensor argmax(const Tensor& x, int64_t dim, bool keepdim = false);  // int64
Tensor argmin(const Tensor& x, int64_t dim, bool keepdim = false);  // int64
Tensor logsumexp(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim = false);
// Reduces a broadcast result back to `shape` (the gradient of broadcasting).
Tensor sum_to(const Tensor& x, const Shape& shape);

// ---------------------------------------------------------------- linear algebra
// NumPy matmul for rank >= 2 (batch dims broadcast). Transposed views
// (e.g. transpose(b, -1, -2)) are passed to BLAS as flags, not copied.
Tensor matmul(const Tensor& a, const Tensor& b);

// ---------------------------------------------------------------- convolution
// x [N, Cin, H, W], w [Cout, Cin, kh, kw], bias [Cout] or undefined.
Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& bias, int64_t stride = 1, int64_t padding = 0);
Tensor conv2d_backward_input(const Tensor& grad_out, const Tensor& w, const Shape& x_shape, int64_t stride, int64_t padding);
Tensor conv2d_backward_weight(const Tensor& grad_out, const Tensor& x, const Shape& w_shape, int64_t stride, int64_t padding);
// k x k windows, stride k.
Tensor avg_pool2d(const Tensor& x, int64_t k);
Tensor avg_pool2d_backward(const Tensor& grad_out, const Shape& x_shape, int64_t k);
Tensor upsample_nearest2d(const Tensor& x, int64_t scale);
Tensor upsample_nearest2d_backward(const Tensor& grad_out, const Shape& x_shape, int64_t scale);

// ---------------------------------------------------------------- indexing
// out = t.index_select(dim, index); index int64 1-D.
Tensor index_select(const Tensor& t, int64_t dim, const Tensor& index);
// out = zeros(shape); out.index_add_(dim, index, src).
Tensor index_add(const Shape& shape, int64_t dim, const Tensor& index, const Tensor& src);
Tensor embedding(const Tensor& weight, const Tensor& ids);  // weight [V, D], ids int64 any shape -> [..., D]
Tensor one_hot(const Tensor& labels, int64_t num_classes, DType dtype = DType::Float32);

// ---------------------------------------------------------------- softmax, norms, losses
Tensor softmax(const Tensor& x, int64_t dim);
Tensor log_softmax(const Tensor& x, int64_t dim);
// Fused attention (AttentionParams in tensor/op.h): q [G, d, Nq], k [G, d, Nk],
// v [G, dv, Nk] -> [G, dv, Nq], out[:, :, i] = sum_j softmax_j(scale q_i . k_j) v_j.
Tensor attention(const Tensor& q, const Tensor& k, const Tensor& v, double scale);
struct NormResult { Tensor y, mean, rstd; };
// x [N, C, *]; weight, bias [C]; mean, rstd [N, G].
// silu = true gives y = silu(group_norm(x)) (the U-Net's GroupNorm + SiLU),
// fused into one kernel on every backend (tensor/cpu/norm.cpp, cuda/norm.cu).
NormResult group_norm(const Tensor& x, int64_t groups, const Tensor& weight, const Tensor& bias, double eps,
                      bool silu = false);
struct NormGrads { Tensor dx, dweight, dbias; };
// silu = true: grad_y is the gradient of silu(group_norm(x)) and bias must be
// the forward's bias (undefined if it had none); the results are the
// gradients of x, weight and bias through both.
NormGrads group_norm_backward(const Tensor& grad_y, const Tensor& x, const Tensor& mean, const Tensor& rstd,
                              const Tensor& weight, int64_t groups, const Tensor& bias = Tensor(),
                              bool silu = false);
// Over the last dim: x [..., D]; weight, bias [D]; mean, rstd [...].
NormResult layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps);
NormGrads layer_norm_backward(const Tensor& grad_y, const Tensor& x, const Tensor& mean, const Tensor& rstd,
                              const Tensor& weight);
Tensor mse_loss(const Tensor& pred, const Tensor& target);                // mean((pred - target)^2)
Tensor cross_entropy(const Tensor& logits, const Tensor& labels);         // logits [N, C], labels int64 [N]; mean

// ---------------------------------------------------------------- optimizer updates
// One fused Adam / AdamW step on every (param, grad, exp_avg, exp_avg_sq) of
// the lists, in place (formula: AdamStepParams in tensor/op.h). All tensors
// contiguous, of one floating dtype and one device; each quadruple of one
// shape. On CUDA all tensors go in one launch.
struct AdamHyper {
  double lr, beta1, beta2, eps, weight_decay;
  bool decoupled;  // AdamW
  int64_t step;    // counted from 1 (bias corrections 1 - beta^step)
};
void adam_step_(const std::vector<Tensor>& params, const std::vector<Tensor>& grads,
                const std::vector<Tensor>& exp_avgs, const std::vector<Tensor>& exp_avg_sqs, const AdamHyper& h);

// ---------------------------------------------------------------- utilities
bool allclose(const Tensor& a, const Tensor& b, double rtol = 1e-5, double atol = 1e-8);
double max_abs_diff(const Tensor& a, const Tensor& b);
void synchronize(Device d);

}  // namespace drift::ops
