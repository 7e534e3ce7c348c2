// The simulator's parts, shared by its files (internal to tests/sim; the interface is sim.h):
// the constants of the modelled cluster, the PRNG, the network's packet, the in-memory journal,
// the state of a provider, client, edge and node, and the Simulation class, whose member functions
// are defined by idea:
//   sim_cluster.cpp     the scheduler: the event queue, periodic work, the phases, the trace
//   sim_network.cpp     links (loss, duplication, delay, partitions) and fault injection
//   sim_node.cpp        the node shell over the real cores: boot, restart, roles, feeds, ticks
//   sim_replica.cpp     a node's network side: requests served, the replica, heard-from-primary
//   sim_edge.cpp        edges (arbiter, market cache) and their clients' streams and folds
//   sim_feeds.cpp       the providers' oddsjson messages and the reference fold
//   sim_invariants.cpp  the invariants checked as events happen and at the end
//   sim_profiles.cpp    profiles and planted bugs (sim.h)
// Thread safety: none (see sim.h).
#pragma once

#include <algorithm>
#include <cinttypes>
#include <cstring>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <queue>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "edge/arbiter.h"
#include "edge/client_request.h"
#include "edge/client_stream.h"
#include "edge/market_cache.h"
#include "engine/recovery_service.h"
#include "engine/role_core.h"
#include "engine/sequencer.h"
#include "feeds/adapter.h"
#include "feeds/link/message_dedup.h"
#include "feeds/source_selector.h"
#include "schemas/batch.h"
#include "schemas/market_state.h"
#include "schemas/recovery_protocol.h"
#include "schemas/snapshot_image.h"
#include "schemas/state_digest.h"
#include "tests/sim/sim.h"

namespace oddsbus::sim::detail {

// The arbiter's planted switch is added by another change; wire it when this build has it.
template <typename Config>
bool set_skip_reorder(Config& config) {
  if constexpr (requires { config.planted_skip_reorder; }) {
    config.planted_skip_reorder = true;
    return true;
  } else {
    return false;
  }
}

inline constexpr uint64_t kMs = 1'000'000;
inline constexpr uint64_t kSec = 1'000'000'000;
inline constexpr uint32_t kChannel = 7;
inline constexpr uint64_t kWallBase = 1'795'000'000 * kSec;  // the wall clock at simulated time 0
inline constexpr int kNodes = 2;
inline constexpr int kEdges = 2;
inline constexpr int kEndpoints = kNodes + kEdges;  // 0, 1: nodes; 2, 3: edges
inline constexpr uint64_t kTickNs = 5 * kMs;
inline constexpr uint64_t kHeartbeatNs = 100 * kMs;
inline constexpr uint64_t kSelectorTickNs = 50 * kMs;
inline constexpr uint64_t kFailoverNs = 1500 * kMs;
inline constexpr uint64_t kAloneNs = 2000 * kMs;
inline constexpr uint64_t kStaleAfterNs = 3000 * kMs;
inline constexpr uint32_t kLongPollMs = 100;  // engine/replica.h ReplicaConfig default
inline constexpr size_t kTraceTail = 80;
inline constexpr size_t kMaxMessages = 12;
inline constexpr uint64_t kMaxHeldBytes = 4 << 20;
inline constexpr size_t kMaxQueueBytes = 16 << 10;

// SplitMix64: tiny and the same everywhere (no std distributions, whose output is not portable).
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed * 0x9e3779b97f4a7c15ULL + 0x1234567ULL) {}
  uint64_t next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  uint64_t below(uint64_t n) { return n == 0 ? 0 : next() % n; }
  uint64_t range(uint64_t lo, uint64_t hi) { return lo + below(hi - lo + 1); }
  bool chance(double p) { return static_cast<double>(next() >> 11) * 0x1.0p-53 < p; }

 private:
  uint64_t state_;
};

inline uint64_t fnv(const void* data, size_t size, uint64_t h = 0xcbf29ce484222325ULL) {
  const auto* p = static_cast<const uint8_t*>(data);
  for (size_t i = 0; i < size; ++i) {
    h ^= p[i];
    h *= 0x100000001b3ULL;
  }
  return h;
}
inline uint64_t hash_bytes(std::span<const uint8_t> bytes) {
  return fnv(bytes.data(), bytes.size());
}

using Bytes = std::vector<uint8_t>;
inline Bytes copy(std::span<const uint8_t> bytes) { return Bytes(bytes.begin(), bytes.end()); }

// One message on the simulated network.
struct Packet {
  enum class Kind : uint8_t { kPub, kRequest, kReply };
  Kind kind = Kind::kPub;
  int from = 0;
  int to = 0;
  std::string identity;  // kRequest: the requester; kReply: whom it answers
  std::string text;      // kRequest: the request; kReply: the header
  std::vector<Bytes> parts;
};

