// The edge suite's publisher side: EdgeFeed (journal, recovery service, PUB) and RawHop (the
// baseline SUB), and the latency histogram both fill.
#include <bit>
#include <chrono>
#include <cstring>

#include "schemas/log.h"
#include "schemas/odds.h"
#include "schemas/state_digest.h"
#include "tools/bench/bench.h"
#include "tools/bench/edge_bench.h"

namespace oddsbus::bench {

namespace {

constexpr uint32_t kChannel = 0;
constexpr uint32_t kEpoch = 1;
constexpr uint32_t kNode = 1;

uint64_t market_id(size_t m) { return 1000 + m; }
uint64_t selection_id(size_t m, size_t s) { return market_id(m) * 100 + s + 1; }

struct Selection {
  uint64_t id;
  std::string name;
};

}  // namespace

uint64_t steady_ns() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}

// Values below 128 have a bucket each; above, 64 buckets per power of two.
size_t LatencyHistogram::bucket(uint64_t ns) {
  if (ns < 128) return static_cast<size_t>(ns);
  const int msb = 63 - std::countl_zero(ns);
  const int shift = msb - 6;
  const uint64_t sub = ns >> shift;  // 64..127
  return 128 + static_cast<size_t>(shift - 1) * 64 + static_cast<size_t>(sub - 64);
}

uint64_t LatencyHistogram::midpoint(size_t b) {
  if (b < 128) return b;
  const size_t shift = (b - 128) / 64 + 1;
  const uint64_t sub = (b - 128) % 64 + 64;
  return (sub << shift) + (uint64_t{1} << (shift - 1));
}

void LatencyHistogram::record(uint64_t ns) {
  ++counts_[bucket(ns)];
  ++total_;
}

void LatencyHistogram::merge(const LatencyHistogram& other) {
  for (size_t i = 0; i < kBuckets; ++i) counts_[i] += other.counts_[i];
  total_ += other.total_;
}

void LatencyHistogram::clear() {
  std::fill(counts_.begin(), counts_.end(), 0);
  total_ = 0;
}

uint64_t LatencyHistogram::quantile(double q) const {
  if (total_ == 0) return 0;
  const uint64_t rank =
      std::max<uint64_t>(1, static_cast<uint64_t>(q * static_cast<double>(total_) + 0.5));
  uint64_t seen = 0;
  for (size_t i = 0; i < kBuckets; ++i) {
    seen += counts_[i];
    if (seen >= rank) return midpoint(i);
  }
  return midpoint(kBuckets - 1);
}

