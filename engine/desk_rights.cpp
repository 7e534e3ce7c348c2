#include "engine/desk_rights.h"

#include <toml++/toml.h>
#include <fstream>
#include <sstream>

namespace oddsbus::engine {

namespace {

// ZeroMQ's Z85 alphabet (RFC 32/Z85: https://rfc.zeromq.org/spec/32/); a CURVE public key is 32
// bytes, 40 characters.
constexpr std::string_view kZ85 =
    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";

bool z85_key(std::string_view key) {
  return key.size() == 40 && key.find_first_not_of(kZ85) == std::string_view::npos;
}

std::expected<std::set<uint64_t>, std::string> ids(const toml::node& node, const char* what) {
  const toml::array* array = node.as_array();
  if (array == nullptr) return std::unexpected(std::string(what) + " must be a list of ids");
  std::set<uint64_t> out;
  for (const toml::node& item : *array) {
    const auto value = item.value<int64_t>();
    if (!value || *value < 0) {
      return std::unexpected(std::string(what) + " must hold non-negative integer ids");
    }
    out.insert(static_cast<uint64_t>(*value));
  }
  return out;
}

std::expected<DeskGrant, std::string> grant_of(const toml::table& table) {
  DeskGrant grant;
  for (const auto& [k, node] : table) {
    const std::string_view name = k.str();
    if (name == "key" || name == "client") {
      const auto text = node.value<std::string>();
      if (!text || text->empty()) return std::unexpected(std::string(name) + " must be a string");
      (name == "key" ? grant.key : grant.client) = *text;
    } else if (name == "actions") {
      const toml::array* array = node.as_array();
      if (array == nullptr) return std::unexpected(std::string("actions must be a list"));
      for (const toml::node& item : *array) {
        const auto action = item.value<std::string>();
        size_t i = 0;
        while (action && i < std::size(kDeskActionNames) && kDeskActionNames[i] != *action) ++i;
        if (!action || i == std::size(kDeskActionNames)) {
          return std::unexpected("unknown action '" + action.value_or("?") +
                                 "' (known: price, suspend, reopen, settle, release, "
                                 "suspend-event)");
        }
        grant.actions |= 1u << i;
      }
    } else if (name == "markets") {
      if (node.value<std::string>() == std::optional<std::string>("all")) {
        grant.all_markets = true;
      } else {
        auto markets = ids(node, "markets (or \"all\")");
        if (!markets) return std::unexpected(markets.error());
        grant.markets = std::move(*markets);
      }
    } else if (name == "events") {
      auto events = ids(node, "events");
      if (!events) return std::unexpected(events.error());
      grant.events = std::move(*events);
    } else {
      return std::unexpected("unknown key '" + std::string(name) +
                             "' (known: key, client, actions, markets, events)");
    }
  }
  if (grant.key.empty() == grant.client.empty()) {
    return std::unexpected(std::string("give exactly one of key and client"));
  }
  if (!grant.key.empty() && !z85_key(grant.key)) {
    return std::unexpected("key '" + grant.key + "' is not a CURVE public key (40 Z85 characters)");
  }
  return grant;
}

}  // namespace

std::optional<DeskAction> action_of(desk::Command command) {
  switch (command) {
    case desk::Command::kSetPrice:
      return DeskAction::kPrice;
    case desk::Command::kSuspend:
      return DeskAction::kSuspend;
    case desk::Command::kReopen:
      return DeskAction::kReopen;
    case desk::Command::kSettle:
      return DeskAction::kSettle;
    case desk::Command::kRelease:
      return DeskAction::kRelease;
    case desk::Command::kSuspendEvent:
      return DeskAction::kSuspendEvent;
    case desk::Command::kHeld:
      return std::nullopt;
  }
  return std::nullopt;
}

std::expected<DeskRights, std::string> DeskRights::load(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::unexpected("cannot read desk rights file " + path);
  std::stringstream text;
  text << in.rdbuf();
  return parse(text.str(), path);
}

std::expected<DeskRights, std::string> DeskRights::parse(std::string_view text,
                                                         const std::string& name) {
  toml::table root;
  try {
    root = toml::parse(text, name);
  } catch (const toml::parse_error& e) {
    return std::unexpected("desk rights " + name + " line " +
                           std::to_string(e.source().begin.line) + ": " +
                           std::string(e.description()));
  }
  DeskRights rights;
  for (const auto& [k, node] : root) {
    if (k.str() != "desk") {
      return std::unexpected("desk rights " + name + ": unknown key '" + std::string(k.str()) +
                             "' (want [[desk]] tables)");
    }
  }
  const toml::array* desks = root["desk"].as_array();
  if (desks == nullptr) {
    if (root.contains("desk")) return std::unexpected("desk rights " + name + ": want [[desk]]");
    return rights;  // an empty file: no desk may do anything
  }
  size_t index = 0;
  for (const toml::node& node : *desks) {
    ++index;
    const toml::table* table = node.as_table();
    if (table == nullptr) return std::unexpected("desk rights " + name + ": want [[desk]] tables");
    auto grant = grant_of(*table);
    if (!grant) {
      return std::unexpected("desk rights " + name + ", desk " + std::to_string(index) + ": " +
                             grant.error());
    }
    for (const DeskGrant& known : rights.grants_) {
      if (known.key == grant->key && known.client == grant->client) {
        return std::unexpected(
            "desk rights " + name + ", desk " + std::to_string(index) + ": " +
            (grant->key.empty() ? "client " + grant->client : "key " + grant->key) +
            " is named twice");
      }
    }
    rights.grants_.push_back(std::move(*grant));
  }
  return rights;
}

const DeskGrant* DeskRights::find(std::string_view key, std::string_view client) const {
  for (const DeskGrant& grant : grants_) {
    if (key.empty() ? (grant.key.empty() && grant.client == client) : grant.key == key) {
      return &grant;
    }
  }
  return nullptr;
}

std::optional<std::string> DeskRights::refuse(std::string_view authenticated_key,
                                              const desk::Request& request,
                                              uint64_t market_event) const {
  const DeskGrant* grant = find(authenticated_key, request.client);
  if (grant == nullptr) {
    return authenticated_key.empty()
               ? "client " + request.client + " has no desk rights"
               : "desk key " + std::string(authenticated_key) + " has no desk rights";
  }
  const auto action = action_of(request.command);
  if (!action) return std::nullopt;  // held: any known desk
  const std::string_view action_name = kDeskActionNames[static_cast<size_t>(*action)];
  if ((grant->actions & (1u << static_cast<unsigned>(*action))) == 0) {
    return "no right to " + std::string(action_name);
  }
  if (grant->all_markets) return std::nullopt;
  if (request.command == desk::Command::kSuspendEvent) {
    if (grant->events.contains(request.event)) return std::nullopt;
    return "no right to " + std::string(action_name) + " event " + std::to_string(request.event);
  }
  if (grant->markets.contains(request.market)) return std::nullopt;
  if (market_event != 0 && grant->events.contains(market_event)) return std::nullopt;
  return "no right to " + std::string(action_name) + " market " + std::to_string(request.market);
}

}  // namespace oddsbus::engine
