// The oddsjson format as an Adapter: one line, one event, canonical ids as given (no mapping).
#pragma once

#include "feeds/adapter.h"
#include "feeds/oddsjson/parser.h"

namespace oddsbus::feeds::oddsjson {

class OddsJsonAdapter final : public Adapter {
 public:
  explicit OddsJsonAdapter(std::string feed_name) : feed_name_(std::move(feed_name)) {}
  std::expected<void, Rejection> parse(std::string_view message, std::vector<Event>& out) override;

 private:
  std::string feed_name_;
  Parser parser_;
  Event event_;
};

}  // namespace oddsbus::feeds::oddsjson
