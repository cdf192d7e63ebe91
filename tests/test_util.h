#pragma once
// Helpers shared by the test files (one copy instead of one per file).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tensor/error.h"
#include "tensor/ops.h"

namespace drift::test {

// `text` (an error message, a program's output) contains every piece.
inline void expect_contains(const std::string& text, const std::vector<std::string>& pieces) {
  for (const std::string& p : pieces) EXPECT_NE(text.find(p), std::string::npos) << "'" << p << "' not in: " << text;
}

// f() must throw drift::Error whose message contains every piece (a message
// names the file/key, what was expected and what was found).
template <class F>
void expect_error(F f, const std::vector<std::string>& pieces) {
  try {
    f();
    ADD_FAILURE() << "expected drift::Error";
  } catch (const Error& e) {
    expect_contains(e.what(), pieces);
  }
}

// A tensor's values as doubles (any dtype, any device).
inline std::vector<double> vals(const Tensor& t) { return ops::to_vector_f64(t); }

}  // namespace drift::test
