#include "tools/cli_config.h"

#include <toml++/toml.h>

#include <sstream>

namespace oddsbus::tools {

namespace {

std::string scalar_text(const toml::node& node, std::string_view key) {
  if (const auto* s = node.as_string()) return s->get();
  if (const auto* b = node.as_boolean()) return b->get() ? "true" : "false";
  if (const auto* i = node.as_integer()) return std::to_string(i->get());
  if (const auto* f = node.as_floating_point()) {
    std::ostringstream out;
    out << f->get();
    return out.str();
  }
  throw CLI::ConfigError("config key '" + std::string(key) +
                         "': a setting is a string, a number, a boolean or an array of them");
}

void collect(const toml::table& table, std::vector<std::string>& parents,
             std::vector<CLI::ConfigItem>& items) {
  for (const auto& [key, node] : table) {
    if (const auto* sub = node.as_table()) {
      parents.emplace_back(key.str());
      collect(*sub, parents, items);
      parents.pop_back();
      continue;
    }
    CLI::ConfigItem item;
    item.parents = parents;
    item.name = std::string(key.str());
    if (const auto* array = node.as_array()) {
      for (const auto& element : *array) item.inputs.push_back(scalar_text(element, key.str()));
    } else {
      item.inputs.push_back(scalar_text(node, key.str()));
    }
    items.push_back(std::move(item));
  }
}

}  // namespace

std::vector<CLI::ConfigItem> TomlConfig::from_config(std::istream& input) const {
  toml::table table;
  try {
    table = toml::parse(input);
  } catch (const toml::parse_error& e) {
    std::ostringstream where;
    where << "line " << e.source().begin.line << ": " << e.description();
    throw CLI::ConfigError("the config file is not valid TOML: " + where.str());
  }
  std::vector<std::string> parents;
  if (!section_.empty()) parents.push_back(section_);
  std::vector<CLI::ConfigItem> items;
  collect(table, parents, items);
  return items;
}

CLI::Option* add_config_option(CLI::App& app, const std::string& section) {
  app.config_formatter(std::make_shared<TomlConfig>(section));
  app.allow_config_extras(CLI::config_extras_mode::error);
  return app.set_config("--config", "",
                        "TOML file of settings: every flag as a key without its dashes, e.g. "
                        "stale-after-ms = 3000 or feed = [\"a=oddsjson@tcp://h:9001\"]; flags "
                        "given on the command line override it, an unknown key is an error");
}

std::string settings_as_config(const CLI::App& app) {
  std::istringstream lines(app.config_to_str(true, false));
  std::string out;
  for (std::string line; std::getline(lines, line);) {
    // An unset text setting ("") would not read back: a file-path option checks that it exists.
    if (line.size() >= 3 && line.ends_with("=\"\"")) continue;
    out += line + "\n";
  }
  return out;
}

std::string config_error_text(const CLI::Error& error, const std::string& section) {
  const std::string what = error.what();
  const std::string prefix = "INI was not able to parse ";
  if (what.rfind(prefix, 0) != 0) return what;
  std::string key = what.substr(prefix.size());
  if (!section.empty() && key.rfind(section + ".", 0) == 0) key = key.substr(section.size() + 1);
  return "unknown key '" + key + "' in the config file (keys are the flags without their dashes)";
}

}  // namespace oddsbus::tools
