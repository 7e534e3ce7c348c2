#include "tests/sim/sim.h"

#include <simdjson.h>

#include <algorithm>
#include <cinttypes>
#include <cstdarg>
#include <cstring>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <queue>
#include <set>
#include <utility>

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

namespace oddsbus::sim {

std::string_view to_string(Plant plant) {
  switch (plant) {
    case Plant::kNone:
      return "none";
    case Plant::kSkipReorder:
      return "skip-reorder";
    case Plant::kKeepEpoch:
      return "keep-epoch";
    case Plant::kDedupByContent:
      return "dedup-by-content";
  }
  return "?";
}

bool parse_plant(std::string_view name, Plant& plant) {
  for (Plant p : {Plant::kNone, Plant::kSkipReorder, Plant::kKeepEpoch, Plant::kDedupByContent}) {
    if (to_string(p) == name) {
      plant = p;
      return true;
    }
  }
  return false;
}

namespace {

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

}  // namespace

bool plant_available(Plant plant) {
  if (plant != Plant::kSkipReorder) return true;
  edge::ArbiterConfig config;
  return set_skip_reorder(config);
}

bool profile_by_name(std::string_view name, Profile& profile) {
  profile = Profile{};
  profile.name = std::string(name);
  if (name == "default") return true;
  if (name == "async") {
    // Async replication promises nothing about what a takeover loses, so partitions between the
    // nodes may outlast failover_after: histories diverge, are set aside and re-imaged.
    profile.sync = false;
    profile.node_partition_max_ns = 3'000'000'000;
    return true;
  }
  if (name == "split-brain") {
    profile.split_brain = true;
    return true;
  }
  if (name == "calm") {
    profile.crashes = profile.freezes = profile.partitions = false;
    profile.feed_faults = profile.client_faults = profile.clock_steps = false;
    return true;
  }
  if (name == "lossy-requests") {
    profile.request_loss = 0.02;
    return true;
  }
  if (name == "unmapped") {
    profile.unmapped = true;
    return true;
  }
  if (name == "os-crash") {
    profile.os_crashes = true;
    return true;
  }
  return false;
}

std::string profile_help() {
  return "  default      sync replication; every fault the design promises to survive: loss and\n"
         "               duplication of published batches, reordering and delay on every link;\n"
         "               node crash and restart (journal kept to the last commit); a frozen\n"
         "               node; partitions (between the nodes shorter than failover_after); feed\n"
         "               stalls, repeats, garbage and line gaps; slow and reconnecting clients;\n"
         "               wall-clock steps.\n"
         "  async        the same with async replication, and partitions between the nodes up to\n"
         "               3 s (longer than failover_after: two primaries, divergence, set-aside "
         "and\n"
         "               re-images). acked-kept is not checked: async may lose what it served.\n"
         "  split-brain  sync, plus a long partition between the two nodes while both run: the "
         "old\n"
         "               primary goes on alone and serves frames the new history drops. A KNOWN\n"
         "               LIMIT: the simulator must report acked-kept violations here.\n"
         "  os-crash     default plus crashes that keep the journal only to the last synced\n"
         "               commit (durability nosync).\n"
         "  unmapped     default, but provider pb's markets are not in the mapping (oddsjson\n"
         "               canonical ids, stale_unmapped on): KNOWN_FINDINGS.md F2.\n"
         "  lossy-requests  default, plus loss and duplication of recovery requests and replies\n"
         "               (2 percent): KNOWN_FINDINGS.md F3.\n"
         "  calm         network faults only.\n";
}

namespace {

constexpr uint64_t kMs = 1'000'000;
constexpr uint64_t kSec = 1'000'000'000;
constexpr uint32_t kChannel = 7;
constexpr uint64_t kWallBase = 1'795'000'000 * kSec;  // the wall clock at simulated time 0
constexpr int kNodes = 2;
constexpr int kEdges = 2;
constexpr int kEndpoints = kNodes + kEdges;  // 0, 1: nodes; 2, 3: edges
constexpr uint64_t kTickNs = 5 * kMs;
constexpr uint64_t kHeartbeatNs = 100 * kMs;
constexpr uint64_t kSelectorTickNs = 50 * kMs;
constexpr uint64_t kFailoverNs = 1500 * kMs;
constexpr uint64_t kAloneNs = 2000 * kMs;
constexpr uint64_t kStaleAfterNs = 3000 * kMs;
constexpr uint32_t kLongPollMs = 100;  // engine/replica.h ReplicaConfig default
constexpr size_t kTraceTail = 80;
constexpr size_t kMaxMessages = 12;
constexpr uint64_t kMaxHeldBytes = 4 << 20;
constexpr size_t kMaxQueueBytes = 16 << 10;

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

uint64_t fnv(const void* data, size_t size, uint64_t h = 0xcbf29ce484222325ULL) {
  const auto* p = static_cast<const uint8_t*>(data);
  for (size_t i = 0; i < size; ++i) {
    h ^= p[i];
    h *= 0x100000001b3ULL;
  }
  return h;
}
uint64_t hash_bytes(std::span<const uint8_t> bytes) { return fnv(bytes.data(), bytes.size()); }

using Bytes = std::vector<uint8_t>;
Bytes copy(std::span<const uint8_t> bytes) { return Bytes(bytes.begin(), bytes.end()); }

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

// ---------------------------------------------------------------------------------------------
// Network

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

// ---------------------------------------------------------------------------------------------
// Nodes

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
  n.replica->reset(n.sequencer->last_seq(), n.sequencer->epoch(), n.sequencer->epoch_start());
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
      Packet p;
      p.kind = Packet::Kind::kRequest;
      p.from = n.index;
      p.to = 1 - n.index;
      p.identity = "n" + std::to_string(n.index) + ".req";
      p.text = recovery::format_request(r);
      send(std::move(p));
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
        Packet p;
        p.kind = Packet::Kind::kRequest;
        p.from = n.index;
        p.to = 1 - n.index;
        p.identity = "n" + std::to_string(n.index) + ".fol";
        p.text = recovery::format_request(ack);
        send(std::move(p));
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
  std::map<uint64_t, feeds::SourceSelector::PublishedMarket> published;
  for (const auto& [id, record] : n.sequencer->state().markets()) {
    feeds::SourceSelector::PublishedMarket& p = published[id];
    p.status = record.status;
    p.reason = record.reason;
    p.event = record.event;
    p.name = record.name;
    for (const SelectionState& s : record.selections) {
      if (s.price_e4 > 0) p.prices.emplace_back(s.id, s.price_e4);
      p.selections.push_back({s.id, s.name});
    }
  }
  n.events.clear();
  n.selector->reconcile(published, now_, n.events);
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
    if (now_ - n.last_publish_ns >= kHeartbeatNs && n.role->heartbeat_allowed()) {
      n.sequencer->heartbeat(wall(n), n.batch);
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
    Packet p;
    p.kind = Packet::Kind::kRequest;
    p.from = n.index;
    p.to = 1 - n.index;
    p.identity = "n" + std::to_string(n.index) + ".fol";
    p.text = recovery::format_request(r);
    trace("n%d follow: %s", n.index, p.text.c_str());
    send(std::move(p));
    n.follow_outstanding = true;
    n.follow_sent_ns = now_;
  }
  if (now_ - n.last_publish_ns >= kHeartbeatNs) {
    n.sequencer->heartbeat(wall(n), n.batch, /*relayed=*/true);
    publish(n, n.batch.bytes());
  }
}

// ---------------------------------------------------------------------------------------------
// Edges and clients

void Simulation::boot_edge(Edge& e) {
  edge::ArbiterConfig ac;
  ac.mode = edge::ResyncMode::kSnapshot;
  ac.recovery_services = kNodes;
  ac.max_range = 512;
  ac.reorder_max_frames = 4096;
  ac.reorder_max_bytes = 4 << 20;
  if (profile_.plant == Plant::kSkipReorder) set_skip_reorder(ac);
  e.arbiter = std::make_unique<edge::Arbiter>(ac);
  for (int i = 0; i < 2; ++i) {
    Client& c = e.clients.emplace_back();
    connect(e, c, false);
  }
}

void Simulation::connect(Edge& e, Client& c, bool resume) {
  edge::ClientStreamConfig cc;
  cc.max_queue_bytes = kMaxQueueBytes;
  cc.max_image_part_bytes = 2048;
  c.stream = std::make_unique<edge::ClientStream>(cc, e.totals, now_);
  c.pending_parts.clear();
  std::string request = R"({"op": "subscribe", "markets": "all")";
  if (resume && c.has_image) {
    request += ", \"resume_from\": " + std::to_string(c.last_seq) +
               ", \"resume_epoch\": " + std::to_string(c.last_epoch);
  }
  request += "}";
  c.stream->on_text(request, e.parser, context(e));
}

void Simulation::fold(Edge& e, Client& c, const std::string& message) {
  ++c.messages;
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(message).get(root) != simdjson::SUCCESS) {
    violation(kInOrderOnce, "e%d client got an unparseable message", e.index);
    return;
  }
  std::string_view type;
  if (root["type"].get(type) != simdjson::SUCCESS) return;
  uint64_t epoch = 0;
  if (root["epoch"].get(epoch) == simdjson::SUCCESS) c.last_epoch = static_cast<uint32_t>(epoch);
  auto fold_market = [&](simdjson::dom::element entry, bool replace) {
    const uint64_t id = entry["market"].get_uint64().value_unsafe();
    if (entry["removed"].error() == simdjson::SUCCESS) {
      c.markets.erase(id);
      return;
    }
    FoldedMarket& m = c.markets[id];
    if (replace || entry["name"].error() == simdjson::SUCCESS) m.prices.clear();
    std::string_view status;
    if (entry["status"].get(status) == simdjson::SUCCESS) m.status = std::string(status);
    simdjson::dom::array sels;
    if (entry["selections"].get(sels) != simdjson::SUCCESS) return;
    for (simdjson::dom::element s : sels) {
      m.prices[s["selection"].get_uint64().value_unsafe()] =
          s["price_e4"].get_uint64().value_unsafe();
    }
  };
  if (type == "image") {
    uint64_t parts = 0;
    if (root["parts"].get(parts) == simdjson::SUCCESS) {
      const uint64_t part = root["part"].get_uint64().value_unsafe();
      if (part == 1) c.pending_parts.clear();
      c.pending_parts.push_back(message);
      if (part < parts) return;
    } else {
      c.pending_parts.assign(1, message);
    }
    const uint64_t seq = root["seq"].get_uint64().value_unsafe();
    c.markets.clear();
    for (const std::string& text : c.pending_parts) {
      simdjson::dom::parser part_parser;
      simdjson::dom::element one;
      if (part_parser.parse(text).get(one) != simdjson::SUCCESS) continue;
      simdjson::dom::array list;
      if (one["markets"].get(list) != simdjson::SUCCESS) continue;
      for (simdjson::dom::element entry : list) {
        fold_market(entry, true);
      }
    }
    c.pending_parts.clear();
    c.last_seq = seq;
    c.has_image = true;
  } else if (type == "delta") {
    const uint64_t seq = root["seq"].get_uint64().value_unsafe();
    if (!c.has_image || seq <= c.last_seq) {
      violation(kInOrderOnce, "e%d client: delta seq %" PRIu64 " after seq %" PRIu64 "%s", e.index,
                seq, c.last_seq, c.has_image ? "" : " without an image");
    }
    c.last_seq = seq;
    simdjson::dom::array list;
    if (root["markets"].get(list) != simdjson::SUCCESS) return;
    for (simdjson::dom::element entry : list) {
      fold_market(entry, false);
    }
  } else if (type == "resumed") {
    c.pending_parts.clear();
    const uint64_t seq = root["seq"].get_uint64().value_unsafe();
    if (seq < c.last_seq) {
      violation(kInOrderOnce, "e%d client: resumed at %" PRIu64 " behind %" PRIu64, e.index, seq,
                c.last_seq);
    }
    c.last_seq = seq;
  }
}

