// One Betfair Exchange Stream API message, parsed and checked but not yet applied: the scratch
// form the StreamAdapter reads so that a message it rejects changes nothing.
//
// StreamParser turns a message's text into a StreamMessage. It checks every field oddsbus reads
// (types, required ids, prices as exact decimal odds) and skips the rest (`atl`, `trd`, `tv`,
// most of `marketDefinition`, ...). Runner and ladder entries live in flat arrays that the
// market and runner changes index by [begin, end), so a parser reused for every message
// allocates nothing once its arrays have grown.
//
// Views in a StreamMessage point into the parser's buffers: valid until its next parse().
// Thread safety: none; one parser per adapter.
#pragma once

#include <cstdint>
#include <expected>
#include <memory>
#include <string_view>
#include <vector>

#include "feeds/betfair/runner_ladder.h"
#include "feeds/rejection.h"

namespace oddsbus::feeds::betfair {

enum class Op : uint8_t { kConnection, kStatus, kMarketChange };

// A marketDefinition's `status`. kOther: INACTIVE or a value this build does not know.
enum class DefinitionStatus : uint8_t { kNone, kOpen, kSuspended, kClosed, kOther };

struct AtbDelta {  // [price, size]
  Price price;
  bool remove = false;  // size 0
};

struct BatbDelta {  // [level, price, size]; a removal ([level, 0, 0]) carries no price
  uint32_t level = 0;
  Price price;
  bool remove = false;  // size 0
};

struct RunnerChange {  // an entry of `rc`
  uint64_t id = 0;
  std::string_view id_text;  // the id's JSON number text, as the mapping names runners
  std::string_view hc;       // the handicap's JSON number text; empty when absent or null
  bool has_ltp = false;
  Price ltp;
  uint32_t atb_begin = 0, atb_end = 0;    // into StreamMessage::atb
  uint32_t batb_begin = 0, batb_end = 0;  // into StreamMessage::batb
};

struct DefinitionRunner {  // an entry of marketDefinition.runners
  uint64_t id = 0;
  std::string_view id_text;
  std::string_view hc;   // as in RunnerChange
  bool winner = false;   // status WINNER
  bool removed = false;  // status REMOVED or REMOVED_VACANT: a non-runner, it has no price
};

struct MarketChange {   // an entry of `mc`
  std::string_view id;  // "1.234567890"
  bool image = false;   // img: true
  bool has_definition = false;
  DefinitionStatus status = DefinitionStatus::kNone;
  uint32_t definition_runners_begin = 0, definition_runners_end = 0;
  uint32_t runner_changes_begin = 0, runner_changes_end = 0;
};

struct StreamMessage {
  Op op = Op::kConnection;

  // op "status"
  bool failure = false;            // statusCode FAILURE
  bool connection_closed = false;  // connectionClosed: true

  // op "mcm"
  std::string_view clk;  // empty when absent
  std::string_view initial_clk;
  bool has_pt = false;
  uint64_t pt_ms = 0;
  bool heartbeat = false;  // ct HEARTBEAT
  bool sub_image = false;  // ct SUB_IMAGE: the state of every subscribed market, replacing all
  // segmentType: a change split over several messages (SEG_START, SEG..., SEG_END); when absent
  // the message is the whole change, both its start and its end.
  bool segment_start = true;
  bool segment_end = true;
  bool has_status = false;
  uint64_t status = 0;  // 503: the stream's data may be stale
  std::vector<MarketChange> markets;
  std::vector<RunnerChange> runner_changes;
  std::vector<DefinitionRunner> definition_runners;
  std::vector<AtbDelta> atb;
  std::vector<BatbDelta> batb;

  void clear();
};

class StreamParser {
 public:
  StreamParser();
  ~StreamParser();
  StreamParser(StreamParser&&) noexcept;
  StreamParser& operator=(StreamParser&&) noexcept;

  // Parses one message (without its line ending) into `out`, replacing what it held. Returns a
  // Rejection for text that is not a JSON object (kMalformedJson), a missing `op` or required id
  // (kMissingField), a field of the wrong type (kBadFieldType), a price that is not decimal odds
  // (kBadOdds) or a handicap that is not a decimal number (kBadFieldType), or an `op` other than
  // connection, status and mcm (kUnknownMessage); `out` then holds nothing of use.
  std::expected<void, Rejection> parse(std::string_view text, StreamMessage& out);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace oddsbus::feeds::betfair
