#include "engine/recovery_server.h"

#include "engine/journal_snapshot.h"

#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cinttypes>
#include <cstring>
#include <iterator>
#include <system_error>
#include <utility>
#include <zmq_addon.hpp>

#include "schemas/batch.h"

namespace oddsbus::engine {

namespace {

constexpr int kMaxRequestBytes = 4096;
constexpr auto kPollInterval = std::chrono::microseconds(500);

RecoveryServiceConfig on_channel(RecoveryServiceConfig config, uint32_t channel) {
  config.channel = channel;
  return config;
}

void bump(std::atomic<uint64_t>& counter, uint64_t n = 1) {
  counter.store(counter.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}

}  // namespace

uint64_t steady_clock_ns() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}

RecoveryServer::RecoveryServer(zmq::context_t& context, std::string bind_url,
                               const Journal& journal, RecoveryServiceConfig config,
                               RecoveryServerClocks clocks, const curve::CurveServer* curve)
    : clocks_(clocks),
      journal_(journal),
      tail_reader_(journal),
      log_(journal),
      service_(on_channel(std::move(config), journal.info().channel), &log_),
      router_(context, zmq::socket_type::router) {
  curve::secure_server(router_, curve);
  router_.set(zmq::sockopt::router_mandatory, 1);  // a reply to a peer that left fails visibly
  router_.set(zmq::sockopt::maxmsgsize, int64_t{kMaxRequestBytes});
  router_.set(zmq::sockopt::linger, 0);
  router_.bind(bind_url);
  endpoint_ = router_.get(zmq::sockopt::last_endpoint);
  wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd_ < 0) throw std::system_error(errno, std::generic_category(), "recovery: eventfd");
}

