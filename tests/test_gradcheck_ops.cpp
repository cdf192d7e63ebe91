// Grad mode of the op-test registry (tests/op_cases_grad.cpp): a float64
// gradcheck (central differences vs backward()) of every differentiable
// function of autograd/functions.h.
//
// EveryFunctionIsCovered parses functions.h and fails, naming the function,
// when one has no case, so a new op cannot land without its gradcheck.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <set>
#include <sstream>

#include "autograd/functions.h"
#include "autograd/gradcheck.h"
#include "tests/op_harness.h"

using namespace drift;
using namespace drift::optest;

namespace {

std::vector<size_t> grad_cases() {
  std::vector<size_t> idx;
  for (size_t i = 0; i < all_cases().size(); ++i)
    if (all_cases()[i].grad) idx.push_back(i);
  return idx;
}

class Gradcheck : public ::testing::TestWithParam<size_t> {};

TEST_P(Gradcheck, MatchesCentralDifferences) {
  Check r = check_grad(all_cases()[GetParam()], Device::CPU);
  EXPECT_TRUE(r.ok) << r.message;
}

INSTANTIATE_TEST_SUITE_P(Ops, Gradcheck, ::testing::ValuesIn(grad_cases()),
                         [](const ::testing::TestParamInfo<size_t>& info) {
                           return test_name(all_cases()[info.param], info.param);
                         });

// ---------------------------------------------------------------- coverage

std::string erase_all(std::string s, const std::string& what) {
  for (size_t pos; (pos = s.find(what)) != std::string::npos;) s.erase(pos, what.size());
  return s;
}

// One parameter "const std::vector<int64_t>& dims = {}" -> its type "vector<int64_t>".
std::string param_type(std::string p) {
  p = p.substr(0, p.find('='));                                         // drop the default
  while (!p.empty() && std::isspace(static_cast<unsigned char>(p.back()))) p.pop_back();
  while (!p.empty() && (std::isalnum(static_cast<unsigned char>(p.back())) || p.back() == '_')) p.pop_back();  // the name
  for (const char* junk : {"const", "&", "std::", " ", "\t"}) p = erase_all(p, junk);
  return p;
}

// "name(param types)" for each declaration in functions.h, e.g.
// "Tensor sum(const Tensor& x, const std::vector<int64_t>& dims = {}, bool keepdim = false);"
// -> "sum(Tensor,vector<int64_t>,bool)". Operator sugar (inline operator...) is skipped.
std::vector<std::string> declared_functions(const std::string& path) {
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << "cannot open " << path;
  std::vector<std::string> keys;
  std::string line;
  while (std::getline(in, line)) {
    size_t name_start;
    if (line.rfind("Tensor ", 0) == 0) name_start = 7;
    else if (line.rfind("std::vector<Tensor> ", 0) == 0) name_start = 20;
    else continue;  // comments, includes, inline operator sugar
    size_t open = line.find('(', name_start), close = line.rfind(");");
    if (open == std::string::npos || close == std::string::npos) continue;
    std::string key = line.substr(name_start, open - name_start) + "(";
    std::stringstream params(line.substr(open + 1, close - open - 1));
    std::string p;
    for (bool first = true; std::getline(params, p, ','); first = false) key += (first ? "" : ",") + param_type(p);
    keys.push_back(key + ")");
  }
  return keys;
}

TEST(GradcheckCoverage, EveryFunctionIsCovered) {
  std::vector<std::string> declared = declared_functions(std::string(DRIFT_TEST_DATA) + "/../../autograd/functions.h");
  // Guards the parser itself (it must find the declarations, 66 when this was
  // written); a new function needs no edit here, only its case.
  EXPECT_GE(declared.size(), 66u) << "the parser of autograd/functions.h lost declarations";
  EXPECT_TRUE(std::find(declared.begin(), declared.end(), "sum(Tensor,vector<int64_t>,bool)") != declared.end())
      << "the parser no longer reduces declarations to name(parameter types)";

  std::set<std::string> covered;
  for (size_t i : grad_cases()) covered.insert(all_cases()[i].op);
  for (const std::string& f : declared) {
    EXPECT_TRUE(covered.count(f)) << "no gradcheck case for " << f
                                  << " (declared in autograd/functions.h; add one to tests/op_cases_grad.cpp)";
  }
  std::set<std::string> declared_set(declared.begin(), declared.end());
  for (const std::string& f : covered) {
    if (f == "operators") continue;  // the inline operator sugar
    EXPECT_TRUE(declared_set.count(f)) << "a gradcheck case names " << f << ", which functions.h does not declare";
  }
}

// gradcheck itself must catch a wrong backward formula.
TEST(GradcheckSelf, DetectsAWrongGradient) {
  Tensor x = ops::from_vector(std::vector<double>{0.3, -0.7, 0.1, 0.9, -0.2, 0.5}, {3, 2});
  x.set_requires_grad(true);
  std::function<Tensor(const Tensors&)> wrong = [](const Tensors& x) {
    Tensor y = ops::mul(x[0], 2.0);  // y = 2x, but the recorded gradient claims dy/dx = 3
    record(y, "wrong_double", {x[0]}, [](const Tensor& g) { return std::vector<Tensor>{ops::mul(g, 3.0)}; });
    return y;
  };
  GradcheckResult r = gradcheck(wrong, {x});
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.message.find("input 0"), std::string::npos) << r.message;
  EXPECT_NE(r.message.find("analytic"), std::string::npos) << r.message;
  EXPECT_NE(r.message.find("numeric"), std::string::npos) << r.message;
  EXPECT_GT(r.max_abs_err, 0.1);
}

TEST(GradcheckSelf, LeavesCallerGradUntouched) {
  Tensor x = ops::from_vector(std::vector<double>{0.3, -0.7, 0.1, 0.9}, {4});
  x.set_requires_grad(true);
  x.set_grad(ops::full({4}, 7.0, DType::Float64));
  GradcheckResult r = gradcheck([](const Tensors& x) { return mul(x[0], x[0]); }, {x});
  EXPECT_TRUE(r.ok) << r.message;
  EXPECT_EQ(ops::to_vector_f64(x.grad()), std::vector<double>(4, 7.0));
}

TEST(GradcheckSelf, RejectsFloat32Inputs) {
  Tensor x = ops::zeros({3});
  x.set_requires_grad(true);
  EXPECT_THROW(gradcheck([](const Tensors& x) { return x[0]; }, {x}), Error);
}

}  // namespace
