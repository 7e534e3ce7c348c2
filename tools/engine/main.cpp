// odds-engine: the engine node (run) and batch ingest of captured feed files (ingest).
#include <csignal>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "engine/desk_rights.h"
#include "engine/file_ingest.h"
#include "engine/journal.h"
#include "engine/node.h"
#include "engine/retention.h"
#include "feeds/link/feed_credentials.h"
#include "feeds/mapping.h"
#include "feeds/rejection.h"
#include "schemas/curve_keys.h"
#include "schemas/host_port.h"
#include "schemas/log.h"
#include "tools/cli_config.h"

namespace {

std::atomic<bool> g_stop{false};

void on_signal(int) { g_stop.store(true); }

int fail(const std::string& message) {
  std::fprintf(stderr, "odds-engine: %s\n", message.c_str());
  return 1;
}

oddsbus::engine::Durability durability_of(const std::string& text) {
  return text == "sync" ? oddsbus::engine::Durability::kSync : oddsbus::engine::Durability::kNoSync;
}

int ingest(const std::string& journal_dir, const std::string& format,
           const std::string& mapping_path, const std::string& feed_name,
           const std::vector<std::string>& files, const std::string& durability, size_t batch) {
  using namespace oddsbus::engine;
  // Everything about the options is checked before the journal is opened (and so created).
  std::optional<oddsbus::feeds::Mapping> mapping;
  if (!mapping_path.empty()) {
    auto loaded = oddsbus::feeds::Mapping::load(mapping_path);
    if (!loaded) return fail(loaded.error());
    mapping.emplace(std::move(*loaded));
  }
  IngestOptions options;
  options.format = format;
  options.mapping = mapping ? &*mapping : nullptr;
  options.feed_name = feed_name;
  options.batch_frames = batch;
  if (auto checked = check_ingest_options(options); !checked) {
    return fail((mapping_path.empty() ? "" : mapping_path + ": ") + checked.error());
  }
  JournalConfig config;
  config.dir = journal_dir;
  config.durability = durability_of(durability);
  auto journal = Journal::open(config);
  if (!journal) return fail(journal.error());
  auto summary = ingest_files(**journal, files, options);
  if (!summary) return fail(summary.error());
  std::printf("ingested %zu file(s) into %s: %llu lines, %llu accepted, %llu rejected\n",
              files.size(), journal_dir.c_str(), static_cast<unsigned long long>(summary->lines),
              static_cast<unsigned long long>(summary->accepted),
              static_cast<unsigned long long>(summary->rejected_total()));
  for (size_t i = 0; i < summary->rejected.size(); ++i) {
    if (summary->rejected[i] == 0) continue;
    std::printf("  rejected %-18s %llu\n",
                std::string(oddsbus::feeds::kRejectReasonNames[i]).c_str(),
                static_cast<unsigned long long>(summary->rejected[i]));
  }
  if (mapping) {
    std::printf(
        "feed %s (%s): %llu markets defined from %s, %llu unknown market and %llu unknown "
        "selection references\n",
        summary->feed_name.c_str(), format.c_str(),
        static_cast<unsigned long long>(summary->definitions), mapping_path.c_str(),
        static_cast<unsigned long long>(summary->unknown_markets),
        static_cast<unsigned long long>(summary->unknown_selections));
    if (!summary->unknown_ids.empty()) {
      std::string sample;
      for (const auto& id : summary->unknown_ids) sample += (sample.empty() ? "" : ", ") + id;
      std::printf("  not in the mapping, e.g.: %s\n", sample.c_str());
    }
  }
  std::printf("journal seq %llu..%llu (this ingest wrote from seq %llu)\n",
              static_cast<unsigned long long>(summary->last_seq > 0 ? 1 : 0),
              static_cast<unsigned long long>(summary->last_seq),
              static_cast<unsigned long long>(summary->first_seq));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "odds-engine: sequences odds events into a gap-free, journaled, published frame stream."};
  app.require_subcommand(1);
  app.failure_message([](const CLI::App*, const CLI::Error& e) {
    return "odds-engine: " + oddsbus::tools::config_error_text(e, "run") + " (see --help)\n";
  });

