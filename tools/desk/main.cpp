// odds-desk: the trading desk's command line over a node's desk API (engine/desk_protocol.h).
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>
#include <zmq.hpp>

#include <CLI/CLI.hpp>

#include "engine/desk_protocol.h"
#include "engine/time_text.h"
#include "schemas/curve_link.h"
#include "schemas/log.h"
#include "schemas/odds.h"

namespace {

using oddsbus::desk::Reply;
using oddsbus::desk::Request;

int fail(const std::string& message, int code = 1) {
  std::fprintf(stderr, "odds-desk: %s\n", message.c_str());
  return code;
}

std::string json_string(std::string_view text) {
  std::string out = "\"";
  for (const char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

enum class Asked { kReplied, kTimedOut };

// Sends `request` to `url` and waits for its reply, resending the same request (same client and
// id, so the node applies it at most once) after each timeout.
Asked ask(zmq::context_t& context, const std::string& url, const oddsbus::curve::CurveClient* curve,
          const Request& request, int timeout_ms, int attempts, Reply& reply) {
  zmq::socket_t socket(context, zmq::socket_type::dealer);
  socket.set(zmq::sockopt::linger, 0);
  oddsbus::curve::secure_client(socket, curve, url);
  socket.connect(url);
  const std::string text = oddsbus::desk::format_request(request);
  for (int attempt = 1; attempt <= attempts; ++attempt) {
    if (attempt > 1) {
      oddsbus::log(oddsbus::LogLevel::kWarn,
                   "odds-desk: no reply from %s in %d ms; retrying (%d/%d)", url.c_str(),
                   timeout_ms, attempt, attempts);
    }
    socket.send(zmq::buffer(text), zmq::send_flags::none);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (true) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) break;
      zmq::pollitem_t item{socket.handle(), 0, ZMQ_POLLIN, 0};
      if (zmq::poll(&item, 1, left) == 0) break;
      zmq::message_t message;
      if (!socket.recv(message, zmq::recv_flags::dontwait)) continue;
      auto parsed = oddsbus::desk::parse_reply(message.to_string_view());
      if (!parsed) {
        oddsbus::log(oddsbus::LogLevel::kWarn, "odds-desk: ignoring a reply I cannot read: %s",
                     parsed.error().c_str());
        continue;
      }
      if (parsed->id != request.id && parsed->id != "-") continue;  // a late answer to another
      reply = std::move(*parsed);
      return Asked::kReplied;
    }
  }
  return Asked::kTimedOut;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "odds-desk: a trading desk's requests to an oddsbus node: set a price, suspend, "
      "reopen, settle, or release a market back to its feeds; suspend a whole event; list the "
      "markets desks hold."};
  app.require_subcommand(1);
  app.failure_message([](const CLI::App*, const CLI::Error& e) {
    return std::string("odds-desk: ") + e.what() + " (see --help)\n";
  });
  app.footer(
      "A price, suspension or reopening puts the market under desk control: its feeds' prices "
      "and statuses are held back until `release` (or the --for expiry) hands it back with the "
      "feeds' current view. Each request is retried on timeout under the same client and request "
      "id, and the node applies it at most once; pass --request-id to make a retry across runs "
      "safe too.\n\n"
      "Overrides are journaled: a restarted node, or a new primary after a takeover, still holds "
      "them (and their expiry), and a retried request gets its first ack.\n\n"
      "stdout: one JSON line, {\"request\": ID, \"seq\": N, \"epoch\": E} when applied (seq of "
      "the request's frame), or {\"request\": ID, \"rejected\": REASON, \"detail\": TEXT}; for "
      "held, {\"request\": ID, \"held\": [{\"market\": M, \"identity\": WHO, \"client\": C, "
      "\"request_id\": R, \"since\": ISO8601, \"expires\": ISO8601 or null}]}.\n"
      "Exit status: 0 applied; 2 rejected by the node (REASON on stderr; for not-primary, the "
      "primary's desk URL); 3 no reply; 1 or CLI11's codes for bad arguments.");

