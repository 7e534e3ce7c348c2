// The simulated network (per-link loss, duplication, delay and reordering; partitions) and the
// faults injected into it, the nodes, the feeds and the clients.
#include "tests/sim/sim_cluster.h"

namespace oddsbus::sim::detail {

void Simulation::send_to_peer(const Node& n, const char* socket, const recovery::Request& request) {
  Packet p;
  p.kind = Packet::Kind::kRequest;
  p.from = n.index;
  p.to = 1 - n.index;
  p.identity = "n" + std::to_string(n.index) + "." + socket;
  p.text = recovery::format_request(request);
  send(std::move(p));
}

void Simulation::send(Packet packet) {
  ++result_.messages_sent;
  if (blocked(packet.from, packet.to)) return;
  // PUB/SUB loses (a subscriber past its high-water mark, a reconnect) and the arbiters see
  // copies (two lines, republished frames); request and reply ride one TCP connection each,
  // lost only when it breaks (a partition), unless the profile says otherwise.
  const bool pub = packet.kind == Packet::Kind::kPub;
  if (rng_.chance(pub ? profile_.loss : profile_.request_loss)) return;
  const int copies = rng_.chance(pub ? profile_.duplicate : profile_.request_loss) ? 2 : 1;
  auto shared = std::make_shared<const Packet>(std::move(packet));
  for (int i = 0; i < copies; ++i) {
    const uint64_t delay = profile_.delay_min_ns + rng_.below(profile_.delay_jitter_ns + 1);
    at(now_ + delay, [this, shared] { deliver(shared); });
  }
}

void Simulation::deliver(std::shared_ptr<const Packet> packet) {
  if (packet->to < kNodes) {
    Node& n = nodes_[packet->to];
    if (!n.up) return;
    if (n.frozen) {
      n.frozen_inbox.push_back(std::move(packet));
      return;
    }
    node_packet(n, *packet);
    return;
  }
  edge_packet(edges_[packet->to - kNodes], *packet);
}

void Simulation::publish(Node& n, std::span<const uint8_t> batch) {
  n.last_publish_ns = now_;
  for (int to = 0; to < kEndpoints; ++to) {
    if (to == n.index) continue;
    Packet p;
    p.kind = Packet::Kind::kPub;
    p.from = n.index;
    p.to = to;
    p.parts.push_back(copy(batch));
    send(std::move(p));
  }
}

void Simulation::inject_fault() {
  if (!faults_on_) return;
  const double rate = std::max(profile_.fault_rate_per_s, 0.01);
  at(now_ + rng_.range(1, static_cast<uint64_t>(2000.0 / rate)) * kMs, [this] { inject_fault(); });
  const Fault kind = static_cast<Fault>(rng_.below(kFaultCount));
  const bool node_quiet = node_fault_until_ <= now_ && nodes_[0].up && nodes_[1].up &&
                          !nodes_[0].frozen && !nodes_[1].frozen;
  switch (kind) {
    case kCrash:
    case kOsCrash: {
      if (!profile_.crashes || !node_quiet) return;
      const bool os = kind == kOsCrash;
      if (os && !profile_.os_crashes) return;
      Node& n = nodes_[rng_.below(kNodes)];
      const uint64_t down = rng_.range(300, 4000) * kMs;
      trace("FAULT %s n%d for %" PRIu64 " ms", kFaultNames[kind], n.index, down / kMs);
      crash(n, os);
      node_fault_until_ = now_ + down + 6 * kSec;
      disturbed_until_ = now_ + down + kFailoverNs + kAloneNs + kSec;
      at(now_ + down, [this, &n] { restart(n); });
      break;
    }
    case kFreeze: {
      if (!profile_.freezes || !node_quiet) return;
      Node& n = nodes_[rng_.below(kNodes)];
      const uint64_t frozen = rng_.range(300, 4000) * kMs;
      trace("FAULT freeze n%d for %" PRIu64 " ms", n.index, frozen / kMs);
      n.frozen = true;
      node_fault_until_ = now_ + frozen + 6 * kSec;
      disturbed_until_ = now_ + frozen + kFailoverNs + kAloneNs + kSec;
      const uint64_t incarnation = n.incarnation;
      at(now_ + frozen, [this, &n, incarnation] {
        if (n.incarnation != incarnation || !n.frozen) return;
        n.frozen = false;
        trace("n%d thaws: %zu packets, %zu feed lines waiting", n.index, n.frozen_inbox.size(),
              n.frozen_feed.size());
        // A resumed process first reads what its sockets hold, in arrival order.
        while (!n.frozen_inbox.empty() && n.up && n.incarnation == incarnation) {
          auto p = n.frozen_inbox.front();
          n.frozen_inbox.pop_front();
          node_packet(n, *p);
        }
        while (!n.frozen_feed.empty() && n.up && n.incarnation == incarnation) {
          auto f = std::move(n.frozen_feed.front());
          n.frozen_feed.pop_front();
          f();
        }
      });
      break;
    }
    case kPartition:
    case kOneWay: {
      if (!profile_.partitions) return;
      const int a = static_cast<int>(rng_.below(kEndpoints));
      int b = static_cast<int>(rng_.below(kEndpoints - 1));
      if (b >= a) ++b;
      if (a >= kNodes && b >= kNodes) return;  // edges do not talk to each other
      uint64_t length = rng_.range(100, 3000) * kMs;
      if (a < kNodes && b < kNodes) {
        if (!node_quiet) return;
        length = std::min(length, profile_.node_partition_max_ns);
        node_fault_until_ = now_ + length + 6 * kSec;
        disturbed_until_ = now_ + length + kFailoverNs + kAloneNs + kSec;
      }
      trace("FAULT %s %d%s%d for %" PRIu64 " ms", kFaultNames[kind], a,
            kind == kOneWay ? "->" : "<->", b, length / kMs);
      blocked_until_[a][b] = now_ + length;
      if (kind == kPartition) blocked_until_[b][a] = now_ + length;
      break;
    }
    case kFeedStall: {
      if (!profile_.feed_faults) return;
      Provider& p = providers_[rng_.below(2)];
      const uint64_t length = rng_.range(3500, 7000) * kMs;
      trace("FAULT feed-stall %s for %" PRIu64 " ms", p.name.c_str(), length / kMs);
      p.silent_until = now_ + length;
      break;
    }
    case kFeedLineGap: {
      if (!profile_.feed_faults) return;
      const int node = static_cast<int>(rng_.below(kNodes));
      // Only the flaky line of each node (chosen per seed) loses messages: MessageDedup promises
      // every occurrence exactly once when ONE line carries every message. Gaps on both lines,
      // even minutes apart (within max_skew messages of a key's last delivery), break that
      // precondition and lose occurrences by design (feeds/link/message_dedup.h).
      const int line = flaky_line_[node];
      const uint64_t length = rng_.range(200, 2000) * kMs;
      trace("FAULT feed-line-gap pa line %d to n%d for %" PRIu64 " ms", line, node, length / kMs);
      line_gap_until_[0][line][node] = now_ + length;
      break;
    }
    case kClientSlow: {
      if (!profile_.client_faults) return;
      Edge& e = edges_[rng_.below(kEdges)];
      Client& c = e.clients[rng_.below(e.clients.size())];
      const uint64_t length = rng_.range(500, 4000) * kMs;
      trace("FAULT client-slow e%d for %" PRIu64 " ms", e.index, length / kMs);
      c.slow_until = now_ + length;
      break;
    }
    case kClientReconnect: {
      if (!profile_.client_faults) return;
      Edge& e = edges_[rng_.below(kEdges)];
      Client& c = e.clients[rng_.below(e.clients.size())];
      trace("FAULT client-reconnect e%d", e.index);
      connect(e, c, rng_.chance(0.8));
      break;
    }
    case kClockStep: {
      if (!profile_.clock_steps) return;
      Node& n = nodes_[rng_.below(kNodes)];
      const int64_t step =
          (rng_.chance(0.5) ? -1 : 1) * static_cast<int64_t>(rng_.range(1, 30) * kSec);
      trace("FAULT clock-step n%d by %" PRId64 " s", n.index, step / static_cast<int64_t>(kSec));
      n.wall_offset += step;
      break;
    }
    default:
      return;
  }
  ++result_.faults[kind];
}

void Simulation::heal_all() {
  faults_on_ = false;
  trace("faults stop; healing");
  for (auto& row : blocked_until_) {
    for (uint64_t& b : row) b = 0;
  }
  for (Node& n : nodes_) {
    if (n.frozen) {
      // Thaw now: the scheduled thaw finds it thawed and does nothing.
      n.frozen = false;
      const uint64_t incarnation = n.incarnation;
      while (!n.frozen_inbox.empty() && n.incarnation == incarnation) {
        auto p = n.frozen_inbox.front();
        n.frozen_inbox.pop_front();
        node_packet(n, *p);
      }
      while (!n.frozen_feed.empty() && n.incarnation == incarnation) {
        auto f = std::move(n.frozen_feed.front());
        n.frozen_feed.pop_front();
        f();
      }
    }
  }
  for (Provider& p : providers_) p.silent_until = 0;
  for (auto& a : line_gap_until_) {
    for (auto& b : a) {
      for (uint64_t& c : b) c = 0;
    }
  }
  for (Edge& e : edges_) {
    for (Client& c : e.clients) c.slow_until = 0;
  }
}

}  // namespace oddsbus::sim::detail
