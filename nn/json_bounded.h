#pragma once
// Parsing JSON that comes from a file (a safetensors header, a checkpoint's
// optimizer metadata, a config file) with bounds checked before any recursive
// use of the value. nlohmann's parser itself is iterative, but dump(), copies
// and comparisons recurse once per nesting level, so a header of 100 000 '['
// would overflow the stack later. parse_json_bounded refuses, during the parse:
//   - text longer than limits.max_bytes,
//   - nesting deeper than limits.max_depth (counted by the parser callback),
// and throws drift::Error naming `what` (e.g. "load_safetensors: 'x.safetensors'
// header") and the limit. Invalid JSON is reported the same way.
#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>

#include "tensor/error.h"

namespace drift::nn {

struct JsonLimits {
  size_t max_bytes = size_t{64} << 20;  // 64 MiB of text
  int max_depth = 64;                   // objects/arrays inside each other
};

namespace detail {
// Thrown from the parser callback; caught and rethrown as drift::Error below.
struct JsonTooDeep {};
}  // namespace detail

// Json is nlohmann::json or nlohmann::ordered_json.
template <class Json = nlohmann::json>
Json parse_json_bounded(const std::string& text, const std::string& what, const JsonLimits& limits = {}) {
  DRIFT_CHECK(text.size() <= limits.max_bytes, what, ": the JSON text is ", text.size(),
              " bytes, more than the limit of ", limits.max_bytes, " bytes");
  // The callback sees each object/array start with `depth` = the number of
  // containers around it; refuse the one that would exceed max_depth.
  auto callback = [&](int depth, typename Json::parse_event_t event, Json&) {
    if ((event == Json::parse_event_t::object_start || event == Json::parse_event_t::array_start) &&
        depth >= limits.max_depth)
      throw detail::JsonTooDeep{};
    return true;
  };
  try {
    return Json::parse(text, callback);
  } catch (const detail::JsonTooDeep&) {
    throw Error(str(what, ": the JSON nests objects/arrays deeper than the limit of ", limits.max_depth, " levels"));
  } catch (const typename Json::exception& e) {
    throw Error(str(what, ": not valid JSON (", e.what(), ")"));
  }
}

// A short rendering of a (bounded) JSON value for error messages: at most
// max_chars characters, then "...".
template <class Json>
std::string json_excerpt(const Json& j, size_t max_chars = 200) {
  std::string s = j.dump(-1, ' ', false, Json::error_handler_t::replace);
  if (s.size() > max_chars) s = s.substr(0, max_chars) + "...";
  return s;
}

}  // namespace drift::nn