void Simulation::read_client(Edge& e, Client& c, size_t max_messages) {
  for (size_t i = 0; i < max_messages; ++i) {
    std::shared_ptr<const std::string> m = c.stream->start_write(now_);
    if (!m) return;
    fold(e, c, *m);
    c.stream->on_written(context(e));
  }
}

void Simulation::edge_packet(Edge& e, const Packet& p) {
  const size_t service = static_cast<size_t>(p.from);
  if (p.kind == Packet::Kind::kPub) {
    e.arbiter->on_batch(service, p.parts[0], now_, e.out);
    handle_edge(e);
    return;
  }
  if (p.kind != Packet::Kind::kReply) return;
  auto header = recovery::parse_reply_header(p.text);
  if (!header) return;
  std::vector<std::span<const uint8_t>> parts;
  for (const Bytes& b : p.parts) parts.emplace_back(b);
  if (header->kind == recovery::ReplyKind::kSnapshot) {
    if (e.arbiter->positioned()) return;  // unwanted: a late answer (edge/subscriber.cpp)
    auto image =
        decode_checked_snapshot(parts, header->seq, header->epoch, header->digest, header->chunks);
    if (!image) {
      e.arbiter->on_snapshot_failed(service, now_, e.out);
      handle_edge(e);
      return;
    }
    e.out.frames.clear();
    e.out.bytes.clear();
    const uint64_t seq = image->seq;
    const uint32_t epoch = image->epoch;
    const uint64_t epoch_start = image->epoch_start;
    trace("e%d snapshot from n%zu at seq %" PRIu64 " e%u", e.index, service, seq, epoch);
    for (Applied& a : e.applied) a.reimaged = true;
    e.cache.install(std::move(*image));
    ++e.snapshots;
    ++result_.snapshots;
    for (Client& c : e.clients) c.stream->on_resync(context(e));
    e.arbiter->on_snapshot_loaded(seq, epoch, epoch_start, now_, e.out);
    handle_edge(e);
    return;
  }
  e.arbiter->on_reply(service, *header, parts, now_, e.out);
  handle_edge(e);
}

