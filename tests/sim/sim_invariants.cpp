// The invariants (sim.h kInvariantNames): checked as frames are accepted, on every edge tick, and
// after quiescence.
#include <algorithm>

#include "tests/sim/sim_cluster.h"

namespace oddsbus::sim::detail {

void Simulation::accept(std::span<const uint8_t> batch, const char* who) {
  if (!reader_.open(batch)) return;
  for (size_t i = 0; i < reader_.frames().size(); ++i) {
    const fb::Frame* f = reader_.frames()[i];
    const uint64_t h = hash_bytes(reader_.frame_bytes(i));
    auto [it, inserted] = accepted_.try_emplace({f->epoch(), f->seq()}, h);
    if (!inserted && it->second != h) {
      violation(kOneFramePerSeq, "%s accepted a second, different frame for epoch %u seq %" PRIu64,
                who, f->epoch(), f->seq());
      it->second = h;  // report each conflict once
    }
  }
}

void Simulation::check_bounds() {
  for (Node& n : nodes_) {
    if (!n.up) continue;
    if (n.held_bytes > kMaxHeldBytes + (1 << 16)) {
      violation(kBounded, "n%d holds %" PRIu64 " bytes", n.index, n.held_bytes);
    }
    if (n.recovery->parked() > 256) {
      violation(kBounded, "n%d parked %zu requests", n.index, n.recovery->parked());
    }
  }
  for (Edge& e : edges_) {
    if (e.cache.window_frames() > 2000) {
      violation(kBounded, "e%d window holds %zu frames", e.index, e.cache.window_frames());
    }
    for (Client& c : e.clients) {
      // Deltas stop at max_queue_bytes; one image (parts) and control messages may come on top.
      if (c.stream->queued_bytes() > kMaxQueueBytes + (64 << 10)) {
        violation(kBounded, "e%d client queues %zu bytes", e.index, c.stream->queued_bytes());
      }
    }
  }
}

// Invariant 6: a market whose only source has been silent for longer than stale_after plus the
// propagation bound must not be open at an edge that is current (positioned, hearing a live
// publisher, no gap waiting).
void Simulation::check_stale(Edge& e) {
  if (!e.cache.positioned() || e.stale || e.arbiter->gap_open_since_ns() != 0) return;
  if (e.arbiter->last_live_ns() + 300 * kMs < now_) return;
  // The propagation bound: the selector's tick, the network and the secondary's ack, with
  // margin. After a node fault the primary may be down (failover_after) or waiting for its
  // secondary (alone_after): the check waits until disturbed_until_.
  if (now_ < disturbed_until_) return;
  // A sync primary holds the suspension until its secondary acks it, and at most alone_after
  // when no ack comes (engine/role_core.h): a lost long-poll reply is asked again after
  // long_poll + 1 s (engine/replica.cpp), and when that is lost too the primary goes alone.
  const uint64_t bound = kStaleAfterNs + kSelectorTickNs +
                         std::max<uint64_t>((kLongPollMs + 1000) * kMs, kAloneNs) + 500 * kMs;
  for (int pi = 0; pi < 2; ++pi) {
    const Provider& p = providers_[pi];
    if (p.last_sent_ns + bound >= now_) continue;
    for (uint64_t m : p.markets) {
      const MarketRecord* r = e.cache.state().find(m);
      if (r != nullptr && r->status == fb::MarketStatus::Open) {
        violation(kStaleSuspended,
                  "e%d shows market %" PRIu64 " open; %s silent for %" PRIu64 " ms", e.index, m,
                  p.name.c_str(), (now_ - p.last_sent_ns) / kMs);
        return;
      }
    }
  }
}

// A comparable view of a state: per market, status and each selection's price_e4.
std::string comparable(const MarketState& state) {
  std::string out;
  for (const auto& [id, m] : state.markets()) {
    out += std::to_string(id) + ":" + std::string(oddsbus::to_string(m.status)) + "[";
    for (const SelectionState& s : m.selections) {
      out += std::to_string(s.id) + "=" + std::to_string(s.price_e4) + ",";
    }
    out += "] ";
  }
  return out;
}

std::string comparable(const std::map<uint64_t, FoldedMarket>& markets) {
  std::string out;
  for (const auto& [id, m] : markets) {
    out += std::to_string(id) + ":" + m.status + "[";
    for (const auto& [s, price] : m.prices)
      out += std::to_string(s) + "=" + std::to_string(price) + ",";
    out += "] ";
  }
  return out;
}

void Simulation::final_checks() {
  Node* survivor = nullptr;
  for (Node& n : nodes_) {
    if (!primary(n)) continue;
    if (survivor == nullptr || n.role->epoch() > survivor->role->epoch()) survivor = &n;
  }
  if (survivor == nullptr) {
    violation(kConverged, "no primary after quiescence");
    return;
  }
  trace("final: survivor n%d epoch %u seq %" PRIu64, survivor->index, survivor->role->epoch(),
        survivor->sequencer->last_seq());
  result_.frames = survivor->sequencer->last_seq();
  // The surviving history, seq -> frame hash.
  std::vector<uint64_t> history(survivor->sequencer->last_seq() + 1, 0);
  for (const JournalRecord& r : survivor->journal) {
    if (!reader_.open(r.bytes)) continue;
    for (size_t i = 0; i < reader_.frames().size(); ++i) {
      history[reader_.frames()[i]->seq()] = hash_bytes(reader_.frame_bytes(i));
    }
  }
  for (Node& n : nodes_) {
    if (&n == survivor) continue;
    if (primary(n)) {
      violation(kConverged, "two primaries after quiescence: n%d epoch %u and n%d epoch %u",
                n.index, n.role->epoch(), survivor->index, survivor->role->epoch());
      continue;
    }
    if (n.sequencer->last_seq() != survivor->sequencer->last_seq() ||
        state_digest(n.sequencer->state()) != state_digest(survivor->sequencer->state())) {
      violation(kConverged,
                "secondary n%d at seq %" PRIu64 " digest %s, survivor at %" PRIu64 " digest %s",
                n.index, n.sequencer->last_seq(),
                digest_hex(state_digest(n.sequencer->state())).c_str(),
                survivor->sequencer->last_seq(),
                digest_hex(state_digest(survivor->sequencer->state())).c_str());
    }
  }
  const std::string survivor_view = comparable(survivor->sequencer->state());
  const std::string reference_view = comparable(reference_.sequencer->state());
  if (survivor_view != reference_view) {
    violation(kConverged, "survivor's state differs from the fold of the input: %s VS %s",
              survivor_view.substr(0, 200).c_str(), reference_view.substr(0, 200).c_str());
  }
  const uint64_t digest = state_digest(survivor->sequencer->state());
  for (Edge& e : edges_) {
    if (e.cache.seq() != survivor->sequencer->last_seq() ||
        state_digest(e.cache.state()) != digest) {
      violation(kConverged, "e%d at seq %" PRIu64 " digest %s, survivor at %" PRIu64 " digest %s",
                e.index, e.cache.seq(), digest_hex(state_digest(e.cache.state())).c_str(),
                survivor->sequencer->last_seq(), digest_hex(digest).c_str());
    }
    const std::string edge_view = comparable(e.cache.state());
    for (size_t ci = 0; ci < e.clients.size(); ++ci) {
      const std::string client_view = comparable(e.clients[ci].markets);
      if (client_view != edge_view) {
        violation(kConverged, "e%d client %zu differs from its edge: %s VS %s", e.index, ci,
                  client_view.substr(0, 160).c_str(), edge_view.substr(0, 160).c_str());
      }
    }
    for (const Applied& a : e.applied) {
      const bool survives = a.seq < history.size() && history[a.seq] == a.hash;
      if (survives) continue;
      if (!a.reimaged) {
        violation(kAppliedSurvives,
                  "e%d applied epoch %u seq %" PRIu64
                  ", lost from the surviving history and "
                  "never re-imaged",
                  e.index, a.epoch, a.seq);
      }
      if (profile_.sync) {
        violation(kAckedKept,
                  "e%d was served epoch %u seq %" PRIu64 ", which the surviving history lost",
                  e.index, a.epoch, a.seq);
      }
    }
  }
}

}  // namespace oddsbus::sim::detail
