// odds-replay: reads a journal to verify it, reconstruct market state at any seq or time, and
// investigate incidents: one market's history, what changed between two points, where two
// journals diverge, an export for auditors, and a timeline picture (DESIGN section 10).
// Flags and printing only; the logic lives in engine/ (replay.h and the files it names).
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "engine/client_view.h"
#include "engine/journal.h"
#include "engine/journal_compare.h"
#include "engine/journal_export.h"
#include "engine/journal_republisher.h"
#include "engine/market_history.h"
#include "engine/replay.h"
#include "engine/set_aside_log.h"
#include "engine/state_diff.h"
#include "engine/time_text.h"
#include "engine/timeline_svg.h"
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

// Prints how far a long read got on stderr, at most every two seconds.
class ProgressLine {
 public:
  explicit ProgressLine(const char* verb = "read") : verb_(verb) {}
  engine::ReadProgress hook() {
    return {[](void* ctx, uint64_t seq, uint64_t last_seq) {
              static_cast<ProgressLine*>(ctx)->report(seq, last_seq);
            },
            this};
  }

 private:
  void report(uint64_t seq, uint64_t last_seq) {
    const auto now = std::chrono::steady_clock::now();
    if (now - last_print_ < std::chrono::seconds(2)) return;
    last_print_ = now;
    std::fprintf(stderr, "odds-replay: %s seq %llu of %llu (%.0f%%)\n", verb_,
                 static_cast<unsigned long long>(seq), static_cast<unsigned long long>(last_seq),
                 last_seq == 0 ? 100.0 : 100.0 * static_cast<double>(seq) / last_seq);
  }
  const char* verb_;
  std::chrono::steady_clock::time_point last_print_ = std::chrono::steady_clock::now();
};

// An ISO 8601 flag's value, or a one-line reason naming the flag.
std::expected<std::optional<uint64_t>, std::string> time_flag(const char* flag,
                                                              const std::string& text) {
  if (text.empty()) return std::nullopt;
  auto ns = parse_iso8601_ns(text);
  if (!ns) return std::unexpected(std::string(flag) + ": " + ns.error());
  return *ns;
}

// Writes `text` to `path` whole; a one-line reason on failure.
std::expected<void, std::string> write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (out) out.write(text.data(), static_cast<std::streamsize>(text.size()));
  if (!out)
    return std::unexpected("cannot write " + path + "; check the directory exists and is writable");
  return {};
}

std::atomic<bool> g_stop{false};

void on_signal(int) { g_stop.store(true); }

// verify --set-aside: one line per set-aside file; false when one is damaged.
bool verify_set_aside_files(const std::string& dir) {
  const auto paths = engine::set_aside_files(dir);
  if (paths.empty()) std::printf("journal %s: no frames set aside\n", dir.c_str());
  bool ok = true;
  for (const std::string& path : paths) {
    auto report = engine::verify_set_aside(path);
    if (!report) {
      std::printf("set-aside %s: BAD: %s\n", path.c_str(), report.error().c_str());
      ok = false;
    } else if (!report->ok) {
      std::printf("set-aside %s: BAD at seq %llu: %s\n", path.c_str(),
                  static_cast<unsigned long long>(report->bad_seq), report->problem.c_str());
      ok = false;
    } else {
      std::printf("set-aside %s: OK, %llu frames in %llu batches, seq %llu..%llu, epoch %u\n",
                  path.c_str(), static_cast<unsigned long long>(report->frames),
                  static_cast<unsigned long long>(report->batches),
                  static_cast<unsigned long long>(report->first_seq),
                  static_cast<unsigned long long>(report->last_seq), report->last_epoch);
    }
  }
  return ok;
}

