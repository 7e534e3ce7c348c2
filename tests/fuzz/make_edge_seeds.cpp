// Writes the binary seed inputs of the edge_frames, snapshot_chunks and recovery_reply fuzz
// targets (their formats are described at the top of each target) into CORPUS_DIR/<target>/.
// Built on demand only:
//   cmake --build BUILD --target fuzz_make_edge_seeds
//   BUILD/tests/fuzz/fuzz_make_edge_seeds tests/fuzz/corpus
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "schemas/append_printf.h"
#include "schemas/market_state.h"
#include "schemas/snapshot_image.h"
#include "schemas/state_digest.h"
#include "tests/fuzz/fuzz_history.h"

using namespace oddsbus;
using Bytes = std::vector<uint8_t>;

namespace {

class Script {
 public:
  explicit Script(uint8_t flags) { out_.push_back(flags); }
  Script& batch(uint8_t line, const Bytes& bytes, bool fix = false) {
    out_.push_back(fix ? 0x80 : 0);
    out_.push_back(line);
    sized(bytes);
    return *this;
  }
  Script& reply(uint8_t service, const std::string& header, const std::vector<Bytes>& parts) {
    out_.push_back(1);
    out_.push_back(service);
    text(header);
    out_.push_back(static_cast<uint8_t>(parts.size()));
    for (const Bytes& part : parts) sized(part);
    return *this;
  }
  Script& tick(uint16_t ms) {
    out_.push_back(2);
    out_.push_back(static_cast<uint8_t>(ms));
    out_.push_back(static_cast<uint8_t>(ms >> 8));
    return *this;
  }
  Script& replay(uint8_t which, uint8_t raise_epoch_by, uint8_t line) {
    out_.push_back(static_cast<uint8_t>(3 | (raise_epoch_by << 2)));
    out_.push_back(which);
    out_.push_back(line);
    return *this;
  }
  Script& raw(const Bytes& bytes) {
    out_.insert(out_.end(), bytes.begin(), bytes.end());
    return *this;
  }
  Script& text(const std::string& line) {
    out_.insert(out_.end(), line.begin(), line.end());
    out_.push_back('\n');
    return *this;
  }
  Script& sized(const Bytes& bytes) {
    out_.push_back(static_cast<uint8_t>(bytes.size()));
    out_.push_back(static_cast<uint8_t>(bytes.size() >> 8));
    return raw(bytes);
  }
  Script& byte(uint8_t b) {
    out_.push_back(b);
    return *this;
  }
  const Bytes& bytes() const { return out_; }

 private:
  Bytes out_;
};

void write(const std::filesystem::path& dir, const std::string& name, const Bytes& bytes) {
  std::filesystem::create_directories(dir);
  std::ofstream(dir / name, std::ios::binary)
      .write(reinterpret_cast<const char*>(bytes.data()),
             static_cast<std::streamsize>(bytes.size()));
}

std::string snapshot_header(const MarketState& state, uint32_t epoch, size_t chunks) {
  std::string header;
  append_printf(header, "snapshot %" PRIu64 " %u %016" PRIx64 " %zu", state.seq(), epoch,
                state_digest(state), chunks);
  return header;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
    return 1;
  }
  const std::filesystem::path corpus = argv[1];
  fuzzing::FuzzHistory h;
  h.define(1).price(1, 1, "2.50").define(2).price(2, 2, "5/2").suspend(1).price(2, 1, "1.5");
  h.change_epoch().price(1, 2, "3.0").price(2, 2, "evens");  // epoch 2 begins at 7; 1..9

