// The corpora of the feeds suite: simulated streams in each format, and the real Betfair capture.
#include <algorithm>
#include <fstream>
#include <iterator>

#include "feeds/sim/feed_stream.h"
#include "feeds/sim/mapping_writer.h"
#include "tools/bench/feeds_bench.h"

namespace oddsbus::bench {
namespace {

// The mapping of the capture's market, as tests/data/betfair/captures_mapping.toml has it.
constexpr std::string_view kCaptureMapping = R"(
[[market]]
id = 200806927
event = 31573045
name = "Tennis: Match Odds"
sources = ["bf"]
selections = [{ id = 1, name = "Runner 228749" }, { id = 2, name = "Runner 2857977" }]

[market.provider.bf]
market = "1.200806927"
selections = { "228749" = 1, "2857977" = 2 }
)";

std::string_view without_terminator(std::string_view line) {
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
  return line;
}

// Lays `lines` out back to back in corpus.bytes, padded, and points corpus.messages at them.
void fill(FeedCorpus& corpus, const std::vector<std::string_view>& lines) {
  size_t total = 0;
  for (std::string_view line : lines) total += line.size();
  corpus.bytes.clear();
  corpus.bytes.reserve(total + FeedCorpus::kPadding);
  for (std::string_view line : lines) corpus.bytes.append(line);
  corpus.bytes.append(FeedCorpus::kPadding, '\0');
  corpus.messages.clear();
  corpus.messages.reserve(lines.size());
  size_t offset = 0;
  for (std::string_view line : lines) {
    corpus.messages.emplace_back(corpus.bytes.data() + offset, line.size());
    offset += line.size();
  }
  corpus.message_bytes = total;
}

}  // namespace

std::expected<FeedCorpus, std::string> make_sim_corpus(std::string_view format_name,
                                                       uint64_t messages) {
  auto format = feeds::sim::parse_format(format_name);
  if (!format) return std::unexpected(format.error());

  feeds::sim::FeedStreamConfig config;
  config.format = *format;
  config.provider = std::string(feeds::sim::default_feed_name(*format));
  config.epoch_ms = 1'700'000'000'000;
  config.sim.seed = 42;
  config.sim.markets = 100;
  config.sim.rate = 1000;
  // Every writer makes at least one message per update, so this many updates are enough.
  config.sim.max_updates = messages;

  FeedCorpus corpus;
  corpus.name = std::string(format_name) + " (sim)";
  corpus.key = std::string(format_name) + "_sim";
  std::replace(corpus.key.begin(), corpus.key.end(), '-', '_');
  corpus.format = std::string(format_name);
  corpus.feed = config.provider;
  corpus.bare =
      *format == feeds::sim::Format::kUofXml ? BareParser::kPugixml : BareParser::kSimdjson;
  if (*format != feeds::sim::Format::kOddsJson) {
    const std::string toml = feeds::sim::write_mapping(feeds::sim::planned_markets(config.sim),
                                                       {{corpus.feed, *format}});
    auto mapping = feeds::Mapping::parse(toml, "simulated mapping");
    if (!mapping) return std::unexpected("simulated mapping: " + mapping.error());
    corpus.mapping = std::make_shared<const feeds::Mapping>(std::move(*mapping));
  }

  feeds::sim::FeedStream stream(config);
  std::vector<std::string> lines;
  lines.reserve(messages);
  // A provider connection starts with the image of the live markets, then the live stream.
  std::vector<feeds::sim::SimMessage> due;
  stream.image(0, due);
  while (lines.size() < messages) {
    for (feeds::sim::SimMessage& message : due) {
      if (lines.size() == messages) break;
      lines.push_back(std::move(message.bytes));
    }
    if (stream.over()) break;
    due.clear();
    stream.advance(stream.next_due_ns(), due);
  }
  std::vector<std::string_view> views;
  views.reserve(lines.size());
  for (const std::string& line : lines) views.push_back(without_terminator(line));
  fill(corpus, views);
  return corpus;
}

std::expected<FeedCorpus, std::string> make_capture_corpus(const std::filesystem::path& path,
                                                           uint64_t min_messages) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::unexpected("cannot read " + path.string());
  const std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  std::vector<std::string_view> lines;
  for (size_t start = 0; start < text.size();) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    const std::string_view line =
        without_terminator(std::string_view(text).substr(start, end - start));
    if (!line.empty()) lines.push_back(line);
    start = end + 1;
  }
  if (lines.empty()) return std::unexpected(path.string() + " holds no messages");

  auto mapping = feeds::Mapping::parse(kCaptureMapping, "capture mapping");
  if (!mapping) return std::unexpected("capture mapping: " + mapping.error());

  FeedCorpus corpus;
  corpus.name = "betfair capture (real)";
  corpus.key = "betfair_capture";
  corpus.format = "betfair-stream";
  corpus.feed = "bf";
  corpus.mapping = std::make_shared<const feeds::Mapping>(std::move(*mapping));
  corpus.bare = BareParser::kSimdjson;
  fill(corpus, lines);
  corpus.passes = static_cast<unsigned>(
      std::max<uint64_t>(1, (min_messages + lines.size() - 1) / lines.size()));
  return corpus;
}

}  // namespace oddsbus::bench