std::expected<std::unique_ptr<EdgeFeed>, std::string> EdgeFeed::start(
    const EdgeFeedConfig& config) {
  std::unique_ptr<EdgeFeed> feed(new EdgeFeed());
  feed->config_ = config;
  feed->stamps_ = std::make_unique<Stamp[]>(kStampSlots);
  feed->market_seqs_.assign(config.markets, 0);
  for (const char* text : {"1.50", "1.91", "2.10", "2.50", "3.25", "4.00", "6.50", "11.0"}) {
    auto odds = parse_decimal_odds(text);
    if (!odds) return std::unexpected(std::string("edge feed: price ") + text + " does not parse");
    feed->prices_.push_back(*odds);
    feed->price_texts_.emplace_back(text);
  }

  engine::JournalConfig journal_config;
  journal_config.dir = (config.dir / "journal").string();
  journal_config.durability = engine::Durability::kNoSync;
  journal_config.node = kNode;
  journal_config.channel = kChannel;
  auto journal = engine::Journal::open(journal_config);
  if (!journal) return std::unexpected("edge feed: " + journal.error());
  feed->journal_ = std::move(*journal);

  // The markets, journaled (never published): the edge learns them from its start-up snapshot.
  feed->batch_.begin(kChannel, 1);
  for (size_t m = 0; m < config.markets; ++m) {
    std::vector<Selection> selections;
    for (size_t s = 0; s < config.selections; ++s) {
      selections.push_back({selection_id(m, s), "Runner " + std::to_string(s + 1)});
    }
    FrameHeader h;
    h.seq = m + 1;
    h.epoch = kEpoch;
    h.channel = kChannel;
    h.publisher = kNode;
    h.sequenced_ns = wall_clock_ns();
    h.source_ns = h.sequenced_ns;
    h.market_seq = ++feed->market_seqs_[m];
    const auto bytes = feed->builder_.market_definition(h, market_id(m), 500 + m / 10,
                                                        "Bench market " + std::to_string(m),
                                                        fb::MarketStatus::Open, selections);
    feed->aligned_.assign((bytes.size() + 7) / 8, 0);
    std::memcpy(feed->aligned_.data(), bytes.data(), bytes.size());
    feed->state_.apply(*fb::GetFrame(feed->aligned_.data()));
    feed->batch_.add(bytes);
  }
  if (auto ok = feed->commit(feed->batch_); !ok) return std::unexpected(ok.error());
  feed->last_published_seq_ = feed->last_seq_;

  try {
    feed->pub_ = std::make_unique<zmq::socket_t>(feed->context_, zmq::socket_type::pub);
    // No send limit: the load is paced and bounded; a PUB past its mark would drop silently.
    feed->pub_->set(zmq::sockopt::sndhwm, 0);
    feed->pub_->set(zmq::sockopt::linger, 0);
    feed->pub_->bind("tcp://127.0.0.1:*");
    feed->pub_url_ = feed->pub_->get(zmq::sockopt::last_endpoint);
    engine::RecoveryServiceConfig recovery_config;
    recovery_config.node = kNode;
    feed->recovery_ = std::make_unique<engine::RecoveryServer>(feed->context_, "tcp://127.0.0.1:*",
                                                               *feed->journal_, recovery_config);
    feed->recovery_url_ = feed->recovery_->endpoint();
  } catch (const zmq::error_t& e) {
    return std::unexpected(std::string("edge feed: ") + e.what());
  }
  EdgeFeed* raw = feed.get();
  feed->recovery_thread_ = std::thread([raw] { raw->recovery_->run(raw->recovery_stop_); });
  return feed;
}

EdgeFeed::~EdgeFeed() {
  recovery_stop_.store(true, std::memory_order_release);
  if (recovery_thread_.joinable()) recovery_thread_.join();
  recovery_.reset();
  pub_.reset();
}

std::span<const uint8_t> EdgeFeed::next_price() {
  const uint64_t k = next_price_++;
  const size_t m = k % config_.markets;
  const size_t s = (k / config_.markets) % config_.selections;
  const size_t p = (k / (config_.markets * config_.selections) + s) % prices_.size();
  FrameHeader h;
  h.seq = last_seq_ + batch_.count() + 1;
  h.epoch = kEpoch;
  h.channel = kChannel;
  h.publisher = kNode;
  h.sequenced_ns = wall_clock_ns();
  h.source_ns = h.sequenced_ns;
  h.market_seq = ++market_seqs_[m];
  const auto bytes = builder_.price(h, market_id(m), selection_id(m, s), prices_[p],
                                    price_texts_[p], "bench-edge");
  aligned_.assign((bytes.size() + 7) / 8, 0);
  std::memcpy(aligned_.data(), bytes.data(), bytes.size());
  state_.apply(*fb::GetFrame(aligned_.data()));
  return bytes;
}

std::expected<void, std::string> EdgeFeed::commit(const BatchWriter& batch) {
  const uint64_t last = batch.first_seq() + batch.count() - 1;
  if (auto ok = journal_->append(batch.first_seq(), last, batch.bytes()); !ok) {
    return std::unexpected("edge feed: journal: " + ok.error());
  }
  last_seq_ = last;
  if (recovery_) recovery_->wake();
  return {};
}

