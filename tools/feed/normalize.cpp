#include "tools/feed/normalize.h"

#include <cerrno>
#include <cinttypes>
#include <cstring>
#include <set>

#include "schemas/append_printf.h"
#include "tools/feed/event_json.h"

namespace oddsbus::feed_tool {
namespace {

constexpr size_t kReadChunk = 1 << 20;
constexpr size_t kFlushBytes = 1 << 16;

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};

std::string joined(const std::set<std::string>& names) {
  std::string out;
  for (const auto& name : names) {
    if (!out.empty()) out += ", ";
    out += name;
  }
  return out;
}

bool write_all(std::FILE* out, std::string& text) {
  if (text.empty()) return true;
  const bool ok = std::fwrite(text.data(), 1, text.size(), out) == text.size();
  text.clear();
  return ok;
}

}  // namespace

uint64_t NormalizeSummary::rejected_total() const {
  uint64_t total = 0;
  for (const uint64_t n : rejected) total += n;
  return total;
}

std::expected<std::string, std::string> resolve_feed_name(const feeds::Mapping& mapping,
                                                          const std::string& requested) {
  std::set<std::string> names;
  for (const auto& market : mapping.markets()) {
    for (const auto& provider : market.providers) names.insert(provider.feed);
  }
  if (names.empty()) return std::unexpected("the mapping maps no provider ids for any feed");
  if (!requested.empty()) {
    if (names.contains(requested)) return requested;
    return std::unexpected("the mapping has no provider section for feed name '" + requested +
                           "' (it has: " + joined(names) + ")");
  }
  if (names.size() == 1) return *names.begin();
  return std::unexpected("the mapping names several feeds (" + joined(names) +
                         "): choose one with --feed-name NAME");
}

Normalizer::Normalizer(Normalizer&&) noexcept = default;
Normalizer& Normalizer::operator=(Normalizer&&) noexcept = default;
Normalizer::~Normalizer() = default;

std::expected<Normalizer, std::string> Normalizer::create(const NormalizeOptions& options) {
  Normalizer n;
  n.options_ = options;
  n.splitter_ = feeds::LineSplitter(options.max_line);
  n.feed_name_ = options.feed_name;
  const bool needs_mapping = options.format == "betfair-stream" || options.format == "uof-xml";
  if (needs_mapping && options.mapping_path.empty()) {
    return std::unexpected("--format " + options.format +
                           " needs --mapping FILE to map provider ids to canonical ids");
  }
  if (!options.mapping_path.empty()) {
    auto mapping = feeds::Mapping::load(options.mapping_path);
    if (!mapping) return std::unexpected(mapping.error());
    n.mapping_ = std::make_unique<feeds::Mapping>(std::move(*mapping));
    if (needs_mapping) {
      auto name = resolve_feed_name(*n.mapping_, options.feed_name);
      if (!name) return std::unexpected(options.mapping_path + ": " + name.error());
      n.feed_name_ = std::move(*name);
    }
  }
  auto adapter = feeds::make_adapter(options.format, n.feed_name_, n.mapping_.get());
  if (!adapter) return std::unexpected(adapter.error());
  n.adapter_ = std::move(*adapter);
  return n;
}

void Normalizer::feed(std::string_view bytes, std::string& out, std::FILE* log,
                      std::string_view name) {
  auto reject = [&](feeds::RejectReason reason, std::string_view detail) {
    ++summary_.rejected[static_cast<size_t>(reason)];
    if (log == nullptr || logged_ >= options_.max_logged_rejections) return;
    ++logged_;
    std::fprintf(log, "odds-feed: %.*s:%" PRIu64 ": rejected %s%s%.*s\n",
                 static_cast<int>(name.size()), name.data(), summary_.messages,
                 std::string(feeds::to_string(reason)).c_str(), detail.empty() ? "" : ": ",
                 static_cast<int>(detail.size()), detail.data());
  };
  splitter_.feed(bytes, [&](std::string_view line, bool too_long) {
    ++summary_.messages;
    if (too_long) {
      reject(feeds::RejectReason::kLineTooLong, "");
      return;
    }
    events_.clear();
    if (auto parsed = adapter_->parse(line, events_); !parsed) {
      reject(parsed.error().reason, parsed.error().detail);
      return;
    }
    for (const auto& event : events_) {
      append_event_json(out, event);
      out += '\n';
    }
    summary_.events += events_.size();
  });
}

void Normalizer::finish(std::string& out, std::FILE* log, std::string_view name) {
  feed("\n", out, log, name);
}

NormalizeSummary Normalizer::summary() const {
  NormalizeSummary s = summary_;
  s.unknown_markets = adapter_->counters().unknown_markets;
  s.unknown_selections = adapter_->counters().unknown_selections;
  s.unknown_ids = adapter_->unknown_ids();
  return s;
}

std::expected<NormalizeSummary, std::string> normalize_file(const NormalizeOptions& options,
                                                            const std::string& path, std::FILE* out,
                                                            std::FILE* log) {
  auto normalizer = Normalizer::create(options);
  if (!normalizer) return std::unexpected(normalizer.error());

  std::unique_ptr<std::FILE, FileCloser> owned;
  std::FILE* in = stdin;
  if (path != "-") {
    owned.reset(std::fopen(path.c_str(), "rb"));
    if (!owned) return std::unexpected("cannot read " + path + ": " + std::strerror(errno));
    in = owned.get();
  }
  std::vector<char> buffer(kReadChunk);
  std::string text;
  while (true) {
    const size_t n = std::fread(buffer.data(), 1, buffer.size(), in);
    if (n == 0) {
      if (std::ferror(in)) return std::unexpected("error reading " + path);
      break;
    }
    normalizer->feed(std::string_view(buffer.data(), n), text, log, path);
    if (text.size() >= kFlushBytes && !write_all(out, text)) {
      return std::unexpected(std::string("cannot write the events: ") + std::strerror(errno));
    }
  }
  normalizer->finish(text, log, path);
  if (!write_all(out, text) || std::fflush(out) != 0) {
    return std::unexpected(std::string("cannot write the events: ") + std::strerror(errno));
  }
  return normalizer->summary();
}

std::string format_summary(std::string_view path, const NormalizeSummary& summary) {
  std::string out;
  append_printf(out, "%.*s: messages %" PRIu64 ", events %" PRIu64 ", rejected %" PRIu64,
                static_cast<int>(path.size()), path.data(), summary.messages, summary.events,
                summary.rejected_total());
  if (summary.rejected_total() > 0) {
    out += " (";
    bool first = true;
    for (size_t i = 0; i < summary.rejected.size(); ++i) {
      if (summary.rejected[i] == 0) continue;
      append_printf(out, "%s%s %" PRIu64, first ? "" : ", ",
                    std::string(feeds::kRejectReasonNames[i]).c_str(), summary.rejected[i]);
      first = false;
    }
    out += ')';
  }
  append_printf(out, ", unknown markets %" PRIu64 ", unknown selections %" PRIu64,
                summary.unknown_markets, summary.unknown_selections);
  if (!summary.unknown_ids.empty()) {
    out += ", unknown ids: ";
    for (size_t i = 0; i < summary.unknown_ids.size(); ++i) {
      if (i > 0) out += ", ";
      out += summary.unknown_ids[i];
    }
  }
  return out;
}

}  // namespace oddsbus::feed_tool
