// The mapping file (TOML, DESIGN section 10): canonical markets with their selections, the ordered
// list of sources per market, and for each source (a feed name) how its provider ids map to
// canonical ids. Adapters look ids up here; ids the mapping does not know are counted and
// reported by the adapter, never guessed.
//
// Immutable after load; safe to read from any number of threads.
#pragma once

#include <cstdint>
#include <expected>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace oddsbus::feeds {

// Betfair names a runner by selection id and handicap (`hc`; Asian handicap markets carry one id
// at several handicaps). The mapping writes a runner at handicap 0 (or without one) as its id,
// "47972", and any other as "ID@HC", "47972@-1.5"; HC is a decimal number compared by value
// ("47972@-1.50" and "47972@-1.5" are one runner, and "47972@0" is "47972"). Provider selections
// are looked up by runner_key.

// A handicap's decimal text in canonical form: no '+', no leading or trailing zeros, no "-0"
// ("-1.50" -> "-1.5", "+2.0" -> "2", "-0.0" -> "0"). Null when `text` is not a sign, digits, and
// an optional point with digits.
std::optional<std::string> canonical_handicap(std::string_view text);
// The lookup key of runner `id` at a handicap in canonical form: "ID" for "0", else "ID@HC".
std::string runner_key(std::string_view id, std::string_view canonical_hc);

struct SelectionMapping {
  uint64_t id = 0;
  std::string name;
};

// How one source names one canonical market.
struct ProviderMarketMapping {
  std::string feed;        // the feed name (the key under [market.provider.NAME])
  std::string event;       // provider event id, e.g. "sr:match:12345" (uof-xml); may be empty
  std::string market;      // provider market id: "1.234567890" (betfair), "1" (uof-xml)
  std::string specifiers;  // uof-xml market specifiers, e.g. "total=2.5"; empty for none
  // provider selection id (Betfair: runner_key) -> canonical selection
  std::unordered_map<std::string, uint64_t> selections;
  uint64_t canonical_market = 0;

  // The canonical selection for a provider selection id, or 0 when unmapped.
  uint64_t selection(std::string_view provider_selection) const;
};

struct MarketMapping {
  uint64_t id = 0;
  uint64_t event = 0;
  std::string name;
  std::vector<std::string> sources;          // priority order, highest first
  std::vector<SelectionMapping> selections;  // ascending by id
  std::vector<ProviderMarketMapping> providers;
};

class Mapping {
 public:
  Mapping() = default;
  Mapping(Mapping&&) = default;  // the indexes point into markets_, whose buffer moves with it
  Mapping& operator=(Mapping&&) = default;
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;

  // Loads and checks a mapping file. Errors name the file, the market and what is wrong
  // (duplicate ids, a source without a provider section, a provider selection mapped to a
  // selection the market does not have, a provider market claimed by two canonical markets, two
  // provider selections mapped to one canonical selection, ...; these last two name both entries).
  static std::expected<Mapping, std::string> load(const std::string& path);
  static std::expected<Mapping, std::string> parse(std::string_view toml_text,
                                                   std::string_view source_name = "mapping");

  const std::vector<MarketMapping>& markets() const { return markets_; }
  const MarketMapping* market(uint64_t canonical_id) const;

  // How `feed` names a market, looked up by the provider's market id (betfair-stream), or by
  // event, market id and specifiers (uof-xml). Null when the feed has no such market.
  const ProviderMarketMapping* find(std::string_view feed, std::string_view provider_market) const;
  const ProviderMarketMapping* find(std::string_view feed, std::string_view event,
                                    std::string_view provider_market,
                                    std::string_view specifiers) const;
  // Every mapping of `feed` for a provider event (uof-xml bet_stop suspends them all).
  std::vector<const ProviderMarketMapping*> find_event(std::string_view feed,
                                                       std::string_view event) const;

 private:
  void index();

  std::vector<MarketMapping> markets_;
  std::unordered_map<uint64_t, size_t> by_id_;
  std::unordered_map<std::string, const ProviderMarketMapping*>
      by_key_;  // feed\0[event\0]market[\0spec]
  std::unordered_map<std::string, std::vector<const ProviderMarketMapping*>> by_event_;
};

}  // namespace oddsbus::feeds
