// Configuration files for the binaries' flags (odds-engine run, odds-edge): TOML, read with
// toml++, every flag available as a key of the same name without the dashes
// (`stale-after-ms = 3000`, a repeatable flag as an array: `feed =
// ["bf=betfair-stream@tcp://..."]`). A flag given on the command line overrides the file; a key
// that names no flag is an error that names it. CLI11 does the rest (types, checks, required
// flags), so a file is held to exactly the rules the flags are.
#pragma once

#include <memory>
#include <string>

#include <CLI/CLI.hpp>

namespace oddsbus::tools {

// Reads TOML into CLI11's items; with a `section`, every top-level key belongs to that subcommand
// (odds-engine's config file holds `run`'s flags). Writes what config_to_str() asks as CLI11's
// TOML, which this reads back.
class TomlConfig : public CLI::ConfigTOML {
 public:
  explicit TomlConfig(std::string section = "") : section_(std::move(section)) {}
  std::vector<CLI::ConfigItem> from_config(std::istream& input) const override;

 private:
  std::string section_;
};

// Adds --config FILE to `app` (read with TomlConfig(section)), refusing unknown keys.
CLI::Option* add_config_option(CLI::App& app, const std::string& section = "");

// The settings of `app` (flags and config file merged, defaults included, unset text settings
// left out) as a config file that reads back to the same.
std::string settings_as_config(const CLI::App& app);

// CLI11's error for an unknown key ("INI was not able to parse run.foo") said as one line naming
// the key; any other error as CLI11 says it.
std::string config_error_text(const CLI::Error& error, const std::string& section = "");

}  // namespace oddsbus::tools
