#pragma once
// Shared by the tests/test_cuda_*.cpp files: every CUDA test starts with
// REQUIRE_CUDA(), which skips it visibly (with the reason) when drift was
// built without CUDA or no GPU is present.
#include <gtest/gtest.h>

#include <string>

#include "tensor/backend.h"

namespace drift::testing {

// Empty when CUDA can be used, else the reason it cannot.
inline std::string no_cuda_reason() {
#ifndef DRIFT_HAVE_CUDA
  return "drift was built without the CUDA backend (nvcc not found at configure time)";
#else
  if (!backend_available(Device::CUDA)) return "the CUDA backend is built but no GPU/driver is present";
  return "";
#endif
}

}  // namespace drift::testing

#define REQUIRE_CUDA()                                                         \
  do {                                                                         \
    std::string why_ = ::drift::testing::no_cuda_reason();                     \
    if (!why_.empty()) GTEST_SKIP() << "no CUDA device: " << why_;             \
  } while (0)
