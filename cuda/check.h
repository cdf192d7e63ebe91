#pragma once
// Error checking for CUDA runtime and cuBLAS calls. Every failure becomes a
// drift::Error naming the call, the CUDA error string and file:line, so a
// failed kernel or allocation surfaces as an exception, never as an abort.
//
//   DRIFT_CUDA_CHECK(cudaMemcpy(dst, src, n, cudaMemcpyDeviceToHost));
//   my_kernel<<<grid, block>>>(...);
//   DRIFT_CUDA_CHECK_LAUNCH();            // = DRIFT_CUDA_CHECK(cudaGetLastError())
//   DRIFT_CUBLAS_CHECK(cublasSgemm(...));
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include "tensor/error.h"

namespace drift::cuda {

// cuBLAS has no cublasGetErrorString before 11.4 in every build; keep our own.
inline const char* cublas_status_name(cublasStatus_t s) {
  switch (s) {
    case CUBLAS_STATUS_SUCCESS: return "CUBLAS_STATUS_SUCCESS";
    case CUBLAS_STATUS_NOT_INITIALIZED: return "CUBLAS_STATUS_NOT_INITIALIZED";
    case CUBLAS_STATUS_ALLOC_FAILED: return "CUBLAS_STATUS_ALLOC_FAILED";
    case CUBLAS_STATUS_INVALID_VALUE: return "CUBLAS_STATUS_INVALID_VALUE";
    case CUBLAS_STATUS_ARCH_MISMATCH: return "CUBLAS_STATUS_ARCH_MISMATCH";
    case CUBLAS_STATUS_MAPPING_ERROR: return "CUBLAS_STATUS_MAPPING_ERROR";
    case CUBLAS_STATUS_EXECUTION_FAILED: return "CUBLAS_STATUS_EXECUTION_FAILED";
    case CUBLAS_STATUS_INTERNAL_ERROR: return "CUBLAS_STATUS_INTERNAL_ERROR";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "CUBLAS_STATUS_NOT_SUPPORTED";
    case CUBLAS_STATUS_LICENSE_ERROR: return "CUBLAS_STATUS_LICENSE_ERROR";
    default: return "unknown cuBLAS status";
  }
}

}  // namespace drift::cuda

#define DRIFT_CUDA_CHECK(call)                                                                 \
  do {                                                                                         \
    cudaError_t drift_cuda_err_ = (call);                                                      \
    if (drift_cuda_err_ != cudaSuccess) {                                                      \
      cudaGetLastError(); /* clear it, so that the next check does not see it again */        \
      throw ::drift::Error(::drift::str("CUDA call '", #call, "' failed: ",                    \
                                        cudaGetErrorString(drift_cuda_err_), " [", DRIFT_SOURCE_FILE, \
                                        ":", __LINE__, "]"));                                  \
    }                                                                                          \
  } while (0)

#define DRIFT_CUBLAS_CHECK(call)                                                                \
  do {                                                                                          \
    cublasStatus_t drift_cublas_st_ = (call);                                                   \
    if (drift_cublas_st_ != CUBLAS_STATUS_SUCCESS)                                              \
      throw ::drift::Error(::drift::str("cuBLAS call '", #call, "' failed: ",                   \
                                        ::drift::cuda::cublas_status_name(drift_cublas_st_), \
                                        " [", DRIFT_SOURCE_FILE, ":", __LINE__, "]"));                   \
  } while (0)

// After every kernel launch: reports a bad launch configuration at once.
#define DRIFT_CUDA_CHECK_LAUNCH() DRIFT_CUDA_CHECK(cudaGetLastError())
