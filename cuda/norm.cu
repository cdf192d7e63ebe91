// GroupNorm, forward and backward, in two variants; LayerNorm runs through it
// (cuda/variant.h): Naive (one thread per group / per channel, serial loops)
// and Fast (one block per group / per channel, block reductions).
//
// GroupNorm (Wu & He 2018) on x [N, C, S] with G groups normalises each
// (n, g) over its C/G channels x S positions; LayerNorm (Ba et al. 2016) on
// x [M, D] is the same with N = M, C = D, S = 1, G = 1 (one group per row,
// affine per element of the row): tensor/ops_nn.cpp calls these kernels so. A group is a
// contiguous run of L = (C/G) S elements starting at (n C + g C/G) S.
//   mean = 1/L sum x,  var = 1/L sum (x - mean)^2  (biased),  rstd = 1/sqrt(var + eps)
//   xhat = (x - mean) rstd,  y = xhat w[c] + b[c]
// Backward, with dxhat = gy w[c]:
//   dx = rstd (dxhat - mean(dxhat) - xhat mean(dxhat xhat))   (means over the group)
//   dw[c] = sum_{n,s} gy xhat,  db[c] = sum_{n,s} gy
// Kernel arguments:
//   GroupNorm:          in = {x, weight or null, bias or null}, out = {y, mean [N,G], rstd [N,G]}
//   GroupNormBackward:  in = {gy, x, mean, rstd, weight or null}, out = {dx, dw or null, db or null}
// NormParams {n, c, s, groups, eps, silu}.
// silu (the U-Net's GroupNorm + SiLU as one op; the CPU kernel, tensor/cpu/norm.cpp,
// is the reference): forward y = silu(z), z = xhat w + b, in the same pass;
// backward: in[5] = bias, and dy is first replaced by dz = dy silu'(z), z
// recomputed from x and the saved statistics (one elementwise kernel), then
// the norm's backward runs on dz.
//   silu(z) = z sigmoid(z);  silu'(z) = s (1 + z (1 - s)), s = sigmoid(z)
#include "cuda/block_reduce.cuh"
#include "cuda/variant.h"