constexpr const char* kTimeHelp = "ISO 8601, e.g. 2026-11-23T09:30:00Z (milliseconds allowed)";

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "odds-replay: verify a journal, reconstruct market state at any seq or time, and "
      "investigate incidents (history, diff, compare, export, timeline). Times are matched to "
      "frames by their sequencer stamps through a binary search; `state --at-time T` is the "
      "state after the last frame stamped at or before T."};
  app.require_subcommand(1);
  app.failure_message([](const CLI::App*, const CLI::Error& e) {
    return std::string("odds-replay: ") + e.what() + " (see --help)\n";
  });

  std::string dir;
  std::optional<uint64_t> at_seq;
  std::string at_time;
  std::string from_time;
  std::string to_time;
  std::optional<uint64_t> market;
  bool json = false;
  uint64_t from = 1;
  uint64_t to = engine::kNoLimit;
  std::optional<uint64_t> from_seq;
  std::optional<uint64_t> to_seq;

  auto* verify = app.add_subcommand(
      "verify",
      "Check every frame (CRC32C, schema, gap-free seq, epochs). Exit 0 when the journal "
      "is whole; else name the first bad seq and exit 1.");
  verify->add_option("--journal", dir, "journal directory")->required();
  bool set_aside = false;
  verify->add_flag("--set-aside", set_aside,
                   "also check the frames fencing set aside (DIR/set-aside/*.batches): one line "
                   "per file");

  auto* state = app.add_subcommand("state", "Market state at a seq or time, as a table or JSON.");
  state->add_option("--journal", dir, "journal directory")->required();
  auto* state_seq = state->add_option("--at-seq", at_seq, "state after frame N");
  state
      ->add_option(
          "--at-time", at_time,
          std::string("state after the last frame stamped at or before this time: ") + kTimeHelp)
      ->excludes(state_seq);
  state->add_option("--market", market, "only this market");
  state->add_flag("--json", json, "print the state JSON instead of a table");

  auto* digest =
      app.add_subcommand("digest",
                         "Print {\"seq\": N, \"digest\": \"<16 hex>\"}: the state digest at seq N "
                         "(default: the last seq).");
  digest->add_option("--journal", dir, "journal directory")->required();
  digest->add_option("--at-seq", at_seq, "digest after frame N");

  auto* events = app.add_subcommand(
      "events", "Frames as JSON lines, one per frame, optionally limited by seq, time and market.");
  events->add_option("--journal", dir, "journal directory")->required();
  events->add_option("--from", from, "first seq")->capture_default_str();
  events->add_option("--to", to, "last seq");
  events->add_option("--from-time", from_time,
                     std::string("first frame stamped at or after this time: ") + kTimeHelp);
  events->add_option("--to-time", to_time,
                     std::string("last frame stamped at or before this time: ") + kTimeHelp);
  events->add_option("--market", market, "only frames that touch this market");
  events->add_flag("--set-aside", set_aside,
                   "print the frames fencing set aside (the losing history, DIR/set-aside/) "
                   "instead of the journal's, each with \"set_aside\": its file");

  auto* history = app.add_subcommand(
      "history",
      "Every change to one market, oldest first: seq, epoch, time, source (feed or desk) and "
      "what changed (prices old -> new, status with its reason, source switches, epoch "
      "changes). --json: one object a line (DESIGN section 10).");
  history->add_option("--journal", dir, "journal directory")->required();
  history->add_option("--market", market, "the market's canonical id")->required();
  history->add_option("--from-time", from_time,
                      std::string("first change at or after this time: ") + kTimeHelp);
  history->add_option("--to-time", to_time,
                      std::string("last change at or before this time: ") + kTimeHelp);
  history->add_flag("--json", json, "one JSON object a line instead of text");

  auto* diff = app.add_subcommand(
      "diff",
      "Markets and selections that changed between two points (seqs or times), with old and "
      "new values; only what differs is listed.");
  diff->add_option("--journal", dir, "journal directory")->required();
  auto* diff_from_seq = diff->add_option("--from-seq", from_seq, "the first point: after seq A");
  auto* diff_to_seq = diff->add_option("--to-seq", to_seq, "the second point: after seq B");
  auto* diff_from_time =
      diff->add_option("--from-time", from_time,
                       std::string("the first point: the state at this time: ") + kTimeHelp);
  auto* diff_to_time = diff->add_option(
      "--to-time", to_time, std::string("the second point: the state at this time: ") + kTimeHelp);
  diff_from_seq->needs(diff_to_seq)->excludes(diff_from_time)->excludes(diff_to_time);
  diff_to_seq->needs(diff_from_seq);
  diff_from_time->needs(diff_to_time);
  diff_to_time->needs(diff_from_time);
  diff->add_flag("--json", json, "print {\"from\", \"to\", \"markets\": [...]} instead of text");

  std::vector<std::string> journals;
  auto* compare = app.add_subcommand(
      "compare",
      "Where two journals of one channel diverge (primary and secondary, before and after a "
      "restore): prints {\"first_difference\": SEQ|null, ...} with the state digests of both at "
      "common points; exit 1 when they diverge. A journal that is only behind the other does not "
      "diverge.");
  compare->add_option("--journal", journals, "journal directory; give exactly two")->required();

  std::string format;
  auto* export_rows = app.add_subcommand(
      "export",
      "Rows for auditors on stdout: one per price, status, definition, settlement, event "
      "suspension and epoch change, with stable columns (seq, epoch, ts, sequenced_ns, "
      "source_ns, publisher, market_seq, type, event, market, selection, name, price_e4, odds, "
      "source, status, reason, winners, previous_epoch; engine/journal_export.h documents each).");
  export_rows->add_option("--journal", dir, "journal directory")->required();
  export_rows->add_option("--format", format, "jsonl (one object a line) or csv (RFC 4180)")
      ->required()
      ->check(CLI::IsMember({"jsonl", "csv"}));
  export_rows->add_option("--from-time", from_time,
                          std::string("first frame stamped at or after this time: ") + kTimeHelp);
  export_rows->add_option("--to-time", to_time,
                          std::string("last frame stamped at or before this time: ") + kTimeHelp);
  export_rows->add_option("--market", market, "only this market's rows (and its event's)");

  std::string svg_file;
  std::string html_file;
  auto* timeline = app.add_subcommand(
      "timeline",
      "Draw one market's history: each selection's price over time as a step line, spans when "
      "the market was not open shaded, source switches and epoch changes marked. Writes plain "
      "SVG (--svg) or an HTML page holding it (--html); open either in a browser.");
  timeline->add_option("--journal", dir, "journal directory")->required();
  timeline->add_option("--market", market, "the market's canonical id")->required();
  timeline->add_option("--from-time", from_time, std::string("start of the picture: ") + kTimeHelp);
  timeline->add_option("--to-time", to_time, std::string("end of the picture: ") + kTimeHelp);
  auto* svg_option = timeline->add_option("--svg", svg_file, "write an SVG file");
  auto* html_option = timeline->add_option("--html", html_file, "write an HTML file");
  svg_option->excludes(html_option);
  html_option->excludes(svg_option);

  std::string backup_out;
  auto* backup = app.add_subcommand(
      "backup",
      "Take a consistent hot copy of a journal, live or not (LMDB's copy with compaction: the "
      "journal as of one commit). The copy is an ordinary journal: restore by starting a node or "
      "an ingest on it.");
  backup->add_option("--journal", dir, "journal directory")->required();
  backup->add_option("--out", backup_out, "directory to write the copy into (new or empty)")
      ->required();

  std::string pub_url;
  std::string recovery_url;
  std::string speed_text = "1";
  auto* republish = app.add_subcommand(
      "republish",
      "Serve the journal as a publisher that odds-edge can follow: its batches, unchanged, on a "
      "ZeroMQ PUB socket, spaced as their stamps were (scaled by --speed), heartbeats while "
      "quiet, and a recovery service (snapshot, range, status) that serves up to what was "
      "published. Batches are whole journal records, so the seqs are widened to record "
      "boundaries. Runs until SIGINT/SIGTERM, serving on after the last batch.");
  republish->add_option("--journal", dir, "journal directory")->required();
  republish->add_option("--pub", pub_url, "PUB endpoint to bind, e.g. tcp://127.0.0.1:7001")
      ->required();
  republish->add_option("--recovery", recovery_url, "recovery (ROUTER) endpoint to bind")
      ->required();
  std::string republish_curve_key, republish_curve_allow;
  republish->add_option("--curve-key", republish_curve_key,
                        "CURVE secret key file (odds-keys generate; mode 0600): the PUB and "
                        "recovery sockets become CURVE servers (default: in the clear)");
  republish->add_option("--curve-allow", republish_curve_allow,
                        "the clients let in: one Z85 public key a line (needed with --curve-key)");
  republish->add_option("--from-seq", from_seq, "first seq to publish (earlier ones are history)");
  republish->add_option("--to-seq", to_seq, "last seq to publish (default: the journal's last)");
  republish
      ->add_option("--speed", speed_text,
                   "journal time per real time: 1 as journaled, 10 ten times faster, max no waits")
      ->capture_default_str();

  std::string edge_log;
  std::string session;
  auto* client_view = app.add_subcommand(
      "client-view",
      "What one WebSocket client of an edge was shown at a time: the state at the seq of the last "
      "image, delta, conflated delta or resume the edge wrote to that session at or before T, "
      "only its subscribed markets (odds-edge --audit-log keeps the log). --json: the state JSON "
      "with \"session\", \"at\", \"epoch\", \"shown_by\", \"shown_at\", the subscription "
      "and \"lost_lines\" (lines the log lost while the session was open).");
  client_view
      ->add_option("--edge-log", edge_log, "the edge's --audit-log FILE (rotated FILE.N too)")
      ->required();
  client_view->add_option("--journal", dir, "journal directory of the channel the edge served")
      ->required();
  client_view->add_option("--session", session, "session id, from the log's \"connect\" records")
      ->required();
  client_view->add_option("--at-time", at_time, kTimeHelp)->required();
  client_view->add_flag("--json", json, "print JSON instead of text");

  CLI11_PARSE(app, argc, argv);

  auto from_ns = time_flag("--from-time", from_time);
  if (!from_ns) return fail(from_ns.error());
  auto to_ns = time_flag("--to-time", to_time);
  if (!to_ns) return fail(to_ns.error());
  auto at_ns = time_flag("--at-time", at_time);
  if (!at_ns) return fail(at_ns.error());

  ProgressLine progress;
  if (*compare) {
    if (journals.size() != 2) {
      return fail("compare needs exactly two journals: --journal A --journal B");
    }
    // LMDB: an environment must not be opened twice in one process (lmdb.h, "Caveats").
    std::error_code same_error;
    if (std::filesystem::equivalent(journals[0], journals[1], same_error)) {
      return fail("both --journal options name " + journals[0] +
                  "; compare two journals (or a journal and its copy)");
    }
    auto a = open_journal(journals[0]);
    if (!a) return fail(a.error());
    auto b = open_journal(journals[1]);
    if (!b) return fail(b.error());
    auto report = engine::compare_journals(**a, **b, progress.hook());
    if (!report) return fail(report.error());
    std::string out;
    engine::append_compare_json(out, *report, journals[0], journals[1]);
    out += "\n";
    std::fwrite(out.data(), 1, out.size(), stdout);
    return report->first_difference ? 1 : 0;
  }
  if (*timeline && svg_file.empty() && html_file.empty()) {
    return fail("timeline needs a file to write: --svg FILE or --html FILE");
  }

  std::optional<engine::ClientViewPoint> view_point;
  if (*client_view) {  // the log first: a wrong session or time needs no journal
    auto point =
        engine::find_client_view_point(engine::audit_log_files(edge_log), session, **at_ns);
    if (!point) return fail(point.error());
    view_point = std::move(*point);
  }

  auto journal = open_journal(dir);
  if (!journal) return fail(journal.error());

  if (*backup) {
    if (auto copied = (*journal)->copy_to(backup_out); !copied) return fail(copied.error());
    auto copy = open_journal(backup_out);
    if (!copy) return fail(copy.error());
    std::printf("journal %s copied to %s at seq %llu\n", dir.c_str(), backup_out.c_str(),
                static_cast<unsigned long long>((*copy)->last_seq()));
    return 0;
  }

  if (view_point) {
    auto view = engine::client_view(**journal, *view_point, progress.hook());
    if (!view) return fail(view.error());
    std::string out;
    if (json) {
      engine::append_client_view_json(out, *view, **at_ns);
      out += "\n";
    } else {
      engine::append_client_view_text(out, *view, **at_ns);
    }
    std::fwrite(out.data(), 1, out.size(), stdout);
    return 0;
  }

  if (*verify) {
    const engine::VerifyReport report = engine::verify_journal(**journal);
    if (!report.ok) {
      std::printf("journal %s: BAD at seq %llu: %s\n", dir.c_str(),
                  static_cast<unsigned long long>(report.fault.seq), report.fault.problem.c_str());
      if (set_aside) verify_set_aside_files(dir);
      return 1;
    }
    std::printf(
        "journal %s: OK, %llu frames in %llu batches, seq %llu..%llu, epoch %u, %llu "
        "snapshots checked\n",
        dir.c_str(), static_cast<unsigned long long>(report.stats.frames),
        static_cast<unsigned long long>(report.stats.batches),
        static_cast<unsigned long long>(report.first_seq),
        static_cast<unsigned long long>(report.stats.last_seq), (*journal)->epoch(),
        static_cast<unsigned long long>(report.snapshots_checked));
    if (set_aside && !verify_set_aside_files(dir)) return 1;
    return 0;
  }

  if (*events && set_aside) {
    engine::EventsQuery query{from, to, market};
    auto written = engine::write_set_aside_events(**journal, query, stdout, {*from_ns, *to_ns});
    std::fflush(stdout);
    if (!written) return fail(written.error());
    return 0;
  }

  if (*republish) {
    auto speed = engine::parse_republish_speed(speed_text);
    if (!speed) return fail(speed.error());
    engine::RepublishConfig config;
    config.pub_url = pub_url;
    config.recovery_url = recovery_url;
    config.from_seq = from_seq.value_or(1);
    config.to_seq = to_seq.value_or(UINT64_MAX);
    config.speed = *speed;
    config.curve_key = republish_curve_key;
    config.curve_allow = republish_curve_allow;
    struct sigaction action {};
    action.sa_handler = on_signal;
    sigaction(SIGINT, &action, nullptr);
    sigaction(SIGTERM, &action, nullptr);
    engine::JournalRepublisher republisher(**journal, config);
    if (auto started = republisher.start(); !started) return fail(started.error());
    std::fprintf(stderr,
                 "odds-replay: republishing %s seq %llu..%llu at speed %s on %s (recovery %s)\n",
                 dir.c_str(), static_cast<unsigned long long>(republisher.range().from_seq),
                 static_cast<unsigned long long>(republisher.range().to_seq), speed_text.c_str(),
                 republisher.pub_endpoint().c_str(), republisher.recovery_endpoint().c_str());
    ProgressLine published_progress("published");
    auto published = republisher.publish(g_stop, published_progress.hook());
    if (!published) return fail(published.error());
    if (!g_stop.load()) {
      std::fprintf(stderr,
                   "odds-replay: published seq %llu..%llu (%llu frames in %llu batches); serving "
                   "heartbeats and recovery until SIGINT\n",
                   static_cast<unsigned long long>(republisher.range().from_seq),
                   static_cast<unsigned long long>(published->last_seq),
                   static_cast<unsigned long long>(published->frames),
                   static_cast<unsigned long long>(published->batches));
      republisher.serve(g_stop);
    }
    return 0;
  }

  if (*events) {
    engine::EventsQuery query{from, to, market};
    auto written =
        engine::write_events(**journal, query, stdout, {*from_ns, *to_ns}, progress.hook());
    std::fflush(stdout);
    if (!written) return fail(written.error());
    return 0;
  }

  if (*history) {
    auto range = engine::seq_range_for_times(**journal, *from_ns, *to_ns);
    if (!range) return fail(range.error());
    auto result =
        engine::market_history(**journal, *market, range->from_seq, range->to_seq, progress.hook());
    if (!result) return fail(result.error());
    std::string out;
    const MarketRecord* names = result->after ? &*result->after : nullptr;
    if (!json && names != nullptr) {
      out = "market " + std::to_string(*market) + " " + names->name + ": " +
            std::to_string(result->changes.size()) + " change(s)\n";
    }
    for (const engine::MarketChange& change : result->changes) {
      if (json) {
        engine::append_change_json(out, change);
        out += "\n";
      } else {
        engine::append_change_text(out, change, names);
      }
      if (out.size() > (1 << 16)) {
        std::fwrite(out.data(), 1, out.size(), stdout);
        out.clear();
      }
    }
    std::fwrite(out.data(), 1, out.size(), stdout);
    return 0;
  }

  if (*export_rows) {
    auto range = engine::seq_range_for_times(**journal, *from_ns, *to_ns);
    if (!range) return fail(range.error());
    engine::ExportQuery query;
    query.format = format == "csv" ? engine::ExportFormat::kCsv : engine::ExportFormat::kJsonLines;
    query.from_seq = range->from_seq;
    query.to_seq = range->to_seq;
    query.market = market;
    auto rows = engine::export_journal(**journal, query, stdout, progress.hook());
    std::fflush(stdout);
    if (!rows) return fail(rows.error());
    return 0;
  }

  if (*timeline) {
    auto range = engine::seq_range_for_times(**journal, *from_ns, *to_ns);
    if (!range) return fail(range.error());
    auto result =
        engine::market_history(**journal, *market, range->from_seq, range->to_seq, progress.hook());
    if (!result) return fail(result.error());
    const engine::TimelineRange times{*from_ns, *to_ns};
    const std::string& path = svg_file.empty() ? html_file : svg_file;
    auto written = write_file(path, svg_file.empty() ? engine::timeline_html(*result, times)
                                                     : engine::timeline_svg(*result, times));
    if (!written) return fail(written.error());
    std::printf("wrote %s: market %llu, %zu change(s), seq %llu..%llu\n", path.c_str(),
                static_cast<unsigned long long>(*market), result->changes.size(),
                static_cast<unsigned long long>(result->from_seq),
                static_cast<unsigned long long>(result->to_seq));
    return 0;
  }

  if (*diff) {
    uint64_t a = from_seq.value_or(0);
    uint64_t b = to_seq.value_or(0);
    if (*from_ns) {
      auto at_a = engine::seq_range_for_times(**journal, std::nullopt, *from_ns);
      if (!at_a) return fail(at_a.error());
      auto at_b = engine::seq_range_for_times(**journal, std::nullopt, *to_ns);
      if (!at_b) return fail(at_b.error());
      a = at_a->to_seq;
      b = at_b->to_seq;
    } else if (!from_seq) {
      return fail("diff needs two points: --from-seq A --to-seq B, or --from-time T1 --to-time T2");
    }
    auto result = engine::diff_journal(**journal, a, b, progress.hook());
    if (!result) return fail(result.error());
    std::string out;
    if (json) {
      engine::append_diff_json(out, *result);
      out += "\n";
    } else {
      engine::append_diff_text(out, *result);
    }
    std::fwrite(out.data(), 1, out.size(), stdout);
    return 0;
  }

  engine::StateQuery query;
  query.at_seq = at_seq;
  query.at_time_ns = *at_ns;
  auto folded = engine::state_at(**journal, query, progress.hook());
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
