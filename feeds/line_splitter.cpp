#include "feeds/line_splitter.h"

namespace oddsbus::feeds {

LineSplitter::LineSplitter(size_t max_line) : max_line_(max_line) {
  partial_.reserve(max_line + 1);
}

void LineSplitter::reset() {
  partial_.clear();
  discarding_ = false;
}

}  // namespace oddsbus::feeds
