#include "engine/replica.h"

#include <cinttypes>

#include "engine/restore.h"
#include "schemas/log.h"

namespace oddsbus::engine {
namespace {

constexpr size_t kLineSub = 0;
constexpr size_t kLineFollow = 1;
constexpr uint64_t kFollowRange = 65536;

edge::ArbiterConfig arbiter_config() {
  edge::ArbiterConfig config;
  config.mode = edge::ResyncMode::kTruncate;
  config.recovery_services = 1;
  return config;
}

zmq::socket_t dealer(zmq::context_t& context, const std::string& url) {
  zmq::socket_t socket(context, zmq::socket_type::dealer);
  socket.set(zmq::sockopt::linger, 0);
  socket.connect(url);
  return socket;
}

std::string_view as_text(const zmq::message_t& m) {
  return {static_cast<const char*>(m.data()), m.size()};
}

}  // namespace

Replica::Replica(zmq::context_t& context, Journal& journal, Sequencer& sequencer,
                 BatchSink* republish, const ReplicaConfig& config)
    : context_(context),
      journal_(journal),
      sequencer_(sequencer),
      republish_(republish),
      config_(config),
      sub_(context, zmq::socket_type::sub),
      requests_(dealer(context, config.peer_recovery)),
      follow_(dealer(context, config.peer_recovery)),
      arbiter_(arbiter_config()) {
  sub_.set(zmq::sockopt::subscribe, "");
  sub_.set(zmq::sockopt::rcvhwm, 100000);
  sub_.set(zmq::sockopt::linger, 0);
  sub_.connect(config.peer_pub);
  arbiter_.reset(sequencer.last_seq(), sequencer.epoch(), sequencer.epoch_start());
}

void Replica::note_epoch(std::span<const uint8_t> batch) {
  if (!epoch_reader_.open(batch)) return;
  for (const fb::Frame* frame : epoch_reader_.frames()) {
    highest_epoch_ = std::max(highest_epoch_, frame->epoch());
  }
}

void Replica::send_follow() {
  recovery::Request request;
  request.kind = recovery::RequestKind::kRange;
  request.from = sequencer_.last_seq() + 1;
  request.to = request.from + kFollowRange - 1;
  request.wait_ms = config_.long_poll_ms;
  request.replica = true;  // served past the acknowledged seq, or sync replication deadlocks
  const std::string text = recovery::format_request(request);
  if (follow_.send(zmq::buffer(text), zmq::send_flags::dontwait)) {
    follow_outstanding_ = true;
  }
}

void Replica::reset_follow() {
  // A reply that never came (the primary restarted, or died): a fresh socket drops any late one.
  follow_ = dealer(context_, config_.peer_recovery);
  follow_outstanding_ = false;
}

bool Replica::receive_reply(zmq::socket_t& socket, recovery::ReplyHeader& header) {
  parts_.clear();
  part_spans_.clear();
  while (true) {
    zmq::message_t part;
    if (!socket.recv(part, zmq::recv_flags::dontwait)) break;
    const bool more = part.more();
    parts_.push_back(std::move(part));
    if (!more) break;
  }
  if (parts_.empty()) return false;
  auto parsed = recovery::parse_reply_header(as_text(parts_[0]));
  if (!parsed) {
    ++counters_.bad_replies;
    log(LogLevel::kWarn, "replica: bad reply from %s: %s", config_.peer_recovery.c_str(),
        parsed.error().c_str());
    return false;
  }
  header = *parsed;
  for (size_t i = 1; i < parts_.size(); ++i) {
    part_spans_.emplace_back(static_cast<const uint8_t*>(parts_[i].data()), parts_[i].size());
  }
  return true;
}

std::expected<void, std::string> Replica::store(uint64_t now_ns) {
  if (out_.frames.empty()) return {};
  batch_.begin(journal_.info().channel, out_.frames.front()->seq());
  for (const auto& bytes : out_.bytes) batch_.add(bytes);
  const uint64_t first = batch_.first_seq();
  const uint64_t last = first + batch_.count() - 1;
  if (auto ok = journal_.append(first, last, batch_.bytes()); !ok) return ok;
  for (const fb::Frame* frame : out_.frames) {
    sequencer_.restore(*frame);
    if (frame->payload_type() == fb::Payload::EpochChange) {
      if (auto ok = journal_.set_epoch(frame->epoch()); !ok) return ok;
      log(LogLevel::kWarn, "replica: the primary moved to epoch %u at seq %" PRIu64, frame->epoch(),
          frame->seq());
    }
  }
  if (republish_ != nullptr) republish_->publish(batch_.bytes());
  last_publish_ns_ = now_ns;
  counters_.frames += batch_.count();
  ++counters_.batches;
  if (config_.sync_acks) {
    recovery::Request ack;
    ack.kind = recovery::RequestKind::kAck;
    ack.from = last;
    const std::string text = recovery::format_request(ack);
    (void)follow_.send(zmq::buffer(text), zmq::send_flags::dontwait);
  }
  return {};
}

std::expected<void, std::string> Replica::handle_output(uint64_t now_ns) {
  for (const edge::ArbiterAction& action : out_.actions) {
    using Kind = edge::ArbiterAction::Kind;
    switch (action.kind) {
      case Kind::kRequestRange: {
        recovery::Request request;
        request.kind = recovery::RequestKind::kRange;
        request.from = action.from;
        request.to = action.to;
        request.replica = true;
        const std::string text = recovery::format_request(request);
        (void)requests_.send(zmq::buffer(text), zmq::send_flags::dontwait);
        break;
      }
      case Kind::kRequestSnapshot:
        break;  // kTruncate mode never asks for one
      case Kind::kRangeGone:
        log(LogLevel::kError,
            "replica: the primary no longer holds seq %" PRIu64
            "; this journal cannot be completed from it",
            action.from);
        break;
      case Kind::kDiverged: {
        const std::string aside = journal_.dir() + "/set-aside/epoch-" +
                                  std::to_string(sequencer_.epoch()) + "-from-" +
                                  std::to_string(action.from) + ".batches";
        auto moved = journal_.set_aside_from(action.from, aside);
        if (!moved) return std::unexpected(moved.error());
        auto restored = restore_sequencer(journal_);
        if (!restored) return std::unexpected(restored.error());
        sequencer_ = std::move(**restored);
        ++counters_.divergences;
        counters_.frames_set_aside += *moved;
        log(LogLevel::kWarn,
            "replica: our frames from seq %" PRIu64 " lost to a higher epoch; %" PRIu64
            " frames set aside in %s",
            action.from, *moved, aside.c_str());
        break;
      }
    }
  }
  auto stored = store(now_ns);
  out_.clear();
  return stored;
}

std::expected<size_t, std::string> Replica::do_work(const Clocks& clocks, int timeout_ms) {
  const uint64_t now_ns = clocks.monotonic_ns;
  if (follow_outstanding_ &&
      now_ns - follow_sent_ns_ > (uint64_t{config_.long_poll_ms} + 1000) * 1'000'000) {
    reset_follow();
  }
  if (!follow_outstanding_) {
    send_follow();
    follow_sent_ns_ = now_ns;
  }
  zmq::pollitem_t items[] = {{sub_.handle(), 0, ZMQ_POLLIN, 0},
                             {requests_.handle(), 0, ZMQ_POLLIN, 0},
                             {follow_.handle(), 0, ZMQ_POLLIN, 0}};
  zmq::poll(items, 3, std::chrono::milliseconds(timeout_ms));
  const uint64_t before = counters_.frames;
  if ((items[0].revents & ZMQ_POLLIN) != 0) {
    for (int i = 0; i < 1024; ++i) {
      zmq::message_t message;
      if (!sub_.recv(message, zmq::recv_flags::dontwait)) break;
      const std::span<const uint8_t> bytes(static_cast<const uint8_t*>(message.data()),
                                           message.size());
      const uint64_t corrupt = arbiter_.counters().corrupt_batches;
      arbiter_.on_batch(kLineSub, bytes, now_ns, out_);
      if (arbiter_.counters().corrupt_batches == corrupt) {
        last_heard_ns_ = now_ns;
        note_epoch(bytes);
      }
      if (auto ok = handle_output(now_ns); !ok) return std::unexpected(ok.error());
    }
  }
  recovery::ReplyHeader header;
  if ((items[1].revents & ZMQ_POLLIN) != 0) {
    while (receive_reply(requests_, header)) {
      last_heard_ns_ = now_ns;
      highest_epoch_ = std::max(highest_epoch_, header.epoch);
      arbiter_.on_reply(0, header, part_spans_, now_ns, out_);
      if (auto ok = handle_output(now_ns); !ok) return std::unexpected(ok.error());
    }
  }
  if ((items[2].revents & ZMQ_POLLIN) != 0) {
    while (receive_reply(follow_, header)) {
      follow_outstanding_ = false;
      last_heard_ns_ = now_ns;
      highest_epoch_ = std::max(highest_epoch_, header.epoch);
      for (const auto& batch : part_spans_) {
        arbiter_.on_batch(kLineFollow, batch, now_ns, out_);
        if (auto ok = handle_output(now_ns); !ok) return std::unexpected(ok.error());
      }
    }
  }
  arbiter_.on_tick(now_ns, out_);
  if (auto ok = handle_output(now_ns); !ok) return std::unexpected(ok.error());
  if (republish_ != nullptr && now_ns - last_publish_ns_ >= config_.heartbeat_interval_ns) {
    sequencer_.heartbeat(clocks.wall_ns, heartbeat_batch_);
    republish_->publish(heartbeat_batch_.bytes());
    last_publish_ns_ = now_ns;
  }
  return counters_.frames - before;
}

PeerWatch::PeerWatch(zmq::context_t& context, const std::string& peer_pub)
    : sub_(context, zmq::socket_type::sub) {
  sub_.set(zmq::sockopt::subscribe, "");
  sub_.set(zmq::sockopt::linger, 0);
  sub_.set(zmq::sockopt::conflate, 0);
  sub_.connect(peer_pub);
}

uint32_t PeerWatch::poll() {
  for (int i = 0; i < 4096; ++i) {
    zmq::message_t message;
    if (!sub_.recv(message, zmq::recv_flags::dontwait)) break;
    if (!reader_.open({static_cast<const uint8_t*>(message.data()), message.size()})) continue;
    for (const fb::Frame* frame : reader_.frames()) {
      highest_epoch_ = std::max(highest_epoch_, frame->epoch());
    }
  }
  return highest_epoch_;
}

std::expected<recovery::ReplyHeader, std::string> probe_status(zmq::context_t& context,
                                                               const std::string& url,
                                                               int timeout_ms) {
  zmq::socket_t socket = dealer(context, url);
  const std::string text = "status";
  if (!socket.send(zmq::buffer(text), zmq::send_flags::dontwait)) {
    return std::unexpected("cannot send to " + url);
  }
  zmq::pollitem_t item{socket.handle(), 0, ZMQ_POLLIN, 0};
  zmq::poll(&item, 1, std::chrono::milliseconds(timeout_ms));
  zmq::message_t reply;
  if ((item.revents & ZMQ_POLLIN) == 0 || !socket.recv(reply, zmq::recv_flags::dontwait)) {
    return std::unexpected("no answer from " + url + " within " + std::to_string(timeout_ms) +
                           " ms");
  }
  return recovery::parse_reply_header(as_text(reply));
}

}  // namespace oddsbus::engine
