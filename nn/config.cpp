#include "nn/config.h"

#include <cmath>
#include <cstdio>

namespace drift::config {

namespace {

// A limit as text: whole numbers in full ("4096", not "4.096e+03").
std::string num_text(double x) {
  if (std::isinf(x)) return x > 0 ? "inf" : "-inf";
  if (x == std::floor(x) && std::fabs(x) < 1e7) return std::to_string(static_cast<long long>(x));
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%g", x);
  return buf;
}

bool bounded(const Limits& l) { return !std::isinf(l.lo) || !std::isinf(l.hi); }

[[noreturn]] void fail(const std::string& where, const char* expected, const Limits& l, const std::string& got) {
  const std::string lim = limits_text(l);
  throw Error(str(where, ": expected ", expected, lim.empty() ? "" : " ", lim, ", got ", got));
}

// The whole number a JSON value holds: JSON integers as they are, and numbers
// like 1e4 when they are whole; within the limits and the C++ type I.
template <class I>
I json_integer(const Json& j, const Limits& l, const std::string& where) {
  const char* what = std::is_signed_v<I> ? "an integer" : "a non-negative integer";
  const double lo_int = static_cast<double>(std::numeric_limits<I>::min());  // -2^63 or 0
  const double hi_int = static_cast<double>(std::numeric_limits<I>::max());  // 2^63 or 2^64 (rounded up)
  if (!(j.is_number() && !j.is_boolean())) fail(where, what, l, describe(j));
  if (j.is_number_float()) {
    const double d = j.get<double>();
    if (!std::isfinite(d) || d != std::floor(d)) fail(where, what, l, describe(j));
    if (d < lo_int || d < l.lo || d > l.hi || d >= hi_int) fail(where, what, l, describe(j));
    return static_cast<I>(d);
  }
  if (j.is_number_unsigned()) {
    const uint64_t u = j.get<uint64_t>();
    if (u > static_cast<uint64_t>(std::numeric_limits<I>::max())) fail(where, what, l, describe(j));
    const I v = static_cast<I>(u);
    if (static_cast<double>(v) < l.lo || static_cast<double>(v) > l.hi) fail(where, what, l, describe(j));
    return v;
  }
  const int64_t s = j.get<int64_t>();  // a negative integer
  if (!std::is_signed_v<I>) fail(where, what, l, describe(j));
  if (static_cast<double>(s) < l.lo || static_cast<double>(s) > l.hi) fail(where, what, l, describe(j));
  return static_cast<I>(s);
}

}  // namespace

std::string limits_text(const Limits& l) {
  if (!bounded(l)) return "";
  if (std::isinf(l.hi)) return ">= " + num_text(l.lo);
  if (std::isinf(l.lo)) return "<= " + num_text(l.hi);
  return "in [" + num_text(l.lo) + ", " + num_text(l.hi) + "]";
}

std::string describe(const Json& j) {
  if (j.is_object()) return str("an object of ", j.size(), " key(s)");
  if (j.is_array()) return str("a list of ", j.size(), " item(s)");
  if (j.is_string()) {
    std::string s = j.get<std::string>();
    if (s.size() > 60) s = s.substr(0, 60) + "...";
    return "'" + s + "'";
  }
  return j.dump();  // a number, true/false or null
}

std::string flag_name(const std::string& path) {
  std::string s = "--" + path;
  for (char& ch : s)
    if (ch == '_') ch = '-';
  return s;
}

void read_value(bool& out, const Json& j, const Limits&, const std::string& where) {
  if (!j.is_boolean()) throw Error(str(where, ": expected true or false, got ", describe(j)));
  out = j.get<bool>();
}

void read_value(int64_t& out, const Json& j, const Limits& l, const std::string& where) {
  out = json_integer<int64_t>(j, l, where);
}

void read_value(uint64_t& out, const Json& j, const Limits& l, const std::string& where) {
  out = json_integer<uint64_t>(j, l, where);
}

void read_value(double& out, const Json& j, const Limits& l, const std::string& where) {
  if (!(j.is_number() && !j.is_boolean())) fail(where, "a number", l, describe(j));
  const double d = j.get<double>();
  if (!std::isfinite(d) || d < l.lo || d > l.hi) fail(where, "a number", l, describe(j));
  out = d;
}

void read_value(std::string& out, const Json& j, const Limits&, const std::string& where) {
  if (!j.is_string()) throw Error(str(where, ": expected text, got ", describe(j)));
  out = j.get<std::string>();
}

void read_value(std::vector<int64_t>& out, const Json& j, const Limits& l, const std::string& where) {
  if (!j.is_array()) throw Error(str(where, ": expected a list of integers, got ", describe(j)));
  if (l.max_items > 0 && static_cast<int64_t>(j.size()) > l.max_items)
    throw Error(str(where, ": expected at most ", l.max_items, " items, got ", j.size()));
  std::vector<int64_t> v(j.size());
  for (size_t i = 0; i < j.size(); ++i) v[i] = json_integer<int64_t>(j[i], l, str(where, " item ", i));
  out = std::move(v);
}

void check_value(int64_t v, const Limits& l, const std::string& where) {
  if (static_cast<double>(v) < l.lo || static_cast<double>(v) > l.hi) fail(where, "an integer", l, std::to_string(v));
}

void check_value(uint64_t v, const Limits& l, const std::string& where) {
  if (static_cast<double>(v) < l.lo || static_cast<double>(v) > l.hi) fail(where, "an integer", l, std::to_string(v));
}

void check_value(double v, const Limits& l, const std::string& where) {
  if (!std::isfinite(v) || v < l.lo || v > l.hi) fail(where, "a number", l, Json(v).dump());
}

void check_value(const std::vector<int64_t>& v, const Limits& l, const std::string& where) {
  if (l.max_items > 0 && static_cast<int64_t>(v.size()) > l.max_items)
    throw Error(str(where, ": expected at most ", l.max_items, " items, got ", v.size()));
  for (size_t i = 0; i < v.size(); ++i) check_value(v[i], l, str(where, " item ", i));
}

namespace {

// A number written on the command line: exactly one JSON number, else the
// text itself (which read_value then refuses, quoting it).
Json number_from_text(const std::string& text) {
  const bool plausible = !text.empty() && text.size() < 64 &&
                         text.find_first_not_of("0123456789+-.eE") == std::string::npos;
  if (plausible) {
    Json j = Json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (j.is_number()) return j;
  }
  return Json(text);
}

}  // namespace

Json text_to_json(const std::string& text, TextKind kind) {
  switch (kind) {
    case TextKind::Bool:
      if (text == "true" || text == "1" || text == "yes" || text == "on") return true;
      if (text == "false" || text == "0" || text == "no" || text == "off") return false;
      return Json(text);
    case TextKind::Number: return number_from_text(text);
    case TextKind::List: {
      Json arr = Json::array();
      size_t start = 0;
      while (start < text.size()) {
        size_t comma = text.find(',', start);
        if (comma == std::string::npos) comma = text.size();
        arr.push_back(number_from_text(text.substr(start, comma - start)));
        start = comma + 1;
        if (comma + 1 == text.size()) arr.push_back(Json(""));  // a trailing comma: an empty item
      }
      return arr;
    }
    case TextKind::Text: return Json(text);
  }
  return Json(text);
}

}  // namespace drift::config
