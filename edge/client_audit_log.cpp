#include "edge/client_audit_log.h"

#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>

#include "schemas/log.h"

namespace oddsbus::edge {

namespace {

int open_log(const std::string& path, bool truncate) {
  return ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | (truncate ? O_TRUNC : O_APPEND),
                0640);
}

uint64_t count_lines(std::string_view text) {
  return static_cast<uint64_t>(std::count(text.begin(), text.end(), '\n'));
}

}  // namespace

std::expected<std::unique_ptr<ClientAuditLog>, std::string> ClientAuditLog::open(
    const ClientAuditLogConfig& config) {
  if (config.path.empty()) return std::unexpected(std::string("audit log: no path given"));
  if (config.files == 0) return std::unexpected(std::string("audit log: files must be at least 1"));
  const int fd = open_log(config.path, false);
  if (fd < 0) {
    return std::unexpected("audit log: cannot open " + config.path + ": " + std::strerror(errno) +
                           "; check the directory exists and is writable");
  }
  struct stat st {};
  const uint64_t size = ::fstat(fd, &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
  return std::unique_ptr<ClientAuditLog>(new ClientAuditLog(config, fd, size));
}

ClientAuditLog::ClientAuditLog(const ClientAuditLogConfig& config, int fd, uint64_t size)
    : config_(config), fd_(fd), file_bytes_(size) {
  pending_.reserve(std::min<size_t>(config_.max_pending_bytes, size_t{1} << 20));
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "audit-log");
    run();
  });
}

ClientAuditLog::~ClientAuditLog() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_one();
  thread_.join();
  if (fd_ >= 0) ::close(fd_);
}

bool ClientAuditLog::submit(std::string_view lines) {
  std::lock_guard lock(mutex_);
  ++submitted_;
  if (dropped_pending_ > 0 || pending_.size() + lines.size() > config_.max_pending_bytes) {
    dropped_pending_ += count_lines(lines);
    return false;
  }
  pending_.append(lines);
  return true;
}

void ClientAuditLog::flush() {
  std::unique_lock lock(mutex_);
  const uint64_t target = submitted_;
  flush_wanted_ = true;
  wake_.notify_one();
  written_.wait(lock, [&] { return taken_ >= target || stop_; });
}

ClientAuditLogCounters ClientAuditLog::counters() const {
  return ClientAuditLogCounters{lines_written_.load(), bytes_written_.load(), lines_dropped_.load(),
                                holes_.load(), rotations_.load()};
}

void ClientAuditLog::run() {
  std::unique_lock lock(mutex_);
  for (;;) {
    wake_.wait_for(lock, std::chrono::nanoseconds(config_.flush_interval_ns),
                   [&] { return stop_ || flush_wanted_; });
    flush_wanted_ = false;
    writing_.swap(pending_);
    const uint64_t dropped = dropped_pending_;
    dropped_pending_ = 0;
    const uint64_t taking = submitted_;
    const bool stopping = stop_;
    lock.unlock();
    write_batch(writing_, dropped);
    writing_.clear();
    lock.lock();
    taken_ = taking;
    written_.notify_all();
    if (stopping) return;
  }
}

void ClientAuditLog::write_batch(const std::string& batch, uint64_t dropped_after) {
  uint64_t dropped = dropped_after;
  size_t run_start = 0;
  size_t at = 0;
  auto write_run = [&](size_t end) {
    const std::string_view run(batch.data() + run_start, end - run_start);
    run_start = end;
    if (run.empty()) return;
    if (fd_ < 0) fd_ = open_log(config_.path, false);
    size_t done = 0;
    while (done < run.size() && fd_ >= 0) {
      const ssize_t n = ::write(fd_, run.data() + done, run.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      done += static_cast<size_t>(n);
    }
    file_bytes_ += done;
    bytes_written_ += done;
    lines_written_ += count_lines(run.substr(0, done));
    if (done < run.size()) {
      dropped += count_lines(run.substr(done));
      if (write_errors_log_.allow(wall_clock_ns())) {
        log(LogLevel::kWarn, "edge: audit log: cannot write %s: %s", config_.path.c_str(),
            fd_ < 0 ? "cannot open it" : std::strerror(errno));
      }
    }
  };
  while (at < batch.size()) {
    size_t end = batch.find('\n', at);
    end = end == std::string::npos ? batch.size() : end + 1;
    const size_t length = end - at;
    if (length > config_.max_file_bytes) {
      write_run(at);
      ++dropped;
      run_start = end;
    } else if (file_bytes_ + (at - run_start) + length > config_.max_file_bytes) {
      write_run(at);
      if (file_bytes_ > 0) rotate();
    }
    at = end;
  }
  write_run(batch.size());
  if (dropped == 0) return;
  lines_dropped_ += dropped;
  ++holes_;
  if (holes_log_.allow(wall_clock_ns())) {
    log(LogLevel::kWarn,
        "edge: audit log: %llu line(s) lost (the writer fell behind or could not write); the log "
        "records a hole (%llu more holes not logged)",
        static_cast<unsigned long long>(dropped),
        static_cast<unsigned long long>(holes_log_.suppressed()));
  }
  char hole[128];
  const int n = std::snprintf(
      hole, sizeof hole, "{\"type\": \"hole\", \"ts_ns\": %llu, \"dropped\": %llu}\n",
      static_cast<unsigned long long>(wall_clock_ns()), static_cast<unsigned long long>(dropped));
  const std::string record(hole, static_cast<size_t>(n));
  if (file_bytes_ + record.size() > config_.max_file_bytes && file_bytes_ > 0) rotate();
  if (fd_ >= 0 && ::write(fd_, record.data(), record.size()) == static_cast<ssize_t>(n)) {
    file_bytes_ += record.size();
    bytes_written_ += record.size();
  }
}

void ClientAuditLog::rotate() {
  if (fd_ >= 0) ::close(fd_);
  if (config_.files > 1) {
    for (unsigned i = config_.files - 1; i >= 2; --i) {
      const std::string from = config_.path + "." + std::to_string(i - 1);
      ::rename(from.c_str(), (config_.path + "." + std::to_string(i)).c_str());
    }
    ::rename(config_.path.c_str(), (config_.path + ".1").c_str());
  }
  fd_ = open_log(config_.path, true);
  file_bytes_ = 0;
  ++rotations_;
}

}  // namespace oddsbus::edge