void Simulation::handle_edge(Edge& e) {
  for (const edge::ArbiterAction& a : e.out.actions) {
    using K = edge::ArbiterAction::Kind;
    if (a.kind != K::kRequestRange && a.kind != K::kRequestSnapshot) continue;
    recovery::Request r;
    r.kind = a.kind == K::kRequestRange ? recovery::RequestKind::kRange
                                        : recovery::RequestKind::kSnapshot;
    r.from = a.from;
    r.to = a.to;
    Packet p;
    p.kind = Packet::Kind::kRequest;
    p.from = kNodes + e.index;
    p.to = static_cast<int>(a.service);
    p.identity = "e" + std::to_string(e.index);
    p.text = recovery::format_request(r);
    send(std::move(p));
  }
  for (size_t i = 0; i < e.out.frames.size(); ++i) {
    const fb::Frame& f = *e.out.frames[i];
    if (!e.cache.positioned() || f.seq() != e.cache.seq() + 1) {
      violation(kInOrderOnce, "e%d applied seq %" PRIu64 " e%u at seq %" PRIu64 "%s", e.index,
                f.seq(), f.epoch(), e.cache.seq(), e.cache.positioned() ? "" : " (no image)");
    }
    const uint64_t h = hash_bytes(e.out.bytes[i]);
    auto it = accepted_.find({f.epoch(), f.seq()});
    if (it == accepted_.end() || it->second != h) {
      violation(kOneFramePerSeq,
                "e%d applied a frame other than the one last journaled at epoch %u seq %" PRIu64,
                e.index, f.epoch(), f.seq());
    }
    e.applied.push_back({f.seq(), f.epoch(), h, false});
    auto change = e.cache.apply(f, edge::Freshness{e.stale, kWallBase + now_});
    if (change) {
      for (Client& c : e.clients) c.stream->on_change(change, context(e));
    }
  }
  e.out.clear();
}

