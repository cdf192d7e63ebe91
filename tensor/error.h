#pragma once
// Errors are exceptions whose message says what was expected and what was found.
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace drift {

struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

namespace detail {
inline void stream_all(std::ostringstream&) {}
template <class T, class... R>
void stream_all(std::ostringstream& os, const T& v, const R&... rest) {
  os << v;
  stream_all(os, rest...);
}
}  // namespace detail

// Builds a message from any streamable pieces: str("expected ", a, ", got ", b).
template <class... A>
std::string str(const A&... a) {
  std::ostringstream os;
  detail::stream_all(os, a...);
  return os.str();
}

// DRIFT_CHECK(cond, "what", ...) throws drift::Error naming the caller's location.
#define DRIFT_CHECK(cond, ...)                                                          \
  do {                                                                                  \
    if (!(cond)) throw ::drift::Error(::drift::str(__VA_ARGS__, " [", __FILE__, ":", __LINE__, "]")); \
  } while (0)

}  // namespace drift
