// odds-bench's measurements (DESIGN section 8). Each function runs one workload end to end on this
// machine, in its own threads, sockets and scratch directory, and returns what it measured or a
// one-line error. Benchmarks, not tests: nothing here judges a timing; the suite prints ratios and
// targets, and fails only when frames were lost, duplicated or corrupted.
//
// Thread safety: each call owns everything it creates; calls must not overlap (they share the
// machine, and overlapping them would measure contention, not throughput).
#pragma once

#include <cstddef>
#include <cstdint>
#include <expected>
#include <filesystem>
#include <string>

#include "edge/frame_stream.h"
#include "engine/journal.h"

namespace oddsbus::bench {

// One run of one workload. frames / seconds is the throughput the tables quote.
struct Measurement {
  uint64_t frames = 0;   // frames (or messages) counted at the far end
  uint64_t bytes = 0;    // payload bytes carried (ZeroMQ message bodies, LMDB values)
  uint64_t batches = 0;  // ZeroMQ messages or LMDB records that carried them
  double seconds = 0;    // wall time, first push to last receive (or last commit)
  double frames_per_second() const {
    return seconds > 0 ? static_cast<double>(frames) / seconds : 0;
  }
};

// Raw ZeroMQ PUB -> SUB over tcp loopback: one `message_size`-byte message per send, the
// subscriber counting every message. The baseline of the pipeline suite.
struct RawZmqOptions {
  uint64_t messages = 1'000'000;
  size_t message_size = 128;
};
std::expected<Measurement, std::string> run_raw_zmq(const RawZmqOptions& options);

// Raw LMDB appends with liblmdb directly: `batches` records (MDB_APPEND, MDB_INTEGERKEY, one write
// transaction each) holding `bytes` in all, into a fresh environment under `parent_dir`. `frames`
// is the number of frames those bytes stand for, so frames/s compares with the full path.
struct RawLmdbOptions {
  std::filesystem::path parent_dir;
  uint64_t frames = 0;
  uint64_t bytes = 0;
  uint64_t batches = 0;
  engine::Durability durability = engine::Durability::kNoSync;
};
std::expected<Measurement, std::string> run_raw_lmdb(const RawLmdbOptions& options);

// The full path through the node `odds-engine run` runs (engine::Node, engine/node_assembly.h):
// producer threads push price events into the node's local ingest producers; its sequencer thread
// selects, sequences, journals (a fresh directory) and publishes (a loopback port the node picks),
// its recovery thread follows the committed batches; a SUB thread feeds every batch to
// edge::FrameStream, which checks CRC32C, the FlatBuffers verifier and seq continuity. Markets are
// defined (untimed) before the load.
struct PipelineOptions {
  std::filesystem::path parent_dir;
  uint64_t frames = 1'000'000;  // price frames in the timed load
  size_t producers = 1;
  size_t markets = 100;
  size_t selections = 3;  // per market
  engine::Durability durability = engine::Durability::kNoSync;
  size_t max_batch_frames = 4096;
  size_t queue_capacity = 65536;  // per producer
};

struct PipelineResult {
  Measurement measurement;  // timed load only; bytes and batches are the published data batches
  uint64_t expected_frames = 0;  // market definitions + price frames the subscriber must apply
  edge::FrameStreamCounters stream;
  uint64_t sequenced_frames = 0;
  uint64_t rejected_events = 0;
  uint64_t sequencer_batches = 0;
  uint64_t heartbeats_published = 0;
  uint64_t commit_ns_total = 0;  // time inside Journal::append, all batches
  uint64_t backpressure = 0;     // pushes that found their queue full
  uint64_t send_failures = 0;    // ZmqPublisher sends that failed
  // CPU seconds each thread used over the whole run (set-up included, which costs little);
  // `other_cpu_s` is the rest of the process: the node's recovery thread, ZeroMQ's I/O threads and
  // the main thread.
  double sequencer_cpu_s = 0;
  double producers_cpu_s = 0;
  double subscriber_cpu_s = 0;
  double other_cpu_s = 0;

  // Empty when the subscriber applied every seq exactly once; otherwise what went wrong.
  std::string integrity_error() const;
};
std::expected<PipelineResult, std::string> run_pipeline(const PipelineOptions& options);

// A fresh directory under `parent`, removed with everything in it when this goes away.
class ScratchDir {
 public:
  static std::expected<ScratchDir, std::string> create(const std::filesystem::path& parent);
  ScratchDir(ScratchDir&& other) noexcept : path_(std::move(other.path_)) { other.path_.clear(); }
  ScratchDir& operator=(ScratchDir&&) = delete;
  ~ScratchDir();
  const std::filesystem::path& path() const { return path_; }

 private:
  explicit ScratchDir(std::filesystem::path path) : path_(std::move(path)) {}
  std::filesystem::path path_;
};

// A loopback TCP port that was free a moment ago (bound to port 0, then released).
std::expected<uint16_t, std::string> free_tcp_port();

// CPU time used so far by the calling thread, and by the whole process, in seconds.
double thread_cpu_seconds();
double process_cpu_seconds();

// Names the calling thread (truncated to the kernel's 15 characters).
void name_this_thread(const char* name);

}  // namespace oddsbus::bench