  std::string journal_dir;
  std::string format = "oddsjson";
  std::string ingest_mapping, ingest_feed_name;
  std::vector<std::string> files;
  std::string durability = "nosync";
  size_t batch = 1024;
  auto* ingest_cmd = app.add_subcommand(
      "ingest",
      "Sequence captured feed files into a journal (created if absent, continued if "
      "ours), then print accepted and rejected counts by reason (and, with a mapping, the "
      "provider ids it does not know). Each file is read as one provider's stream, through the "
      "same adapter and source selection a running node uses: betfair-stream one message a line "
      "(CRLF or LF), uof-xml one XML document a line, oddsjson one object a line. With --mapping "
      "the mapping's markets are defined first (suspended until their source is heard). Time "
      "stands still during an ingest: no market is suspended for a gap in the file. Exit 0 unless "
      "the options are unusable or the journal could not be written.");
  ingest_cmd->add_option("--journal", journal_dir, "journal directory")->required();
  ingest_cmd->add_option("--format", format, "input format: oddsjson, betfair-stream or uof-xml")
      ->check(CLI::IsMember({"oddsjson", "betfair-stream", "uof-xml"}))
      ->capture_default_str();
  ingest_cmd->add_option("--mapping", ingest_mapping,
                         "mapping file (TOML, DESIGN section 10): provider ids to canonical ids "
                         "and the markets it defines; required for betfair-stream and uof-xml");
  ingest_cmd->add_option(
      "--feed-name", ingest_feed_name,
      "the feed name the files come from, as the mapping's sources and [market.provider.NAME] "
      "name it (default: the mapping's only feed whose provider sections fit --format; "
      "uof-xml sections name an event, betfair-stream and oddsjson ones do not)");
  ingest_cmd
      ->add_option("--durability", durability,
                   "sync: fsync every commit; nosync: leave it "
                   "to the OS")
      ->check(CLI::IsMember({"sync", "nosync"}))
      ->capture_default_str();
  ingest_cmd->add_option("--batch", batch, "frames per journal write transaction")
      ->check(CLI::Range(size_t{1}, size_t{1} << 20))
      ->capture_default_str();
  ingest_cmd->add_option("FILE", files, "captured feed files, sequenced in the order given")
      ->required()
      ->check(CLI::ExistingFile);

