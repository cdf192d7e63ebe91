#pragma once
// Configuration structs written once, as a field table. Each field is one line
//   X(type, name, default, limits, "help")
// of an X-macro, and DRIFT_CONFIG_FIELDS turns the table into the struct's
// members plus visit_fields(), from which everything else follows:
//   to_json / apply_json   JSON with nested objects for nested configs, every value checked
//                          for type, range and integrality, unknown keys an error naming them;
//   set_from_text          a command-line value (flag --key, '_' -> '-'; nested: --unet.base-channels);
//   for_each_leaf          flags, `--help` defaults and the docs table (tools/);
//   check                  the limits, for a struct filled in code.
// Example (nn/unet.h; the macro's lines end in backslashes):
//   #define DRIFT_UNET_FIELDS(X)
//     X(int64_t, base_channels, 32, config::in(1, 4096), "channels of the first level")
//     X(std::vector<int64_t>, channel_mult, (std::vector<int64_t>{1, 2, 2}),
//       config::list(8, 1, 64), "channel multiplier per level")
//   struct UNetConfig { DRIFT_CONFIG_FIELDS(DRIFT_UNET_FIELDS) };
// Field types: bool, int64_t, uint64_t, double, std::string, std::vector<int64_t>, an enum with
// a DRIFT_CONFIG_ENUM name table, or another config struct (a nested JSON object, or with
// config::flat() its fields sit at the parent's level).
#include <cstdint>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include <nlohmann/json.hpp>

#include "nn/config_enum.h"