  std::string url;
  std::string client = "odds-desk";
  std::string request_id;
  int timeout_ms = 2000;
  int attempts = 3;
  bool follow = false;
  app.add_option("--desk", url, "the node's desk API endpoint, e.g. tcp://127.0.0.1:7004")
      ->required();
  app.add_option("--client", client, "client name the node remembers requests under")
      ->capture_default_str();
  app.add_option("--request-id", request_id,
                 "this request's id (default: made up from the clock and process id)");
  app.add_option("--timeout-ms", timeout_ms, "how long to wait for each reply")
      ->capture_default_str()
      ->check(CLI::Range(1, 600000));
  app.add_option("--attempts", attempts, "how many times to send the request before giving up")
      ->capture_default_str()
      ->check(CLI::Range(1, 100));
  app.add_flag("--follow-primary", follow,
               "when the node says it is not primary, ask the primary it names (once)");
  std::string curve_key;
  std::vector<std::string> curve_server_keys;
  app.add_option("--curve-key", curve_key,
                 "this desk's CURVE secret key file (odds-keys generate; mode 0600; its public "
                 "key must be on the node's --curve-allow list). Without it the request goes "
                 "in the clear");
  app.add_option("--curve-server-key", curve_server_keys,
                 "the node's public key file (its .pub); with --follow-primary a second one for "
                 "the primary it names (default: the same)")
      ->delimiter(',');

  Request request;
  uint64_t for_ms = 0;
  auto* set_price = app.add_subcommand("set-price",
                                       "Set a selection's price; the desk holds the "
                                       "market.");
  set_price->add_option("MARKET", request.market, "canonical market id")->required();
  set_price->add_option("SELECTION", request.selection, "canonical selection id")->required();
  set_price
      ->add_option("ODDS", request.odds,
                   "decimal (2.50), fractional (5/2, evens) or "
                   "American (+150, -110) odds")
      ->required();
  set_price->add_option("--for", for_ms, "hand the market back to its feeds after MS ms");
  auto* suspend = app.add_subcommand("suspend",
                                     "Suspend a market (reason trader); the desk "
                                     "holds it.");
  suspend->add_option("MARKET", request.market, "canonical market id")->required();
  suspend->add_option("--for", for_ms, "hand the market back to its feeds after MS ms");
  auto* reopen = app.add_subcommand("reopen",
                                    "Reopen a market (reason trader); the desk holds "
                                    "it.");
  reopen->add_option("MARKET", request.market, "canonical market id")->required();
  reopen->add_option("--for", for_ms, "hand the market back to its feeds after MS ms");
  auto* settle = app.add_subcommand("settle", "Settle a market with its winning selections.");
  settle->add_option("MARKET", request.market, "canonical market id")->required();
  settle->add_option("WINNER", request.winners, "winning selection ids (none: a void market)");
  auto* release = app.add_subcommand("release", "Hand a market the desk holds back to its feeds.");
  release->add_option("MARKET", request.market, "canonical market id")->required();
  auto* suspend_event = app.add_subcommand(
      "suspend-event",
      "Suspend every market of an event in one frame (reason trader); the desk holds them.");
  suspend_event->add_option("EVENT", request.event, "canonical event id")->required();
  suspend_event->add_option("--for", for_ms, "hand the markets back to their feeds after MS ms");
  auto* held = app.add_subcommand(
      "held", "List the markets desks hold: who, by which request, since and until when.");

  CLI11_PARSE(app, argc, argv);

  if (set_price->parsed()) request.command = oddsbus::desk::Command::kSetPrice;
  if (suspend->parsed()) request.command = oddsbus::desk::Command::kSuspend;
  if (reopen->parsed()) request.command = oddsbus::desk::Command::kReopen;
  if (settle->parsed()) request.command = oddsbus::desk::Command::kSettle;
  if (release->parsed()) request.command = oddsbus::desk::Command::kRelease;
  if (suspend_event->parsed()) request.command = oddsbus::desk::Command::kSuspendEvent;
  if (held->parsed()) request.command = oddsbus::desk::Command::kHeld;
  request.override_for_ms = for_ms;
  request.client = client;
  request.id = !request_id.empty()
                   ? request_id
                   : std::to_string(oddsbus::wall_clock_ns()) + "-" + std::to_string(::getpid());
  if (request.command == oddsbus::desk::Command::kSetPrice) {
    if (auto odds = oddsbus::parse_odds(request.odds); !odds) {
      return fail("bad odds '" + request.odds +
                  "': " + std::string(oddsbus::to_string(odds.error())));
    }
  }
  // The same checks the node makes on the text, so a bad argument fails here with its reason.
  if (auto checked = oddsbus::desk::parse_request(oddsbus::desk::format_request(request));
      !checked) {
    return fail(checked.error());
  }

