// odds-feedsim: serves simulated markets over TCP in a provider format, deterministic by seed,
// with faults. Flags in, feeds/sim wired, exit status out; the logic lives in feeds/sim/.
#include <signal.h>

#include <atomic>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "feeds/sim/mapping_writer.h"
#include "feeds/sim/sim_server.h"
#include "feeds/tcp_line_source.h"

namespace {

using namespace oddsbus::feeds;

std::atomic<bool> g_stop{false};
std::atomic<uint32_t> g_stall_toggles{0};

extern "C" void on_stop_signal(int) { g_stop.store(true); }
extern "C" void on_stall_signal(int) { g_stall_toggles.fetch_add(1); }

void install(int signal_number, void (*handler)(int)) {
  struct sigaction action {};
  action.sa_handler = handler;
  sigemptyset(&action.sa_mask);
  action.sa_flags = 0;  // no SA_RESTART: poll() returns EINTR and the loop looks at the flags
  ::sigaction(signal_number, &action, nullptr);
}

int fail(const std::string& message) {
  std::fprintf(stderr, "odds-feedsim: %s\n", message.c_str());
  return 1;
}

uint64_t seconds_to_ns(double seconds) {
  return static_cast<uint64_t>(std::llround(seconds * 1e9));
}

bool valid_feed_name(const std::string& name) {
  if (name.empty()) return false;
  for (const char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-') return false;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "odds-feedsim: serves simulated markets over TCP in a provider format (oddsjson, "
      "betfair-stream, uof-xml), deterministic by seed, with faults.\n\n"
      "Markets 1001, 1002, ... (events 501, 502, ...) with selections 1-3 random-walk on "
      "Betfair's tick ladder and go open -> suspended -> open ... -> settled; a settled market is "
      "replaced by a new one until --total-markets have started. A client gets the current image "
      "when it connects, then the live stream; heartbeats fill idle time.\n\n"
      "Two --listen endpoints are two lines of one provider: both carry the same messages, "
      "byte for byte, and each applies its own faults (seeds derived from --seed and the line).\n\n"
      "Signals: SIGINT/SIGTERM stop cleanly (the record is flushed); SIGUSR1 toggles a stall "
      "of the stalled lines (--stall-line, default all) on or off at run time."};
  app.failure_message([](const CLI::App*, const CLI::Error& e) {
    return std::string("odds-feedsim: ") + e.what() + " (see --help)\n";
  });

  std::string format_text;
  std::vector<std::string> listen;
  uint32_t markets = 10;
  double rate = 100;
  uint64_t seed = 1;
  uint64_t count = 0;
  uint32_t settle_after = 100;
  std::optional<uint32_t> total_markets;
  uint32_t heartbeat_ms = 500;
  std::vector<std::string> feed_names;
  std::string mapping_path;
  std::string record_path;
  double drop = 0;
  double duplicate = 0;
  double corrupt = 0;
  uint32_t delay_ms = 0;
  double disconnect_every = 0;
  std::optional<double> stall_after;
  double stall_for = 0;
  int stall_line = -1;
  bool wait_for_clients = false;
  uint64_t epoch_ms = 0;

  app.add_option("--format", format_text, "oddsjson, betfair-stream or uof-xml")->required();
  app.add_option("--listen", listen,
                 "tcp://HOST:PORT to serve on; give it twice for two lines of the same provider")
      ->expected(1)
      ->take_all();
  app.add_option("--markets", markets, "live markets at any time")
      ->capture_default_str()
      ->check(CLI::Range(1u, 1'000'000u));
  app.add_option("--rate", rate, "updates per second, all markets together")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--seed", seed, "seed of every random choice (prices, lifecycle, faults)")
      ->capture_default_str();
  app.add_option("--count", count,
                 "stop after N updates (market starts, prices, status changes, settlements), "
                 "flush, and exit 0; 0 runs until SIGINT/SIGTERM")
      ->capture_default_str();
  app.add_option("--settle-after", settle_after,
                 "mean updates of one market before it settles; 0: markets never settle")
      ->capture_default_str();
  app.add_option("--total-markets", total_markets,
                 "markets that ever start, the first --markets included (default 10 x --markets)");
  app.add_option("--heartbeat-ms", heartbeat_ms,
                 "heartbeat after this long without a message (oddsjson heartbeat, betfair "
                 "ct HEARTBEAT, uof alive; uof also sends an alive at least every second)")
      ->capture_default_str()
      ->check(CLI::Range(1u, 3'600'000u));
  app.add_option("--feed-name", feed_names,
                 "feed name(s) for --write-mapping, highest priority first (default by format: "
                 "oj, bf, sr)");
  app.add_option("--write-mapping", mapping_path,
                 "write the TOML mapping of the simulated markets to FILE (and exit 0 if no "
                 "--listen is given)");
  app.add_option("--record", record_path,
                 "write what each line sent, after faults, as JSON lines: {\"line\",\"seq\","
                 "\"kind\":\"market|price|status|settle|heartbeat|corrupt\",\"market\","
                 "\"selection\",\"price_e4\",\"status\",\"winners\",\"image\",\"dup\",\"ns\"}");
  app.add_option("--drop", drop, "fault: fraction of messages not sent (per line)")
      ->check(CLI::Range(0.0, 1.0));
  app.add_option("--duplicate", duplicate, "fault: fraction of messages sent twice")
      ->check(CLI::Range(0.0, 1.0));
  app.add_option("--corrupt", corrupt,
                 "fault: fraction of messages replaced by a garbled line (truncated, bytes "
                 "flipped or junk inserted)")
      ->check(CLI::Range(0.0, 1.0));
  app.add_option("--delay-ms", delay_ms,
                 "fault: hold each message back 0..MAX ms (a line keeps its order)");
  app.add_option("--disconnect-every", disconnect_every,
                 "fault: close each client SECONDS after it connected (it may reconnect)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--stall-after", stall_after,
                 "fault: after SECONDS of simulation stop sending (heartbeats included) but keep "
                 "sockets open; clients get a fresh image when the stall ends")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--stall-for", stall_for, "how long a stall lasts, SECONDS; 0: until SIGUSR1")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--stall-line", stall_line,
                 "the line that stalls (0 or 1); default: every line. Also what SIGUSR1 stalls")
      ->check(CLI::Range(0, 1));
  app.add_flag("--wait-for-clients", wait_for_clients,
               "start the simulation only once every line has a client");
  app.add_option("--epoch-ms", epoch_ms,
                 "provider timestamp at simulation start, ms since the Unix epoch (default: the "
                 "wall clock); fixing it makes the bytes sent identical from run to run");

