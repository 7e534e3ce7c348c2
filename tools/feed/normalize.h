// `odds-feed normalize` (DESIGN section 10): runs a captured feed file through the format's
// adapter (feeds/adapter.h) and prints the normalised events, one JSON object per line
// (tools/feed/event_json.h), with counts of what was read, produced, rejected and left unmapped.
//
// Input is split into messages by LineSplitter (LF or CRLF; a last line without a terminator
// counts). Rejections are counted by reason and never stop the run: only an unusable setup (bad
// format, unreadable or invalid mapping, no feed name) or an unreadable file is an error.
//
// Not thread-safe: one Normalizer per file.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <expected>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "feeds/adapter.h"
#include "feeds/line_splitter.h"
#include "feeds/mapping.h"
#include "feeds/rejection.h"

namespace oddsbus::feed_tool {

struct NormalizeOptions {
  std::string format;        // "oddsjson", "betfair-stream", "uof-xml"
  std::string mapping_path;  // empty: none (only oddsjson can do without)
  std::string feed_name;     // empty: the only feed name the mapping uses; "" for oddsjson
  size_t max_line = 16u << 20;
  size_t max_logged_rejections = 10;  // per file, to stderr with their line numbers
};

struct NormalizeSummary {
  uint64_t messages = 0;  // lines read, rejected ones included
  uint64_t events = 0;
  std::array<uint64_t, static_cast<size_t>(feeds::RejectReason::kCount)> rejected{};
  uint64_t unknown_markets = 0;
  uint64_t unknown_selections = 0;
  std::vector<std::string> unknown_ids;  // a sample, see Adapter::unknown_ids()

  uint64_t rejected_total() const;
};

// The feed name to read `mapping` with: `requested` when the mapping maps a market for it, else
// the only feed name the mapping uses. Errors say which names the mapping has and what to pass.
std::expected<std::string, std::string> resolve_feed_name(const feeds::Mapping& mapping,
                                                          const std::string& requested);

class Normalizer {
 public:
  // Loads the mapping (when given or needed) and makes the adapter. Errors are one line.
  static std::expected<Normalizer, std::string> create(const NormalizeOptions& options);

  Normalizer(Normalizer&&) noexcept;
  Normalizer& operator=(Normalizer&&) noexcept;
  ~Normalizer();

  // Feeds the next bytes of the file; appends one JSON line per event produced to `out`, and
  // logs the first few rejections to `log` (may be null) prefixed with `name`.
  void feed(std::string_view bytes, std::string& out, std::FILE* log, std::string_view name);
  // Ends the input: a last line without a terminator is still a message.
  void finish(std::string& out, std::FILE* log, std::string_view name);

  NormalizeSummary summary() const;
  const std::string& feed_name() const { return feed_name_; }

 private:
  Normalizer() : splitter_(1) {}

  NormalizeOptions options_;
  std::string feed_name_;
  std::unique_ptr<feeds::Mapping> mapping_;  // owned here: the adapter keeps a reference to it
  std::unique_ptr<feeds::Adapter> adapter_;
  feeds::LineSplitter splitter_;
  std::vector<feeds::Event> events_;
  NormalizeSummary summary_;
  size_t logged_ = 0;
};

// Normalises the file at `path` ("-" reads stdin) to `out`, logging to `log`. Errors (unusable
// options, unreadable file, write failure on `out`) are one line without the program name.
std::expected<NormalizeSummary, std::string> normalize_file(const NormalizeOptions& options,
                                                            const std::string& path, std::FILE* out,
                                                            std::FILE* log);

// The one summary line (without newline): messages, events, rejected by reason, unknown markets
// and selections, and the sampled unknown ids.
std::string format_summary(std::string_view path, const NormalizeSummary& summary);

}  // namespace oddsbus::feed_tool
