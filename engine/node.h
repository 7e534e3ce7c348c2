// An engine node (odds-engine run): its configuration, the --feed flag's parsing, and run_node(),
// which runs the one assembly of a node (engine/node_assembly.h: feed connector threads parse lines
// into events and push them into their own SPSC ingest queue; one sequencer thread drains the
// queues, sequences, journals and publishes; DESIGN sections 1 and 4) until told to stop.
//
// run_node() runs on the caller's thread and returns after `stop` is set and everything queued
// was sequenced and journaled.
#pragma once

#include <atomic>
#include <cstdint>
#include <expected>
#include <string>
#include <vector>

#include "engine/journal.h"
#include "engine/role_core.h"

namespace oddsbus::engine {

struct FeedSpec {
  std::string name;               // the feed (source) name, recorded as the source of its prices
  std::string format;             // "oddsjson", "betfair-stream" or "uof-xml"
  std::vector<std::string> urls;  // tcp://HOST:PORT, one per redundant line
  std::string auth_file;          // --feed-auth NAME=FILE: the session's credentials ("" : none)
};

// Parses "NAME=FORMAT@URL[,URL...]": several URLs are redundant lines of one provider.
// Returns a message saying what is wrong.
std::expected<FeedSpec, std::string> parse_feed_spec(std::string_view text);

// Adds `spec` to `feeds`: a name given again adds its URLs as more lines of that provider (the
// format must be the same).
std::expected<void, std::string> add_feed(std::vector<FeedSpec>& feeds, FeedSpec spec);

struct NodeConfig {
  std::string journal_dir;
  uint32_t node = 1;
  uint32_t channel = 0;
  std::string pub_url;
  int pub_hwm = 100000;      // batches queued per subscriber before PUB drops for it
  int pub_send_buffer = 0;   // kernel send buffer per subscriber connection (0: OS default)
  std::string recovery_url;  // the recovery service's ROUTER endpoint ("" : none)
  // Replication (DESIGN section 4). A primary started while its peer is primary joins as
  // secondary (a restarted old primary rejoins this way).
  NodeRole role = NodeRole::kPrimary;
  std::string peer_pub;                        // the peer's PUB endpoint ("" : no peer)
  std::string peer_recovery;                   // the peer's recovery endpoint
  bool sync_replication = false;               // publish only what the secondary journaled
  uint64_t failover_after_ns = 1'500'000'000;  // primary silent this long: take over
  uint64_t alone_after_ns = 2'000'000'000;     // sync: secondary silent this long: go on alone
  std::string desk_url;                        // the desk API's ROUTER endpoint ("" : none)
  std::string peer_desk_url;  // the peer's desk endpoint, named in "not primary" rejections
  // --desk-rights: TOML desk rights (engine/desk_rights.h); "" : every desk may do everything.
  std::string desk_rights_path;
  std::vector<FeedSpec> feeds;
  std::string
      mapping_path;  // TOML mapping: provider ids and source priority (optional for oddsjson)
  uint64_t stale_after_ns = 3'000'000'000;
  // Also suspend markets the mapping does not list (all of them, without a mapping) feed-stale
  // when their feed goes unhealthy; odds-engine run sets it when --stale-after-ms is given.
  bool stale_unmapped = false;
  uint32_t tolerance_bps = 1000;
  uint64_t disagree_after_ns = 5'000'000'000;
  bool suspend_on_disagreement = false;
  Durability durability = Durability::kNoSync;
  uint64_t heartbeat_interval_ns = 200'000'000;
  size_t queue_capacity = 65536;  // events per feed queue
  size_t max_batch_frames = 4096;
  // Journal snapshots (engine/journal_snapshot_writer.h): every N frames or M seconds (0: not by
  // that; both 0: no snapshots). Retention (engine/retention.h) prunes behind them (0: keep all).
  uint64_t snapshot_every_frames = 10000;
  uint64_t snapshot_every_seconds = 60;
  uint64_t retain_frames = 0;
  uint64_t retain_age_ns = 0;
  // Bounded live state (issue 15, engine/finished_markets.h): a settled or closed market
  // untouched this long leaves the live state through a journaled eviction frame (0: never).
  uint64_t evict_after_ns = 600'000'000'000;
  // --http: serve /metrics and /healthz (engine/node_http.h) on http_host:http_port (run_node).
  std::string http_host;  // "" : not served
  uint16_t http_port = 0;
  uint64_t health_max_lag_frames = 10'000;  // /healthz: a secondary further behind is unhealthy
  // CURVE on every ZeroMQ link (issue 14, schemas/curve_link.h). curve_key: this node's secret
  // key file (--curve-key), its identity as a server (PUB, recovery, desk) and as the peer's
  // client; curve_allow: the clients its servers let in (--curve-allow, needed with a key);
  // curve_server_keys: the peer's public key file(s), for --peer-pub and --peer-recovery in that
  // order (one for both). All empty: every link in the clear.
  std::string curve_key;
  std::string curve_allow;
  std::vector<std::string> curve_server_keys;
};

// Runs the node (engine::Node) until `stop` is set. Returns an error (start-up failure, or a
// journal write failure that made it stop) as a one-line message.
std::expected<void, std::string> run_node(const NodeConfig& config, const std::atomic<bool>& stop);

}  // namespace oddsbus::engine
