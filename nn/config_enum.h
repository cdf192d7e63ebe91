#pragma once
// Names of the enums that appear in configurations (JSON files, command-line
// flags, checkpoints): one table per enum, declared beside the enum with
//   DRIFT_CONFIG_ENUM(BetaSchedule, {BetaSchedule::Linear, "linear"}, {BetaSchedule::Cosine, "cosine"})
// The first name of a value is the one written; later ones are accepted aliases.
// Light on purpose (no JSON): headers of every layer include it.
#include <string>
#include <vector>

#include "tensor/error.h"

namespace drift::config {

template <class E>
struct EnumName {
  E value;
  const char* name;
};

// The written name of e (found through the enum's DRIFT_CONFIG_ENUM table).
template <class E>
const char* enum_name(E e) {
  for (const auto& n : config_enum_names(E{}))
    if (n.value == e) return n.name;
  return "?";
}

// The written names, "a, b or c", for messages and docs.
template <class E>
std::string enum_choices(const char* sep = ", ", const char* last_sep = " or ") {
  std::vector<const char*> names;
  for (const auto& n : config_enum_names(E{}))
    if (std::string(enum_name(n.value)) == n.name) names.push_back(n.name);  // skip aliases
  std::string s;
  for (size_t i = 0; i < names.size(); ++i) s += str(i == 0 ? "" : i + 1 == names.size() ? last_sep : sep, names[i]);
  return s;
}

// Parses a name or alias; throws naming `where` (a key or flag) and the choices.
template <class E>
E parse_enum(const std::string& s, const std::string& where) {
  for (const auto& n : config_enum_names(E{}))
    if (s == n.name) return n.value;
  throw Error(str(where, ": unknown value '", s, "' (expected ", enum_choices<E>(), ")"));
}

}  // namespace drift::config

// Declares the name table of enum E; put it in E's namespace (found by argument-dependent lookup).
#define DRIFT_CONFIG_ENUM(E, ...)                                                  \
  inline const std::vector<::drift::config::EnumName<E>>& config_enum_names(E) {   \
    static const std::vector<::drift::config::EnumName<E>> names = {__VA_ARGS__};  \
    return names;                                                                  \
  }
