#include "edge/subscriber.h"

#include <algorithm>
#include <chrono>
#include <cinttypes>

#include "schemas/log.h"
#include "schemas/recovery_protocol.h"

namespace oddsbus::edge {

namespace {

uint64_t steady_now_ns() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}

ArbiterConfig with_services(ArbiterConfig config, size_t services) {
  config.recovery_services = services;
  return config;
}

std::span<const uint8_t> bytes_of(const zmq::message_t& message) {
  return {static_cast<const uint8_t*>(message.data()), message.size()};
}

}  // namespace

Subscriber::Subscriber(zmq::context_t& context, const SubscriberConfig& config)
    : config_(config),
      arbiter_(with_services(config.arbiter, config.recovery_urls.size())),
      context_(context) {
  for (const std::string& url : config_.publisher_urls) {
    zmq::socket_t& socket = lines_.emplace_back(context, zmq::socket_type::sub);
    socket.set(zmq::sockopt::rcvhwm, config_.receive_hwm);
    if (config_.receive_buffer_bytes > 0) {
      socket.set(zmq::sockopt::rcvbuf, config_.receive_buffer_bytes);
    }
    socket.set(zmq::sockopt::linger, 0);
    socket.set(zmq::sockopt::maxmsgsize, config_.max_message_bytes);
    socket.set(zmq::sockopt::subscribe, "");
    secure(socket, url);
    socket.connect(url);
  }
  for (const std::string& url : config_.recovery_urls) {
    zmq::socket_t& socket = services_.emplace_back(context, zmq::socket_type::dealer);
    socket.set(zmq::sockopt::linger, 0);
    socket.set(zmq::sockopt::maxmsgsize, config_.max_message_bytes);
    secure(socket, url);
    socket.connect(url);
  }
  line_connected_ns_.assign(lines_.size(), 0);
  for (auto& socket : lines_) items_.push_back({socket.handle(), 0, ZMQ_POLLIN, 0});
  for (auto& socket : services_) items_.push_back({socket.handle(), 0, ZMQ_POLLIN, 0});
  if (!config_.follow_url.empty()) connect_follow();
}

void Subscriber::secure(zmq::socket_t& socket, const std::string& url) {
  if (!config_.curve) return;
  config_.curve->secure(socket, url);
  watches_.emplace_back(curve::HandshakeWatch(context_, socket), url);
}

void Subscriber::count_handshake_failures(uint64_t now_ns) {
  const auto counted = [&](curve::HandshakeWatch& watch, const std::string& url) {
    const uint64_t failed = watch.drain();
    if (failed == 0) return;
    counters_.handshake_failures += failed;
    if (handshake_log_.allow(now_ns)) {
      log(LogLevel::kWarn,
          "subscriber: CURVE handshake with %s failed (%" PRIu64
          " so far): not the server --curve-server-key names, our key refused, or the "
          "connection lost mid-handshake; nothing from it is received",
          url.c_str(), counters_.handshake_failures);
    }
  };
  for (auto& [watch, url] : watches_) counted(watch, url);
  if (follow_watch_) counted(*follow_watch_, config_.follow_url);
}

void Subscriber::reconnect_silent_lines(uint64_t now_ns) {
  if (config_.silent_line_reconnect_ns == 0) return;
  for (size_t i = 0; i < lines_.size(); ++i) {
    if (line_connected_ns_[i] == 0) line_connected_ns_[i] = now_ns;  // the first poll
    const uint64_t since = std::max(arbiter_.last_heard_ns(i), line_connected_ns_[i]);
    if (since >= now_ns || now_ns - since < config_.silent_line_reconnect_ns) continue;
    reconnect(lines_[i], config_.publisher_urls[i]);
    line_connected_ns_[i] = now_ns;
    ++counters_.line_reconnects;
  }
}

