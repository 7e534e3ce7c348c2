#include "edge/arbiter_notice_log.h"

#include <cinttypes>
#include <string_view>

namespace oddsbus::edge {

namespace {

using Kind = ArbiterNotice::Kind;

constexpr uint64_t kStateChangeIntervalNs = 100'000'000;
constexpr uint64_t kFaultIntervalNs = 1'000'000'000;

bool is_state_change(Kind kind) {
  switch (kind) {
    case Kind::kModeChange:
    case Kind::kEpochChange:
    case Kind::kSnapshotLoaded:
    case Kind::kDivergence:
    case Kind::kTruncated:
    case Kind::kProbeFound:
      return true;
    default:
      return false;
  }
}

int width(std::string_view text) { return static_cast<int>(text.size()); }

}  // namespace

ArbiterNoticeLog::ArbiterNoticeLog() {
  for (size_t i = 0; i < kKinds; ++i) {
    limiters_[i] = LogLimiter(is_state_change(static_cast<Kind>(i)) ? kStateChangeIntervalNs
                                                                    : kFaultIntervalNs);
  }
}

void ArbiterNoticeLog::write(std::span<const ArbiterNotice> notices, uint64_t now_ns) {
  for (const ArbiterNotice& n : notices) {
    LogLimiter& limiter = limiters_[static_cast<size_t>(n.kind)];
    if (!limiter.allow(now_ns)) continue;
    const uint64_t skipped = limiter.suppressed();
    switch (n.kind) {
      case Kind::kModeChange: {
        const std::string_view from = mode_name(n.from_mode);
        const std::string_view to = mode_name(n.to_mode);
        log(n.to_mode == ArbiterMode::kLive ? LogLevel::kInfo : LogLevel::kWarn,
            "arbiter: %.*s -> %.*s (%" PRIu64 " more changes unlogged)", width(from), from.data(),
            width(to), to.data(), skipped);
        break;
      }
      case Kind::kCorruptBatch: {
        const std::string_view error = to_string(n.error);
        log(LogLevel::kWarn,
            "arbiter: line %zu sent a corrupt batch (%.*s at seq %" PRIu64 "), ignored; %" PRIu64
            " more since the last line",
            n.source, width(error), error.data(), n.seq, skipped);
        break;
      }
      case Kind::kEpochChange:
        log(LogLevel::kInfo, "arbiter: epoch %u -> %u at seq %" PRIu64, n.epoch, n.new_epoch,
            n.seq);
        break;
      case Kind::kSnapshotLoaded:
        log(LogLevel::kInfo,
            "arbiter: snapshot loaded at seq %" PRIu64 " epoch %u (epoch start %" PRIu64 ")", n.seq,
            n.new_epoch, n.to);
        break;
      case Kind::kDivergence:
        log(LogLevel::kWarn,
            "arbiter: frames of epoch %u up to seq %" PRIu64 " lost to a higher epoch", n.epoch,
            n.seq);
        break;
      case Kind::kTruncated:
        log(LogLevel::kWarn,
            "arbiter: frames %" PRIu64 "..%" PRIu64
            " of epoch %u lost to a higher epoch; truncating",
            n.seq, n.to, n.epoch);
        break;
      case Kind::kProbeFound:
        log(LogLevel::kWarn, "arbiter: probe found the divergence at seq %" PRIu64, n.seq);
        break;
      case Kind::kProbeUnresolved:
        log(LogLevel::kWarn,
            "arbiter: service %zu showed no divergence point between %" PRIu64 " and %" PRIu64,
            n.source, n.seq, n.to);
        break;
      case Kind::kRangeGone:
        log(LogLevel::kWarn,
            "arbiter: service %zu no longer holds seq %" PRIu64 " (oldest %" PRIu64 ")", n.source,
            n.seq, n.to);
        break;
      case Kind::kServiceError:
        log(LogLevel::kWarn, "arbiter: service %zu answered error; asking the next", n.source);
        break;
      case Kind::kRequestTimeout:
        log(LogLevel::kWarn,
            "arbiter: service %zu did not answer in time; asking the next (%" PRIu64
            " more unlogged)",
            n.source, skipped);
        break;
      case Kind::kFenced:
        log(LogLevel::kWarn,
            "arbiter: dropped %" PRIu64 " frames of a deposed epoch (%" PRIu64
            " more such calls unlogged)",
            n.count, skipped);
        break;
      case Kind::kOverflow:
        log(LogLevel::kWarn,
            "arbiter: reorder buffer full, dropped %" PRIu64 " frames to recover later (%" PRIu64
            " more such calls unlogged)",
            n.count, skipped);
        break;
    }
  }
}

}  // namespace oddsbus::edge
