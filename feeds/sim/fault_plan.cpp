#include "feeds/sim/fault_plan.h"

#include "feeds/sim/random.h"

namespace oddsbus::feeds::sim {
namespace {

// A byte that is neither a line break nor something that could close a JSON object or XML
// element.
char junk_byte(uint64_t bits) {
  char c = static_cast<char>(bits & 0xff);
  if (c == '\n' || c == '\r' || c == '}' || c == '>' || c == '\0') c = '#';
  return c;
}

}  // namespace

uint64_t derive_line_seed(uint64_t seed, uint32_t line) {
  return mix(mix64(seed ^ 0x6c696e65ULL), line);
}

FaultPlan::FaultPlan(const FaultConfig& config, uint64_t line_seed)
    : config_(config), line_seed_(line_seed) {}

bool FaultPlan::any() const {
  return config_.drop > 0 || config_.duplicate > 0 || config_.corrupt > 0 ||
         config_.delay_max_ms > 0;
}

FaultDecision FaultPlan::decide(uint64_t seq) const {
  FaultDecision decision;
  if (seq == 0) return decision;
  const uint64_t key = mix(line_seed_, seq);
  decision.corrupt = unit_interval(mix(key, 1)) < config_.corrupt;
  decision.drop = !decision.corrupt && unit_interval(mix(key, 2)) < config_.drop;
  decision.duplicate =
      !decision.corrupt && !decision.drop && unit_interval(mix(key, 3)) < config_.duplicate;
  if (config_.delay_max_ms > 0) {
    const uint64_t bound_ns = uint64_t{config_.delay_max_ms} * 1'000'000;
    decision.delay_ns = mix(key, 4) % (bound_ns + 1);
  }
  decision.garble_key = mix(key, 5);
  return decision;
}

std::string corrupt_line(std::string_view message, uint64_t garble_key) {
  std::string_view terminator;
  if (message.ends_with("\r\n")) {
    terminator = "\r\n";
  } else if (message.ends_with("\n")) {
    terminator = "\n";
  }
  std::string body(message.substr(0, message.size() - terminator.size()));
  SplitMix64 rng(garble_key);
  switch (rng.below(3)) {
    case 0:  // truncated: the closing brace or tag is lost
      body.resize(body.empty() ? 0 : rng.below(body.size()));
      break;
    case 1: {  // a few bytes flipped
      const uint64_t flips = 1 + rng.below(4);
      for (uint64_t i = 0; i < flips && !body.empty(); ++i) {
        body[rng.below(body.size())] = junk_byte(rng.next());
      }
      break;
    }
    default: {  // binary junk in the middle
      std::string junk;
      const uint64_t length = 1 + rng.below(16);
      for (uint64_t i = 0; i < length; ++i) junk.push_back(junk_byte(rng.next()));
      body.insert(body.empty() ? 0 : rng.below(body.size()), junk);
      break;
    }
  }
  // Whatever happened above, the object or document must not end properly.
  if (!body.empty()) body.back() = '#';
  if (body.empty()) body = "#";
  body.append(terminator);
  return body;
}

}  // namespace oddsbus::feeds::sim
