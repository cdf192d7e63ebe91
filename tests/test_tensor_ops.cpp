// Value mode of the op-test registry (tests/op_cases.h): every case with a
// reference, in each of its dtypes, under every CPU kernel variant, against
// its float64 naive reference. Coverage: every OpKind of tensor/op.h is
// dispatched by at least one such case, and each case dispatches the op it
// names.
#include <gtest/gtest.h>

#include <set>

#include "tensor/backend.h"
#include "tests/op_harness.h"

using namespace drift;
using namespace drift::optest;

namespace {

std::vector<size_t> value_cases() {
  std::vector<size_t> idx;
  for (size_t i = 0; i < all_cases().size(); ++i)
    if (all_cases()[i].ref && !all_cases()[i].perf_only) idx.push_back(i);
  return idx;
}

class OpValue : public ::testing::TestWithParam<size_t> {};

TEST_P(OpValue, MatchesFloat64Reference) {
  const OpCase& c = all_cases()[GetParam()];
  for (const Variant& v : cpu_variants())
    for (DType dt : c.dtypes) {
      Check r = under(v, [&] { return check_value(c, dt); });
      EXPECT_TRUE(r.ok) << r.message;
    }
}

INSTANTIATE_TEST_SUITE_P(Registry, OpValue, ::testing::ValuesIn(value_cases()),
                         [](const ::testing::TestParamInfo<size_t>& info) {
                           return test_name(all_cases()[info.param], info.param);
                         });

TEST(OpCoverage, EveryOpKindHasAValueCase) {
  std::set<int> covered;
  for (size_t i : value_cases()) {
    const OpCase& c = all_cases()[i];
    std::vector<OpKind> seen = dispatched_ops(c);
    bool names_a_seen_op = false;
    for (OpKind op : seen) {
      covered.insert(static_cast<int>(op));
      names_a_seen_op |= c.op == op_name(op);
    }
    EXPECT_TRUE(names_a_seen_op) << label(c, c.dtypes.front()) << " does not dispatch the op it names";
  }
  for (int i = 0; i < kNumOps; ++i)
    EXPECT_TRUE(covered.count(i)) << "no value case dispatches " << op_name(static_cast<OpKind>(i))
                                  << ": add cases to tests/op_cases_" << op_family(static_cast<OpKind>(i)) << ".cpp";
}

TEST(OpCoverage, CpuVariantsAreListed) {
  // At least the default; every ISA level of tensor/cpu/isa.h once it exists.
  std::vector<Variant> v = cpu_variants();
  ASSERT_FALSE(v.empty());
  for (const Variant& x : v) EXPECT_FALSE(x.name.empty());
}

}  // namespace