struct JournalRecord {
  uint64_t first = 0;
  uint64_t last = 0;
  Bytes bytes;
};

// The in-memory journal as the recovery service's BatchLog.
class MemLog final : public engine::BatchLog {
 public:
  explicit MemLog(const std::vector<JournalRecord>& journal) : journal_(journal) {}
  std::expected<void, std::string> scan_records(uint64_t from_seq,
                                                engine::JournalReader::Visit visit,
                                                void* ctx) override {
    for (const JournalRecord& r : journal_) {
      if (r.last < from_seq) continue;
      if (!visit(ctx, r.first, r.bytes)) break;
    }
    return {};
  }

 private:
  const std::vector<JournalRecord>& journal_;
};

// A provider: a deterministic generator of oddsjson messages about its markets.
struct Provider {
  std::string name;
  int lines = 1;
  std::vector<uint64_t> markets;
  std::map<uint64_t, int> selections;                                          // per market
  std::map<uint64_t, std::deque<std::pair<std::string, std::string>>> recent;  // (key, body)
  std::map<std::string, std::string> state;  // what the provider said last, by key
  uint64_t silent_until = 0;                 // a feed stall
  uint64_t last_sent_ns = 0;
  bool defined = false;
  uint64_t sent = 0;
};

// A client of an edge: its stream and what it folded from the messages it read.
struct FoldedMarket {
  std::string status;
  std::map<uint64_t, uint64_t> prices;  // selection -> price_e4
};
struct Client {
  std::unique_ptr<edge::ClientStream> stream;
  uint64_t slow_until = 0;
  // The fold.
  std::map<uint64_t, FoldedMarket> markets;
  uint64_t last_seq = 0;
  uint32_t last_epoch = 0;
  bool has_image = false;
  std::vector<std::string> pending_parts;
  uint64_t messages = 0;
};

struct Applied {
  uint64_t seq = 0;
  uint32_t epoch = 0;
  uint64_t hash = 0;
  bool reimaged = false;  // a later re-image (snapshot) announced that it may have been rolled back
};

struct Edge {
  int index = 0;  // 0, 1
  std::unique_ptr<edge::Arbiter> arbiter;
  edge::ArbiterOutput out;
  edge::MarketCache cache{edge::MarketCacheConfig{.retain_frames = 2000, .retain_bytes = 4 << 20}};
  edge::StreamTotals totals;
  edge::ClientRequestParser parser{1000};
  edge::ImageCache images;
  std::vector<Client> clients;
  std::vector<Applied> applied;
  bool stale = true;
  uint64_t snapshots = 0;
};

struct Node {
  int index = 0;  // 0, 1 (node number index + 1)
  bool up = true;
  bool frozen = false;
  uint64_t incarnation = 0;
  std::deque<std::shared_ptr<const Packet>> frozen_inbox;
  std::deque<std::function<void()>> frozen_feed;
  std::vector<JournalRecord> journal;
  size_t synced = 0;  // records the OS has written (an OS crash keeps these only)
  std::unique_ptr<engine::Sequencer> sequencer;
  std::unique_ptr<engine::RoleCore> role;
  std::unique_ptr<MemLog> log;
  std::unique_ptr<engine::RecoveryService> recovery;
  std::unique_ptr<feeds::SourceSelector> selector;
  std::vector<std::unique_ptr<feeds::Adapter>> adapters;
  std::unique_ptr<feeds::link::MessageDedup> dedup;  // the two-line provider
  std::unique_ptr<edge::Arbiter> replica;
  edge::ArbiterOutput replica_out;
  bool follow_outstanding = false;
  uint64_t follow_sent_ns = 0;
  std::deque<Bytes> held;
  uint64_t held_bytes = 0;
  uint64_t last_publish_ns = 0;
  uint64_t last_selector_tick_ns = 0;
  uint32_t highest_reply_epoch = 0;  // edge::Subscriber::highest_epoch_heard's reply half
  int64_t wall_offset = 0;
  BatchWriter batch{1 << 16};
  engine::RoleOutput role_out;
  engine::RecoveryOutbox outbox;
  engine::RecoveryReply reply;
  std::vector<feeds::Event> events, selected;
};

// A fault-free fold of the provider messages: the reference the survivor's state must equal.
struct Reference {
  std::unique_ptr<feeds::SourceSelector> selector;
  std::vector<std::unique_ptr<feeds::Adapter>> adapters;
  std::unique_ptr<engine::Sequencer> sequencer;
  BatchWriter batch{1 << 16};
  std::vector<feeds::Event> events, selected;
};

