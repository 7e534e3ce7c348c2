#include "engine/replica.h"

#include <cinttypes>

#include "engine/replica_position.h"
#include "engine/restore.h"
#include "schemas/log.h"

namespace oddsbus::engine {
namespace {

// Frames per journal record: one poll can deliver many publisher batches and a long poll's reply.
constexpr size_t kMaxFramesPerRecord = 4096;

edge::SubscriberConfig subscriber_config(const ReplicaConfig& config) {
  edge::SubscriberConfig s;
  s.publisher_urls = {config.peer_pub};
  s.recovery_urls = {config.peer_recovery};
  s.arbiter.mode = edge::ResyncMode::kTruncate;
  // Served past the acknowledged seq, or sync replication deadlocks.
  s.replica_requests = true;
  s.follow_url = config.peer_recovery;
  s.follow_wait_ms = config.long_poll_ms;
  s.follow_range = 65536;
  s.curve = config.curve;
  return s;
}

zmq::socket_t dealer(zmq::context_t& context, const std::string& url,
                     const curve::CurveClient* curve) {
  zmq::socket_t socket(context, zmq::socket_type::dealer);
  socket.set(zmq::sockopt::linger, 0);
  curve::secure_client(socket, curve, url);
  socket.connect(url);
  return socket;
}

std::string_view as_text(const zmq::message_t& m) {
  return {static_cast<const char*>(m.data()), m.size()};
}

}  // namespace

Replica::Replica(zmq::context_t& context, Journal& journal, Sequencer& sequencer,
                 BatchSink* republish, const ReplicaConfig& config)
    : journal_(journal),
      sequencer_(sequencer),
      republish_(republish),
      config_(config),
      subscriber_(context, subscriber_config(config)) {
  position_at_history(subscriber_.arbiter(), sequencer);
}

uint64_t Replica::last_heard_ns() const { return subscriber_.arbiter().last_sequencer_ns(); }

std::expected<void, std::string> Replica::store(uint64_t now_ns) {
  for (size_t first = 0; first < out_.frames.size(); first += kMaxFramesPerRecord) {
    const size_t end = std::min(out_.frames.size(), first + kMaxFramesPerRecord);
    batch_.begin(journal_.info().channel, out_.frames[first]->seq());
    for (size_t i = first; i < end; ++i) batch_.add(out_.bytes[i]);
    const uint64_t first_seq = batch_.first_seq();
    const uint64_t last = first_seq + batch_.count() - 1;
    if (auto ok = journal_.append(first_seq, last, batch_.bytes()); !ok) return ok;
    for (size_t i = first; i < end; ++i) {
      const fb::Frame* frame = out_.frames[i];
      sequencer_.restore(*frame);
      if (frame->payload_type() == fb::Payload::EpochChange) {
        if (auto ok = journal_.set_epoch(frame->epoch()); !ok) return ok;
        log(LogLevel::kWarn, "replica: the primary moved to epoch %u at seq %" PRIu64,
            frame->epoch(), frame->seq());
      }
    }
    if (republish_ != nullptr) republish_->publish(batch_.bytes());
    last_publish_ns_ = now_ns;
    counters_.frames += batch_.count();
    ++counters_.batches;
    if (config_.sync_acks) (void)subscriber_.send_ack(last);
  }
  return {};
}

std::expected<void, std::string> Replica::handle_output(uint64_t now_ns) {
  // Actions first: a kDiverged is handled before the frames that follow it are stored. The range
  // requests among them were sent by the subscriber.
  for (const edge::ArbiterAction& action : out_.actions) {
    using Kind = edge::ArbiterAction::Kind;
    switch (action.kind) {
      case Kind::kRequestRange:
      case Kind::kRequestSnapshot:  // kTruncate mode never asks for one
        break;
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
  const uint64_t before = counters_.frames;
  subscriber_.poll(timeout_ms, now_ns, out_);
  counters_.bad_replies = subscriber_.counters().bad_replies;
  if (auto ok = handle_output(now_ns); !ok) return std::unexpected(ok.error());
  if (republish_ != nullptr && now_ns - last_publish_ns_ >= config_.heartbeat_interval_ns) {
    sequencer_.heartbeat(clocks.wall_ns, heartbeat_batch_, /*relayed=*/true);
    republish_->publish(heartbeat_batch_.bytes());
    last_publish_ns_ = now_ns;
  }
  return counters_.frames - before;
}

PeerWatch::PeerWatch(zmq::context_t& context, const std::string& peer_pub,
                     const curve::CurveClient* curve)
    : sub_(context, zmq::socket_type::sub) {
  curve::secure_client(sub_, curve, peer_pub);
  sub_.set(zmq::sockopt::subscribe, "");
  sub_.set(zmq::sockopt::linger, 0);
  sub_.set(zmq::sockopt::maxmsgsize, edge::SubscriberConfig{}.max_message_bytes);
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
                                                               int timeout_ms,
                                                               const curve::CurveClient* curve) {
  zmq::socket_t socket = dealer(context, url, curve);
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
