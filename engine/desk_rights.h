// Desk rights (issue 14): which trading desk may do what to which markets. Read from a TOML file
// (`odds-engine run --desk-rights FILE`, or the `desk-rights` key of --config):
//
//   [[desk]]
//   key = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"   # the desk's CURVE public key (Z85, 40
//                                                     # characters), when the desk link runs CURVE
//   actions = ["price", "suspend", "reopen", "settle", "release", "suspend-event"]
//   markets = [1001, 1002]                            # or "all"
//   events = [501]                                    # every market of these events too
//
//   [[desk]]
//   client = "ops"                                    # the CLIENT word, on a link without CURVE
//   actions = ["suspend"]
//   markets = "all"
//
// A desk is known by its key when the desk link authenticated it (the ZAP handler's User-Id: its
// Z85 public key): then only `key` entries apply, and the CLIENT word it writes grants nothing, so
// no desk can claim another's rights. On a link without CURVE, a desk is known by its CLIENT word
// (`client` entries). A request is allowed when its desk is known, the desk has the action, and the
// market is in `markets` (or `markets = "all"`) or belongs to one of `events`; suspend-event EVENT
// needs the suspend-event action and EVENT in `events` (or `markets = "all"`). `held` (read-only)
// needs only a known desk. Anything else is refused with a detail naming the right that is missing.
//
// Thread safety: immutable once loaded; check() from any thread.
#pragma once

#include <cstdint>
#include <expected>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "engine/desk_protocol.h"

namespace oddsbus::engine {

// The actions a rights file names, in the order of kDeskActionNames.
enum class DeskAction : uint8_t { kPrice, kSuspend, kReopen, kSettle, kRelease, kSuspendEvent };
inline constexpr std::string_view kDeskActionNames[] = {"price",  "suspend", "reopen",
                                                        "settle", "release", "suspend-event"};

// The action a command needs; nullopt for held (no action: any known desk may list).
std::optional<DeskAction> action_of(desk::Command command);

struct DeskGrant {
  std::string key;       // Z85 public key ("" : a client entry)
  std::string client;    // CLIENT word ("" : a key entry)
  uint32_t actions = 0;  // bit (1 << DeskAction)
  bool all_markets = false;
  std::set<uint64_t> markets;
  std::set<uint64_t> events;
};

class DeskRights {
 public:
  // Reads and checks a rights file. Errors name the file, the entry and the problem (an unknown
  // key or action, a key that is not 40 Z85 characters, an entry with both or neither of key and
  // client, a desk named twice).
  static std::expected<DeskRights, std::string> load(const std::string& path);
  static std::expected<DeskRights, std::string> parse(std::string_view toml,
                                                      const std::string& name);

  // The desk a request comes from: by `key` when the link authenticated one (non-empty), else by
  // its CLIENT word. Null: unknown.
  const DeskGrant* find(std::string_view key, std::string_view client) const;

  // Why `request` is refused (a detail naming the missing right), or nullopt when it is allowed.
  // `authenticated_key`: the link's User-Id ("" without CURVE); `market_event`: the event of the
  // request's market (0 when the market is unknown).
  std::optional<std::string> refuse(std::string_view authenticated_key,
                                    const desk::Request& request, uint64_t market_event) const;

  size_t size() const { return grants_.size(); }

 private:
  std::vector<DeskGrant> grants_;
};

}  // namespace oddsbus::engine