  std::optional<oddsbus::curve::CurveClient> curve;
  if (!curve_key.empty()) {
    if (curve_server_keys.empty() || curve_server_keys.size() > 2) {
      return fail("--curve-key needs --curve-server-key FILE[,FILE] (the node's, the primary's)");
    }
    auto loaded = oddsbus::curve::load_curve_client(curve_key, {curve_server_keys[0]}, {url});
    if (!loaded) return fail(loaded.error().message);
    curve = std::move(*loaded);
  } else if (!curve_server_keys.empty()) {
    return fail("--curve-server-key needs --curve-key");
  }

  try {
    zmq::context_t context(1);
    Reply reply;
    if (ask(context, url, curve ? &*curve : nullptr, request, timeout_ms, attempts, reply) ==
        Asked::kTimedOut) {
      return fail("no reply from " + url + " after " + std::to_string(attempts) + " attempt(s)", 3);
    }
    if (follow && !reply.ok && reply.reason == oddsbus::desk::RejectReason::kNotPrimary &&
        reply.detail != "unknown" && reply.detail != url) {
      oddsbus::log(oddsbus::LogLevel::kInfo, "odds-desk: %s is not primary; asking %s", url.c_str(),
                   reply.detail.c_str());
      const std::string primary = reply.detail;
      if (curve) {
        auto key = oddsbus::curve::load_public_key(curve_server_keys.back());
        if (!key) return fail(key.error().message);
        curve->servers.emplace_back(primary, *key);
      }
      if (ask(context, primary, curve ? &*curve : nullptr, request, timeout_ms, attempts, reply) ==
          Asked::kTimedOut) {
        return fail("no reply from primary " + primary, 3);
      }
    }
    if (reply.ok && reply.held_list) {
      std::string out = "{\"request\": " + json_string(request.id) + ", \"held\": [";
      for (size_t i = 0; i < reply.held.size(); ++i) {
        const oddsbus::desk::HeldEntry& h = reply.held[i];
        out += (i == 0 ? "" : ", ") + std::string("{\"market\": ") + std::to_string(h.market) +
               ", \"identity\": " + json_string(h.identity) +
               ", \"client\": " + json_string(h.client) +
               ", \"request_id\": " + json_string(h.request_id) + ", \"since\": \"";
        oddsbus::engine::append_iso8601_ns(out, h.since_ns);
        out += "\", \"expires\": ";
        if (h.expires_ns == 0) {
          out += "null";
        } else {
          out += "\"";
          oddsbus::engine::append_iso8601_ns(out, h.expires_ns);
          out += "\"";
        }
        out += "}";
      }
      std::printf("%s]}\n", out.c_str());
      return 0;
    }
    if (reply.ok) {
      std::printf("{\"request\": %s, \"seq\": %llu, \"epoch\": %u}\n",
                  json_string(request.id).c_str(), static_cast<unsigned long long>(reply.seq),
                  reply.epoch);
      return 0;
    }
    const std::string reason(oddsbus::desk::to_string(reply.reason));
    std::printf("{\"request\": %s, \"rejected\": %s, \"detail\": %s}\n",
                json_string(request.id).c_str(), json_string(reason).c_str(),
                json_string(reply.detail).c_str());
    return fail("rejected: " + reason + (reply.detail.empty() ? "" : " " + reply.detail), 2);
  } catch (const zmq::error_t& e) {
    return fail("--desk " + url + ": " + e.what());
  }
}
