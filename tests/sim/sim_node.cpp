// The node shell over the real cores: boot and restart (start role as engine/node_assembly.cpp),
// crash, commits, the role core's actions carried out, provider messages and the periodic tick.
#include "tests/sim/sim_cluster.h"

#include <optional>

#include "engine/replica_position.h"

namespace oddsbus::sim::detail {

void Simulation::boot(Node& n, engine::NodeRole start) {
  ++n.incarnation;
  n.up = true;
  n.frozen = false;
  n.frozen_inbox.clear();
  n.frozen_feed.clear();
  n.held.clear();
  n.held_bytes = 0;
  n.follow_outstanding = false;
  n.last_publish_ns = now_;
  engine::SequencerConfig sc;
  sc.channel = kChannel;
  sc.node = static_cast<uint32_t>(n.index + 1);
  n.sequencer = std::make_unique<engine::Sequencer>(sc);
  for (const JournalRecord& r : n.journal) {
    if (!reader_.open(r.bytes)) continue;
    for (const fb::Frame* f : reader_.frames()) n.sequencer->restore(*f);
  }
  engine::RoleCoreConfig rc;
  rc.node = sc.node;
  rc.has_peer = true;
  rc.sync = profile_.sync;
  rc.failover_after_ns = kFailoverNs;
  rc.alone_after_ns = kAloneNs;
  rc.own_pause_ns = kFailoverNs / 3;  // as engine/node_roles.cpp
  rc.max_held_bytes = kMaxHeldBytes;
  rc.planted_keep_epoch = profile_.plant == Plant::kKeepEpoch;
  n.role = std::make_unique<engine::RoleCore>(rc, start, n.sequencer->last_seq(),
                                              n.sequencer->epoch(), now_);
  engine::RecoveryServiceConfig vc;
  vc.node = sc.node;
  vc.channel = kChannel;
  vc.ring_slots = 256;  // small: older ranges come from the journal
  vc.max_frames = 512;  // capped replies
  n.log = std::make_unique<MemLog>(n.journal);
  n.recovery = std::make_unique<engine::RecoveryService>(vc, n.log.get());
  n.outbox.clear();
  for (const JournalRecord& r : n.journal) (void)n.recovery->on_committed(r.bytes, n.outbox);
  n.recovery->set_primary(start == engine::NodeRole::kPrimary);
  n.recovery->set_visible_limit(n.role->visible_seq(), n.outbox);
  n.outbox.clear();
  feeds::SourceSelectorConfig fc;
  fc.stale_after_ns = kStaleAfterNs;
  fc.stale_unmapped = true;
  n.selector = std::make_unique<feeds::SourceSelector>(mapping_, fc);
  n.adapters.clear();
  for (const Provider& p : providers_) {
    n.adapters.push_back(std::move(*feeds::make_adapter("oddsjson", p.name, nullptr)));
  }
  feeds::link::MessageDedupConfig dc;
  dc.window = 1024;
  dc.planted_by_content = profile_.plant == Plant::kDedupByContent;
  n.dedup = std::make_unique<feeds::link::MessageDedup>(2, dc);
  n.replica.reset();
  if (start == engine::NodeRole::kSecondary) become_secondary(n);
  trace("n%d boot %s at seq %" PRIu64 " epoch %u", n.index,
        start == engine::NodeRole::kPrimary ? "primary" : "secondary", n.sequencer->last_seq(),
        n.sequencer->epoch());
  for (int pi = 0; pi < 2; ++pi) {
    if (providers_[pi].defined) resend_state(pi, n.index);
  }
  if (start == engine::NodeRole::kPrimary) {
    // As engine/node.cpp: the mapping defines its markets, suspended until a source is heard.
    n.events.clear();
    n.selector->definitions(n.events);
    // Journal markets no feed has spoken of yet (F2): as engine/node_assembly.cpp.
    n.selector->adopt_journal_markets(n.sequencer->state(), now_, n.events);
    n.selector->notices().clear();
    n.sequencer->begin_batch(n.batch);
    for (const feeds::Event& e : n.events) (void)n.sequencer->sequence(e, wall(n), n.batch);
    commit(n);
  }
}

void Simulation::become_secondary(Node& n) {
  n.held.clear();
  n.held_bytes = 0;
  n.recovery->set_primary(false);
  edge::ArbiterConfig ac;
  ac.mode = edge::ResyncMode::kTruncate;
  ac.recovery_services = 1;
  ac.max_range = 512;
  n.replica = std::make_unique<edge::Arbiter>(ac);
  engine::position_at_history(*n.replica, *n.sequencer);
  n.replica_out.clear();
  n.follow_outstanding = false;
  n.highest_reply_epoch = 0;
}

void Simulation::crash(Node& n, bool os_crash) {
  n.up = false;
  ++n.incarnation;
  if (os_crash && n.synced < n.journal.size()) {
    trace("n%d OS crash: journal cut from %zu to %zu records", n.index, n.journal.size(), n.synced);
    n.journal.resize(n.synced);
  }
  n.sequencer.reset();
  n.role.reset();
  n.recovery.reset();
  n.log.reset();
  n.selector.reset();
  n.replica.reset();
  n.held.clear();
  n.held_bytes = 0;
  n.frozen = false;
  n.frozen_inbox.clear();
  n.frozen_feed.clear();
}

// As engine/node_assembly.cpp starts a node: the node configured primary (node 1) probes its
// peer's status and engine::choose_start_role decides (it joins a peer that is primary or holds
// more of the history); the other always starts secondary. The probe is answered by the peer's
// real RecoveryService when the peer is up, not frozen and not cut off (the probe's timeout).
void Simulation::restart(Node& n) {
  if (n.up) return;
  Node& peer = nodes_[1 - n.index];
  const engine::NodeRole configured =
      n.index == 0 ? engine::NodeRole::kPrimary : engine::NodeRole::kSecondary;
  std::optional<engine::PeerStatus> status;
  if (configured == engine::NodeRole::kPrimary && peer.up && peer.recovery && !peer.frozen &&
      !blocked(n.index, peer.index) && !blocked(peer.index, n.index)) {
    engine::RecoveryReply reply;
    peer.recovery->handle("n" + std::to_string(n.index) + ".probe", "status", now_, reply);
    auto header = recovery::parse_reply_header(reply.header());
    if (header && header->kind == recovery::ReplyKind::kStatus) {
      status = engine::PeerStatus{header->primary, header->epoch, header->last_seq};
    }
  }
  // The start role needs the journal's (last seq, epoch), as the real node has them from its
  // restored Sequencer before it probes.
  engine::SequencerConfig sc;
  sc.channel = kChannel;
  sc.node = static_cast<uint32_t>(n.index + 1);
  engine::Sequencer restored(sc);
  for (const JournalRecord& r : n.journal) {
    if (!reader_.open(r.bytes)) continue;
    for (const fb::Frame* f : reader_.frames()) restored.restore(*f);
  }
  boot(n, engine::choose_start_role(configured, restored.last_seq(), restored.epoch(), status));
}

void Simulation::commit(Node& n) {
  if (n.batch.empty()) return;
  const uint64_t first = n.batch.first_seq();
  const uint64_t last = first + n.batch.count() - 1;
  Bytes bytes = copy(n.batch.bytes());
  n.journal.push_back({first, last, bytes});
  accept(bytes, n.index == 0 ? "n0" : "n1");
  if (auto ok = n.recovery->on_committed(bytes, n.outbox); !ok) {
    trace("n%d recovery refused batch %" PRIu64 ": %s", n.index, first, ok.error().c_str());
  }
  const bool now_public = n.role->on_committed(last, bytes.size(), now_, n.role_out);
  trace("n%d commit %" PRIu64 "..%" PRIu64 " e%u %s", n.index, first, last, n.sequencer->epoch(),
        now_public ? "published" : "held");
  if (now_public) {
    publish(n, bytes);
  } else {
    n.held_bytes += bytes.size();
    n.held.push_back(std::move(bytes));
  }
  n.recovery->set_visible_limit(n.role->visible_seq(), n.outbox);
  handle_role(n);
  send_outbox(n);
}

void Simulation::handle_role(Node& n) {
  if (!n.role) return;
  const std::vector<engine::RoleAction> actions = n.role_out.actions;
  for (const engine::RoleNotice& notice : n.role_out.notices) {
    trace("n%d notice %d epoch %u seq %" PRIu64, n.index, static_cast<int>(notice.kind),
          notice.epoch, notice.seq);
  }
  n.role_out.clear();
  for (const engine::RoleAction& a : actions) {
    using K = engine::RoleAction::Kind;
    switch (a.kind) {
      case K::kRelease:
        while (!n.held.empty()) {
          BatchHeader h;
          std::memcpy(&h, n.held.front().data(), sizeof h);
          if (h.first_seq + h.count - 1 > a.seq) break;
          trace("n%d release %" PRIu64, n.index, h.first_seq);
          publish(n, n.held.front());
          n.held_bytes -= n.held.front().size();
          n.held.pop_front();
        }
        break;
      case K::kFence:
        trace("n%d FENCED by epoch %u at seq %" PRIu64, n.index, a.epoch, a.seq);
        ++result_.fencings;
        become_secondary(n);
        break;
      case K::kTakeOver:
        take_over(n, a.epoch, a.seq);
        break;
      case K::kSetAside:
      case K::kSetAsideHeld:
        set_aside(n, a.seq);
        break;
    }
  }
  if (n.recovery) n.recovery->set_visible_limit(n.role->visible_seq(), n.outbox);
}

void Simulation::take_over(Node& n, uint32_t epoch, uint64_t seq) {
  ++result_.takeovers;
  n.replica.reset();
  n.recovery->set_primary(true);
  if (epoch <= n.sequencer->epoch()) {
    // Only with the planted keep-epoch bug: there is no higher epoch to change to, so the node
    // goes on sequencing in the epoch it had (Sequencer::change_epoch requires a raise).
    trace("n%d TAKEOVER without raising epoch %u at seq %" PRIu64, n.index, epoch,
          n.sequencer->last_seq() + 1);
  } else {
    n.sequencer->begin_batch(n.batch);
    const uint64_t at_seq = n.sequencer->change_epoch(epoch, wall(n), n.batch);
    trace("n%d TAKEOVER epoch %u at seq %" PRIu64 " (role core said %" PRIu64 ")", n.index, epoch,
          at_seq, seq);
    commit(n);
  }
  // Reconcile the feeds' view with the journal (engine/node_roles.cpp take_over).
  n.events.clear();
  n.selector->reconcile(n.sequencer->state(), now_, n.events);
  n.selector->notices().clear();
  if (!n.events.empty()) {
    n.sequencer->begin_batch(n.batch);
    for (const feeds::Event& e : n.events) (void)n.sequencer->sequence(e, wall(n), n.batch);
    trace("n%d reconciled %zu events", n.index, n.events.size());
    commit(n);
  }
}

void Simulation::set_aside(Node& n, uint64_t from) {
  ++result_.set_asides;
  std::vector<JournalRecord> kept;
  uint64_t dropped = 0;
  for (JournalRecord& r : n.journal) {
    if (r.last < from) {
      kept.push_back(std::move(r));
      continue;
    }
    dropped += r.last - std::max(r.first, from) + 1;
    if (r.first >= from) continue;
    if (!reader_.open(r.bytes)) continue;
    n.batch.begin(kChannel, r.first);
    for (size_t i = 0; i < reader_.frames().size(); ++i) {
      if (reader_.frames()[i]->seq() < from) n.batch.add(reader_.frame_bytes(i));
    }
    kept.push_back({r.first, from - 1, copy(n.batch.bytes())});
  }
  n.journal = std::move(kept);
  n.synced = std::min(n.synced, n.journal.size());
  engine::SequencerConfig sc;
  sc.channel = kChannel;
  sc.node = static_cast<uint32_t>(n.index + 1);
  n.sequencer = std::make_unique<engine::Sequencer>(sc);
  for (const JournalRecord& r : n.journal) {
    if (!reader_.open(r.bytes)) continue;
    for (const fb::Frame* f : reader_.frames()) n.sequencer->restore(*f);
  }
  n.recovery->reset();
  for (const JournalRecord& r : n.journal) (void)n.recovery->on_committed(r.bytes, n.outbox);
  trace("n%d set aside %" PRIu64 " frames from seq %" PRIu64 "; journal ends at %" PRIu64, n.index,
        dropped, from, n.sequencer->last_seq());
}

void Simulation::node_feed(Node& n, int provider, int line, const std::string& text) {
  if (!n.up) return;
  if (n.frozen) {
    n.frozen_feed.push_back(
        [this, &n, provider, line, text] { node_feed(n, provider, line, text); });
    return;
  }
  if (provider == 0 &&
      !n.dedup->admit(static_cast<size_t>(line), feeds::link::message_key("oddsjson", text))) {
    return;
  }
  n.events.clear();
  if (!n.adapters[static_cast<size_t>(provider)]->parse(text, n.events)) return;
  if (!primary(n)) {
    for (const feeds::Event& e : n.events) {
      n.selected.clear();
      n.selector->on_event(e, now_, n.selected);  // warm: nothing is sequenced
    }
    n.selector->notices().clear();
    return;
  }
  n.sequencer->begin_batch(n.batch);
  for (const feeds::Event& e : n.events) {
    n.selected.clear();
    n.selector->on_event(e, now_, n.selected);
    for (const feeds::Event& s : n.selected) (void)n.sequencer->sequence(s, wall(n), n.batch);
  }
  n.selector->notices().clear();
  commit(n);
}

void Simulation::node_tick(Node& n) {
  if (!n.up || n.frozen) return;
  const uint64_t incarnation = n.incarnation;
  if (now_ - n.last_selector_tick_ns >= kSelectorTickNs) {
    n.last_selector_tick_ns = now_;
    n.selected.clear();
    n.selector->on_tick(now_, n.selected);
    n.selector->notices().clear();
    if (primary(n) && !n.selected.empty()) {
      n.sequencer->begin_batch(n.batch);
      for (const feeds::Event& s : n.selected) (void)n.sequencer->sequence(s, wall(n), n.batch);
      commit(n);
    }
  }
  n.role->on_tick(now_, n.role_out);
  handle_role(n);
  if (incarnation != n.incarnation) return;
  n.recovery->on_tick(now_, n.outbox);
  send_outbox(n);
  if (primary(n)) {
    if (now_ - n.last_publish_ns >= kHeartbeatNs) {
      n.sequencer->heartbeat(wall(n), n.batch, /*relayed=*/false, n.role->heartbeat_seq());
      publish(n, n.batch.bytes());
    }
    return;
  }
  // Secondary: replica gap and request timeouts, the long-poll follow, heartbeats republished.
  n.replica->on_tick(now_, n.replica_out);
  handle_replica(n);
  if (!n.replica) return;
  if (n.follow_outstanding && now_ - n.follow_sent_ns > (kLongPollMs + 1000) * kMs) {
    n.follow_outstanding = false;
  }
  if (!n.follow_outstanding) {
    recovery::Request r;
    r.kind = recovery::RequestKind::kRange;
    r.from = n.sequencer->last_seq() + 1;
    r.to = r.from + 511;
    r.wait_ms = kLongPollMs;
    r.replica = true;
    trace("n%d follow: %s", n.index, recovery::format_request(r).c_str());
    send_to_peer(n, "fol", r);
    n.follow_outstanding = true;
    n.follow_sent_ns = now_;
  }
  if (now_ - n.last_publish_ns >= kHeartbeatNs) {
    n.sequencer->heartbeat(wall(n), n.batch, /*relayed=*/true);
    publish(n, n.batch.bytes());
  }
}

}  // namespace oddsbus::sim::detail
