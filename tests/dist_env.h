#pragma once
// Starts MPI for a test program run under mpirun (ctest does, for the
// distributed family) and ends it after the last test; without mpirun the
// program is one process and every collective is the identity.
#include <gtest/gtest.h>

#include "dist/comm.h"

namespace drift::testing {

class DistEnvironment : public ::testing::Environment {
 public:
  void SetUp() override { dist::init(nullptr, nullptr); }
  void TearDown() override { dist::finalize(); }
};

inline ::testing::Environment* const kDistEnvironment =
    ::testing::AddGlobalTestEnvironment(new DistEnvironment);

}  // namespace drift::testing
