// Writers turn simulator events into provider messages: one line each (terminator included), in
// one of the three feed formats, with the provider ids the sim mapping declares:
//   - oddsjson (DESIGN section 10): canonical ids; every line carries "provider" (the feed name),
//     "pseq" (the message's seq) and "ts" (ms); image lines carry no pseq. LF.
//   - betfair-stream: "op":"mcm" with "clk" (the seq as a string) and "pt" (ms); market id
//     "1.<canonical>", runner id 100 + selection; a market's first appearance (and every image) is
//     an "img":true change with its marketDefinition and every runner's batb level 0 and ltp;
//     prices are "batb":[[0,price,size]] deltas with "ltp"; status changes resend the whole
//     marketDefinition (OPEN/SUSPENDED, and CLOSED with WINNER/LOSER runners on settlement);
//     heartbeats are {"op":"mcm","clk":..,"pt":..,"ct":"HEARTBEAT"}. CRLF.
//   - uof-xml: event "sr:match:<event>", market id "1" without specifiers, outcomes "1".."3";
//     odds_change carries the market's status and all its outcomes; suspension is a bet_stop,
//     settlement a bet_settlement (result 1/0); heartbeats are <alive subscribed="1"/>. One
//     document per line, LF.
//
// Every live message gets the next seq (1, 2, ...: the provider's own sequence, the same bytes on
// every line of the provider); image messages are per connection and carry seq 0.
//
// Thread safety: none; one writer per stream.
#pragma once

#include <cstdint>
#include <expected>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "feeds/sim/market_simulator.h"

namespace oddsbus::feeds::sim {

enum class Format : uint8_t { kOddsJson, kBetfairStream, kUofXml };

// "oddsjson", "betfair-stream", "uof-xml"; an error names the accepted words.
std::expected<Format, std::string> parse_format(std::string_view text);
std::string_view to_string(Format format);
// The feed name a format's mapping uses unless told otherwise: "oj", "bf", "sr".
std::string_view default_feed_name(Format format);

// Provider ids (see the header comment).
std::string betfair_market_id(uint64_t canonical_market);  // "1.1001"
inline uint64_t betfair_runner_id(uint64_t selection) { return 100 + selection; }
std::string uof_event_id(uint64_t canonical_event);  // "sr:match:501"

// One fact a message conveys, for the record file and for tests.
struct SimFact {
  enum class Kind : uint8_t { kMarket, kPrice, kStatus, kSettle, kHeartbeat };
  Kind kind = Kind::kHeartbeat;
  uint64_t market = 0;
  uint64_t event = 0;                   // kMarket
  uint64_t selection = 0;               // kPrice
  uint32_t price_e4 = 0;                // kPrice
  SimStatus status = SimStatus::kOpen;  // kMarket, kStatus, kSettle
  uint64_t winner = 0;                  // kSettle
};
std::string_view to_string(SimFact::Kind kind);  // "market", "price", "status", ...

struct SimMessage {
  uint64_t seq = 0;     // provider seq from 1; 0 for image messages
  uint64_t at_ns = 0;   // sim time it was produced
  std::string bytes{};  // the line, terminator included
  std::vector<SimFact> facts{};
  bool image = false;
};

class Writer {
 public:
  virtual ~Writer() = default;

  // Appends the messages for one simulator event; `ts_ms` is the provider timestamp.
  virtual void write(const SimEvent& event, uint64_t ts_ms, std::vector<SimMessage>& out) = 0;
  virtual void heartbeat(uint64_t at_ns, uint64_t ts_ms, std::vector<SimMessage>& out) = 0;
  // The current state of `live` markets for a client that just connected (seq 0).
  virtual void image(const std::vector<SimMarket>& live, uint64_t at_ns, uint64_t ts_ms,
                     std::vector<SimMessage>& out) const = 0;

  uint64_t last_seq() const { return seq_; }

 protected:
  uint64_t next_seq() { return ++seq_; }

 private:
  uint64_t seq_ = 0;
};

// `provider` is what oddsjson lines name in "provider" (the feed name).
std::unique_ptr<Writer> make_writer(Format format, std::string provider);
std::unique_ptr<Writer> make_oddsjson_writer(std::string provider);
std::unique_ptr<Writer> make_betfair_writer();
std::unique_ptr<Writer> make_uof_writer();

// Facts shared by the writers: a started market (its definition, then every price).
void append_market_facts(const SimMarket& market, std::vector<SimFact>& facts);

}  // namespace oddsbus::feeds::sim