std::expected<uint64_t, std::string> EdgeFeed::publish_price() {
  batch_.begin(kChannel, last_seq_ + 1);
  batch_.add(next_price());
  if (auto ok = commit(batch_); !ok) return std::unexpected(ok.error());
  Stamp& stamp = stamps_[last_seq_ & kStampMask];
  const uint64_t now = steady_ns();
  stamp.ns.store(now, std::memory_order_relaxed);
  stamp.seq.store(last_seq_, std::memory_order_release);
  const auto bytes = batch_.bytes();
  pub_->send(zmq::const_buffer(bytes.data(), bytes.size()), zmq::send_flags::none);
  last_published_seq_ = last_seq_;
  last_send_ns_ = now;
  ++published_frames_;
  return last_seq_;
}

std::expected<void, std::string> EdgeFeed::journal_only(uint64_t frames) {
  while (frames > 0) {
    const uint64_t n = std::min<uint64_t>(frames, config_.journal_batch_frames);
    batch_.begin(kChannel, last_seq_ + 1);
    for (uint64_t i = 0; i < n; ++i) batch_.add(next_price());
    if (auto ok = commit(batch_); !ok) return ok;
    frames -= n;
  }
  return {};
}

void EdgeFeed::heartbeat_if_idle() {
  const uint64_t now = steady_ns();
  if (now - last_send_ns_ < config_.heartbeat_ns) return;
  FrameHeader h;
  h.seq = last_published_seq_;
  h.epoch = kEpoch;
  h.channel = kChannel;
  h.publisher = kNode;
  h.sequenced_ns = wall_clock_ns();
  heartbeat_batch_.begin(kChannel, last_published_seq_, kBatchHeartbeat);
  heartbeat_batch_.add(builder_.heartbeat(h, 1));
  const auto bytes = heartbeat_batch_.bytes();
  pub_->send(zmq::const_buffer(bytes.data(), bytes.size()), zmq::send_flags::none);
  last_send_ns_ = now;
}

uint64_t EdgeFeed::digest() const { return state_digest(state_); }

RawHop::RawHop(const EdgeFeed& feed, const std::string& url) : feed_(feed) {
  thread_ = std::thread([this, url] { run(url); });
}

RawHop::~RawHop() {
  stop_.store(true, std::memory_order_release);
  if (thread_.joinable()) thread_.join();
}

LatencyHistogram RawHop::take() {
  std::lock_guard lock(mutex_);
  LatencyHistogram out = histogram_;
  histogram_.clear();
  return out;
}

std::string RawHop::error() const {
  std::lock_guard lock(mutex_);
  return error_;
}

void RawHop::run(std::string url) {
  name_this_thread("bench-raw-sub");
  try {
    zmq::context_t context(1);
    zmq::socket_t socket(context, zmq::socket_type::sub);
    socket.set(zmq::sockopt::rcvhwm, 1'000'000);
    socket.set(zmq::sockopt::rcvtimeo, 50);
    socket.set(zmq::sockopt::linger, 0);
    socket.set(zmq::sockopt::subscribe, "");
    socket.connect(url);
    zmq::message_t message;
    while (!stop_.load(std::memory_order_acquire)) {
      if (!socket.recv(message)) continue;
      const uint64_t now = steady_ns();
      if (message.size() < kBatchHeaderSize) continue;
      BatchHeader header;
      std::memcpy(&header, message.data(), sizeof header);
      joined_.store(true, std::memory_order_release);
      if ((header.flags & kBatchHeartbeat) != 0) continue;
      if (const uint64_t sent = feed_.sent_ns(header.first_seq); sent != 0 && now >= sent) {
        std::lock_guard lock(mutex_);
        histogram_.record(now - sent);
      }
      frames_.fetch_add(header.count, std::memory_order_release);
    }
  } catch (const zmq::error_t& e) {
    std::lock_guard lock(mutex_);
    error_ = std::string("raw sub: ") + e.what();
  }
}

}  // namespace oddsbus::bench
