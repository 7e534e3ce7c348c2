#include "engine/journal_republisher.h"

#include <algorithm>
#include <chrono>
#include <cstring>

#include "engine/journal_scan.h"

namespace oddsbus::engine {
namespace {

// Records read ahead at a time: bounded in number and bytes, so a read transaction is short and
// memory stays small whatever the range.
constexpr size_t kReadAheadRecords = 256;
constexpr size_t kReadAheadBytes = size_t{8} << 20;
// The longest sleep between checks of `stop`.
constexpr uint64_t kMaxSleepNs = 50'000'000;

std::string seq_text(uint64_t seq) { return std::to_string(seq); }

}  // namespace

JournalRepublisher::JournalRepublisher(const Journal& journal, RepublishConfig config)
    : journal_(journal), config_(std::move(config)), node_(journal.info().node) {}

JournalRepublisher::~JournalRepublisher() {
  recovery_stop_.store(true, std::memory_order_release);
  if (recovery_ != nullptr) recovery_->wake();
  if (recovery_thread_.joinable()) recovery_thread_.join();
  recovery_.reset();
  publisher_.reset();
}

std::expected<void, std::string> JournalRepublisher::start() {
  const uint64_t last = journal_.last_seq();
  if (last == 0) return std::unexpected("journal " + journal_.dir() + " holds no frames");
  const uint64_t from = std::max<uint64_t>(config_.from_seq, 1);
  const uint64_t to = std::min(config_.to_seq, last);
  if (from > to) {
    return std::unexpected("--from-seq " + seq_text(from) + " is past " +
                           (config_.to_seq < last ? "--to-seq " + seq_text(config_.to_seq)
                                                  : "the journal's last seq " + seq_text(last)));
  }

  // Whole records: find where the record holding `from` begins and where the one holding `to`
  // ends.
  JournalReader reader(journal_);
  BatchHeader first_header;
  bool found = false;
  auto scanned = reader.scan(from, [&](uint64_t, std::span<const uint8_t> bytes) {
    if (bytes.size() >= sizeof first_header) {
      std::memcpy(&first_header, bytes.data(), sizeof first_header);
      found = true;
    }
    return false;
  });
  if (!scanned) return std::unexpected(scanned.error());
  if (!found || first_header.first_seq > from) {
    return std::unexpected("journal " + journal_.dir() + " does not hold seq " + seq_text(from) +
                           " (run odds-replay verify)");
  }
  range_.from_seq = first_header.first_seq;
  range_.to_seq = to;  // moved to the end of the last record as it is read
  next_seq_ = range_.from_seq;

  // The epoch in force before the range, and where it began, for the heartbeats sent before the
  // first batch (a subscriber learns divergence points from them).
  if (range_.from_seq > 1) {
    auto before = scan_frames(journal_, 1, range_.from_seq - 1, [&](const fb::Frame& frame) {
      epoch_ = frame.epoch();
      if (frame.payload_type() == fb::Payload::EpochChange) epoch_start_ = frame.seq();
      return true;
    });
    if (!before) {
      return std::unexpected("journal " + journal_.dir() + " is damaged at seq " +
                             seq_text(before.error().seq) +
                             " before the range: " + before.error().problem);
    }
  }
  summary_.last_seq = range_.from_seq - 1;
  visible_seq_.store(summary_.last_seq, std::memory_order_release);

  if (config_.curve_key.empty() != config_.curve_allow.empty()) {
    return std::unexpected("--curve-key and --curve-allow go together: give both or neither");
  }
  if (!config_.curve_key.empty()) {
    try {
      auto server = curve::CurveServer::start(context_, config_.curve_key, config_.curve_allow);
      if (!server) return std::unexpected(server.error().message);
      curve_ = std::move(*server);
    } catch (const zmq::error_t& e) {
      return std::unexpected(std::string("CURVE: cannot start the ZAP handler: ") + e.what());
    }
  }
  try {
    publisher_ = std::make_unique<ZmqPublisher>(context_, config_.pub_url, 100000, 0, curve_.get());
    RecoveryServiceConfig recovery;
    recovery.node = node_;
    recovery_ = std::make_unique<RecoveryServer>(context_, config_.recovery_url, journal_, recovery,
                                                 RecoveryServerClocks{}, curve_.get());
  } catch (const zmq::error_t& e) {
    return std::unexpected(std::string("cannot bind ") +
                           (publisher_ == nullptr ? "--pub " + config_.pub_url
                                                  : "--recovery " + config_.recovery_url) +
                           ": " + e.what());
  }
  // Said once, after the links are up: a refusal above stays one line.
  if (curve_ == nullptr) {
    log(LogLevel::kWarn, "republish: CURVE off: the PUB and recovery links run in the clear");
  }
  recovery_->limit_to(visible_seq_);
  // `status` answers primary: this is the only publisher of the history it serves.
  recovery_->primary_flag().store(true, std::memory_order_release);
  recovery_thread_ = std::thread([this] { recovery_->run(recovery_stop_); });
  last_publish_ns_ = steady_clock_ns();
  return {};
}

std::expected<void, std::string> JournalRepublisher::read_ahead() {
  pending_.clear();
  size_t bytes_held = 0;
  std::string fault;
  uint32_t epoch = epoch_;
  uint64_t epoch_start = epoch_start_;
  uint64_t expected = next_seq_;
  JournalReader reader(journal_);
  auto scanned = reader.scan(next_seq_, [&](uint64_t, std::span<const uint8_t> bytes) {
    if (expected > range_.to_seq) return false;
    if (auto opened = reader_.open(bytes); !opened) {
      fault = "journal " + journal_.dir() + " is damaged at seq " + seq_text(opened.error().seq) +
              ": " + std::string(to_string(opened.error().error)) + " (run odds-replay verify)";
      return false;
    }
    const BatchHeader& header = reader_.header();
    if (header.first_seq != expected) {
      fault = "journal " + journal_.dir() + " does not continue at seq " + seq_text(expected) +
              " (record at seq " + seq_text(header.first_seq) +
              "); it was damaged or rewritten meanwhile";
      return false;
    }
    Pending record;
    record.bytes.assign(bytes.begin(), bytes.end());
    record.first_seq = header.first_seq;
    record.last_seq = header.first_seq + header.count - 1;
    for (const fb::Frame* frame : reader_.frames()) {
      epoch = frame->epoch();
      if (frame->payload_type() == fb::Payload::EpochChange) epoch_start = frame->seq();
    }
    record.stamp_ns = reader_.frames().back()->sequenced_ns();
    record.epoch = epoch;
    record.epoch_start = epoch_start;
    expected = record.last_seq + 1;
    bytes_held += record.bytes.size();
    pending_.push_back(std::move(record));
    return pending_.size() < kReadAheadRecords && bytes_held < kReadAheadBytes;
  });
  if (!scanned) return std::unexpected(scanned.error());
  if (!fault.empty()) return std::unexpected(fault);
  if (pending_.empty() && next_seq_ <= range_.to_seq) {
    return std::unexpected("journal " + journal_.dir() + " no longer holds seq " +
                           seq_text(next_seq_) + "; it was rewritten meanwhile");
  }
  next_seq_ = expected;
  return {};
}

void JournalRepublisher::heartbeat() {
  FrameHeader h;
  h.seq = summary_.last_seq;
  h.epoch = epoch_;
  h.channel = journal_.info().channel;
  h.publisher = node_;
  h.sequenced_ns = wall_clock_ns();
  heartbeat_batch_.begin(h.channel, h.seq, kBatchHeartbeat);
  heartbeat_batch_.add(builder_.heartbeat(h, epoch_start_, /*relayed=*/true));
  publisher_->publish(heartbeat_batch_.bytes());
  ++summary_.heartbeats;
  last_publish_ns_ = steady_clock_ns();
}

bool JournalRepublisher::wait_until(uint64_t due_ns, const std::atomic<bool>& stop) {
  for (;;) {
    if (stop.load(std::memory_order_acquire)) return false;
    uint64_t now = steady_clock_ns();
    if (now - last_publish_ns_ >= config_.heartbeat_interval_ns) {
      heartbeat();
      now = steady_clock_ns();
    }
    if (now >= due_ns) return true;
    const uint64_t heartbeat_due = last_publish_ns_ + config_.heartbeat_interval_ns;
    const uint64_t sleep_ns =
        std::min({due_ns - now, heartbeat_due > now ? heartbeat_due - now : 0, kMaxSleepNs});
    std::this_thread::sleep_for(std::chrono::nanoseconds(sleep_ns));
  }
}

std::expected<RepublishSummary, std::string> JournalRepublisher::publish(
    const std::atomic<bool>& stop, const ReadProgress& progress) {
  PacingSchedule schedule(config_.speed);
  uint64_t start_ns = 0;
  bool started = false;
  while (next_seq_ <= range_.to_seq) {
    if (auto read = read_ahead(); !read) return std::unexpected(read.error());
    for (const Pending& record : pending_) {
      const uint64_t offset = schedule.next(record.stamp_ns);
      if (!started) {
        start_ns = steady_clock_ns();
        started = true;
      }
      if (!wait_until(start_ns + offset, stop)) return summary_;
      // Visible before published, as a node commits before it publishes: a subscriber that sees
      // this batch and asks for it (or for a snapshot) is served it.
      visible_seq_.store(record.last_seq, std::memory_order_release);
      recovery_->wake();
      publisher_->publish(record.bytes);
      last_publish_ns_ = steady_clock_ns();
      epoch_ = record.epoch;
      epoch_start_ = record.epoch_start;
      summary_.last_seq = record.last_seq;
      ++summary_.batches;
      summary_.frames += record.last_seq - record.first_seq + 1;
      if (progress.report != nullptr) progress.report(progress.ctx, record.last_seq, range_.to_seq);
    }
    if (!pending_.empty()) range_.to_seq = std::max(range_.to_seq, pending_.back().last_seq);
  }
  return summary_;
}

void JournalRepublisher::serve(const std::atomic<bool>& stop) {
  while (wait_until(UINT64_MAX, stop)) {
  }
}

}  // namespace oddsbus::engine
