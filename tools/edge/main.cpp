// odds-edge: subscribes to a channel's publishers and serves its live markets over HTTP and
// WebSocket (DESIGN sections 5 and 10). Runs until SIGINT or SIGTERM, then exits 0.
#include <pthread.h>
#include <sys/resource.h>

#include <csignal>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>

#include "edge/edge_server.h"
#include "schemas/curve_link.h"
#include "schemas/host_port.h"
#include "schemas/log.h"
#include "tools/cli_config.h"

namespace {

int fail(const std::string& message) {
  std::fprintf(stderr, "odds-edge: %s\n", message.c_str());
  return 1;
}

// Lets the edge hold as many client sockets as the hard limit allows.
void raise_open_file_limit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &limit);
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "odds-edge: an edge cache. Subscribes to every publisher of a channel (primary and\n"
      "secondary), arbitrates their frames by (epoch, seq), recovers gaps from the recovery\n"
      "services, and serves the live markets on one HTTP port:\n"
      "  GET /v1/markets, /v1/markets/{id}, /v1/snapshot   state JSON (snapshot with digest)\n"
      "  WebSocket /v1/stream                             image + deltas, resume_from, conflation\n"
      "  GET /healthz (200 live and caught up, else 503), GET /metrics (Prometheus), GET / (page)\n"
      "Example:\n"
      "  odds-edge --sub tcp://n1:7001,tcp://n2:7001 --recovery tcp://n1:7002,tcp://n2:7002 \\\n"
      "            --http 0.0.0.0:8080",
      "odds-edge"};
  app.set_help_flag("-h,--help", "print this help and exit");
  app.failure_message([](const CLI::App*, const CLI::Error& e) {
    return "odds-edge: " + oddsbus::tools::config_error_text(e) + " (see --help)\n";
  });

  std::vector<std::string> subs;
  std::vector<std::string> recoveries;
  std::string http;
  app.add_option("--sub", subs, "publisher PUB endpoints (comma-separated or repeated)")
      ->required()
      ->delimiter(',');
  app.add_option("--recovery", recoveries,
                 "recovery service endpoints (comma-separated or repeated); asked in order, the "
                 "next one when one does not answer")
      ->required()
      ->delimiter(',');
  app.add_option("--http", http, "HOST:PORT to serve HTTP and WebSocket on")->required();

  oddsbus::edge::EdgeServerConfig config;
  uint64_t gap_timeout_ms = 20;
  uint64_t request_timeout_ms = 1000;
  uint64_t stale_after_ms = 1000;
  uint64_t heartbeat_ms = 1000;
  uint64_t idle_timeout_ms = 60000;
  uint64_t slow_client_ms = 10000;
  uint64_t client_max_delay_ms = 500;
  app.add_option("--gap-timeout-ms", gap_timeout_ms,
                 "wait this long for the other publisher to fill a gap before asking a recovery "
                 "service; a gap open longer makes the edge stale")
      ->capture_default_str();
  app.add_option("--request-timeout-ms", request_timeout_ms,
                 "a recovery service that does not answer within this is replaced by the next")
      ->capture_default_str();
  app.add_option("--stale-after-ms", stale_after_ms,
                 "no publisher heard for this long: every market is served flagged stale and "
                 "/healthz answers 503")
      ->capture_default_str();
  app.add_option("--max-lag", config.health.max_lag,
                 "frames behind the newest announced seq still counted as current (/healthz and "
                 "the stream's stale flag)")
      ->capture_default_str();
  app.add_option("--heartbeat-ms", heartbeat_ms, "heartbeat to a stream client quiet this long")
      ->capture_default_str();
  app.add_option("--max-connections", config.limits.max_connections,
                 "open HTTP + WebSocket connections; more are answered 503")
      ->capture_default_str();
  app.add_option("--max-connection-rate", config.limits.per_address_per_second,
                 "new connections per second per client address; more are answered 429")
      ->capture_default_str();
  app.add_option("--connection-burst", config.limits.per_address_burst,
                 "new connections one address may open at once before the rate applies")
      ->capture_default_str();
  app.add_option("--max-message-bytes", config.max_message_bytes,
                 "largest client WebSocket message or HTTP request body (closed 1009 / 413)")
      ->capture_default_str();
  app.add_option("--idle-timeout-ms", idle_timeout_ms,
                 "close a connection that sends nothing (not even a pong) for this long")
      ->capture_default_str();
  app.add_option("--client-queue-bytes", config.stream.max_queue_bytes,
                 "per stream client: deltas queued past this are conflated (latest value per "
                 "market, flagged conflated)")
      ->capture_default_str();
  app.add_option("--image-part-bytes", config.stream.max_image_part_bytes,
                 "a stream image larger than this is sent in parts of about this size, each a "
                 "message with \"part\" and \"parts\" (0: always whole)")
      ->capture_default_str();
  app.add_option("--client-send-buffer-bytes", config.client_send_buffer_bytes,
                 "per stream client: the kernel send buffer (0: the OS default, which grows to "
                 "MBs of old deltas before the edge sees the client is behind)")
      ->capture_default_str();
  app.add_option("--client-max-delay-ms", client_max_delay_ms,
                 "per stream client: a delta queued this long means the client is behind: "
                 "conflate it too")
      ->capture_default_str();
  app.add_option("--slow-client-ms", slow_client_ms,
                 "disconnect a stream client (close 1008) when one write to it stays "
                 "incomplete this long")
      ->capture_default_str();
  app.add_option("--retain-frames", config.cache.retain_frames,
                 "changes kept for resume_from (also bounded by --retain-bytes)")
      ->capture_default_str();
  app.add_option("--retain-bytes", config.cache.retain_bytes, "bytes kept for resume_from")
      ->capture_default_str();
  app.add_option("--receive-hwm", config.subscriber.receive_hwm,
                 "ZeroMQ receive high-water mark per publisher (messages); past it frames are "
                 "dropped by ZeroMQ and recovered as gaps")
      ->capture_default_str();
  app.add_option("--receive-buffer-bytes", config.subscriber.receive_buffer_bytes,
                 "kernel receive buffer per publisher connection (0: the OS default)")
      ->capture_default_str();
  uint64_t audit_log_max_bytes = config.audit_log.max_file_bytes;
  app.add_option("--audit-log", config.audit_log.path,
                 "write a client audit log to FILE: JSON lines of every stream session (connect, "
                 "subscriptions, the seq of every image, delta, resume and conflation written "
                 "to it, disconnect), rotated; `odds-replay client-view` reads it")
      ->type_name("FILE");
  app.add_option("--audit-log-max-bytes", audit_log_max_bytes,
                 "rotate the audit log when it would pass this size (at least 65536)")
      ->capture_default_str();
  app.add_option("--audit-log-files", config.audit_log.files,
                 "audit log files kept: FILE and FILE.1 .. FILE.(N-1), the oldest deleted")
      ->capture_default_str();
  // CURVE on the publisher and recovery links (issue 14, README "Running it securely").
  std::string curve_key;
  std::vector<std::string> curve_server_keys;
  app.add_option("--curve-key", curve_key,
                 "this edge's CURVE secret key file (odds-keys generate; mode 0600): every --sub "
                 "and --recovery link a CURVE client. Without it they run in the clear");
  app.add_option("--curve-server-key", curve_server_keys,
                 "the publishers' public key files (their .pub): one per publisher, in --sub "
                 "order (its --recovery at the same place shares it), or one per URL (--sub "
                 "then --recovery), or one for all. A publisher without the matching secret key "
                 "gets nothing in, and is counted and logged")
      ->delimiter(',');
  // Edge security (issue 14, DESIGN section 10): TLS on the client port, bearer tokens, and the
  // header timeout against slow clients.
  uint64_t header_timeout_ms = 10000;
  app.add_option("--tls-cert", config.tls.cert_file,
                 "serve HTTPS and WSS: the PEM certificate (chain) of the port; needs --tls-key")
      ->type_name("FILE");
  app.add_option("--tls-key", config.tls.key_file, "the PEM private key of --tls-cert")
      ->type_name("FILE");
  app.add_option("--tokens", config.tokens_file,
                 "clients must send `Authorization: Bearer TOKEN` of a token in FILE (TOML "
                 "[[token]] tables: value, markets = \"all\" or [ids]; refused when others may "
                 "read it); else 401, on everything but /healthz")
      ->type_name("FILE");
  app.add_option("--header-timeout-ms", header_timeout_ms,
                 "close a connection whose request headers (or TLS handshake) take longer than "
                 "this from their first byte")
      ->capture_default_str();
  // Operating the edge (README "Operating the engine"): its config file and logs.
  oddsbus::tools::add_config_option(app);
  std::string log_format = "text";
  std::string log_level = "info";
  app.add_option("--log-format", log_format, "text, or json: one object a line")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  app.add_option("--log-level", log_level, "the lowest level logged: info, warn or error")
      ->check(CLI::IsMember({"info", "warn", "error"}))
      ->capture_default_str();
  bool print_config = false;
  app.add_flag("--print-config", print_config,
               "print the settings (flags and config file merged) as a config file, and exit")
      ->configurable(false);
  CLI11_PARSE(app, argc, argv);
  if (print_config) {
    std::printf("%s", oddsbus::tools::settings_as_config(app).c_str());
    return 0;
  }
  oddsbus::configure_log(*oddsbus::parse_log_format(log_format),
                         *oddsbus::parse_log_level(log_level), "edge");

  auto address = oddsbus::parse_host_port("--http", http);
  if (!address) return fail(address.error());
  config.http_host = address->host;
  config.http_port = address->port;
  config.subscriber.publisher_urls = subs;
  config.subscriber.recovery_urls = recoveries;
  if (curve_key.empty()) {
    if (!curve_server_keys.empty()) return fail("--curve-server-key needs --curve-key");
    oddsbus::log(oddsbus::LogLevel::kWarn,
                 "CURVE off: the publisher and recovery links run in the clear; anyone who can "
                 "bind where --sub points can feed this edge (give --curve-key and "
                 "--curve-server-key)");
  } else {
    if (curve_server_keys.empty()) {
      return fail("--curve-key needs --curve-server-key (the publishers' public keys)");
    }
    std::vector<std::string> urls = subs;
    urls.insert(urls.end(), recoveries.begin(), recoveries.end());
    // One key per publisher: its --recovery at the same place is the same node.
    if (curve_server_keys.size() == subs.size() && recoveries.size() == subs.size() &&
        curve_server_keys.size() > 1) {
      const std::vector<std::string> per_publisher = curve_server_keys;
      curve_server_keys.insert(curve_server_keys.end(), per_publisher.begin(), per_publisher.end());
    }
    auto client = oddsbus::curve::load_curve_client(curve_key, curve_server_keys, urls);
    if (!client) return fail(client.error().message);
    config.subscriber.curve = std::make_shared<const oddsbus::curve::CurveClient>(*client);
    oddsbus::log(oddsbus::LogLevel::kInfo, "CURVE on: key %s, %zu publisher link(s) authenticated",
                 oddsbus::curve::z85(client->own.public_key).c_str(), urls.size());
  }
  config.subscriber.arbiter.gap_timeout_ns = gap_timeout_ms * 1'000'000;
  config.subscriber.arbiter.request_timeout_ns = request_timeout_ms * 1'000'000;
  config.health.stale_after_ns = stale_after_ms * 1'000'000;
  config.health.gap_timeout_ns = gap_timeout_ms * 1'000'000;
  config.stream.heartbeat_interval_ns = heartbeat_ms * 1'000'000;
  config.stream.write_stall_timeout_ns = slow_client_ms * 1'000'000;
  config.stream.max_queue_delay_ns = client_max_delay_ms * 1'000'000;
  config.idle_timeout_ns = idle_timeout_ms * 1'000'000;
  if (gap_timeout_ms == 0 || stale_after_ms == 0 || heartbeat_ms == 0 || idle_timeout_ms == 0) {
    return fail(
        "--gap-timeout-ms, --stale-after-ms, --heartbeat-ms and --idle-timeout-ms must "
        "be positive");
  }
  config.header_timeout_ns = header_timeout_ms * 1'000'000;
  if (header_timeout_ms == 0) return fail("--header-timeout-ms must be positive");
  if (config.tls.cert_file.empty() != config.tls.key_file.empty()) {
    return fail("--tls-cert and --tls-key go together");
  }

  if (audit_log_max_bytes < 65536) return fail("--audit-log-max-bytes must be at least 65536");
  if (config.audit_log.files == 0) return fail("--audit-log-files must be at least 1");
  config.audit_log.max_file_bytes = audit_log_max_bytes;

  raise_open_file_limit();
  std::signal(SIGPIPE, SIG_IGN);
  // SIGINT and SIGTERM are taken by one thread with sigwait; every other thread (ZeroMQ's too)
  // inherits the mask that blocks them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  try {
    oddsbus::edge::EdgeServer server(config);
    std::thread signals([&] {
      int signal = 0;
      sigwait(&stop_signals, &signal);
      std::fprintf(stderr, "odds-edge: signal %d: stopping\n", signal);
      server.stop();
    });
    server.run();
    pthread_kill(signals.native_handle(), SIGTERM);  // harmless if it already returned
    signals.join();
  } catch (const std::exception& e) {
    return fail(e.what());
  }
  std::fprintf(stderr, "odds-edge: stopped\n");
  return 0;
}