void Subscriber::reconnect_timed_out_services(std::span<const ArbiterNotice> notices) {
  for (const ArbiterNotice& notice : notices) {
    if (notice.kind != ArbiterNotice::Kind::kRequestTimeout || notice.source >= services_.size()) {
      continue;
    }
    reconnect(services_[notice.source], config_.recovery_urls[notice.source]);
    ++counters_.service_reconnects;
  }
}

void Subscriber::reconnect(zmq::socket_t& socket, const std::string& url) {
  try {
    socket.disconnect(url);
  } catch (const zmq::error_t&) {
    // ENOENT: ZeroMQ already dropped the link (a protocol error); connecting again is all.
  }
  try {
    socket.connect(url);
  } catch (const zmq::error_t& e) {
    log(LogLevel::kWarn, "subscriber: cannot connect %s again: %s", url.c_str(), e.what());
  }
}

void Subscriber::connect_follow() {
  // A fresh socket: a reply to a long poll given up on never arrives on it.
  follow_watch_.reset();
  follow_.emplace(context_, zmq::socket_type::dealer);
  follow_->set(zmq::sockopt::linger, 0);
  follow_->set(zmq::sockopt::maxmsgsize, config_.max_message_bytes);
  if (config_.curve) {
    config_.curve->secure(*follow_, config_.follow_url);
    follow_watch_.emplace(context_, *follow_);
  }
  follow_->connect(config_.follow_url);
  follow_outstanding_ = false;
  const zmq::pollitem_t item{follow_->handle(), 0, ZMQ_POLLIN, 0};
  if (items_.size() == lines_.size() + services_.size()) {
    items_.push_back(item);
  } else {
    items_.back() = item;
  }
}

void Subscriber::keep_following(uint64_t now_ns) {
  if (!follow_) return;
  if (follow_outstanding_ &&
      now_ns - follow_sent_ns_ > (uint64_t{config_.follow_wait_ms} + 1000) * 1'000'000) {
    ++counters_.follow_resets;
    connect_follow();
  }
  if (follow_outstanding_) return;
  recovery::Request request;
  request.kind = recovery::RequestKind::kRange;
  request.from = arbiter_.last_seq() + 1;
  request.to = request.from + std::max<uint64_t>(config_.follow_range, 1) - 1;
  request.wait_ms = config_.follow_wait_ms;
  request.replica = config_.replica_requests;
  const std::string text = recovery::format_request(request);
  follow_sent_ns_ = now_ns;
  if (follow_->send(zmq::buffer(text), zmq::send_flags::dontwait)) {
    follow_outstanding_ = true;
    ++counters_.follow_requests;
    ++counters_.requests_sent;
  } else {
    ++counters_.send_failures;
  }
}

bool Subscriber::send_ack(uint64_t seq) {
  if (!follow_) return false;
  recovery::Request ack;
  ack.kind = recovery::RequestKind::kAck;
  ack.from = seq;
  const std::string text = recovery::format_request(ack);
  if (!follow_->send(zmq::buffer(text), zmq::send_flags::dontwait)) return false;
  ++counters_.acks_sent;
  return true;
}

size_t Subscriber::poll(int timeout_ms, ArbiterOutput& out) {
  return poll_at(timeout_ms, nullptr, out);
}

size_t Subscriber::poll(int timeout_ms, uint64_t now_ns, ArbiterOutput& out) {
  return poll_at(timeout_ms, &now_ns, out);
}