RecoveryServer::~RecoveryServer() {
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

void RecoveryServer::wake() {
  const uint64_t one = 1;
  [[maybe_unused]] const ssize_t written = ::write(wake_fd_, &one, sizeof one);
}

void RecoveryServer::run(const std::atomic<bool>& stop) {
  pthread_setname_np(pthread_self(), "recovery");
  try {
    while (!stop.load(std::memory_order_acquire)) {
      const uint64_t now_ns = clocks_.monotonic_ns();
      if (visible_seq_ != nullptr) {
        // Before following: a record journaled after this read stays hidden until the next turn.
        service_.set_visible_limit(visible_seq_->load(std::memory_order_acquire), outbox_);
        send_outbox();
      }
      size_t work = follow(now_ns);
      work += serve_requests(now_ns);
      service_.on_tick(now_ns, outbox_);
      send_outbox();
      if (work == 0) wait(kPollInterval);
    }
  } catch (const zmq::error_t& e) {
    if (e.num() != ETERM) log(LogLevel::kError, "recovery %s: %s", endpoint_.c_str(), e.what());
  }
}

RecoveryServer::RecordPrint RecoveryServer::print_of(std::span<const uint8_t> record) {
  BatchHeader header;
  std::memcpy(&header, record.data(), sizeof header);
  RecordPrint print{header.first_seq, header.first_seq + header.count - 1, record.size(), 0};
  std::memcpy(&print.first_crc, record.data() + kBatchHeaderSize + 4, sizeof print.first_crc);
  return print;
}

void RecoveryServer::refollow(const char* why) {
  bump(counters_.journal_rewrites);
  log(LogLevel::kWarn,
      "recovery: the journal was rewritten at or before seq %" PRIu64
      " (%s); following it again "
      "from seq 1",
      service_.last_seq(), why);
  service_.reset();
  last_record_ = {};
  published_.last_seq.store(0, std::memory_order_release);
  catching_up_ = true;
}

size_t RecoveryServer::follow(uint64_t now_ns) {
  if (journal_failed_) return 0;
  if (committed_ == nullptr) return follow_journal(now_ns);
  size_t work = 0;
  // A rewrite whose marker waits for room in the queue is seen here.
  if (!catching_up_ && committed_->generation() != generation_) catching_up_ = true;
  if (catching_up_) {
    // Seqlock: what a scan read belongs to one generation only if it was even and unchanged.
    const uint64_t before = committed_->generation();
    if ((before & 1) != 0) return 0;  // a rewrite is under way: read after it
    if (before != generation_) {
      generation_ = before;
      refollow("set aside");
      return 1;
    }
    bool at_end = false;
    work = follow_journal(now_ns, &at_end);
    if (committed_->generation() != before) {
      refollow("set aside while reading it");
      return work + 1;
    }
    if (!at_end || journal_failed_) return work;
    catching_up_ = false;
  }
  return work + follow_queue();
}

size_t RecoveryServer::follow_queue() {
  size_t followed = 0;
  size_t skipped = 0;
  while (followed < kMaxBatchesPerTurn && skipped < kMaxBatchesPerTurn) {
    const auto item = committed_->front();
    if (!item) break;
    if (item->kind == CommittedQueue::Kind::kRewritten) {
      committed_->pop();
      if (item->generation > generation_) {
        generation_ = item->generation;
        refollow("set aside");
        break;
      }
      continue;  // a catch-up already read the new history
    }
    const uint64_t last = service_.last_seq();
    if (item->generation < generation_ || item->last_seq <= last) {
      committed_->pop();  // the old history, or read from the journal already
      ++skipped;
      continue;
    }
    if (item->generation > generation_ || item->first_seq != last + 1 ||
        item->bytes.size() < kBatchHeaderSize + kRecordHeaderSize) {
      // Batches were dropped (the queue was full): what is missing is in the journal.
      bump(counters_.catch_ups);
      catching_up_ = true;
      break;
    }
    auto fed = service_.on_committed(item->bytes, outbox_);
    if (!fed) {
      bump(counters_.journal_errors);
      journal_failed_ = true;
      log(LogLevel::kError,
          "recovery: stopped following the journal after seq %" PRIu64
          " (%s); serving what was followed",
          service_.last_seq(), fed.error().c_str());
      break;
    }
    last_record_ = print_of(item->bytes);
    send_outbox();  // parked replies may be views into the ring: send before the next batch
    committed_->pop();
    ++followed;
  }
  if (followed > 0) {
    bump(counters_.queue_batches, followed);
    published_.last_seq.store(service_.last_seq(), std::memory_order_release);
  }
  return followed + skipped;
}

bool RecoveryServer::start_from_snapshot() {
  auto first = log_first_seq(journal_);
  if (!first || *first <= 1) return true;  // nothing pruned (or empty)
  auto start = nearest_snapshot(journal_, *first - 1);
  if (!start || !start->snapshot || start->snapshot->state.seq() != *first - 1) {
    if (log_limiter_.allow(clocks_.monotonic_ns())) {
      log(LogLevel::kWarn,
          "recovery: the journal's log begins at seq %" PRIu64
          " (pruned) and the snapshot before it cannot be read now; trying again",
          *first);
    }
    return false;
  }
  service_.start_at(std::move(start->snapshot->state), start->snapshot->epoch_start);
  last_record_ = {};
  return true;
}

size_t RecoveryServer::follow_journal(uint64_t now_ns, bool* at_end) {
  if (journal_failed_) return 0;
  if (service_.last_seq() == 0 && !start_from_snapshot()) return 0;
  size_t followed = 0;
  bool rewritten = false;
  bool pruned_past = false;
  std::string failure;
  // From the record holding the last seq followed, to see that it is still the same record.
  const uint64_t from = std::max<uint64_t>(service_.last_seq(), 1);
  auto scanned = tail_reader_.scan(from, [&](uint64_t, std::span<const uint8_t> record) {
    if (record.size() < kBatchHeaderSize + kRecordHeaderSize) {
      failure = "a journal record is shorter than a batch";
      return false;
    }
    const RecordPrint print = print_of(record);
    const uint64_t last = service_.last_seq();
    if (print.last_seq <= last || print.first_seq <= last) {
      // The record holding our last seq (or, past the log's end, the last record): it must be
      // the one we followed.
      if (last != 0 && print == last_record_) return true;
      rewritten = true;
      return false;
    }
    if (print.first_seq > last + 1) {
      pruned_past = true;  // retention pruned past where the service was: start again
      return false;
    }
    auto fed = service_.on_committed(record, outbox_);
    if (!fed) {
      failure = fed.error();
      return false;
    }
    last_record_ = print;
    send_outbox();  // parked replies may be views into the ring: send before the next batch
    return ++followed < kMaxBatchesPerTurn;
  });
  if (!scanned) {
    // A read that failed may work next time: count it, say it now and then, and try again.
    bump(counters_.journal_errors);
    if (log_limiter_.allow(now_ns)) {
      log(LogLevel::kWarn, "recovery: reading the journal failed: %s (%" PRIu64 " more suppressed)",
          scanned.error().c_str(), log_limiter_.suppressed());
    }
  }
  if (pruned_past) {
    service_.reset();
    last_record_ = {};
    return 1;
  }
  if (rewritten) {
    // Fencing set frames aside: what we followed is no longer the journal's history.
    refollow("its record changed");
    return 1;
  }
  if (!failure.empty()) {
    bump(counters_.journal_errors);
    journal_failed_ = true;
    log(LogLevel::kError,
        "recovery: stopped following the journal after seq %" PRIu64
        " (%s); serving what was followed",
        service_.last_seq(), failure.c_str());
  }
  if (followed > 0) {
    bump(counters_.journal_batches, followed);
    published_.last_seq.store(service_.last_seq(), std::memory_order_release);
  }
  if (at_end != nullptr) *at_end = scanned && failure.empty() && followed < kMaxBatchesPerTurn;
  return followed;
}

size_t RecoveryServer::serve_requests(uint64_t now_ns) {
  size_t served = 0;
  for (; served < kMaxRequestsPerTurn; ++served) {
    parts_.clear();
    if (!zmq::recv_multipart(router_, std::back_inserter(parts_), zmq::recv_flags::dontwait)) {
      break;
    }
    bump(counters_.messages);
    if (parts_.size() != 2) {
      bump(counters_.malformed_messages);
      if (log_limiter_.allow(now_ns)) {
        log(LogLevel::kWarn,
            "recovery: a request of %zu parts, not one (%" PRIu64 " more suppressed)",
            parts_.size() - 1, log_limiter_.suppressed());
      }
      if (parts_.size() < 2) continue;  // a ROUTER always prepends the identity
      service_.refuse(
          parts_[0].to_string_view(),
          "a request is one message part of text, got " + std::to_string(parts_.size() - 1), now_ns,
          reply_);
      send(parts_[0].to_string_view(), reply_);
      continue;
    }
    const std::string_view identity = parts_[0].to_string_view();
    service_.set_primary(primary_.value.load(std::memory_order_acquire));
    service_.handle(identity, parts_[1].to_string_view(), now_ns, reply_);
    if (!reply_.empty()) send(identity, reply_);
    publish_acks();
  }
  return served;
}

void RecoveryServer::publish_acks() {
  if (service_.acked_seq() != published_.acked_seq.load(std::memory_order_relaxed) ||
      service_.last_ack_ns() != last_ack_seen_ns_) {
    last_ack_seen_ns_ = service_.last_ack_ns();
    published_.last_ack_ns.store(clocks_.wall_ns(), std::memory_order_release);
    published_.acked_seq.store(service_.acked_seq(), std::memory_order_release);
  }
}

void RecoveryServer::send(std::string_view identity, const RecoveryReply& reply) {
  const auto parts = reply.parts();
  try {
    if (!router_.send(zmq::buffer(identity),
                      zmq::send_flags::sndmore | zmq::send_flags::dontwait)) {
      bump(counters_.replies_dropped);  // the peer's queue is full
      return;
    }
    router_.send(zmq::buffer(reply.header()),
                 parts.empty() ? zmq::send_flags::dontwait
                               : zmq::send_flags::sndmore | zmq::send_flags::dontwait);
    for (size_t i = 0; i < parts.size(); ++i) {
      router_.send(zmq::const_buffer(parts[i].data(), parts[i].size()),
                   i + 1 < parts.size() ? zmq::send_flags::sndmore | zmq::send_flags::dontwait
                                        : zmq::send_flags::dontwait);
    }
    bump(counters_.replies_sent);
  } catch (const zmq::error_t& e) {
    if (e.num() != EHOSTUNREACH) throw;
    bump(counters_.replies_dropped);  // the peer left
  }
}

void RecoveryServer::send_outbox() {
  for (size_t i = 0; i < outbox_.size(); ++i) send(outbox_.identity(i), outbox_.reply(i));
  outbox_.clear();
}

void RecoveryServer::wait(std::chrono::microseconds timeout) {
  // ZMQ_FD signals only changes: block only when ZeroMQ says nothing is waiting to be read.
  if ((router_.get(zmq::sockopt::events) & ZMQ_POLLIN) != 0) return;
  pollfd fds[2] = {{router_.get(zmq::sockopt::fd), POLLIN, 0}, {wake_fd_, POLLIN, 0}};
  const timespec ts{0, static_cast<long>(timeout.count()) * 1000};
  if (::ppoll(fds, 2, &ts, nullptr) > 0 && (fds[1].revents & POLLIN) != 0) {
    uint64_t count = 0;
    [[maybe_unused]] const ssize_t got = ::read(wake_fd_, &count, sizeof count);
  }
}

}  // namespace oddsbus::engine
