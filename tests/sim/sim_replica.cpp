// A node's network side: recovery requests served, the replica (engine/replica.cpp) and what a
// secondary hears from its primary (engine/node_roles.cpp feed_replication).
#include "tests/sim/sim_cluster.h"

namespace oddsbus::sim::detail {

void Simulation::node_packet(Node& n, const Packet& p) {
  using Kind = Packet::Kind;
  if (p.kind == Kind::kPub) {
    const std::span<const uint8_t> bytes = p.parts[0];
    if (primary(n)) {
      // The peer watch: a higher epoch on the peer's stream fences this primary.
      if (!reader_.open(bytes)) return;
      uint32_t epoch = 0;
      for (const fb::Frame* f : reader_.frames()) epoch = std::max(epoch, f->epoch());
      n.role->on_peer_epoch(epoch, now_, n.role_out);
      handle_role(n);
      return;
    }
    n.replica->on_batch(0, bytes, now_, n.replica_out);
    handle_replica(n);
    return;
  }
  if (p.kind == Kind::kRequest) {
    n.recovery->handle(p.identity, p.text, now_, n.reply);
    auto request = recovery::parse_request(p.text);
    if (request && request->kind == recovery::RequestKind::kAck && primary(n)) {
      trace("n%d ack %" PRIu64 " from %s", n.index, request->from, p.identity.c_str());
      n.role->on_ack(request->from, now_, n.role_out);
      handle_role(n);
    }
    if (!request || request->kind != recovery::RequestKind::kAck) {
      trace("n%d request from %s: %s -> %s", n.index, p.identity.c_str(), p.text.c_str(),
            n.reply.empty() ? "(parked)" : n.reply.header().c_str());
    }
    if (!n.reply.empty()) {
      Packet r;
      r.kind = Kind::kReply;
      r.from = n.index;
      r.to = p.from;
      r.identity = p.identity;
      r.text = n.reply.header();
      for (const auto part : n.reply.parts()) r.parts.push_back(copy(part));
      send(std::move(r));
    }
    send_outbox(n);
    return;
  }
  // A reply to this node's replica.
  if (primary(n) || !n.replica) return;
  auto header = recovery::parse_reply_header(p.text);
  if (!header) return;
  std::vector<std::span<const uint8_t>> parts;
  for (const Bytes& b : p.parts) parts.emplace_back(b);
  // As edge::Subscriber: any valid reply header raises the highest epoch heard.
  n.highest_reply_epoch = std::max(n.highest_reply_epoch, header->epoch);
  const bool follow = p.identity.ends_with(".fol");
  if (follow) {
    trace("n%d follow reply: %s (%zu batches)", n.index, p.text.c_str(), p.parts.size());
    n.follow_outstanding = false;
  }
  if (follow) {
    for (const auto& part : parts) {
      n.replica->on_batch(1, part, now_, n.replica_out);
      handle_replica(n);
      if (!n.replica) return;  // took over meanwhile
    }
  } else {
    n.replica->on_reply(0, *header, parts, now_, n.replica_out);
    handle_replica(n);
  }
}

void Simulation::handle_replica(Node& n) {
  if (!n.replica) return;
  edge::ArbiterOutput& out = n.replica_out;
  for (const edge::ArbiterAction& a : out.actions) {
    using K = edge::ArbiterAction::Kind;
    if (a.kind == K::kRequestRange) {
      recovery::Request r;
      r.kind = recovery::RequestKind::kRange;
      r.from = a.from;
      r.to = a.to;
      r.replica = true;
      send_to_peer(n, "req", r);
    } else if (a.kind == K::kDiverged) {
      trace("n%d replica diverged from %" PRIu64, n.index, a.from);
      n.role->on_diverged(a.from, n.role_out);
      handle_role(n);
    } else if (a.kind == K::kRangeGone) {
      trace("n%d replica: range from %" PRIu64 " gone", n.index, a.from);
    }
  }
  hear_primary(n);
  if (!out.frames.empty()) {
    const uint64_t first = out.frames.front()->seq();
    if (first != n.sequencer->last_seq() + 1) {
      violation(kInOrderOnce, "n%d replica delivered seq %" PRIu64 " after %" PRIu64, n.index,
                first, n.sequencer->last_seq());
    } else {
      n.batch.begin(kChannel, first);
      for (const auto& b : out.bytes) n.batch.add(b);
      const uint64_t last = first + n.batch.count() - 1;
      Bytes bytes = copy(n.batch.bytes());
      for (const fb::Frame* f : out.frames) n.sequencer->restore(*f);
      const uint32_t epoch = out.frames.back()->epoch();
      n.journal.push_back({first, last, bytes});
      accept(bytes, n.index == 0 ? "n0 (replica)" : "n1 (replica)");
      (void)n.recovery->on_committed(bytes, n.outbox);
      n.role->on_replicated(last, epoch, now_, n.role_out);
      n.recovery->set_visible_limit(n.role->visible_seq(), n.outbox);
      trace("n%d replicated %" PRIu64 "..%" PRIu64 " e%u", n.index, first, last, epoch);
      publish(n, bytes);  // hot-hot: the secondary republishes what it journaled
      if (profile_.sync) {
        recovery::Request ack;
        ack.kind = recovery::RequestKind::kAck;
        ack.from = last;
        send_to_peer(n, "fol", ack);
      }
      handle_role(n);
      send_outbox(n);
    }
  }
  out.clear();
}

// As engine/node_roles.cpp feed_replication: the failover clock hears only a sequencing primary
// (Arbiter::last_sequencer_ns: new frames and unrelayed heartbeats; a fellow secondary's
// republished heartbeats do not count, KNOWN_FINDINGS.md F1), and the primary's own heartbeat
// position tells a sync secondary that its journal is the primary's history (F3).
void Simulation::hear_primary(Node& n) {
  if (!n.replica || primary(n)) return;
  if (n.replica->last_sequencer_ns() != 0) {
    n.role->on_heard(std::max(n.replica->highest_epoch_seen(), n.highest_reply_epoch),
                     n.replica->last_sequencer_ns());
  }
  n.role->on_primary_position(n.replica->sequencer_epoch(), n.replica->sequencer_last_seq());
  n.recovery->set_visible_limit(n.role->visible_seq(), n.outbox);
  send_outbox(n);
}

void Simulation::send_outbox(Node& n) {
  for (size_t i = 0; i < n.outbox.size(); ++i) {
    const std::string& id = n.outbox.identity(i);
    const engine::RecoveryReply& reply = n.outbox.reply(i);
    if (reply.empty()) continue;
    Packet r;
    r.kind = Packet::Kind::kReply;
    r.from = n.index;
    r.to = id[0] == 'n' ? id[1] - '0' : kNodes + (id[1] - '0');
    r.identity = id;
    r.text = reply.header();
    for (const auto part : reply.parts()) r.parts.push_back(copy(part));
    send(std::move(r));
  }
  n.outbox.clear();
}

}  // namespace oddsbus::sim::detail