  oddsbus::engine::NodeConfig node;
  std::vector<std::string> feed_specs;
  std::string run_durability = "nosync";
  std::string role = "primary";
  std::string http;
  uint64_t heartbeat_ms = 200;
  auto* run_cmd = app.add_subcommand(
      "run",
      "Run a node: connect to feeds, sequence, journal and publish until SIGINT/SIGTERM, "
      "then flush and exit 0.");
  run_cmd->add_option("--journal", node.journal_dir, "journal directory")->required();
  run_cmd->add_option("--node", node.node, "this node's id (recorded in every frame)")
      ->required()
      ->check(CLI::Range(1u, 65535u));
  run_cmd->add_option("--pub", node.pub_url, "ZeroMQ PUB endpoint to bind, e.g. tcp://*:7001")
      ->required();
  run_cmd->add_option(
      "--feed", feed_specs,
      "a provider to connect to: NAME=FORMAT@URL[,URL...], FORMAT one of oddsjson, "
      "betfair-stream, uof-xml; several URLs (or the same NAME again) are redundant lines of one "
      "provider, e.g. bf=betfair-stream@tcp://10.0.0.1:9001,tcp://10.0.0.2:9001 (repeatable)");
  std::vector<std::string> feed_auths;
  run_cmd->add_option("--feed-auth", feed_auths,
                      "NAME=FILE: the credentials of feed NAME's provider session, a TOML file "
                      "readable by its owner only (uof-xml: access_token, api_url, optional "
                      "node_id and ca_file) (repeatable)");
  uint64_t stale_after_ms = 3000;
  uint64_t disagree_after_ms = 5000;
  auto* stale_after_option = run_cmd->add_option(
      "--stale-after-ms", stale_after_ms,
      "a source not heard from (data or heartbeat) for this long is unhealthy; "
      "markets with no healthy source are suspended feed-stale, and reopen with "
      "fresh prices when one recovers. Mapped markets always are; markets the "
      "mapping does not list (all, without --mapping: their one source is the "
      "feed that speaks of them) only when this flag is given");
  stale_after_option->check(CLI::Range(uint64_t{1}, uint64_t{3'600'000}))->capture_default_str();
  auto* tolerance_option =
      run_cmd->add_option("--tolerance-bps", node.tolerance_bps,
                          "cross-feed check (needs --mapping): prices further apart than this "
                          "(basis points of the active price) are a disagreement");
  tolerance_option->check(CLI::Range(1u, 100000u))->capture_default_str();
  auto* disagree_after_option =
      run_cmd->add_option("--disagree-after-ms", disagree_after_ms,
                          "cross-feed check (needs --mapping): report a disagreement that lasts "
                          "this long");
  disagree_after_option->check(CLI::Range(uint64_t{0}, uint64_t{3'600'000}))->capture_default_str();
  auto* suspend_option = run_cmd->add_flag(
      "--suspend-on-disagreement", node.suspend_on_disagreement,
      "cross-feed check (needs --mapping): also suspend a market while its sources disagree");
  run_cmd->add_option("--durability", run_durability, "sync: fsync every commit; nosync: OS")
      ->check(CLI::IsMember({"sync", "nosync"}))
      ->capture_default_str();
  run_cmd
      ->add_option("--pub-hwm", node.pub_hwm,
                   "batches queued per subscriber before the PUB socket drops for it (the "
                   "subscriber recovers the gap from --recovery)")
      ->check(CLI::Range(1, 10'000'000))
      ->capture_default_str();
  run_cmd
      ->add_option("--pub-sndbuf", node.pub_send_buffer,
                   "kernel send buffer per subscriber connection in bytes (0: the OS default)")
      ->check(CLI::Range(0, 1 << 30))
      ->capture_default_str();
  run_cmd->add_option("--heartbeat-ms", heartbeat_ms, "heartbeat interval when idle")
      ->check(CLI::Range(uint64_t{1}, uint64_t{60000}))
      ->capture_default_str();
  // Journal snapshots and retention (engine/journal_snapshot_writer.h, engine/retention.h).
  run_cmd
      ->add_option("--snapshot-every-frames", node.snapshot_every_frames,
                   "write a state snapshot into the journal every N frames (0: not by count)")
      ->capture_default_str();
  run_cmd
      ->add_option("--snapshot-every-seconds", node.snapshot_every_seconds,
                   "and every M seconds when frames came (0: not by time)")
      ->capture_default_str();
  run_cmd->add_option(
      "--retain-frames", node.retain_frames,
      "prune older frames from the journal, keeping at least N (behind a snapshot)");
  std::string retain_age;
  run_cmd->add_option(
      "--retain-age", retain_age,
      "prune frames older than DURATION (e.g. 90s, 15m, 2h, 7d; behind a snapshot)");
  std::string evict_after = "10m";
  run_cmd
      ->add_option("--evict-after", evict_after,
                   "a settled or closed market untouched for DURATION leaves the live state "
                   "through a journaled eviction frame, so memory stays bounded while markets "
                   "come and go (e.g. 90s, 10m, 2h; 0: never). Markets the mapping lists and "
                   "markets a desk holds are kept; odds-replay state --at-seq before it still "
                   "shows the market")
      ->capture_default_str();
  run_cmd->add_option("--recovery", node.recovery_url,
                      "recovery service (ZeroMQ ROUTER) endpoint to bind: snapshots and frame "
                      "ranges for edges and for the peer, e.g. tcp://*:7002");
  run_cmd
      ->add_option("--role", role,
                   "primary sequences; secondary replicates --peer-pub/--peer-recovery and takes "
                   "over when the primary is silent for --failover-after-ms. A primary whose peer "
                   "is primary already joins it as secondary")
      ->check(CLI::IsMember({"primary", "secondary"}))
      ->capture_default_str();
  run_cmd->add_option("--peer-pub", node.peer_pub, "the peer node's PUB endpoint");
  run_cmd->add_option("--peer-recovery", node.peer_recovery, "the peer node's --recovery endpoint");
  std::string replication = "async";
  run_cmd
      ->add_option("--replication", replication,
                   "async: publish after our own commit; sync: publish only what the secondary "
                   "journaled (until it is silent for --alone-after-ms)")
      ->check(CLI::IsMember({"async", "sync"}))
      ->capture_default_str();
  uint64_t failover_after_ms = 1500;
  run_cmd
      ->add_option("--failover-after-ms", failover_after_ms,
                   "a secondary takes over when its primary is silent this long")
      ->check(CLI::Range(uint64_t{50}, uint64_t{600'000}))
      ->capture_default_str();
  uint64_t alone_after_ms = 2000;
  run_cmd
      ->add_option("--alone-after-ms", alone_after_ms,
                   "sync replication: with no ack from the secondary for this long, the primary "
                   "publishes without it (logged and counted)")
      ->check(CLI::Range(uint64_t{10}, uint64_t{600'000}))
      ->capture_default_str();
  run_cmd->add_option("--desk", node.desk_url,
                      "desk API (ZeroMQ ROUTER) endpoint to bind, for odds-desk: set prices, "
                      "suspend, reopen, settle, release; only the primary applies requests");
  run_cmd->add_option("--peer-desk", node.peer_desk_url,
                      "the peer's --desk endpoint, named in 'not primary' rejections");
  run_cmd
      ->add_option("--desk-rights", node.desk_rights_path,
                   "TOML desk rights: [[desk]] tables naming a desk by key (its CURVE public key) "
                   "or client (its CLIENT word), its actions (price, suspend, reopen, settle, "
                   "release, suspend-event) and its markets (a list or \"all\") and events; "
                   "anything else is refused 'forbidden'. Without it every desk may do everything")
      ->check(CLI::ExistingFile);
  run_cmd
      ->add_option("--mapping", node.mapping_path,
                   "TOML mapping: canonical markets, their source priority, provider ids "
                   "(needed by betfair-stream and uof-xml feeds)")
      ->check(CLI::ExistingFile);
  // CURVE on every ZeroMQ link (issue 14, README "Running it securely").
  run_cmd->add_option("--curve-key", node.curve_key,
                      "this node's CURVE secret key file (odds-keys generate; mode 0600): its PUB, "
                      "recovery and desk sockets become CURVE servers, and its links to the peer "
                      "CURVE clients. Without it every ZeroMQ link runs in the clear");
  run_cmd->add_option("--curve-allow", node.curve_allow,
                      "the clients the servers let in: one Z85 public key a line (# comments); "
                      "any other peer receives nothing and is counted and logged");
  run_cmd
      ->add_option("--curve-server-key", node.curve_server_keys,
                   "the peer's public key file(s) (its .pub), for --peer-pub and --peer-recovery "
                   "in that order; one file for both")
      ->delimiter(',');
  // Operating the node (README "Operating the engine"): its config file, HTTP endpoint and logs.
  oddsbus::tools::add_config_option(app, "run");
  run_cmd->fallthrough();  // `run --config FILE`: the option is the app's, its keys are run's
  run_cmd->add_option("--http", http,
                      "HOST:PORT to serve GET /metrics (Prometheus) and GET /healthz (200 or 503 "
                      "with the role, epoch, seq, lag and the reason) on, e.g. 127.0.0.1:9100");
  run_cmd
      ->add_option("--health-max-lag", node.health_max_lag_frames,
                   "/healthz: a secondary more frames than this behind its primary is unhealthy")
      ->capture_default_str();
  std::string log_format = "text";
  std::string log_level = "info";
  run_cmd->add_option("--log-format", log_format, "text, or json: one object a line")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  run_cmd->add_option("--log-level", log_level, "the lowest level logged: info, warn or error")
      ->check(CLI::IsMember({"info", "warn", "error"}))
      ->capture_default_str();
  bool print_config = false;
  bool check_only = false;
  run_cmd
      ->add_flag("--print-config", print_config,
                 "print the settings (flags and config file merged) as a config file, and exit")
      ->configurable(false);
  run_cmd
      ->add_flag("--check-only", check_only,
                 "check the settings and the mapping, start nothing, and exit")
      ->configurable(false)
      ->group("");
  auto* check_cmd = app.add_subcommand(
      "check-config",
      "Check a config file for `run` (and the mapping it names, or --mapping) without starting "
      "anything: unknown keys, bad values, missing settings. Exit 0 when it would start.");
  std::string check_file, check_mapping;
  check_cmd->add_option("FILE", check_file, "the config file")->required();
  check_cmd->add_option("--mapping", check_mapping, "a mapping file to check with it");

  // check-config FILE [--mapping M] is `run --config FILE [--mapping M] --check-only`: the same
  // parsing and checks as a start, so it passes exactly when a start would.
  std::vector<std::string> args(argv, argv + argc);
  if (args.size() >= 3 && args[1] == "check-config" && args[2] != "--help" && args[2] != "-h") {
    std::vector<std::string> rewritten{args[0], "run", "--config"};
    rewritten.insert(rewritten.end(), args.begin() + 2, args.end());
    rewritten.push_back("--check-only");
    args = std::move(rewritten);
  }
  std::vector<char*> arg_pointers;
  for (std::string& arg : args) arg_pointers.push_back(arg.data());
  CLI11_PARSE(app, static_cast<int>(arg_pointers.size()), arg_pointers.data());

  if (*ingest_cmd) {
    return ingest(journal_dir, format, ingest_mapping, ingest_feed_name, files, durability, batch);
  }
  if (*check_cmd) return fail("check-config takes the config file first: check-config FILE");
  if (print_config) {
    std::printf("%s", oddsbus::tools::settings_as_config(*run_cmd).c_str());
    return 0;
  }
  oddsbus::configure_log(*oddsbus::parse_log_format(log_format),
                         *oddsbus::parse_log_level(log_level), "engine");
  if (!http.empty()) {
    auto address = oddsbus::parse_host_port("--http", http);
    if (!address) return fail(address.error());
    node.http_host = address->host;
    node.http_port = address->port;
  }
  node.role = role == "primary" ? oddsbus::engine::NodeRole::kPrimary
                                : oddsbus::engine::NodeRole::kSecondary;
  if (node.peer_pub.empty() != node.peer_recovery.empty()) {
    return fail("--peer-pub and --peer-recovery go together: give both or neither");
  }
  if (node.role == oddsbus::engine::NodeRole::kSecondary && node.peer_pub.empty()) {
    return fail("--role secondary needs --peer-pub and --peer-recovery (the primary to replicate)");
  }
  if (!node.peer_pub.empty() && node.recovery_url.empty()) {
    return fail(
        "a node with a peer needs --recovery: its peer replicates from it after a takeover");
  }
  node.sync_replication = replication == "sync";
  node.failover_after_ns = failover_after_ms * 1'000'000;
  node.alone_after_ns = alone_after_ms * 1'000'000;
  for (const std::string& spec : feed_specs) {
    auto feed = oddsbus::engine::parse_feed_spec(spec);
    if (!feed) return fail(feed.error());
    if (auto added = oddsbus::engine::add_feed(node.feeds, std::move(*feed)); !added) {
      return fail(added.error());
    }
  }
  for (const std::string& text : feed_auths) {
    auto auth = oddsbus::feeds::link::parse_feed_auth(text);
    if (!auth) return fail(auth.error());
    bool known = false;
    for (auto& feed : node.feeds) {
      if (feed.name != auth->first) continue;
      feed.auth_file = auth->second;
      known = true;
    }
    if (!known) return fail("--feed-auth " + auth->first + ": no --feed of that name");
  }
  // The cross-feed check compares the sources of a mapped market. Without a mapping every market
  // has one source (the feed that speaks of it): there is nothing to compare, so a flag that asks
  // for the check is refused rather than silently ignored.
  if (node.mapping_path.empty()) {
    for (const CLI::Option* option : {tolerance_option, disagree_after_option, suspend_option}) {
      if (option->count() > 0) {
        return fail(option->get_name() +
                    " needs --mapping: the cross-feed check compares the sources the mapping "
                    "lists for a market, and without a mapping each market has one source");
      }
    }
  }
  node.stale_after_ns = stale_after_ms * 1'000'000;
  node.stale_unmapped = stale_after_option->count() > 0;
  node.disagree_after_ns = disagree_after_ms * 1'000'000;
  node.durability = durability_of(run_durability);
  node.heartbeat_interval_ns = heartbeat_ms * 1'000'000;
  if (!retain_age.empty()) {
    auto age = oddsbus::engine::parse_duration_ns(retain_age);
    if (!age) return fail("--retain-age: " + age.error());
    node.retain_age_ns = *age;
  }
  if (evict_after == "0") {
    node.evict_after_ns = 0;
  } else {
    auto after = oddsbus::engine::parse_duration_ns(evict_after);
    if (!after) return fail("--evict-after: " + after.error() + ", or 0 to keep every market");
    node.evict_after_ns = *after;
  }
  if (check_only) {
    if (!node.mapping_path.empty()) {
      auto mapping = oddsbus::feeds::Mapping::load(node.mapping_path);
      if (!mapping) return fail(mapping.error());
    }
    if (!node.desk_rights_path.empty()) {
      auto rights = oddsbus::engine::DeskRights::load(node.desk_rights_path);
      if (!rights) return fail(rights.error());
    }
    if (!node.curve_key.empty()) {
      if (auto key = oddsbus::curve::load_key_pair(node.curve_key); !key) {
        return fail(key.error().message);
      }
    }
    if (!node.curve_allow.empty()) {
      if (auto allow = oddsbus::curve::load_allow_list(node.curve_allow); !allow) {
        return fail(allow.error().message);
      }
    }
    std::printf("config OK: node %u, %s, %zu feed(s)%s%s\n", node.node, role.c_str(),
                node.feeds.size(), node.mapping_path.empty() ? "" : ", mapping ",
                node.mapping_path.c_str());
    return 0;
  }

  struct sigaction action {};
  action.sa_handler = on_signal;
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
  auto ran = oddsbus::engine::run_node(node, g_stop);
  if (!ran) return fail(ran.error());
  return 0;
}
