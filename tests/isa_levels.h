#pragma once
// Runs a test once per CPU instruction-set level (tensor/cpu/isa.h):
//   class MyKernel : public PerIsaTest {};
//   TEST_P(MyKernel, Works) { ... kernels run at level GetParam() ... }
//   DRIFT_INSTANTIATE_PER_ISA(MyKernel);
// Levels this CPU lacks are skipped with the reason (GTEST_SKIP), never passed.
#include <gtest/gtest.h>

#include <string>

#include "tensor/cpu/isa.h"

class PerIsaTest : public ::testing::TestWithParam<drift::cpu::CpuIsa> {
 protected:
  void SetUp() override {
    using namespace drift::cpu;
    if (static_cast<int>(GetParam()) > static_cast<int>(detected_isa()))
      GTEST_SKIP() << "this CPU lacks the '" << isa_name(GetParam()) << "' level (it supports up to '"
                   << isa_name(detected_isa()) << "')";
    set_active_isa(GetParam());
  }
  void TearDown() override { drift::cpu::set_active_isa(saved_); }

 private:
  drift::cpu::CpuIsa saved_ = drift::cpu::active_isa();
};

#define DRIFT_INSTANTIATE_PER_ISA(Suite)                                                                    \
  INSTANTIATE_TEST_SUITE_P(Isa, Suite,                                                                      \
                           ::testing::Values(drift::cpu::CpuIsa::Generic, drift::cpu::CpuIsa::Avx2,         \
                                             drift::cpu::CpuIsa::Avx512),                                   \
                           [](const ::testing::TestParamInfo<drift::cpu::CpuIsa>& info) {                   \
                             return std::string(drift::cpu::isa_name(info.param));                          \
                           })