  CLI11_PARSE(app, argc, argv);

  const auto format = sim::parse_format(format_text);
  if (!format) return fail(format.error());
  if (listen.empty() && mapping_path.empty()) return fail("--listen is required (see --help)");
  if (listen.size() > 2) return fail("--listen may be given at most twice (two lines)");
  if (stall_line >= static_cast<int>(listen.size()) && !listen.empty()) {
    return fail("--stall-line " + std::to_string(stall_line) +
                " names a line that is not listening");
  }
  if (feed_names.empty()) feed_names.emplace_back(sim::default_feed_name(*format));
  for (const std::string& name : feed_names) {
    if (!valid_feed_name(name)) {
      return fail("bad --feed-name '" + name + "': use letters, digits, '_' and '-'");
    }
  }

  sim::SimServerConfig config;
  config.stream.format = *format;
  config.stream.provider = feed_names.front();
  config.stream.heartbeat_ns = uint64_t{heartbeat_ms} * 1'000'000;
  config.stream.epoch_ms = epoch_ms;
  sim::SimConfig& simulation = config.stream.sim;
  simulation.seed = seed;
  simulation.markets = markets;
  simulation.rate = rate;
  simulation.max_updates = count;
  simulation.settle_after = settle_after;
  simulation.total_markets = total_markets.value_or(markets * 10);

  if (!mapping_path.empty()) {
    std::vector<sim::MappingFeed> feeds;
    for (const std::string& name : feed_names) feeds.push_back({name, *format});
    const std::string text = sim::write_mapping(sim::planned_markets(simulation), feeds);
    std::ofstream out(mapping_path, std::ios::binary | std::ios::trunc);
    out << text;
    out.flush();
    if (!out) return fail("cannot write mapping file " + mapping_path);
    std::fprintf(stderr, "odds-feedsim: wrote the mapping to %s\n", mapping_path.c_str());
    if (listen.empty()) return 0;
  }

  for (const std::string& url : listen) {
    auto endpoint = parse_tcp_url(url);
    if (!endpoint) return fail("bad --listen: " + endpoint.error());
    config.listen.push_back(*endpoint);
  }
  config.faults = {
      .drop = drop, .duplicate = duplicate, .corrupt = corrupt, .delay_max_ms = delay_ms};
  config.disconnect_every_ns = seconds_to_ns(disconnect_every);
  if (stall_after) config.stall_after_ns = seconds_to_ns(*stall_after);
  config.stall_for_ns = seconds_to_ns(stall_for);
  config.stall_line = stall_line;
  config.record_path = record_path;
  config.wait_for_clients = wait_for_clients;

  auto server = sim::SimServer::open(std::move(config));
  if (!server) return fail(server.error());
  install(SIGINT, on_stop_signal);
  install(SIGTERM, on_stop_signal);
  install(SIGUSR1, on_stall_signal);
  ::signal(SIGPIPE, SIG_IGN);
  return (*server)->run(g_stop, g_stall_toggles);
}
