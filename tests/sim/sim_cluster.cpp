// The simulator's scheduler: the trace, violations, the run (providers and mapping, periodic
// work, the fault and quiet phases, the final reads) and run_seed.
#include "tests/sim/sim_cluster.h"

#include <cstdarg>

namespace oddsbus::sim::detail {

void Simulation::trace(const char* format, ...) {
  char buffer[512];
  const int head = std::snprintf(buffer, sizeof buffer, "%" PRIu64 ".%06" PRIu64 " ", now_ / kSec,
                                 (now_ % kSec) / 1000);
  va_list args;
  va_start(args, format);
  std::vsnprintf(buffer + head, sizeof buffer - static_cast<size_t>(head), format, args);
  va_end(args);
  const std::string_view line(buffer);
  trace_hash_ = fnv(line.data(), line.size(), trace_hash_);
  trace_hash_ = fnv("\n", 1, trace_hash_);
  if (trace_file_ != nullptr) std::fprintf(trace_file_, "%s\n", buffer);
  tail_.emplace_back(line);
  if (tail_.size() > kTraceTail) tail_.pop_front();
}

void Simulation::violation(Invariant inv, const char* format, ...) {
  char buffer[512];
  va_list args;
  va_start(args, format);
  std::vsnprintf(buffer, sizeof buffer, format, args);
  va_end(args);
  ++result_.violations[inv];
  trace("VIOLATION %s: %s", kInvariantNames[inv], buffer);
  if (result_.messages.size() < kMaxMessages) {
    char at[64];
    std::snprintf(at, sizeof at, " (at %" PRIu64 ".%06" PRIu64 " s)", now_ / kSec,
                  (now_ % kSec) / 1000);
    result_.messages.push_back(std::string(kInvariantNames[inv]) + ": " + buffer + at);
  }
}

RunResult Simulation::run() {
  // Providers: "pa" over two redundant lines, "pb" over one.
  providers_[0].name = "pa";
  providers_[0].lines = 2;
  providers_[0].markets = {1001, 1002, 1003, 1004, 1005, 1006};
  providers_[1].name = "pb";
  providers_[1].lines = 1;
  providers_[1].markets = {2001, 2002, 2003, 2004};
  for (Provider& p : providers_) {
    for (uint64_t m : p.markets) p.selections[m] = static_cast<int>(rng_.range(2, 3));
  }
  for (int& line : flaky_line_) line = static_cast<int>(rng_.below(2));
  {
    // Provider ids are canonical ids (an in-house oddsjson feed); the mapping names each
    // market's one source, so a node knows them (and suspends them) from its start.
    std::string toml;
    for (const Provider& p : providers_) {
      if (profile_.unmapped && &p == &providers_[1]) continue;
      for (uint64_t m : p.markets) {
        const std::string id = std::to_string(m);
        toml += "[[market]]\nid = " + id + "\nevent = " + std::to_string(m / 10) + "\nname = \"M" +
                id + "\"\nsources = [\"" + p.name + "\"]\nselections = [";
        std::string provider_selections;
        for (int sel = 1; sel <= p.selections.at(m); ++sel) {
          const std::string sid = std::to_string(sel);
          toml +=
              std::string(sel > 1 ? ", " : "") + "{ id = " + sid + ", name = \"S" + sid + "\" }";
          provider_selections += std::string(sel > 1 ? ", " : "") + "\"" + sid + "\" = " + sid;
        }
        toml += "]\n\n[market.provider.\"" + p.name + "\"]\nmarket = \"" + id +
                "\"\nselections = { " + provider_selections + " }\n\n";
      }
    }
    auto mapping = feeds::Mapping::parse(toml, "sim-mapping");
    if (!mapping) {
      violation(kConverged, "the simulator's mapping does not parse: %s", mapping.error().c_str());
    } else {
      mapping_ = std::move(*mapping);
    }
    feeds::SourceSelectorConfig fc;
    fc.stale_after_ns = kStaleAfterNs;
    fc.stale_unmapped = true;
    reference_.selector = std::make_unique<feeds::SourceSelector>(mapping_, fc);
    for (const Provider& p : providers_) {
      reference_.adapters.push_back(std::move(*feeds::make_adapter("oddsjson", p.name, nullptr)));
    }
    engine::SequencerConfig sc;
    sc.channel = kChannel;
    reference_.sequencer = std::make_unique<engine::Sequencer>(sc);
    reference_.events.clear();
    reference_.selector->definitions(reference_.events);
    reference_.sequencer->begin_batch(reference_.batch);
    for (const feeds::Event& e : reference_.events) {
      (void)reference_.sequencer->sequence(e, kWallBase, reference_.batch);
    }
  }
  for (int i = 0; i < kNodes; ++i) nodes_[i].index = i;
  for (int i = 0; i < kEdges; ++i) edges_[i].index = i;
  boot(nodes_[0], engine::NodeRole::kPrimary);
  boot(nodes_[1], engine::NodeRole::kSecondary);
  for (Edge& e : edges_) boot_edge(e);

  const uint64_t fault_end = profile_.fault_phase_ns;
  const uint64_t end = fault_end + profile_.quiet_phase_ns;
  // Periodic work, staggered so that no two endpoints tick at the same instant.
  std::function<void(int)> tick_node = [&](int i) {
    node_tick(nodes_[i]);
    if (now_ + kTickNs < end) at(now_ + kTickNs, [&, i] { tick_node(i); });
  };
  std::function<void(int)> tick_edge = [&](int i) {
    edge_tick(edges_[i]);
    check_bounds();
    if (now_ + kTickNs < end) at(now_ + kTickNs, [&, i] { tick_edge(i); });
  };
  for (int i = 0; i < kNodes; ++i) at(1 * kMs + i * kMs, [&, i] { tick_node(i); });
  for (int i = 0; i < kEdges; ++i) at(3 * kMs + i * kMs, [&, i] { tick_edge(i); });
  std::function<void()> sync_tick = [&] {
    for (Node& n : nodes_) n.synced = n.journal.size();  // the OS wrote what it had
    if (now_ + 500 * kMs < end) at(now_ + 500 * kMs, sync_tick);
  };
  at(250 * kMs, sync_tick);
  at(20 * kMs, [this] { provider_step(0); });
  at(27 * kMs, [this] { provider_step(1); });
  if (profile_.split_brain) {
    // The known limit: both nodes run, cut off from each other for longer than alone_after.
    at(6 * kSec, [this] {
      trace("FAULT partition 0<->1 for 5000 ms (split brain)");
      ++result_.faults[kPartition];
      blocked_until_[0][1] = blocked_until_[1][0] = now_ + 5 * kSec;
      node_fault_until_ = now_ + 11 * kSec;
      disturbed_until_ = now_ + 5 * kSec + kFailoverNs + kAloneNs + kSec;
    });
  }
  at(2 * kSec, [this] { inject_fault(); });
  at(fault_end, [this] { heal_all(); });
  at(fault_end + 100 * kMs, [this] {
    for (Node& n : nodes_) {
      if (!n.up) restart(n);
    }
  });
  at(end - 2 * kSec, [this] { feeds_on_ = false; });

  while (!queue_.empty()) {
    Ev ev = queue_.top();
    queue_.pop();
    if (ev.t > end) break;
    now_ = ev.t;
    ev.fn();
  }
  now_ = end;
  // Quiesce: the last reads of every client.
  for (Edge& e : edges_) {
    for (Client& c : e.clients) {
      c.stream->on_tick(context(e));
      read_client(e, c, 100000);
    }
  }
  final_checks();
  result_.simulated_ns = end;
  for (Edge& e : edges_) {
    result_.conflations += e.totals.conflations;
    result_.resumes += e.totals.resumes;
    result_.resume_misses += e.totals.resume_misses;
  }
  result_.trace_hash = trace_hash_;
  result_.trace_tail.assign(tail_.begin(), tail_.end());
  return result_;
}

}  // namespace oddsbus::sim::detail

namespace oddsbus::sim {

RunResult run_seed(uint64_t seed, const Profile& profile, FILE* trace) {
  detail::Simulation sim(seed, profile, trace);
  return sim.run();
}

}  // namespace oddsbus::sim
