// odds-feed: looks at captured provider feeds the way the engine will see them.
#include <cstdio>
#include <string>

#include <CLI/CLI.hpp>

#include "tools/feed/normalize.h"

namespace {

int fail(const std::string& message) {
  std::fprintf(stderr, "odds-feed: %s\n", message.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"odds-feed: inspect captured provider feeds as the engine's adapters see them."};
  app.footer("See odds-feed normalize --help for the output and exit status.");
  app.require_subcommand(1);
  app.failure_message([](const CLI::App*, const CLI::Error& e) {
    return std::string("odds-feed: ") + e.what() + " (see --help)\n";
  });

  oddsbus::feed_tool::NormalizeOptions options;
  std::string path;
  auto* normalize = app.add_subcommand(
      "normalize",
      "Print the normalised events of a captured feed file as JSON lines, then a summary.");
  normalize->footer(
      "Each line of FILE (LF or CRLF) is one provider message, run through the format's adapter "
      "as the engine would. stdout gets one JSON object per event: \"type\" (market, price, "
      "status, settle, settlement_rollback, heartbeat, source_status), \"market\" (0 for "
      "heartbeat and source_status), and as they apply \"selection\", \"price_e4\" (decimal "
      "odds x 10000), \"odds\" (the text as received), \"status\", \"reason\", "
      "\"winners\", \"up\", \"event\", \"name\", \"selections\", \"provider\", "
      "\"pseq\", \"source\" (the feed name) and \"source_ns\" (provider time, ns since the "
      "Unix epoch).\n\n"
      "stderr gets the first rejected lines with their line numbers, then one summary line: "
      "messages read, events, rejected by reason, unknown markets and selections, and a sample "
      "of the unknown provider ids.\n\n"
      "Exit status: 0 when the file was read, whatever was rejected; 1 with a one-line reason "
      "when the file, the mapping or the feed name cannot be used; other non-zero values for "
      "bad arguments.\n\n"
      "Example: odds-feed normalize --format betfair-stream --mapping captures_mapping.toml "
      "1.200806927");
  normalize
      ->add_option("--format", options.format, "feed format: oddsjson, betfair-stream, uof-xml")
      ->required()
      ->check(CLI::IsMember({"oddsjson", "betfair-stream", "uof-xml"}));
  normalize->add_option(
      "--mapping", options.mapping_path,
      "mapping file (TOML, DESIGN section 10) from provider ids to canonical ids; required for "
      "betfair-stream and uof-xml, which name markets by provider ids");
  normalize->add_option(
      "--feed-name", options.feed_name,
      "whose ids to read in the mapping (the NAME of its [market.provider.NAME] sections); "
      "default: the mapping's only feed name, required when it has several. Also stamped as "
      "\"source\" on every event");
  normalize->add_option("FILE", path, "captured feed file, one message per line; - for stdin")
      ->required();

  CLI11_PARSE(app, argc, argv);

  auto summary = oddsbus::feed_tool::normalize_file(options, path, stdout, stderr);
  if (!summary) return fail(summary.error());
  std::fprintf(stderr, "odds-feed: %s\n",
               oddsbus::feed_tool::format_summary(path, *summary).c_str());
  return 0;
}
