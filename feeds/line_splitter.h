// Splits a byte stream into lines (LF or CRLF; the terminator is not part of the line), for the
// line-oriented feed formats. Bounded: a line longer than `max_line` bytes is discarded whole up to
// its terminator and reported once through the callback's `too_long` flag, never buffered without
// limit.
//
// Not thread-safe: one per connection. Allocates only up to max_line once.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace oddsbus::feeds {

class LineSplitter {
 public:
  explicit LineSplitter(size_t max_line);

  // Calls sink(std::string_view line, bool too_long) for every complete line in `bytes`, in order.
  // A too-long line is reported once with too_long = true and an empty view. Empty lines are
  // skipped. The view is valid only during the call.
  template <typename Sink>
  void feed(std::string_view bytes, Sink&& sink);

  // Forgets a partial line (after a disconnect: the next connection starts a new line).
  void reset();

  size_t max_line() const { return max_line_; }

 private:
  size_t max_line_;
  std::string partial_;
  bool discarding_ = false;
};

template <typename Sink>
void LineSplitter::feed(std::string_view bytes, Sink&& sink) {
  while (!bytes.empty()) {
    const size_t nl = bytes.find('\n');
    const std::string_view chunk = bytes.substr(0, nl);
    if (nl == std::string_view::npos) {
      if (!discarding_) {
        if (partial_.size() + chunk.size() > max_line_ + 1) {  // +1: room for a trailing '\r'
          partial_.clear();
          discarding_ = true;
          sink(std::string_view{}, true);
        } else {
          partial_.append(chunk);
        }
      }
      return;
    }
    bytes.remove_prefix(nl + 1);
    if (discarding_) {
      discarding_ = false;
      continue;
    }
    std::string_view line = chunk;
    if (!partial_.empty()) {
      if (partial_.size() + chunk.size() > max_line_ + 1) {  // too long either way: don't buffer it
        partial_.clear();
        sink(std::string_view{}, true);
        continue;
      }
      partial_.append(chunk);
      line = partial_;
    }
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.size() > max_line_) {
      sink(std::string_view{}, true);
    } else if (!line.empty()) {
      sink(line, false);
    }
    partial_.clear();
  }
}

}  // namespace oddsbus::feeds