size_t Subscriber::poll_at(int timeout_ms, const uint64_t* given_now_ns, ArbiterOutput& out) {
  const size_t first_action = out.actions.size();
  const size_t first_notice = out.notices.size();
  const uint64_t handled_before = counters_.batches + counters_.replies;
  if (follow_) keep_following(given_now_ns != nullptr ? *given_now_ns : steady_now_ns());
  if (!items_.empty()) zmq::poll(items_, std::chrono::milliseconds(timeout_ms));
  const uint64_t now_ns = given_now_ns != nullptr ? *given_now_ns : steady_now_ns();
  for (size_t i = 0; i < lines_.size(); ++i) {
    if ((items_[i].revents & ZMQ_POLLIN) != 0) receive_line(i, now_ns, out);
  }
  for (size_t i = 0; i < services_.size(); ++i) {
    if ((items_[lines_.size() + i].revents & ZMQ_POLLIN) != 0) receive_replies(i, now_ns, out);
  }
  if (follow_ && (items_.back().revents & ZMQ_POLLIN) != 0) receive_follow(now_ns, out);
  arbiter_.on_tick(now_ns, out);
  reconnect_silent_lines(now_ns);
  reconnect_timed_out_services(std::span(out.notices).subspan(first_notice));
  send_requests(first_action, out);
  notice_log_.write(std::span(out.notices).subspan(first_notice), now_ns);
  if (config_.curve) count_handshake_failures(now_ns);
  return counters_.batches + counters_.replies - handled_before;
}

std::vector<int> Subscriber::file_descriptors() const {
  std::vector<int> fds;
  for (const auto& socket : lines_) fds.push_back(socket.get(zmq::sockopt::fd));
  for (const auto& socket : services_) fds.push_back(socket.get(zmq::sockopt::fd));
  if (follow_) fds.push_back(follow_->get(zmq::sockopt::fd));
  for (const auto& [watch, url] : watches_) fds.push_back(watch.file_descriptor());
  if (follow_watch_) fds.push_back(follow_watch_->file_descriptor());
  return fds;
}

std::optional<SnapshotImage> Subscriber::take_snapshot() {
  std::optional<SnapshotImage> image = std::move(snapshot_);
  snapshot_.reset();
  return image;
}

void Subscriber::receive_line(size_t line, uint64_t now_ns, ArbiterOutput& out) {
  zmq::socket_t& socket = lines_[line];
  for (size_t n = 0; n < config_.max_messages_per_poll; ++n) {
    zmq::message_t message;
    if (!socket.recv(message, zmq::recv_flags::dontwait)) return;
    ++counters_.batches;
    arbiter_.on_batch(line, bytes_of(message), now_ns, out);
  }
}

bool Subscriber::receive_reply(zmq::socket_t& socket) {
  parts_.clear();
  zmq::message_t part;
  if (!socket.recv(part, zmq::recv_flags::dontwait)) return false;
  parts_.push_back(std::move(part));
  // The rest of a multipart message has arrived with its first part.
  while (parts_.back().more()) {
    zmq::message_t next;
    if (!socket.recv(next, zmq::recv_flags::dontwait)) break;
    parts_.push_back(std::move(next));
  }
  ++counters_.replies;
  part_spans_.clear();
  for (size_t i = 1; i < parts_.size(); ++i) part_spans_.push_back(bytes_of(parts_[i]));
  return true;
}

void Subscriber::receive_replies(size_t service, uint64_t now_ns, ArbiterOutput& out) {
  zmq::socket_t& socket = services_[service];
  for (size_t n = 0; n < config_.max_messages_per_poll; ++n) {
    if (!receive_reply(socket)) return;
    auto header = recovery::parse_reply_header(parts_.front().to_string_view());
    if (!header) {
      ++counters_.bad_replies;
      log(LogLevel::kWarn, "subscriber: recovery service %zu: %s", service, header.error().c_str());
      continue;
    }
    last_reply_ns_ = now_ns;
    highest_reply_epoch_ = std::max(highest_reply_epoch_, header->epoch);
    if (header->kind == recovery::ReplyKind::kSnapshot) {
      handle_snapshot(service, *header, now_ns, out);
    } else {
      if (header->kind == recovery::ReplyKind::kError && error_log_.allow(now_ns)) {
        log(LogLevel::kWarn, "subscriber: recovery service %zu answered error %s %s", service,
            header->reason.c_str(), header->detail.c_str());
      }
      arbiter_.on_reply(service, *header, part_spans_, now_ns, out);
    }
  }
}

