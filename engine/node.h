// An engine node (odds-engine run): feed connector threads parse lines into events and push them
// into their own SPSC ingest queue; one sequencer thread drains the queues, sequences, journals,
// rings and publishes (DESIGN sections 1 and 4).
//
// Threads: one per feed (named "feed-NAME"), one sequencer ("sequencer"), and the caller's, which
// runs run() and returns after `stop` is set and everything queued was sequenced and journaled.
#pragma once

#include <atomic>
#include <cstdint>
#include <expected>
#include <string>
#include <vector>

#include "engine/journal.h"

namespace oddsbus::engine {

struct FeedSpec {
  std::string name;    // the feed's name, recorded as the source of its prices
  std::string format;  // "oddsjson"
  std::string url;     // tcp://HOST:PORT
};

// Parses "NAME=FORMAT@URL". Returns a message saying what is wrong.
std::expected<FeedSpec, std::string> parse_feed_spec(std::string_view text);

struct NodeConfig {
  std::string journal_dir;
  uint32_t node = 1;
  uint32_t channel = 0;
  std::string pub_url;
  std::vector<FeedSpec> feeds;
  Durability durability = Durability::kNoSync;
  uint64_t heartbeat_interval_ns = 200'000'000;
  size_t queue_capacity = 65536;  // events per feed queue
  size_t max_batch_frames = 4096;
};

// Runs the node until `stop` is set. Returns an error (start-up failure, or a journal write
// failure that made it stop) as a one-line message.
std::expected<void, std::string> run_node(const NodeConfig& config, const std::atomic<bool>& stop);

}  // namespace oddsbus::engine
