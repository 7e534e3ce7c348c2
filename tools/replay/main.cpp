// odds-replay: reads a journal to verify it, reconstruct market state, digest it, or list frames.
#include <cstdio>
#include <optional>
#include <string>

#include <CLI/CLI.hpp>

#include "engine/journal.h"
#include "engine/replay.h"
#include "schemas/iso8601.h"
#include "schemas/state_digest.h"
#include "schemas/state_json.h"

namespace {

using namespace oddsbus;

int fail(const std::string& message) {
  std::fprintf(stderr, "odds-replay: %s\n", message.c_str());
  return 1;
}

std::expected<std::unique_ptr<engine::Journal>, std::string> open_journal(const std::string& dir) {
  engine::JournalConfig config;
  config.dir = dir;
  config.read_only = true;
  config.create = false;
  return engine::Journal::open(config);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"odds-replay: verify a journal and reconstruct market state at any seq or time."};
  app.require_subcommand(1);
  app.failure_message([](const CLI::App*, const CLI::Error& e) {
    return std::string("odds-replay: ") + e.what() + " (see --help)\n";
  });

  std::string dir;
  std::optional<uint64_t> at_seq;
  std::string at_time;
  std::optional<uint64_t> market;
  bool json = false;
  uint64_t from = 1;
  uint64_t to = engine::kNoLimit;

  auto* verify = app.add_subcommand(
      "verify",
      "Check every frame (CRC32C, schema, gap-free seq, epochs). Exit 0 when the journal "
      "is whole; else name the first bad seq and exit 1.");
  verify->add_option("--journal", dir, "journal directory")->required();

  auto* state = app.add_subcommand("state", "Market state at a seq or time, as a table or JSON.");
  state->add_option("--journal", dir, "journal directory")->required();
  auto* state_seq = state->add_option("--at-seq", at_seq, "state after frame N");
  state->add_option("--at-time", at_time, "state at an ISO 8601 time, e.g. 2026-11-23T09:30:00Z")
      ->excludes(state_seq);
  state->add_option("--market", market, "only this market");
  state->add_flag("--json", json, "print the state JSON instead of a table");

  auto* digest =
      app.add_subcommand("digest",
                         "Print {\"seq\": N, \"digest\": \"<16 hex>\"}: the state digest at seq N "
                         "(default: the last seq).");
  digest->add_option("--journal", dir, "journal directory")->required();
  digest->add_option("--at-seq", at_seq, "digest after frame N");

  auto* events = app.add_subcommand("events", "Frames as JSON lines, one per frame.");
  events->add_option("--journal", dir, "journal directory")->required();
  events->add_option("--from", from, "first seq")->capture_default_str();
  events->add_option("--to", to, "last seq");
  events->add_option("--market", market, "only frames that touch this market");

  CLI11_PARSE(app, argc, argv);

  auto journal = open_journal(dir);
  if (!journal) return fail(journal.error());

  if (*verify) {
    const engine::VerifyReport report = engine::verify_journal(**journal);
    if (!report.ok) {
      std::printf("journal %s: BAD at seq %llu: %s\n", dir.c_str(),
                  static_cast<unsigned long long>(report.fault.seq), report.fault.problem.c_str());
      return 1;
    }
    std::printf("journal %s: OK, %llu frames in %llu batches, seq 1..%llu, epoch %u\n", dir.c_str(),
                static_cast<unsigned long long>(report.stats.frames),
                static_cast<unsigned long long>(report.stats.batches),
                static_cast<unsigned long long>(report.stats.last_seq), (*journal)->epoch());
    return 0;
  }

  if (*events) {
    engine::EventsQuery query{from, to, market};
    auto written = engine::write_events(**journal, query, stdout);
    std::fflush(stdout);
    if (!written) return fail(written.error());
    return 0;
  }

  engine::StateQuery query;
  query.at_seq = at_seq;
  if (!at_time.empty()) {
    auto ns = parse_iso8601_ns(at_time);
    if (!ns) return fail("--at-time: " + ns.error());
    query.at_time_ns = *ns;
  }
  auto folded = engine::state_at(**journal, query);
  if (!folded) return fail(folded.error());

  std::string out;
  if (*digest) {
    out = "{\"seq\": " + std::to_string(folded->seq()) + ", \"digest\": \"" +
          digest_hex(state_digest(*folded)) + "\"}\n";
  } else if (json) {
    if (market && folded->find(*market) == nullptr) {
      return fail("market " + std::to_string(*market) + " is not in the journal at seq " +
                  std::to_string(folded->seq()));
    }
    append_state_json(out, *folded, market);
    out += "\n";
  } else {
    append_state_table(out, *folded, market);
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
  return 0;
}
