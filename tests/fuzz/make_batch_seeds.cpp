// Writes the batch_reader fuzz target's seed batches (valid batches of every payload type, and a
// few broken ones) into the directory given as argv[1]. Built on demand only:
//   cmake --build BUILD --target fuzz_make_batch_seeds && BUILD/tests/fuzz/fuzz_make_batch_seeds
//   DIR
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "schemas/batch.h"
#include "schemas/frame_builder.h"
#include "schemas/odds.h"

using namespace oddsbus;

namespace {

struct Selection {
  uint64_t id;
  std::string name;
};

using Bytes = std::vector<uint8_t>;

FrameHeader header_for(uint64_t seq, uint32_t channel = 1) {
  FrameHeader h;
  h.seq = seq;
  h.epoch = 1;
  h.channel = channel;
  h.publisher = 2;
  h.sequenced_ns = 1'700'000'000'000'000'000 + seq;
  h.source_ns = 1'700'000'000'000'000'000;
  h.market_seq = seq;
  return h;
}

Bytes copy(std::span<const uint8_t> bytes) { return {bytes.begin(), bytes.end()}; }

Bytes batch_of(const std::vector<Bytes>& frames, uint64_t first_seq, uint32_t channel = 1,
               uint32_t flags = 0) {
  BatchWriter writer(256);
  writer.begin(channel, first_seq, flags);
  for (const auto& f : frames) writer.add(f);
  return copy(writer.bytes());
}

void write(const std::filesystem::path& dir, const std::string& name, const Bytes& bytes) {
  std::ofstream(dir / name, std::ios::binary)
      .write(reinterpret_cast<const char*>(bytes.data()),
             static_cast<std::streamsize>(bytes.size()));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 1;
  }
  const std::filesystem::path dir = argv[1];
  std::filesystem::create_directories(dir);
  FrameBuilder b;
  const std::vector<Selection> three = {{1, "Home"}, {2, "Draw"}, {3, "Away"}};
  const std::vector<Selection> none;
  const std::vector<uint64_t> winners = {1, 3};

  const Bytes def = copy(
      b.market_definition(header_for(1), 1001, 501, "Match Odds", fb::MarketStatus::Open, three));
  const Bytes price = copy(b.price(header_for(2), 1001, 1, *parse_odds("2.50"), "2.50", "bf"));
  const Bytes frac = copy(b.price(header_for(3), 1001, 2, *parse_odds("5/2"), "5/2", "sr"));
  const Bytes amer = copy(b.price(header_for(4), 1001, 3, *parse_odds("-110"), "-110", "desk"));
  const Bytes status =
      copy(b.status(header_for(5), 1001, fb::MarketStatus::Suspended, fb::StatusReason::Trader));
  const Bytes bet_stop = copy(b.event_suspension(header_for(6), 501, fb::StatusReason::Provider));
  const Bytes settle = copy(b.settlement(header_for(7), 1001, winners));
  const Bytes rollback = copy(b.settlement_rollback(header_for(8), 1001));
  const Bytes epoch = copy(b.epoch_change(header_for(9), 1));
  const Bytes empty_market =
      copy(b.market_definition(header_for(1), 7, 8, "", fb::MarketStatus::Closed, none));

  write(dir, "market_definition", batch_of({def}, 1));
  write(dir, "price_decimal", batch_of({price}, 2));
  write(dir, "status", batch_of({status}, 5));
  write(dir, "event_suspension", batch_of({bet_stop}, 6));
  write(dir, "settlement", batch_of({settle}, 7));
  write(dir, "settlement_rollback", batch_of({rollback}, 8));
  write(dir, "epoch_change", batch_of({epoch}, 9));
  write(dir, "empty_market", batch_of({empty_market}, 1));
  write(dir, "heartbeat", batch_of({copy(b.heartbeat(header_for(42)))}, 42, 1, kBatchHeartbeat));
  write(dir, "every_payload",
        batch_of({def, price, frac, amer, status, bet_stop, settle, rollback, epoch}, 1));
  write(dir, "channel_7", batch_of({copy(b.heartbeat(header_for(3, 7)))}, 3, 7));

  Bytes truncated = batch_of({def, price}, 1);
  truncated.resize(truncated.size() - 5);
  write(dir, "truncated", truncated);
  Bytes bad_crc = batch_of({def}, 1);
  bad_crc[kBatchHeaderSize + 4] ^= 1;
  write(dir, "bad_crc", bad_crc);
  write(dir, "seq_mismatch", batch_of({def, status}, 1));  // status has seq 5, not 2
  write(dir, "empty_batch", batch_of({}, 1));
  Bytes bad_magic = batch_of({def}, 1);
  bad_magic[0] = 'X';
  write(dir, "bad_magic", bad_magic);
  Bytes header_only = batch_of({def}, 1);
  header_only.resize(kBatchHeaderSize);
  write(dir, "header_only", header_only);
  return 0;
}