  const auto frames = corpus / "edge_frames";
  write(frames, "in_order",
        Script(1)
            .batch(0, h.batch(1, 3))
            .batch(1, h.batch(1, 3))
            .batch(1, h.batch(4, 6))
            .batch(0, h.heartbeat(6))
            .bytes());
  write(frames, "gap_then_range",
        Script(1)
            .batch(0, h.batch(1, 2))
            .batch(0, h.batch(5, 6))
            .tick(30)
            .reply(0, "range 3 4 6 1 1", {h.batch(3, 4)})
            .bytes());
  write(frames, "epoch_change",
        Script(1)
            .batch(0, h.batch(1, 6))
            .batch(0, h.batch(7, 9))
            .batch(1, h.forged_price(10, 1, 1, "9.0"))
            .bytes());
  write(frames, "epoch_unseen",
        Script(1)
            .batch(0, h.batch(1, 6))
            .batch(0, h.batch(8, 9))
            .batch(0, h.heartbeat(9))
            .tick(30)
            .reply(0, "range 7 7 9 2 7", {h.batch(7, 7)})
            .bytes());
  write(frames, "replay_forged",
        Script(1)
            .batch(0, h.batch(1, 3))
            .batch(0, h.batch(4, 4))
            .replay(0, 0, 1)
            .replay(1, 3, 0)
            .bytes());
  write(frames, "far_ahead",
        Script(1)
            .batch(0, h.batch(1, 2))
            .batch(0, h.forged_price(1000000, 1, 1, "2.0"))
            .tick(30)
            .reply(0, "range 3 9 9 2 7", {h.batch(3, 9)})
            .tick(30)
            .bytes());
  Bytes bad_crc = h.batch(1, 3);
  bad_crc[kBatchHeaderSize + 4] ^= 1;
  write(frames, "bad_crc", Script(1).batch(0, bad_crc).batch(0, bad_crc, true).bytes());
  Bytes truncated = h.batch(1, 3);
  truncated.resize(truncated.size() - 9);
  write(frames, "truncated", Script(1).batch(2, truncated).bytes());
  {
    MarketState state;
    for (uint64_t s = 1; s <= 4; ++s) state.apply(h.frame(s));
    const auto chunks = encode_snapshot(state, h.channel(), 1, 1, 1);
    std::vector<Bytes> parts(chunks.begin(), chunks.end());
    write(frames, "snapshot_start",
          Script(0)
              .batch(0, h.batch(5, 6))
              .tick(1)
              .reply(0, snapshot_header(state, 1, parts.size()), parts)
              .batch(0, h.batch(7, 9))
              .bytes());

    const auto chunk_dir = corpus / "snapshot_chunks";
    Script valid(0);
    valid.text(snapshot_header(state, 1, parts.size())).byte(static_cast<uint8_t>(parts.size()));
    for (const Bytes& p : parts) valid.sized(p);
    valid.sized(h.batch(5, 6));
    write(chunk_dir, "valid", valid.bytes());
    Script one(0);
    const auto whole = encode_snapshot(state, h.channel(), 1, 1, 1024);
    one.text(snapshot_header(state, 1, 1)).byte(1).sized(whole[0]);
    write(chunk_dir, "one_chunk", one.bytes());
    Script bad(0);
    Bytes broken = parts[0];
    broken[broken.size() / 2] ^= 0x20;
    bad.text(snapshot_header(state, 1, parts.size())).byte(static_cast<uint8_t>(parts.size()));
    bad.sized(broken);
    for (size_t i = 1; i < parts.size(); ++i) bad.sized(parts[i]);
    write(chunk_dir, "bad_crc", bad.bytes());
    Script fixed(3);  // the same, with the CRC and the header rewritten: reaches the install
    fixed.text("snapshot 0 0 0000000000000000 0").byte(static_cast<uint8_t>(parts.size()));
    fixed.sized(broken);
    for (size_t i = 1; i < parts.size(); ++i) fixed.sized(parts[i]);
    write(chunk_dir, "fixed_up", fixed.bytes());
    Script wrong_digest(0);
    wrong_digest.text("snapshot 4 1 0123456789abcdef " + std::to_string(parts.size()))
        .byte(static_cast<uint8_t>(parts.size()));
    for (const Bytes& p : parts) wrong_digest.sized(p);
    write(chunk_dir, "wrong_digest", wrong_digest.bytes());
    Script missing(0);
    missing.text(snapshot_header(state, 1, parts.size())).byte(1).sized(parts[0]);
    write(chunk_dir, "missing_chunk", missing.bytes());
    Script empty(2);
    const auto none = encode_snapshot(MarketState{}, h.channel(), 1, 1, 1);
    empty.text("snapshot").byte(1).sized(none[0]);
    write(chunk_dir, "empty_state", empty.bytes());
  }

  const auto replies = corpus / "recovery_reply";
  const auto reply = [](uint8_t flags, const std::string& header, const std::vector<Bytes>& parts) {
    Script s(flags);
    s.text(header).byte(static_cast<uint8_t>(parts.size()));
    for (const Bytes& p : parts) s.sized(p);
    return s;
  };
  write(replies, "range", reply(0, "range 5 8 9 2 7", {h.batch(5, 6), h.batch(7, 8)}).bytes());
  write(replies, "range_capped",
        reply(0, "range 5 6 9 2 7", {h.batch(5, 6)})
            .raw(reply(0, "range 7 8 9 2 7", {h.batch(7, 8)}).bytes())
            .bytes());
  write(replies, "range_below_from", reply(0, "range 5 8 9 2 7", {h.batch(3, 8)}).bytes());
  write(replies, "range_nothing", reply(0, "range 5 0 4 1 1", {}).bytes());
  write(replies, "range_other_service", reply(1, "range 5 8 9 2 7", {h.batch(5, 8)}).bytes());
  write(replies, "gone", reply(0, "gone 5 9", {}).bytes());
  write(replies, "busy", reply(0, "busy 10", {}).bytes());
  write(replies, "error", reply(0, "error bad-request range: want FROM <= TO", {}).bytes());
  write(replies, "status", reply(0, "status 1 2 7 9 primary", {}).bytes());
  write(replies, "epoch_ahead", reply(0, "range 5 8 9 5 3", {h.batch(5, 8)}).bytes());
  write(replies, "garbage", reply(0, "rnage 5 8", {h.batch(5, 8)}).bytes());
  return 0;
}
