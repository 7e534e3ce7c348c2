// odds-bench's feed measurements (DESIGN section 8): how many provider messages per second each
// format adapter turns into events, against the bare parse of the same bytes by the library the
// adapter is built on, in the same run.
//
// A corpus is a pre-generated, in-memory run of one provider's messages (terminators stripped):
// the feed simulator's stream for each format with the mapping it declares, or a real capture. The
// measurements read it and never write it, so one corpus serves every run.
//
// Thread safety: each call owns the adapter or parser it creates; calls must not overlap (they
// would measure contention, not throughput).
#pragma once

#include <cstddef>
#include <cstdint>
#include <expected>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "feeds/mapping.h"

namespace oddsbus::bench {

// Which library parses the format without the adapter.
enum class BareParser : uint8_t {
  kSimdjson,  // simdjson ondemand, every value of the document visited (it parses lazily)
  kPugixml,   // pugixml load_buffer with its default options (it parses the whole DOM eagerly)
};

struct FeedCorpus {
  std::string name;    // for the table: "oddsjson (sim)"
  std::string key;     // for the JSON line: "oddsjson_sim"
  std::string format;  // make_adapter's word: "oddsjson", "betfair-stream", "uof-xml"
  std::string feed;    // the feed name the adapter is created with (and the mapping names)
  std::shared_ptr<const feeds::Mapping> mapping;  // null for oddsjson
  BareParser bare = BareParser::kSimdjson;
  // Every message back to back, then kPadding zero bytes, so the bare simdjson parse can read
  // each message in place (its contract: padding readable past the end of the input).
  std::string bytes;
  std::vector<std::string_view> messages;  // views into `bytes`, terminators stripped
  uint64_t message_bytes = 0;              // sum of the messages' sizes
  // Times a run goes through the messages, each pass with a fresh adapter (a short capture is
  // repeated to reach a measurable volume; replaying it into one adapter would not be real).
  unsigned passes = 1;

  static constexpr size_t kPadding = 64;  // >= simdjson::SIMDJSON_PADDING, checked where used
};

// `messages` messages of `format`'s simulated stream (feed_stream.h: the image of 100 live markets,
// then their updates as they settle and are replaced, with heartbeats and uof-xml alives as the
// provider sends them), with the mapping the simulation declares. Deterministic: the same arguments
// give the same bytes.
std::expected<FeedCorpus, std::string> make_sim_corpus(std::string_view format, uint64_t messages);

// The real Betfair capture at `path` (one message per line), with the mapping of its market
// (market 1.200806927, the tennis match in shared/data/betfair), passed over enough times to hold
// at least `min_messages`.
std::expected<FeedCorpus, std::string> make_capture_corpus(const std::filesystem::path& path,
                                                           uint64_t min_messages);

// One timed run over a corpus (all passes).
struct FeedRun {
  uint64_t messages = 0;  // messages parsed (adapter: accepted + rejected)
  uint64_t bytes = 0;     // message bytes parsed
  uint64_t events = 0;    // adapter: events produced; bare: JSON values visited, XML documents
  uint64_t rejected = 0;  // adapter: messages rejected; bare: documents that failed to parse
  uint64_t unknown = 0;   // adapter: unknown market and selection references
  uint64_t checksum = 0;  // folds what was read, so the compiler cannot drop the parse
  double seconds = 0;
  double messages_per_second() const {
    return seconds > 0 ? static_cast<double>(messages) / seconds : 0;
  }
  double megabytes_per_second() const {
    return seconds > 0 ? static_cast<double>(bytes) / 1e6 / seconds : 0;
  }
};

// The real adapter: make_adapter(format, feed, mapping), then Adapter::parse of every message into
// one reused std::vector<Event>, cleared between messages. The adapter is made before the clock
// starts. Errors only when the adapter cannot be made.
std::expected<FeedRun, std::string> run_adapter_parse(const FeedCorpus& corpus);

// The bare library parse of the same messages (see BareParser), parser state reused throughout.
std::expected<FeedRun, std::string> run_bare_parse(const FeedCorpus& corpus);

}  // namespace oddsbus::bench
