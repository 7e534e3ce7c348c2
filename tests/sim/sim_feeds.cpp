// The providers: deterministic oddsjson messages about their markets, connect-time images, and
// the fault-free reference fold of every message.
#include "tests/sim/sim_cluster.h"

namespace oddsbus::sim::detail {

const char* const kOdds[] = {"2.5", "3/2", "+150", "evens", "1.5", "4.0", "11/4", "-200", "2.0"};

// Sends one provider message on every line of provider `pi` (to every node, or only to
// `only_node`: a connect-time image). `key` names the state it sets ("d:M", "p:M:S", "s:M").
void Simulation::emit(int pi, std::string body, const std::string& key, int only_node) {
  Provider& p = providers_[pi];
  ++p.sent;
  p.last_sent_ns = now_;
  if (!key.empty()) p.state[key] = body;
  if (body.find("heartbeat") == std::string::npos) {
    trace("feed %s%s: %s", p.name.c_str(), only_node < 0 ? "" : " (image)", body.c_str());
  }
  if (only_node < 0) reference_fold(pi, body);
  for (int line = 0; line < p.lines; ++line) {
    for (int ni = 0; ni < kNodes; ++ni) {
      if (only_node >= 0 && ni != only_node) continue;
      if (line_gap_until_[pi][line][ni] > now_) continue;  // this line loses it
      uint64_t& fifo = feed_fifo_[pi][line][ni];
      fifo = std::max(fifo, now_ + 500'000 + rng_.below(3 * kMs));
      Node* n = &nodes_[ni];
      const uint64_t incarnation = n->incarnation;
      at(fifo, [this, n, pi, line, body, incarnation] {
        if (n->incarnation != incarnation) return;  // the connection died with the process
        node_feed(*n, pi, line, body);
      });
    }
  }
}

// A node (re)connected: the provider sends it its current state first, as Betfair's stream
// does with its initial image, so a restarted node does not miss what was said while it was
// down (definitions, then prices, then statuses: "d:" < "p:" < "s:").
void Simulation::resend_state(int pi, int node) {
  Provider& p = providers_[pi];
  if (!nodes_[node].up) return;
  if (p.silent_until > now_) {
    at(p.silent_until, [this, pi, node] { resend_state(pi, node); });
    return;
  }
  for (const auto& [key, body] : p.state) emit(pi, body, {}, node);
}

void Simulation::provider_step(int pi) {
  Provider& p = providers_[pi];
  if (!feeds_on_) return;
  at(now_ + rng_.range(10, 45) * kMs, [this, pi] { provider_step(pi); });
  if (p.silent_until > now_) return;
  if (!p.defined) {
    p.defined = true;
    for (uint64_t m : p.markets) {
      std::string body = "{\"type\":\"market\",\"market\":" + std::to_string(m) +
                         ",\"event\":" + std::to_string(m / 10) + ",\"name\":\"M" +
                         std::to_string(m) + "\",\"selections\":[";
      for (int s = 1; s <= p.selections[m]; ++s) {
        body += std::string(s > 1 ? "," : "") + "{\"id\":" + std::to_string(s) + ",\"name\":\"S" +
                std::to_string(s) + "\"}";
      }
      emit(pi, body + "]}", "d:" + std::to_string(m));
    }
    return;
  }
  const uint64_t m = p.markets[rng_.below(p.markets.size())];
  const uint64_t kind = rng_.below(100);
  std::string body;
  if (!faults_on_ && now_ > profile_.fault_phase_ns + profile_.quiet_phase_ns / 2) {
    body = "{\"type\":\"heartbeat\",\"ts\":" + std::to_string((kWallBase + now_) / kMs) + "}";
    emit(pi, body);
    return;
  }
  std::string key;
  if (kind < 62) {
    const uint64_t sel = 1 + rng_.below(static_cast<uint64_t>(p.selections[m]));
    body = "{\"type\":\"price\",\"market\":" + std::to_string(m) +
           ",\"selection\":" + std::to_string(sel) + ",\"odds\":\"" +
           kOdds[rng_.below(std::size(kOdds))] + "\"}";
    key = "p:" + std::to_string(m) + ":" + std::to_string(sel);
  } else if (kind < 72) {
    body = "{\"type\":\"status\",\"market\":" + std::to_string(m) + ",\"status\":\"" +
           (rng_.chance(0.5) ? "suspended" : "open") + "\"}";
    key = "s:" + std::to_string(m);
  } else if (kind < 86) {
    auto& recent = p.recent[m];
    if (recent.empty()) return;
    const auto& [again_key, again] = recent[rng_.below(recent.size())];
    emit(pi, again, again_key);  // A, B, A: a legitimate repeat
    return;
  } else if (kind < 94) {
    body = "{\"type\":\"heartbeat\",\"ts\":" + std::to_string((kWallBase + now_) / kMs) + "}";
    emit(pi, body);
    return;
  } else {
    if (!profile_.feed_faults) return;
    const char* garbage[] = {
        "not json at all", "{\"type\":\"price\",\"market\":", "{\"type\":\"nope\",\"market\":1}",
        "{\"type\":\"price\",\"market\":9001,\"selection\":1,\"odds\":\"2.0\"}",
        "{\"type\":\"price\",\"market\":1001,\"selection\":1,\"odds\":\"x\"}"};
    emit(pi, garbage[rng_.below(std::size(garbage))]);
    return;
  }
  auto& recent = p.recent[m];
  recent.emplace_back(key, body);
  if (recent.size() > 4) recent.pop_front();
  emit(pi, body, key);
}

void Simulation::reference_fold(int pi, const std::string& text) {
  Reference& r = reference_;
  r.events.clear();
  if (!r.adapters[static_cast<size_t>(pi)]->parse(text, r.events)) return;
  r.sequencer->begin_batch(r.batch);
  for (const feeds::Event& e : r.events) {
    r.selected.clear();
    r.selector->on_event(e, now_, r.selected);
    for (const feeds::Event& s : r.selected)
      (void)r.sequencer->sequence(s, kWallBase + now_, r.batch);
  }
  r.selector->notices().clear();
}

}  // namespace oddsbus::sim::detail
