#include "feeds/mapping.h"

#include <toml++/toml.h>
#include <algorithm>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>

namespace oddsbus::feeds {
namespace {

std::string key_of(std::string_view feed, std::string_view market) {
  std::string key(feed);
  key.push_back('\0');
  key.append(market);
  return key;
}

std::string key_of(std::string_view feed, std::string_view event, std::string_view market,
                   std::string_view specifiers) {
  std::string key = key_of(feed, event);
  key.push_back('\0');
  key.append(market);
  key.push_back('\0');
  key.append(specifiers);
  return key;
}

bool all_digits(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// A provider selection as the adapters look it up: a Betfair "ID@HC" with its handicap in
// canonical form ("47972@-1.50" -> "47972@-1.5", "47972@0" -> "47972"); any other key as written.
// Null for an "ID@HC" whose HC is not a decimal number.
std::optional<std::string> lookup_key(const std::string& written) {
  const size_t at = written.find('@');
  if (at == std::string::npos || at == 0 || !all_digits(std::string_view(written).substr(0, at))) {
    return written;
  }
  auto hc = canonical_handicap(std::string_view(written).substr(at + 1));
  if (!hc) return std::nullopt;
  return runner_key(std::string_view(written).substr(0, at), *hc);
}

// The key Mapping::index files a provider market under.
std::string index_key(const ProviderMarketMapping& p) {
  return p.event.empty() ? key_of(p.feed, p.market)
                         : key_of(p.feed, p.event, p.market, p.specifiers);
}

// How an error names a provider market.
std::string describe(const ProviderMarketMapping& p) {
  std::string out = "provider " + p.feed + " market \"" + p.market + "\"";
  if (!p.event.empty()) {
    out += " of event \"" + p.event + "\" with specifiers \"" + p.specifiers + "\"";
  }
  return out;
}

// Reads a non-negative integer id; toml++ integers are signed 64-bit.
std::expected<uint64_t, std::string> id_of(const toml::node_view<const toml::node>& node,
                                           const std::string& what) {
  const auto value = node.value<int64_t>();
  if (!value) return std::unexpected(what + " is missing or not an integer");
  if (*value <= 0) return std::unexpected(what + " must be a positive integer");
  return static_cast<uint64_t>(*value);
}

std::string string_of(const toml::node_view<const toml::node>& node) {
  if (const auto s = node.value<std::string>()) return *s;
  if (const auto i = node.value<int64_t>()) return std::to_string(*i);
  return {};
}

}  // namespace

std::optional<std::string> canonical_handicap(std::string_view text) {
  bool negative = false;
  if (!text.empty() && (text.front() == '-' || text.front() == '+')) {
    negative = text.front() == '-';
    text.remove_prefix(1);
  }
  const size_t point = text.find('.');
  std::string_view whole = text.substr(0, point);
  std::string_view fraction =
      point == std::string_view::npos ? std::string_view() : text.substr(point + 1);
  if (whole.empty() || !all_digits(whole) || !all_digits(fraction)) return std::nullopt;
  if (point != std::string_view::npos && fraction.empty()) return std::nullopt;
  while (whole.size() > 1 && whole.front() == '0') whole.remove_prefix(1);
  while (!fraction.empty() && fraction.back() == '0') fraction.remove_suffix(1);
  std::string out;
  if (negative && (whole != "0" || !fraction.empty())) out.push_back('-');
  out.append(whole);
  if (!fraction.empty()) {
    out.push_back('.');
    out.append(fraction);
  }
  return out;
}

std::string runner_key(std::string_view id, std::string_view canonical_hc) {
  std::string key(id);
  if (canonical_hc != "0") {
    key.push_back('@');
    key.append(canonical_hc);
  }
  return key;
}

uint64_t ProviderMarketMapping::selection(std::string_view provider_selection) const {
  auto it = selections.find(std::string(provider_selection));
  return it == selections.end() ? 0 : it->second;
}

std::expected<Mapping, std::string> Mapping::load(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::unexpected("cannot read mapping file " + path);
  std::stringstream text;
  text << in.rdbuf();
  return parse(text.str(), path);
}

std::expected<Mapping, std::string> Mapping::parse(std::string_view toml_text,
                                                   std::string_view source_name) {
  const std::string where(source_name);
  toml::table root;
  try {
    root = toml::parse(toml_text, where);
  } catch (const toml::parse_error& e) {
    return std::unexpected(where + ": " + std::string(e.description()) + " at line " +
                           std::to_string(e.source().begin.line));
  }
  Mapping mapping;
  const toml::array* markets = root["market"].as_array();
  if (markets == nullptr) {
    return std::unexpected(where + ": no [[market]] tables; a mapping lists at least one market");
  }
  std::set<uint64_t> seen_markets;
  for (size_t i = 0; i < markets->size(); ++i) {
    const toml::table* table = (*markets)[i].as_table();
    const std::string at = where + ": market #" + std::to_string(i + 1);
    if (table == nullptr) return std::unexpected(at + " is not a table");
    const toml::node_view<const toml::node> node(table);
    MarketMapping market;
    auto id = id_of(node["id"], at + " id");
    if (!id) return std::unexpected(id.error());
    market.id = *id;
    const std::string here = where + ": market " + std::to_string(market.id);
    if (!seen_markets.insert(market.id).second) return std::unexpected(here + " is listed twice");
    auto event = id_of(node["event"], here + " event");
    if (!event) return std::unexpected(event.error());
    market.event = *event;
    market.name = node["name"].value_or(std::string());
    if (const toml::array* sources = node["sources"].as_array()) {
      for (const auto& s : *sources) {
        if (!s.is_string()) return std::unexpected(here + ": sources must be strings");
        market.sources.push_back(*s.value<std::string>());
      }
    }
    const toml::array* selections = node["selections"].as_array();
    if (selections == nullptr || selections->empty()) {
      return std::unexpected(here + ": selections must list at least one {id, name}");
    }
    for (const auto& s : *selections) {
      const toml::node_view<const toml::node> sel(s);
      auto sid = id_of(sel["id"], here + " selection id");
      if (!sid) return std::unexpected(sid.error());
      market.selections.push_back({*sid, sel["name"].value_or(std::string())});
    }
    std::sort(market.selections.begin(), market.selections.end(),
              [](const auto& a, const auto& b) { return a.id < b.id; });
    for (size_t k = 1; k < market.selections.size(); ++k) {
      if (market.selections[k].id == market.selections[k - 1].id) {
        return std::unexpected(here + ": selection " + std::to_string(market.selections[k].id) +
                               " is listed twice");
      }
    }
    if (const toml::table* providers = node["provider"].as_table()) {
      for (const auto& [feed_key, provider_node] : *providers) {
        const std::string feed(feed_key.str());
        const toml::node_view<const toml::node> p(provider_node);
        ProviderMarketMapping provider;
        provider.feed = feed;
        provider.canonical_market = market.id;
        provider.event = string_of(p["event"]);
        provider.market = string_of(p["market"]);
        provider.specifiers = p["specifiers"].value_or(std::string());
        if (provider.market.empty()) {
          return std::unexpected(here + ": provider " + feed + " has no market id");
        }
        const toml::table* sel_map = p["selections"].as_table();
        if (sel_map == nullptr) {
          return std::unexpected(here + ": provider " + feed + " has no selections table");
        }
        // One canonical selection shows one provider price: a second provider selection for it
        // would overwrite the first's price with another runner's.
        std::map<uint64_t, std::string> claimed;     // canonical selection -> provider selection
        std::map<std::string, std::string> written;  // lookup key -> the key as written
        for (const auto& [provider_sel, canonical] : *sel_map) {
          const std::string key(provider_sel.str());
          auto lookup = lookup_key(key);
          if (!lookup) {
            return std::unexpected(here + ": provider " + feed + " names runner \"" + key +
                                   "\" with a handicap that is not a decimal number");
          }
          if (auto [first, fresh] = written.emplace(*lookup, key); !fresh) {
            return std::unexpected(here + ": provider " + feed + " names one runner twice: \"" +
                                   first->second + "\" and \"" + key + "\"");
          }
          const auto value = canonical.value<int64_t>();
          const bool known =
              value && std::any_of(market.selections.begin(), market.selections.end(),
                                   [&](const auto& s) { return s.id == uint64_t(*value); });
          if (!known) {
            return std::unexpected(here + ": provider " + feed + " maps \"" + key +
                                   "\" to a selection the market does not list");
          }
          auto [first, fresh] = claimed.emplace(uint64_t(*value), key);
          if (!fresh) {
            return std::unexpected(here + ": provider " + feed + " maps both \"" + first->second +
                                   "\" and \"" + key + "\" to selection " + std::to_string(*value));
          }
          provider.selections.emplace(std::move(*lookup), uint64_t(*value));
        }
        market.providers.push_back(std::move(provider));
      }
    }
    for (const std::string& source : market.sources) {
      const bool has = std::any_of(market.providers.begin(), market.providers.end(),
                                   [&](const auto& p) { return p.feed == source; });
      if (!has && source != "desk") {
        return std::unexpected(here + ": source \"" + source + "\" has no [market.provider." +
                               source + "] section");
      }
    }
    mapping.markets_.push_back(std::move(market));
  }
  // A provider market read by two canonical markets would feed both with one market's prices.
  std::map<std::string, uint64_t> claimed;  // index key -> canonical market
  for (const MarketMapping& market : mapping.markets_) {
    for (const ProviderMarketMapping& p : market.providers) {
      auto [first, fresh] = claimed.emplace(index_key(p), market.id);
      if (fresh) continue;
      return std::unexpected(where + ": " + describe(p) + " is claimed by both market " +
                             std::to_string(first->second) + " and market " +
                             std::to_string(market.id));
    }
  }
  mapping.index();
  return mapping;
}

void Mapping::index() {
  by_id_.clear();
  by_key_.clear();
  by_event_.clear();
  for (size_t i = 0; i < markets_.size(); ++i) {
    by_id_[markets_[i].id] = i;
    for (const ProviderMarketMapping& p : markets_[i].providers) {
      by_key_[index_key(p)] = &p;
      if (!p.event.empty()) by_event_[key_of(p.feed, p.event)].push_back(&p);
    }
  }
}

const MarketMapping* Mapping::market(uint64_t canonical_id) const {
  auto it = by_id_.find(canonical_id);
  return it == by_id_.end() ? nullptr : &markets_[it->second];
}

const ProviderMarketMapping* Mapping::find(std::string_view feed,
                                           std::string_view provider_market) const {
  auto it = by_key_.find(key_of(feed, provider_market));
  return it == by_key_.end() ? nullptr : it->second;
}

const ProviderMarketMapping* Mapping::find(std::string_view feed, std::string_view event,
                                           std::string_view provider_market,
                                           std::string_view specifiers) const {
  auto it = by_key_.find(key_of(feed, event, provider_market, specifiers));
  return it == by_key_.end() ? nullptr : it->second;
}

std::vector<const ProviderMarketMapping*> Mapping::find_event(std::string_view feed,
                                                              std::string_view event) const {
  auto it = by_event_.find(key_of(feed, event));
  return it == by_event_.end() ? std::vector<const ProviderMarketMapping*>{} : it->second;
}

}  // namespace oddsbus::feeds
