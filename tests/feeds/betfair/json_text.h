// A small JSON reader for the betfair tests' reference model: deliberately independent of the
// adapter's simdjson parser, and keeping every number as its exact text.
#pragma once

#include <cctype>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace oddsbus::feeds::betfair::testing {

struct Json {
  enum class Kind { kNull, kBool, kNumber, kString, kArray, kObject };
  Kind kind = Kind::kNull;
  std::string text;  // a number's or string's text; "true"/"false" for a bool
  std::vector<Json> items;
  std::vector<std::pair<std::string, Json>> members;

  const Json* get(std::string_view key) const {
    for (const auto& [name, value] : members) {
      if (name == key) return &value;
    }
    return nullptr;
  }
};

class JsonText {
 public:
  // The whole text as one value, or nullopt when it is not JSON this reader understands.
  static std::optional<Json> parse(std::string_view text) {
    JsonText reader(text);
    Json value;
    if (!reader.value(value)) return std::nullopt;
    reader.skip_space();
    if (reader.at_ != text.size()) return std::nullopt;
    return value;
  }

 private:
  explicit JsonText(std::string_view text) : text_(text) {}

  void skip_space() {
    while (at_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[at_]))) ++at_;
  }
  bool eat(char c) {
    skip_space();
    if (at_ < text_.size() && text_[at_] == c) {
      ++at_;
      return true;
    }
    return false;
  }
  bool literal(std::string_view word) {
    if (text_.substr(at_, word.size()) != word) return false;
    at_ += word.size();
    return true;
  }
  bool string(std::string& out) {
    if (!eat('"')) return false;
    while (at_ < text_.size() && text_[at_] != '"') {
      if (text_[at_] == '\\') ++at_;  // keeps the escaped character as is: enough for tests
      if (at_ < text_.size()) out.push_back(text_[at_++]);
    }
    return eat('"');
  }
  bool value(Json& out) {
    skip_space();
    if (at_ >= text_.size()) return false;
    const char c = text_[at_];
    if (c == '{') {
      out.kind = Json::Kind::kObject;
      ++at_;
      if (eat('}')) return true;
      do {
        std::string key;
        Json member;
        if (!string(key) || !eat(':') || !value(member)) return false;
        out.members.emplace_back(std::move(key), std::move(member));
      } while (eat(','));
      return eat('}');
    }
    if (c == '[') {
      out.kind = Json::Kind::kArray;
      ++at_;
      if (eat(']')) return true;
      do {
        if (!value(out.items.emplace_back())) return false;
      } while (eat(','));
      return eat(']');
    }
    if (c == '"') {
      out.kind = Json::Kind::kString;
      return string(out.text);
    }
    if (literal("true") || literal("false")) {
      out.kind = Json::Kind::kBool;
      out.text = c == 't' ? "true" : "false";
      return true;
    }
    if (literal("null")) return true;
    const size_t start = at_;
    while (at_ < text_.size() &&
           (std::isdigit(static_cast<unsigned char>(text_[at_])) ||
            std::string_view("+-.eE").find(text_[at_]) != std::string_view::npos)) {
      ++at_;
    }
    if (at_ == start) return false;
    out.kind = Json::Kind::kNumber;
    out.text = std::string(text_.substr(start, at_ - start));
    return true;
  }

  std::string_view text_;
  size_t at_ = 0;
};

}  // namespace oddsbus::feeds::betfair::testing
