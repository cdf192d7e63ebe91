// Error messages name the failing check's source file relative to the source
// root ("[tensor/shape.cpp:12]"), never an absolute path of the build machine.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>

#include "tensor/ops.h"

using namespace drift;

TEST(ErrorMessage, SourceLocationIsRelativeToTheSourceRoot) {
  // DRIFT_TEST_DATA is <source root>/tests/data.
  std::string root = DRIFT_TEST_DATA;
  root = root.substr(0, root.size() - std::string("/tests/data").size());
  ASSERT_FALSE(root.empty());
  try {
    ops::reshape(ops::ones({2, 3}), {4, 2});
    FAIL() << "reshape of 6 elements to 4x2 did not throw";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_EQ(msg.find(root), std::string::npos) << msg;
    EXPECT_NE(msg.find("[tensor/"), std::string::npos) << msg;
    EXPECT_EQ(msg.find("[/"), std::string::npos) << msg;
  }
}

TEST(ErrorMessage, NanIsPrintedPlainly) {
  EXPECT_EQ(str(-std::nan("")), "nan");
  EXPECT_EQ(str(std::nan("")), "nan");
  EXPECT_EQ(str(-std::numeric_limits<float>::quiet_NaN()), "nan");
  EXPECT_EQ(str(-std::numeric_limits<double>::infinity()), "-inf");
  EXPECT_EQ(str(1.5), "1.5");
}
