// Batched matrix product with cuBLAS (sgemm/dgemm, strided-batched; bf16/fp16
// through cublasGemmStridedBatchedEx with float32 accumulation).
//   in[0] = a [.., M, K], in[1] = b [.., K, N], out[0] = c [B, M, N] contiguous.
// Each matrix of a and b has unit stride in one of its two dims, so it is
// either row-major (passed as is) or a transposed view (passed with the
// transpose flag, never copied). The batch dims of a/b collapse to a single
// stride, which is 0 for a broadcast operand.
//
// Row-major trick: cuBLAS is column-major, and a row-major M x N matrix is
// the column-major N x M matrix C^T. So we compute C^T = B^T A^T:
//   gemm(m = N, n = M, k = K, first = B, second = A, ldc = N).
// A row-major B [K, N] read column-major *is* B^T (flag N); a transposed view
// of B is stored column-major, so it needs flag T. The same holds for A.
#include <algorithm>

#include "cuda/common.cuh"

namespace drift::cuda {

cublasHandle_t cublas_handle() {
  // Created on first use and never destroyed (destroying it after the CUDA
  // runtime has shut down at exit is an error). Default math mode: full
  // float32 precision, no TF32, so results match the CPU within float32
  // tolerance.
  static cublasHandle_t handle = [] {
    cublasHandle_t h = nullptr;
    DRIFT_CUBLAS_CHECK(cublasCreate(&h));
    DRIFT_CUBLAS_CHECK(cublasSetMathMode(h, CUBLAS_DEFAULT_MATH));
    return h;
  }();
  DRIFT_CUBLAS_CHECK(cublasSetStream(handle, current_stream()));  // the capture stream during graph capture
  return handle;
}

namespace {

// The BLAS layout of one matrix operand (blas_layout, tensor/op.h, shared with
// the CPU backend); throws if neither dim has unit stride.
BlasLayout matrix_layout(const char* name, int64_t rows, int64_t cols, int64_t srow, int64_t scol) {
  BlasLayout l = blas_layout(rows, cols, srow, scol);
  DRIFT_CHECK(l.ok, "CUDA Matmul: operand ", name, " [", rows, ", ", cols, "] with strides [", srow, ", ", scol,
              "] has unit stride in neither dim (the frontend must pass a BLAS-compatible layout)");
  return l;
}

// The single stride between consecutive matrices of t (whose last two dims
// are the matrix), or 0 if t holds one matrix broadcast over the batch.
int64_t batch_stride(const Tensor& t, int64_t batch, const char* name) {
  int64_t nb = 1;
  for (int64_t d = 0; d + 2 < t.dim(); ++d) nb *= t.size(d);
  if (nb == 1) return 0;
  // The batch dims (size > 1) must form one arithmetic sequence of offsets.
  int64_t stride = -1, expected = -1;
  for (int64_t d = t.dim() - 3; d >= 0; --d) {
    if (t.size(d) == 1) continue;
    if (stride < 0) {
      stride = t.stride(d);
      expected = stride * t.size(d);
    } else {
      DRIFT_CHECK(t.stride(d) == expected, "CUDA Matmul: the batch dims of ", name, " (shape ",
                  shape_str(t.shape()), ", strides ", shape_str(t.strides()), ") do not collapse to one stride");
      expected *= t.size(d);
    }
  }
  DRIFT_CHECK(nb == batch || stride == 0, "CUDA Matmul: operand ", name, " has ", nb,
              " matrices, expected 1 or ", batch);
  return stride;
}

void matmul(const KernelArgs& args) {
  const Tensor& a = *args.in[0];
  const Tensor& b = *args.in[1];
  Tensor& c = *args.out[0];
  check_contiguous_out(c, "Matmul");
  const MatmulParams& p = args.p<MatmulParams>();
  DRIFT_CHECK(a.dim() >= 2 && b.dim() >= 2, "CUDA Matmul: expected matrices, got shapes ", shape_str(a.shape()),
              " and ", shape_str(b.shape()));
  DRIFT_CHECK(a.size(-2) == p.m && a.size(-1) == p.k && b.size(-2) == p.k && b.size(-1) == p.n, "CUDA Matmul: ",
              "shapes ", shape_str(a.shape()), " x ", shape_str(b.shape()), " do not match m=", p.m, " n=", p.n,
              " k=", p.k);
  DRIFT_CHECK(a.dtype() == b.dtype() && a.dtype() == c.dtype(), "CUDA Matmul: dtypes differ: ",
              dtype_name(a.dtype()), ", ", dtype_name(b.dtype()), " -> ", dtype_name(c.dtype()));
  if (c.numel() == 0) return;
  if (p.k == 0) {  // empty sum: C = 0
    zero_device(c.data_ptr(), c.numel() * c.element_size());
    return;
  }
  BlasLayout la = matrix_layout("a", p.m, p.k, a.stride(-2), a.stride(-1));
  BlasLayout lb = matrix_layout("b", p.k, p.n, b.stride(-2), b.stride(-1));
  int64_t sa = batch_stride(a, p.batch, "a"), sb = batch_stride(b, p.batch, "b");
  // C^T = B^T A^T (see the top of the file).
  cublasOperation_t op_first = lb.trans ? CUBLAS_OP_T : CUBLAS_OP_N;
  cublasOperation_t op_second = la.trans ? CUBLAS_OP_T : CUBLAS_OP_N;
  int m = static_cast<int>(p.n), n = static_cast<int>(p.m), k = static_cast<int>(p.k);
  int ldf = static_cast<int>(lb.ld), lds = static_cast<int>(la.ld), ldc = static_cast<int>(p.n);
  int batch = static_cast<int>(p.batch);
  cublasHandle_t h = cublas_handle();
  if (c.dtype() == DType::Float32) {
    const float alpha = 1.f, beta = 0.f;
    DRIFT_CUBLAS_CHECK(cublasSgemmStridedBatched(h, op_first, op_second, m, n, k, &alpha,
                                                 static_cast<const float*>(b.data_ptr()), ldf, sb,
                                                 static_cast<const float*>(a.data_ptr()), lds, sa, &beta,
                                                 static_cast<float*>(c.data_ptr()), ldc, p.m * p.n, batch));
  } else if (c.dtype() == DType::Float64) {
    const double alpha = 1.0, beta = 0.0;
    DRIFT_CUBLAS_CHECK(cublasDgemmStridedBatched(h, op_first, op_second, m, n, k, &alpha,
                                                 static_cast<const double*>(b.data_ptr()), ldf, sb,
                                                 static_cast<const double*>(a.data_ptr()), lds, sa, &beta,
                                                 static_cast<double*>(c.data_ptr()), ldc, p.m * p.n, batch));
  } else if (is_half(c.dtype())) {
    // 16-bit operands and result on tensor cores, float32 accumulation
    // (CUBLAS_COMPUTE_32F): the mixed-precision GEMM of nn/autocast.h.
    const cudaDataType_t t = c.dtype() == DType::BFloat16 ? CUDA_R_16BF : CUDA_R_16F;
    const float alpha = 1.f, beta = 0.f;
    DRIFT_CUBLAS_CHECK(cublasGemmStridedBatchedEx(h, op_first, op_second, m, n, k, &alpha, b.data_ptr(), t, ldf, sb,
                                                  a.data_ptr(), t, lds, sa, &beta, c.data_ptr(), t, ldc, p.m * p.n,
                                                  batch, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
  } else {
    throw Error(str("CUDA Matmul: expected float32, float64, bfloat16 or float16, got ", dtype_name(c.dtype())));
  }
}

}  // namespace

void register_matmul_kernels(Backend& b) {
  b.kernels[static_cast<int>(OpKind::Matmul)] = matmul;
  b.half_native[static_cast<int>(OpKind::Matmul)] = true;  // cublasGemmEx on tensor cores
}

}  // namespace drift::cuda
