// CPU instruction-set levels (tensor/cpu/isa.h): detection, the supported
// list, switching levels for tests, and errors for unknown or unsupported ones.
#include <gtest/gtest.h>

#include <string>

#include "tensor/cpu/isa.h"
#include "tensor/error.h"

using namespace drift;
using namespace drift::cpu;

TEST(TensorIsa, SupportedLevelsAscendToTheDetectedOne) {
  const std::vector<CpuIsa> levels = supported_isas();
  ASSERT_FALSE(levels.empty());
  EXPECT_EQ(levels.front(), CpuIsa::Generic);
  EXPECT_EQ(levels.back(), detected_isa());
  for (size_t i = 1; i < levels.size(); ++i) EXPECT_EQ(static_cast<int>(levels[i]), static_cast<int>(levels[i - 1]) + 1);
#if !defined(__x86_64__)
  EXPECT_EQ(detected_isa(), CpuIsa::Generic);  // only the portable kernels are built
#endif
}

TEST(TensorIsa, SetActiveIsaSwitchesAndRestores) {
  const CpuIsa saved = active_isa();
  for (CpuIsa isa : supported_isas()) {
    set_active_isa(isa);
    EXPECT_EQ(active_isa(), isa);
  }
  set_active_isa(saved);
  EXPECT_EQ(active_isa(), saved);
}

TEST(TensorIsa, UnsupportedLevelIsAnErrorThatChangesNothing) {
  if (detected_isa() == CpuIsa::Avx512) GTEST_SKIP() << "this CPU supports every level";
  const CpuIsa saved = active_isa();
  try {
    set_active_isa(CpuIsa::Avx512);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("avx512"), std::string::npos) << e.what();
  }
  EXPECT_EQ(active_isa(), saved);
}

TEST(TensorIsa, NamesRoundTripAndUnknownNamesAreErrors) {
  for (CpuIsa isa : {CpuIsa::Generic, CpuIsa::Avx2, CpuIsa::Avx512})
    EXPECT_EQ(parse_isa(isa_name(isa), "DRIFT_CPU_ISA"), isa);
  for (const char* bad : {"", "AVX2", "sse4", "avx512f"}) {
    try {
      parse_isa(bad, "DRIFT_CPU_ISA");
      FAIL() << "expected an error for '" << bad << "'";
    } catch (const Error& e) {
      const std::string m = e.what();
      EXPECT_NE(m.find("DRIFT_CPU_ISA"), std::string::npos) << m;
      EXPECT_NE(m.find("avx512, avx2, generic"), std::string::npos) << m;
    }
  }
}