void Subscriber::receive_follow(uint64_t now_ns, ArbiterOutput& out) {
  const size_t line = lines_.size();
  for (size_t n = 0; n < config_.max_messages_per_poll; ++n) {
    if (!receive_reply(*follow_)) return;
    follow_outstanding_ = false;  // whatever it says, the long poll ended
    auto header = recovery::parse_reply_header(parts_.front().to_string_view());
    if (!header) {
      ++counters_.bad_replies;
      log(LogLevel::kWarn, "subscriber: follow %s: %s", config_.follow_url.c_str(),
          header.error().c_str());
      continue;
    }
    last_reply_ns_ = now_ns;
    highest_reply_epoch_ = std::max(highest_reply_epoch_, header->epoch);
    for (const auto batch : part_spans_) arbiter_.on_batch(line, batch, now_ns, out);
  }
}

void Subscriber::handle_snapshot(size_t service, const recovery::ReplyHeader& header,
                                 uint64_t now_ns, ArbiterOutput& out) {
  if (arbiter_.positioned()) {
    ++counters_.unwanted_snapshots;  // e.g. a late answer to a request that timed out
    return;
  }
  // Never installed unchecked: each chunk's CRC32C, then the image against the reply's seq,
  // epoch, chunk count and digest. A refusal asks again (the arbiter's retry).
  auto image =
      decode_checked_snapshot(part_spans_, header.seq, header.epoch, header.digest, header.chunks);
  if (!image) {
    ++counters_.snapshot_failures;
    if (image.error().reason == SnapshotRefusal::kBadCrc) ++counters_.bad_crc_chunks;
    if (image.error().reason == SnapshotRefusal::kDigestMismatch) ++counters_.bad_digests;
    log(LogLevel::kWarn, "subscriber: refused the snapshot from service %zu: %s", service,
        image.error().detail.c_str());
    arbiter_.on_snapshot_failed(service, now_ns, out);
    return;
  }
  if (arbiter_.snapshot_superseded(image->seq, image->epoch, image->epoch_start)) {
    // A deposed publisher's history (a higher epoch began at or before its seq): never shown to
    // clients; the next service is asked.
    ++counters_.superseded_snapshots;
    if (superseded_log_.allow(now_ns)) {
      log(LogLevel::kWarn,
          "subscriber: refused the snapshot from service %zu at seq %" PRIu64
          " epoch %u: a higher epoch replaced that history; asking the next service (%" PRIu64
          " more suppressed)",
          service, image->seq, image->epoch, superseded_log_.suppressed());
    }
    arbiter_.on_snapshot_superseded(service, now_ns, out);
    return;
  }
  ++counters_.snapshots_loaded;
  // The image includes every frame up to its seq: frames `out` holds from before it are moot,
  // and applying them after installing it would move state backwards.
  out.frames.clear();
  out.bytes.clear();
  const uint64_t seq = image->seq;
  const uint32_t epoch = image->epoch;
  const uint64_t epoch_start = image->epoch_start;
  snapshot_ = std::move(*image);
  arbiter_.on_snapshot_loaded(seq, epoch, epoch_start, now_ns, out);
}

void Subscriber::send_requests(size_t first_action, const ArbiterOutput& out) {
  for (size_t i = first_action; i < out.actions.size(); ++i) {
    const ArbiterAction& action = out.actions[i];
    recovery::Request request;
    if (action.kind == ArbiterAction::Kind::kRequestRange) {
      request.kind = recovery::RequestKind::kRange;
      request.from = action.from;
      request.to = action.to;
      request.replica = config_.replica_requests;
    } else if (action.kind == ArbiterAction::Kind::kRequestSnapshot) {
      request.kind = recovery::RequestKind::kSnapshot;
    } else {
      continue;
    }
    if (action.service >= services_.size()) continue;
    const std::string text = recovery::format_request(request);
    if (services_[action.service].send(zmq::buffer(text), zmq::send_flags::dontwait)) {
      ++counters_.requests_sent;
    } else {
      ++counters_.send_failures;
    }
  }
}

}  // namespace oddsbus::edge
