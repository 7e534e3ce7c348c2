#include "engine/finished_markets.h"

#include <algorithm>

namespace oddsbus::engine {

void FinishedMarkets::note(uint64_t market, bool was_finished, const MarketState& state) {
  if (was_finished) return;  // already queued when it became finished
  const MarketRecord* record = state.find(market);
  if (record == nullptr || !finished(record->status)) return;
  queue_.emplace_back(record->updated_ns, market);
}

void FinishedMarkets::rebuild(const MarketState& state) {
  queue_.clear();
  for (const auto& [id, record] : state.markets()) {
    if (finished(record.status)) queue_.emplace_back(record.updated_ns, id);
  }
  std::ranges::stable_sort(queue_, {}, &std::pair<uint64_t, uint64_t>::first);
}

size_t FinishedMarkets::take_due(const MarketState& state, uint64_t now_ns, uint64_t evict_after_ns,
                                 size_t max, std::vector<uint64_t>& due) {
  size_t taken = 0;
  // Each entry is looked at once per call: one sent to the back is not seen again until the next.
  for (size_t looked = queue_.size(); looked > 0 && taken < max && !queue_.empty(); --looked) {
    const auto [since_ns, market] = queue_.front();
    if (now_ns < since_ns || now_ns - since_ns < evict_after_ns) break;  // the rest are later
    queue_.pop_front();
    const MarketRecord* record = state.find(market);
    if (record == nullptr || !finished(record->status)) continue;  // evicted, or reopened
    if (now_ns < record->updated_ns || now_ns - record->updated_ns < evict_after_ns) {
      queue_.emplace_back(record->updated_ns, market);  // touched since: counts from then
      continue;
    }
    if (std::ranges::find(due, market) != due.end()) continue;  // queued twice, taken once
    due.push_back(market);
    ++taken;
  }
  return taken;
}

}  // namespace oddsbus::engine