class Simulation {
 public:
  Simulation(uint64_t seed, const Profile& profile, FILE* trace)
      : profile_(profile), rng_(seed), trace_file_(trace) {
    result_.seed = seed;
  }

  RunResult run();

 private:
  // --- plumbing ---
  void at(uint64_t t, std::function<void()> fn) { queue_.push({t, order_++, std::move(fn)}); }
  void trace(const char* format, ...) __attribute__((format(printf, 2, 3)));
  void violation(Invariant inv, const char* format, ...) __attribute__((format(printf, 3, 4)));
  uint64_t wall(const Node& n) const {
    return static_cast<uint64_t>(static_cast<int64_t>(kWallBase + now_) + n.wall_offset);
  }

  // --- network ---
  bool blocked(int from, int to) const { return blocked_until_[from][to] > now_; }
  void send(Packet packet);
  // Sends `request` from node n to its peer's recovery service on n's socket `socket` ("fol":
  // the long poll and acks, "req": gap fills).
  void send_to_peer(const Node& n, const char* socket, const recovery::Request& request);
  void deliver(std::shared_ptr<const Packet> packet);
  void publish(Node& n, std::span<const uint8_t> batch);

  // --- nodes ---
  void boot(Node& n, engine::NodeRole start);
  void restart(Node& n);
  void crash(Node& n, bool os_crash);
  void node_packet(Node& n, const Packet& p);
  void node_feed(Node& n, int provider, int line, const std::string& text);
  void node_tick(Node& n);
  void commit(Node& n);
  void handle_role(Node& n);
  void take_over(Node& n, uint32_t epoch, uint64_t seq);
  void become_secondary(Node& n);
  void set_aside(Node& n, uint64_t from);
  void handle_replica(Node& n);
  void hear_primary(Node& n);
  void send_outbox(Node& n);
  void accept(std::span<const uint8_t> batch, const char* who);
  bool primary(const Node& n) const {
    return n.up && n.role && n.role->role() == engine::NodeRole::kPrimary;
  }

  // --- edges and clients ---
  void boot_edge(Edge& e);
  void edge_packet(Edge& e, const Packet& p);
  void handle_edge(Edge& e);
  void edge_tick(Edge& e);
  edge::StreamContext context(Edge& e) {
    return edge::StreamContext{e.cache, edge::Freshness{e.stale, kWallBase + now_}, now_,
                               &e.images};
  }
  void connect(Edge& e, Client& c, bool resume);
  void read_client(Edge& e, Client& c, size_t max_messages);
  void fold(Edge& e, Client& c, const std::string& message);

  // --- feeds ---
  void provider_step(int p);
  void emit(int p, std::string body, const std::string& key = {}, int only_node = -1);
  void resend_state(int p, int node);
  void reference_fold(int p, const std::string& text);

  // --- faults and checks ---
  void inject_fault();
  void heal_all();
  void check_bounds();
  void check_stale(Edge& e);
  void final_checks();

  Profile profile_;
  Rng rng_;
  FILE* trace_file_;
  RunResult result_;

  struct Ev {
    uint64_t t;
    uint64_t order;
    std::function<void()> fn;
  };
  struct Later {
    bool operator()(const Ev& a, const Ev& b) const {
      return a.t != b.t ? a.t > b.t : a.order > b.order;
    }
  };
  std::priority_queue<Ev, std::vector<Ev>, Later> queue_;
  uint64_t order_ = 0;
  uint64_t now_ = 0;
  uint64_t trace_hash_ = 0xcbf29ce484222325ULL;
  std::deque<std::string> tail_;

  uint64_t blocked_until_[kEndpoints][kEndpoints] = {};
  // FIFO per feed connection (provider line -> node): TCP keeps order.
  uint64_t feed_fifo_[2][2][kNodes] = {};
  uint64_t line_gap_until_[2][2][kNodes] = {};
  int flaky_line_[kNodes] = {};  // the one line of provider pa per node that may lose messages

  feeds::Mapping mapping_;  // every market, each with its one provider as source
  Node nodes_[kNodes];
  Edge edges_[kEdges];
  Provider providers_[2];
  Reference reference_;
  bool faults_on_ = true;
  bool feeds_on_ = true;
  uint64_t node_fault_until_ = 0;  // one node fault at a time, and a pause after it
  // Until then a node fault (or its aftermath: a takeover, going alone) may delay what the
  // primary publishes by up to failover_after + alone_after; invariant 6 waits for it.
  uint64_t disturbed_until_ = 0;
  std::map<std::pair<uint32_t, uint64_t>, uint64_t> accepted_;  // (epoch, seq) -> frame hash
  BatchReader reader_;
};

}  // namespace oddsbus::sim::detail
