// One provider feed's thread state in a node (DESIGN section 3): its link (all its redundant
// lines, feeds/link/provider_link.h), its adapter, and the ingest producer it pushes into. The
// link's callbacks, on the feed's own thread, parse each message into events (stamped with the
// feed's name as their source) and push them, and push a kSourceStatus event when the feed comes
// up or loses every line. Rejections are counted per reason and logged at a limited rate.
//
// Thread safety: used by its feed thread only, but for `rejected`, which any thread may read.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "engine/ingest_queues.h"
#include "engine/node.h"
#include "feeds/adapter.h"
#include "feeds/event.h"
#include "feeds/link/provider_link.h"
#include "feeds/rejection.h"
#include "schemas/log.h"

namespace oddsbus::engine {

// One provider's thread state: its link (all its lines), adapter and queue index.
struct ProviderFeed {
  FeedSpec spec;
  size_t producer = 0;
  IngestQueues* queues = nullptr;
  const std::atomic<bool>* stop = nullptr;
  std::unique_ptr<feeds::Adapter> adapter;
  std::unique_ptr<feeds::link::ProviderLink> link;
  std::vector<feeds::Event> events;
  feeds::Event status_event;
  LogLimiter reject_log;
  uint64_t last_unknown_markets = 0;
  uint64_t last_unknown_selections = 0;
  std::array<std::atomic<uint64_t>, static_cast<size_t>(feeds::RejectReason::kCount)> rejected{};

  // feeds::link::ProviderLink::Callbacks, with `ctx` this ProviderFeed.
  static void on_message(void* ctx, size_t line, std::string_view message);
  static void on_health(void* ctx, bool up);
  static void on_line_state(void* ctx, size_t line, bool connected);
};

}  // namespace oddsbus::engine
