#pragma once
// Errors are exceptions whose message says what was expected and what was found.
#include <cmath>
#include <sstream>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

namespace drift {

struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

namespace detail {
inline void stream_all(std::ostringstream&) {}
template <class T, class... R>
void stream_all(std::ostringstream& os, const T& v, const R&... rest) {
  if constexpr (std::is_floating_point_v<T>) {
    if (std::isnan(v)) os << "nan";  // not "-nan": the sign of a NaN means nothing
    else os << v;
  } else {
    os << v;
  }
  stream_all(os, rest...);
}
// A source file's name as error messages show it: relative to the source
// root. The build maps the root away (-fmacro-prefix-map); a compiler cache
// may instead have made the path relative to the build folder ("../nn/x.cpp"),
// so leading "./" and "../" are dropped too.
inline const char* source_name(const char* file) {
  for (;;) {
    if (file[0] == '.' && file[1] == '/') file += 2;
    else if (file[0] == '.' && file[1] == '.' && file[2] == '/') file += 3;
    else return file;
  }
}
}  // namespace detail

// __FILE__ as error messages show it: "tensor/shape.cpp".
#define DRIFT_SOURCE_FILE ::drift::detail::source_name(__FILE__)

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
    if (!(cond)) throw ::drift::Error(::drift::str(__VA_ARGS__, " [", DRIFT_SOURCE_FILE, ":", __LINE__, "]")); \
  } while (0)

}  // namespace drift