namespace drift::config {

using Json = nlohmann::ordered_json;  // keeps the table's order in written files

// What a value may be: numbers (and the items of a list) in [lo, hi]; lists
// at most max_items long; flat: a nested config whose fields sit at this level.
struct Limits {
  double lo = -std::numeric_limits<double>::infinity();
  double hi = std::numeric_limits<double>::infinity();
  int64_t max_items = 0;
  bool flat = false;
};
constexpr Limits any() { return {}; }
constexpr Limits in(double lo, double hi) { return {lo, hi, 0, false}; }
constexpr Limits at_least(double lo) { return {lo, std::numeric_limits<double>::infinity(), 0, false}; }
constexpr Limits list(int64_t max_items, double lo, double hi) { return {lo, hi, max_items, false}; }
constexpr Limits flat() { return {-std::numeric_limits<double>::infinity(), std::numeric_limits<double>::infinity(), 0, true}; }

struct Field {
  const char* key;   // JSON key; the flag is --key with '_' -> '-'
  const char* help;
  Limits limits;
};

#define DRIFT_CONFIG_MEMBER_(type, name, def, limits, help) type name = def;
#define DRIFT_CONFIG_VISIT_(type, name, def, limits, help) v(::drift::config::Field{#name, help, limits}, self.name);
// The members of the table and visit_fields(self, v), which calls v(Field, member) for each in order.
#define DRIFT_CONFIG_FIELDS(FIELDS)                          \
  FIELDS(DRIFT_CONFIG_MEMBER_)                               \
  using drift_config_tag = void;                             \
  template <class Self, class V>                             \
  static void visit_fields(Self& self, V&& v) {              \
    FIELDS(DRIFT_CONFIG_VISIT_)                              \
  }

template <class T, class = void>
struct is_config : std::false_type {};
template <class T>
struct is_config<T, std::void_t<typename T::drift_config_tag>> : std::true_type {};

// ---------------------------------------------------------------- leaf values (config.cpp)
// Reads a JSON value into a field, checking type, integrality and limits;
// errors start with `where` (e.g. "config 'run.json': key 'batch_size'" or "--batch-size").
void read_value(bool& out, const Json& j, const Limits& l, const std::string& where);
void read_value(int64_t& out, const Json& j, const Limits& l, const std::string& where);
void read_value(uint64_t& out, const Json& j, const Limits& l, const std::string& where);
void read_value(double& out, const Json& j, const Limits& l, const std::string& where);
void read_value(std::string& out, const Json& j, const Limits& l, const std::string& where);
void read_value(std::vector<int64_t>& out, const Json& j, const Limits& l, const std::string& where);
template <class E, std::enable_if_t<std::is_enum_v<E>, int> = 0>
void read_value(E& out, const Json& j, const Limits&, const std::string& where);

// Checks a value set in code against its limits (as read_value does).
void check_value(int64_t v, const Limits& l, const std::string& where);
void check_value(uint64_t v, const Limits& l, const std::string& where);
void check_value(double v, const Limits& l, const std::string& where);
void check_value(const std::vector<int64_t>& v, const Limits& l, const std::string& where);
template <class T>
void check_value(const T&, const Limits&, const std::string&) {}  // bool, text, enums: any value is valid

// The kind of text a flag holds, and the JSON value that text stands for:
// numbers must be whole JSON numbers ("3abc" stays text and is refused by
// read_value), lists are comma-separated ("1,2,2"; "" is the empty list).
enum class TextKind { Bool, Number, List, Text };
Json text_to_json(const std::string& text, TextKind kind);
template <class T>
constexpr TextKind text_kind() {
  if constexpr (std::is_same_v<T, bool>) return TextKind::Bool;
  else if constexpr (std::is_arithmetic_v<T>) return TextKind::Number;
  else if constexpr (std::is_same_v<T, std::vector<int64_t>>) return TextKind::List;
  else return TextKind::Text;
}

// A short rendering of a JSON value for messages (never recurses: containers are summarised).
std::string describe(const Json& j);
// "--unet.base-channels" for "unet.base_channels".
std::string flag_name(const std::string& path);
// "[1, 4096]"-style text of the limits for messages and docs ("" when unbounded).
std::string limits_text(const Limits& l);

// A value as JSON, and as command-line text ("1,2,2" for lists, names for enums).
template <class T>
Json value_json(const T& v) {
  if constexpr (std::is_enum_v<T>) return enum_name(v);
  else return v;
}
template <class T>
std::string value_text(const T& v) {
  if constexpr (std::is_same_v<T, std::string>) return v;
  else if constexpr (std::is_enum_v<T>) return enum_name(v);
  else if constexpr (std::is_same_v<T, bool>) return v ? "true" : "false";
  else if constexpr (std::is_same_v<T, std::vector<int64_t>>) {
    std::string s;
    for (size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + std::to_string(v[i]);
    return s;
  } else return Json(v).dump();
}

// The type of a field as the docs show it: "integer in [1, 4096]", "`linear` or `cosine`", ...
template <class T>
std::string type_text(const Limits& l) {
  const std::string lim = limits_text(l);
  const std::string sp = lim.empty() ? "" : " " + lim;
  if constexpr (std::is_same_v<T, bool>) return "true/false";
  else if constexpr (std::is_same_v<T, uint64_t>) return "integer" + (lim.empty() ? " >= 0" : sp);
  else if constexpr (std::is_same_v<T, int64_t>) return "integer" + sp;
  else if constexpr (std::is_same_v<T, double>) return "number" + sp;
  else if constexpr (std::is_same_v<T, std::vector<int64_t>>)
    return str("list of at most ", l.max_items, " integers", sp);
  else if constexpr (std::is_enum_v<T>) return "`" + enum_choices<T>("`, `", "`, `") + "`";
  else return "text";
}

template <class E, std::enable_if_t<std::is_enum_v<E>, int>>
void read_value(E& out, const Json& j, const Limits&, const std::string& where) {
  if (!j.is_string()) throw Error(str(where, ": expected ", enum_choices<E>(), ", got ", describe(j)));
  out = parse_enum<E>(j.get<std::string>(), where);
}

// ---------------------------------------------------------------- walking a config
// Calls f(path, field, member) for every leaf (non-config) field, nested ones
// with dotted paths ("unet.base_channels"), in table order.
template <class C, class F>
void for_each_leaf(C& c, F&& f, const std::string& prefix = "") {
  std::decay_t<C>::visit_fields(c, [&](const Field& field, auto& m) {
    using M = std::decay_t<decltype(m)>;
    if constexpr (is_config<M>::value) {
      for_each_leaf(m, f, field.limits.flat ? prefix : prefix + field.key + ".");
    } else {
      f(prefix + field.key, field, m);
    }
  });
}

// Calls f(field, member) for the field at `path` (leaf or nested config); false if there is none.
template <class C, class F>
bool with_field(C& c, const std::string& path, F&& f) {
  bool found = false;
  std::decay_t<C>::visit_fields(c, [&](const Field& field, auto& m) {
    if (found) return;
    using M = std::decay_t<decltype(m)>;
    const std::string key = field.key;
    if constexpr (is_config<M>::value) {
      if (field.limits.flat) {
        found = with_field(m, path, f);
        return;
      }
      if (path.size() > key.size() && path.compare(0, key.size(), key) == 0 && path[key.size()] == '.') {
        found = with_field(m, path.substr(key.size() + 1), f);
        return;
      }
    }
    if (path == key) {
      f(field, m);
      found = true;
    }
  });
  return found;
}

// Every key path of a config, for "unknown key" messages.
template <class C>
std::string key_list(const C& c) {
  std::string s;
  for_each_leaf(c, [&](const std::string& path, const Field&, const auto&) { s += (s.empty() ? "" : " ") + path; });
  return s;
}

// ---------------------------------------------------------------- JSON
template <class C>
Json to_json(const C& c) {
  Json j = Json::object();
  C::visit_fields(c, [&](const Field& field, const auto& m) {
    using M = std::decay_t<decltype(m)>;
    if constexpr (is_config<M>::value) {
      Json sub = to_json(m);
      if (field.limits.flat)
        for (auto it = sub.begin(); it != sub.end(); ++it) j[it.key()] = it.value();
      else
        j[field.key] = std::move(sub);
    } else {
      j[field.key] = value_json(m);
    }
  });
  return j;
}

// Where JSON values come from: `origin` names the file ("config 'run.json'");
// with ignore_unknown, keys the struct does not have are skipped (a
// checkpoint's config read by a library that knows only its model part).
struct JsonSource {
  std::string origin;
  bool ignore_unknown = false;
  std::string where(const std::string& path) const { return origin + ": key '" + path + "'"; }
};

// Overrides the fields present in the JSON object `obj` (nested configs: the
// keys given override, the others stay). `prefix` is the path of `c` in messages.
template <class C>
void apply_json(C& c, const Json& obj, const JsonSource& src, const std::string& prefix = "") {
  if (!obj.is_object())
    throw Error(prefix.empty() ? str(src.origin, ": expected a JSON object, got ", describe(obj))
                               : str(src.where(prefix.substr(0, prefix.size() - 1)), ": expected an object, got ",
                                     describe(obj)));
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    const std::string path = prefix + it.key();
    const bool found = with_field(c, it.key(), [&](const Field& field, auto& m) {
      using M = std::decay_t<decltype(m)>;
      if constexpr (is_config<M>::value) apply_json(m, it.value(), src, path + ".");
      else read_value(m, it.value(), field.limits, src.where(path));
    });
    if (!found && !src.ignore_unknown)
      throw Error(str(src.origin, ": unknown key '", path, "' (known keys: ", key_list(c), ")"));
  }
}

// Sets the leaf at `path` from command-line text; `where` names the flag.
template <class C>
bool set_from_text(C& c, const std::string& path, const std::string& text, const std::string& where) {
  return with_field(c, path, [&](const Field& field, auto& m) {
    using M = std::decay_t<decltype(m)>;
    if constexpr (is_config<M>::value) throw Error(str(where, ": '", path, "' is a group of settings, not one value"));
    else read_value(m, text_to_json(text, text_kind<M>()), field.limits, where);
  });
}

// Checks every value against its limits; `where` names the struct in messages.
template <class C>
void check(const C& c, const std::string& where) {
  for_each_leaf(c, [&](const std::string& path, const Field& field, const auto& m) {
    check_value(m, field.limits, where + ": '" + path + "'");
  });
}

}  // namespace drift::config
