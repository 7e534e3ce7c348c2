#include "engine/provider_feed.h"

#include <cinttypes>

#include "engine/clocks.h"

namespace oddsbus::engine {

void ProviderFeed::on_message(void* ctx, size_t, std::string_view message) {
  auto* self = static_cast<ProviderFeed*>(ctx);
  self->events.clear();
  auto parsed = self->adapter->parse(message, self->events);
  const auto& counters = self->adapter->counters();
  if (!parsed) {
    const auto& rejection = parsed.error();
    self->rejected[static_cast<size_t>(rejection.reason)].fetch_add(1, std::memory_order_relaxed);
    if (self->reject_log.allow(read_clocks().monotonic_ns)) {
      log(LogLevel::kWarn, "feed %s: rejected message: %s%s%s (%" PRIu64 " more suppressed)",
          self->spec.name.c_str(), feeds::to_string(rejection.reason).data(),
          rejection.detail.empty() ? "" : ": ", rejection.detail.c_str(),
          self->reject_log.suppressed());
    }
    return;
  }
  if ((counters.unknown_markets != self->last_unknown_markets ||
       counters.unknown_selections != self->last_unknown_selections) &&
      self->reject_log.allow(read_clocks().monotonic_ns)) {
    std::string sample;
    for (const auto& id : self->adapter->unknown_ids()) sample += (sample.empty() ? "" : ", ") + id;
    log(LogLevel::kWarn,
        "feed %s: %" PRIu64 " unknown market and %" PRIu64
        " unknown selection references so far, not in the mapping (e.g. %s)",
        self->spec.name.c_str(), counters.unknown_markets, counters.unknown_selections,
        sample.c_str());
  }
  self->last_unknown_markets = counters.unknown_markets;
  self->last_unknown_selections = counters.unknown_selections;
  for (feeds::Event& e : self->events) {
    e.source = self->spec.name;
    self->queues->push(self->producer, e, *self->stop);
  }
}

void ProviderFeed::on_health(void* ctx, bool up) {
  auto* self = static_cast<ProviderFeed*>(ctx);
  log(up ? LogLevel::kInfo : LogLevel::kWarn, "feed %s: %s", self->spec.name.c_str(),
      up ? "connected" : "lost every line");
  self->status_event = feeds::Event{};
  self->status_event.type = feeds::EventType::kSourceStatus;
  self->status_event.source = self->spec.name;
  self->status_event.source_up = up;
  self->queues->push(self->producer, self->status_event, *self->stop);
}

void ProviderFeed::on_line_state(void* ctx, size_t line, bool connected) {
  auto* self = static_cast<ProviderFeed*>(ctx);
  log(connected ? LogLevel::kInfo : LogLevel::kWarn, "feed %s: line %zu %s %s",
      self->spec.name.c_str(), line, connected ? "connected to" : "lost",
      self->spec.urls[line].c_str());
}

}  // namespace oddsbus::engine