void Simulation::edge_tick(Edge& e) {
  e.arbiter->on_tick(now_, e.out);
  handle_edge(e);
  const bool stale = !e.arbiter->positioned() || e.arbiter->last_live_ns() + kSec < now_;
  if (stale != e.stale) {
    e.stale = stale;
    for (Client& c : e.clients) c.stream->on_stale(stale, context(e));
  }
  for (Client& c : e.clients) {
    c.stream->on_tick(context(e));
    if (c.stream->close_verdict()) {
      trace("e%d client closed: %s", e.index, c.stream->close_verdict()->reason.c_str());
      connect(e, c, true);
      continue;
    }
    if (c.slow_until <= now_) {
      read_client(e, c, 1000);
    } else if (rng_.chance(0.02)) {
      read_client(e, c, 1);  // a slow reader
    }
  }
  check_stale(e);
}

// ---------------------------------------------------------------------------------------------
// Feeds

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

// ---------------------------------------------------------------------------------------------
// Faults and checks

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
  // A sync primary holds the suspension until its secondary acks it; a lost long-poll reply
  // is asked again after long_poll + 1 s (engine/replica.cpp).
  const uint64_t bound = kStaleAfterNs + kSelectorTickNs + (kLongPollMs + 1000) * kMs + 500 * kMs;
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

}  // namespace

RunResult run_seed(uint64_t seed, const Profile& profile, FILE* trace) {
  Simulation sim(seed, profile, trace);
  return sim.run();
}

}  // namespace oddsbus::sim
