// A provider format adapter: a pure parser, with whatever per-provider state the format needs
// (Betfair's price ladders), from one provider message to normalised events with canonical ids.
//
// Contract for every adapter:
//  - parse() appends zero or more events to `out` (never clears it) and returns {} for a message
//    it understood, or a Rejection (malformed, unknown message kind) having appended nothing and
//    changed no state.
//  - Provider ids the mapping does not know are not guessed: the part of the message that names
//    them is skipped and counted in counters().unknown_markets / unknown_selections, and a few of
//    the ids are kept in unknown_ids() for the operator. The rest of the message still applies.
//  - Every event carries source = the feed name, the provider's timestamp (source_ns) when the
//    message has one, and canonical ids only. Prices are exact (parsed from the message text,
//    never through a binary float).
//  - Liveness messages (heartbeats, alive) become kHeartbeat events; a provider saying it is down
//    (uof-xml alive subscribed="0") becomes a kSourceStatus event with source_up = false.
//
// Thread safety: none; one adapter per provider, used by that provider's thread.
#pragma once

#include <cstdint>
#include <expected>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "feeds/event.h"
#include "feeds/mapping.h"
#include "feeds/rejection.h"

namespace oddsbus::feeds {

struct AdapterCounters {
  uint64_t messages = 0;            // messages understood
  uint64_t events = 0;              // events produced
  uint64_t heartbeats = 0;          // liveness messages
  uint64_t rejected = 0;            // messages rejected (by reason in the caller's counts)
  uint64_t unknown_markets = 0;     // market references the mapping does not know
  uint64_t unknown_selections = 0;  // selection references the mapping does not know
};

class Adapter {
 public:
  virtual ~Adapter() = default;

  virtual std::expected<void, Rejection> parse(std::string_view message,
                                               std::vector<Event>& out) = 0;

  const AdapterCounters& counters() const { return counters_; }
  // Up to kUnknownIdSamples distinct unmapped provider ids seen, e.g. "market 1.23", "runner 47".
  const std::vector<std::string>& unknown_ids() const { return unknown_ids_; }

  static constexpr size_t kUnknownIdSamples = 32;

 protected:
  void note_unknown(std::string id) {
    if (unknown_ids_.size() >= kUnknownIdSamples) return;
    for (const auto& known : unknown_ids_) {
      if (known == id) return;
    }
    unknown_ids_.push_back(std::move(id));
  }

  AdapterCounters counters_;
  std::vector<std::string> unknown_ids_;
};

// Formats this build understands: "oddsjson", "betfair-stream", "uof-xml".
// betfair-stream and uof-xml need a mapping; oddsjson carries canonical ids and needs none.
// Returns a message saying what is wrong for an unknown format or a missing mapping.
std::expected<std::unique_ptr<Adapter>, std::string> make_adapter(std::string_view format,
                                                                  const std::string& feed_name,
                                                                  const Mapping* mapping);

}  // namespace oddsbus::feeds
