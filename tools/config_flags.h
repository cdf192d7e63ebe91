#pragma once
// Command-line flags generated from a config table (nn/config.h): one flag
// per field, --key with '_' -> '-' (nested configs: --unet.base-channels),
// with its type and default in --help. The values are kept as text and
// applied after the preset and the config file, checked exactly like JSON
// values (so `--batch-size 1.5` or `--seed -1` is an error naming the flag).
#include <CLI/CLI.hpp>

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "nn/config.h"

namespace drift::cli {

struct ConfigFlags {
  std::map<std::string, std::string> text;                    // key path -> the text given
  std::vector<std::pair<std::string, CLI::Option*>> options;  // in table order

  // The key paths of the flags given on the command line.
  std::vector<std::string> given() const {
    std::vector<std::string> out;
    for (const auto& [path, o] : options)
      if (o->count() > 0) out.push_back(path);
    return out;
  }
};

template <class T>
std::string flag_type_name() {
  if constexpr (std::is_same_v<T, int64_t>) return "INT";
  else if constexpr (std::is_same_v<T, uint64_t>) return "UINT";
  else if constexpr (std::is_same_v<T, double>) return "FLOAT";
  else if constexpr (std::is_same_v<T, std::vector<int64_t>>) return "INT,...";
  else if constexpr (std::is_enum_v<T>) return config::enum_choices<T>("|", "|");
  else return "TEXT";
}

// Adds one flag per field of `defaults`' table, showing its value as the default.
template <class C>
void add_config_flags(CLI::App* cmd, const C& defaults, ConfigFlags& flags, const std::string& group) {
  config::for_each_leaf(defaults, [&](const std::string& path, const config::Field& f, const auto& value) {
    using T = std::decay_t<decltype(value)>;
    std::string& slot = flags.text[path];
    const std::string name = config::flag_name(path);
    CLI::Option* o = nullptr;
    if constexpr (std::is_same_v<T, bool>) o = cmd->add_flag(name, slot, f.help);  // --x, --x=false
    else o = cmd->add_option(name, slot, f.help)->type_name(flag_type_name<T>());
    // Given twice, the last one counts (a flag after a longer command line overrides it).
    o->default_str(config::value_text(value))->group(group)->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
    flags.options.emplace_back(path, o);
  });
}

// Applies the flags that were given, in table order.
template <class C>
void apply_config_flags(C& c, const ConfigFlags& flags) {
  for (const std::string& path : flags.given())
    config::set_from_text(c, path, flags.text.at(path), config::flag_name(path));
}

}  // namespace drift::cli
