#include "feeds/oddsjson/adapter.h"

namespace oddsbus::feeds::oddsjson {

std::expected<void, Rejection> OddsJsonAdapter::parse(std::string_view message,
                                                      std::vector<Event>& out) {
  if (auto parsed = parser_.parse(message, event_); !parsed) {
    ++counters_.rejected;
    return parsed;
  }
  ++counters_.messages;
  if (event_.type == EventType::kHeartbeat) ++counters_.heartbeats;
  event_.source = feed_name_;
  out.push_back(event_);
  ++counters_.events;
  return {};
}

}  // namespace oddsbus::feeds::oddsjson