namespace drift::cuda {
namespace {

struct NormGeom {
  int64_t n, c, s, g;  // batch, channels, positions per channel, groups
  bool silu;           // SiLU fused after the norm
  __host__ __device__ int64_t cg() const { return c / g; }        // channels per group
  __host__ __device__ int64_t len() const { return cg() * s; }    // elements per group
};

// ---- forward -------------------------------------------------------------------------
template <class T>
__device__ __forceinline__ void write_normalised(const T* x, T* y, const T* w, const T* b, NormGeom geo, int64_t grp,
                                                 T mean, T rstd, int64_t start, int64_t step) {
  int64_t c0 = (grp % geo.g) * geo.cg();
  int64_t base = grp * geo.len();
  for (int64_t e = start; e < geo.len(); e += step) {
    int64_t c = c0 + e / geo.s;
    T v = (x[base + e] - mean) * rstd;
    v = v * (w ? w[c] : T(1)) + (b ? b[c] : T(0));
    y[base + e] = geo.silu ? v / (T(1) + exp(-v)) : v;  // silu(v) = v sigmoid(v)
  }
}

// dz = dy silu'(z), z = (x - mean) rstd w + b, for every element (the fused silu's backward).
template <class T>
__global__ void silu_grad_of_norm(const T* gy, const T* x, const T* mean, const T* rstd, const T* w, const T* b, T* dz,
                                  NormGeom geo) {
  DRIFT_CUDA_KERNEL_LOOP(idx, geo.n * geo.c * geo.s) {
    const int64_t c = (idx / geo.s) % geo.c, n = idx / (geo.s * geo.c), grp = n * geo.g + c / geo.cg();
    T z = (x[idx] - mean[grp]) * rstd[grp];
    z = z * (w ? w[c] : T(1)) + (b ? b[c] : T(0));
    const T sg = T(1) / (T(1) + exp(-z));
    dz[idx] = gy[idx] * (sg * (T(1) + z * (T(1) - sg)));
  }
}

template <class T>
__global__ void norm_forward_naive(const T* x, const T* w, const T* b, T* y, T* mean_out, T* rstd_out, NormGeom geo,
                                   T eps) {
  DRIFT_CUDA_KERNEL_LOOP(grp, geo.n * geo.g) {
    const T* xp = x + grp * geo.len();
    T sum = T(0);
    for (int64_t e = 0; e < geo.len(); ++e) sum += xp[e];
    T mean = sum / static_cast<T>(geo.len());
    T sq = T(0);
    for (int64_t e = 0; e < geo.len(); ++e) sq += (xp[e] - mean) * (xp[e] - mean);
    T rstd = T(1) / sqrt(sq / static_cast<T>(geo.len()) + eps);
    mean_out[grp] = mean;
    rstd_out[grp] = rstd;
    write_normalised(x, y, w, b, geo, grp, mean, rstd, 0, 1);
  }
}

template <class T>
__global__ void norm_forward_block(const T* x, const T* w, const T* b, T* y, T* mean_out, T* rstd_out, NormGeom geo,
                                   T eps) {
  __shared__ T shared[32];
  for (int64_t grp = blockIdx.x; grp < geo.n * geo.g; grp += gridDim.x) {
    const T* xp = x + grp * geo.len();
    T sum = T(0);
    for (int64_t e = threadIdx.x; e < geo.len(); e += blockDim.x) sum += xp[e];
    T mean = block_allsum(sum, shared) / static_cast<T>(geo.len());
    T sq = T(0);
    for (int64_t e = threadIdx.x; e < geo.len(); e += blockDim.x) sq += (xp[e] - mean) * (xp[e] - mean);
    T rstd = T(1) / sqrt(block_allsum(sq, shared) / static_cast<T>(geo.len()) + eps);
    if (threadIdx.x == 0) {
      mean_out[grp] = mean;
      rstd_out[grp] = rstd;
    }
    write_normalised(x, y, w, b, geo, grp, mean, rstd, threadIdx.x, blockDim.x);
  }
}

// ---- backward: dx ---------------------------------------------------------------------
// Sums over one group, accumulated by elements start, start+step, ...:
//   a = sum dxhat, bsum = sum dxhat xhat
template <class T>
__device__ __forceinline__ void group_partials(const T* gy, const T* x, const T* w, NormGeom geo, int64_t grp, T mean,
                                               T rstd, int64_t start, int64_t step, T& a, T& bsum) {
  int64_t c0 = (grp % geo.g) * geo.cg(), base = grp * geo.len();
  a = T(0);
  bsum = T(0);
  for (int64_t e = start; e < geo.len(); e += step) {
    T dxhat = gy[base + e] * (w ? w[c0 + e / geo.s] : T(1));
    a += dxhat;
    bsum += dxhat * (x[base + e] - mean) * rstd;
  }
}

// dx = rstd (dxhat - a/L - xhat bsum/L)
template <class T>
__device__ __forceinline__ void write_dx(const T* gy, const T* x, const T* w, T* dx, NormGeom geo, int64_t grp, T mean,
                                         T rstd, T a, T bsum, int64_t start, int64_t step) {
  int64_t c0 = (grp % geo.g) * geo.cg(), base = grp * geo.len();
  T inv_len = T(1) / static_cast<T>(geo.len());
  for (int64_t e = start; e < geo.len(); e += step) {
    T dxhat = gy[base + e] * (w ? w[c0 + e / geo.s] : T(1));
    T xhat = (x[base + e] - mean) * rstd;
    dx[base + e] = rstd * (dxhat - a * inv_len - xhat * bsum * inv_len);
  }
}

template <class T>
__global__ void norm_backward_dx_naive(const T* gy, const T* x, const T* mean, const T* rstd, const T* w, T* dx,
                                       NormGeom geo) {
  DRIFT_CUDA_KERNEL_LOOP(grp, geo.n * geo.g) {
    T a, bsum;
    group_partials(gy, x, w, geo, grp, mean[grp], rstd[grp], 0, 1, a, bsum);
    write_dx(gy, x, w, dx, geo, grp, mean[grp], rstd[grp], a, bsum, 0, 1);
  }
}

template <class T>
__global__ void norm_backward_dx_block(const T* gy, const T* x, const T* mean, const T* rstd, const T* w, T* dx,
                                       NormGeom geo) {
  __shared__ T shared[32];
  for (int64_t grp = blockIdx.x; grp < geo.n * geo.g; grp += gridDim.x) {
    T a, bsum;
    group_partials(gy, x, w, geo, grp, mean[grp], rstd[grp], threadIdx.x, blockDim.x, a, bsum);
    a = block_allsum(a, shared);
    bsum = block_allsum(bsum, shared);
    write_dx(gy, x, w, dx, geo, grp, mean[grp], rstd[grp], a, bsum, threadIdx.x, blockDim.x);
  }
}

// ---- backward: dw, db ----------------------------------------------------------------
// Sums for channel c over (n, s), elements k = start, start+step, ... of n*s.
template <class T>
__device__ __forceinline__ void channel_partials(const T* gy, const T* x, const T* mean, const T* rstd, NormGeom geo,
                                                 int64_t c, int64_t start, int64_t step, T& dw, T& db) {
  dw = T(0);
  db = T(0);
  int64_t grp_in_n = c / geo.cg();
  for (int64_t k = start; k < geo.n * geo.s; k += step) {
    int64_t n = k / geo.s, s = k % geo.s;
    int64_t idx = (n * geo.c + c) * geo.s + s, grp = n * geo.g + grp_in_n;
    T g = gy[idx];
    dw += g * (x[idx] - mean[grp]) * rstd[grp];
    db += g;
  }
}

// One thread per channel. Also the fast choice when S is small (LayerNorm:
// neighbouring threads then read neighbouring channels, coalesced).
template <class T>
__global__ void norm_backward_wb_thread(const T* gy, const T* x, const T* mean, const T* rstd, T* dw, T* db,
                                        NormGeom geo) {
  DRIFT_CUDA_KERNEL_LOOP(c, geo.c) {
    T sw, sb;
    channel_partials(gy, x, mean, rstd, geo, c, 0, 1, sw, sb);
    if (dw) dw[c] = sw;
    if (db) db[c] = sb;
  }
}

// One block per channel (GroupNorm with large S: threads walk the positions).
template <class T>
__global__ void norm_backward_wb_block(const T* gy, const T* x, const T* mean, const T* rstd, T* dw, T* db,
                                       NormGeom geo) {
  __shared__ T shared[32];
  for (int64_t c = blockIdx.x; c < geo.c; c += gridDim.x) {
    T sw, sb;
    channel_partials(gy, x, mean, rstd, geo, c, threadIdx.x, blockDim.x, sw, sb);
    sw = block_allsum(sw, shared);
    sb = block_allsum(sb, shared);
    if (threadIdx.x == 0) {
      if (dw) dw[c] = sw;
      if (db) db[c] = sb;
    }
  }
}

constexpr int kNormThreads = 256;

NormGeom make_geom(const NormParams& p, const Tensor& x, const char* name) {
  NormGeom g{p.n, p.c, p.s, p.groups, p.silu};
  DRIFT_CHECK(g.g >= 1 && g.c % g.g == 0, "CUDA ", name, ": ", g.c, " channels are not divisible into ", g.g,
              " groups");
  DRIFT_CHECK(g.n * g.c * g.s == x.numel(), "CUDA ", name, ": [N, C, S] = [", g.n, ", ", g.c, ", ", g.s,
              "] does not match the input's ", x.numel(), " elements");
  return g;
}

template <class T>
const T* optional_ptr(const Tensor* t, DeviceBuffer& scratch) {
  return (t && t->defined()) ? contiguous_ptr<T>(*t, scratch) : nullptr;
}
template <class T>
T* optional_out(Tensor* t, const char* name) {
  if (!t || !t->defined()) return nullptr;
  check_contiguous_out(*t, name);
  return static_cast<T*>(t->data_ptr());
}

void norm_forward(const KernelArgs& args, const char* name) {
  const Tensor& x = *args.in[0];
  Tensor& y = *args.out[0];
  check_contiguous_out(y, name);
  check_contiguous_out(*args.out[1], name);
  check_contiguous_out(*args.out[2], name);
  const NormParams& p = args.p<NormParams>();
  NormGeom geo = make_geom(p, x, name);
  if (geo.n * geo.g == 0) return;
  DeviceBuffer sx, sw, sb;
  dispatch_float(y.dtype(), name, [&](auto tag) {
    using T = decltype(tag);
    const T* xp = contiguous_ptr<T>(x, sx);
    const T* wp = optional_ptr<T>(args.in[1], sw);
    const T* bp = optional_ptr<T>(args.in[2], sb);
    T* yp = static_cast<T*>(y.data_ptr());
    T* mp = static_cast<T*>(args.out[1]->data_ptr());
    T* rp = static_cast<T*>(args.out[2]->data_ptr());
    int64_t groups = geo.n * geo.g;
    if (kernel_variant() == KernelVariant::Naive)
      norm_forward_naive<T><<<blocks_for(groups), kThreads, 0, current_stream()>>>(xp, wp, bp, yp, mp, rp, geo, static_cast<T>(p.eps));
    else
      norm_forward_block<T><<<blocks_for(groups, 1), kNormThreads, 0, current_stream()>>>(xp, wp, bp, yp, mp, rp, geo,
                                                                     static_cast<T>(p.eps));
    DRIFT_CUDA_CHECK_LAUNCH();
  });
}

void norm_backward(const KernelArgs& args, const char* name) {
  const Tensor& gy = *args.in[0];
  const Tensor& x = *args.in[1];
  const Tensor& mean = *args.in[2];
  const Tensor& rstd = *args.in[3];
  Tensor& dx = *args.out[0];
  check_contiguous_out(dx, name);
  NormGeom geo = make_geom(args.p<NormParams>(), x, name);
  DeviceBuffer sgy, sx, sm, sr, sw, sb, sdz;
  dispatch_float(x.dtype(), name, [&](auto tag) {
    using T = decltype(tag);
    const T* gyp = contiguous_ptr<T>(gy, sgy);
    const T* xp = contiguous_ptr<T>(x, sx);
    const T* mp = contiguous_ptr<T>(mean, sm);
    const T* rp = contiguous_ptr<T>(rstd, sr);
    const T* wp = optional_ptr<T>(args.in[4], sw);
    if (geo.silu && x.numel() > 0) {  // dy -> dz = dy silu'(z); then the plain norm backward on dz
      const T* bp = args.in.size() > 5 ? optional_ptr<T>(args.in[5], sb) : nullptr;
      sdz.reset(static_cast<size_t>(x.numel()) * sizeof(T));
      silu_grad_of_norm<T><<<blocks_for(x.numel()), kThreads, 0, current_stream()>>>(gyp, xp, mp, rp, wp, bp, sdz.as<T>(), geo);
      DRIFT_CUDA_CHECK_LAUNCH();
      gyp = sdz.as<T>();
    }
    T* dxp = static_cast<T*>(dx.data_ptr());
    T* dwp = optional_out<T>(args.out[1], name);
    T* dbp = optional_out<T>(args.out[2], name);
    int64_t groups = geo.n * geo.g;
    bool naive = kernel_variant() == KernelVariant::Naive;
    if (groups > 0 && geo.len() > 0) {
      if (naive)
        norm_backward_dx_naive<T><<<blocks_for(groups), kThreads, 0, current_stream()>>>(gyp, xp, mp, rp, wp, dxp, geo);
      else
        norm_backward_dx_block<T><<<blocks_for(groups, 1), kNormThreads, 0, current_stream()>>>(gyp, xp, mp, rp, wp, dxp, geo);
      DRIFT_CUDA_CHECK_LAUNCH();
    }
    if ((dwp || dbp) && geo.c > 0) {
      if (naive || geo.s < 32)
        norm_backward_wb_thread<T><<<blocks_for(geo.c), kThreads, 0, current_stream()>>>(gyp, xp, mp, rp, dwp, dbp, geo);
      else
        norm_backward_wb_block<T><<<blocks_for(geo.c, 1), kNormThreads, 0, current_stream()>>>(gyp, xp, mp, rp, dwp, dbp, geo);
      DRIFT_CUDA_CHECK_LAUNCH();
    }
  });
}

}  // namespace

void register_norm_kernels(Backend& b) {
  b.kernels[static_cast<int>(OpKind::GroupNorm)] = [](const KernelArgs& a) { norm_forward(a, "GroupNorm"); };
  b.kernels[static_cast<int>(OpKind::GroupNormBackward)] = [](const KernelArgs& a) {
    norm_backward(a, "GroupNormBackward");
  };
}

}  // namespace drift::cuda
