// The recovery service's parked range requests and acks (engine/long_polls.h), with injected time.
#include "engine/long_polls.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace oddsbus::engine {
namespace {

constexpr uint64_t kMs = 1'000'000;
constexpr uint64_t kT0 = 1'000'000 * kMs;

recovery::Request range(uint64_t from, uint32_t wait_ms, bool replica = false) {
  recovery::Request request;
  request.kind = recovery::RequestKind::kRange;
  request.from = from;
  request.to = UINT64_MAX;
  request.wait_ms = wait_ms;
  request.replica = replica;
  return request;
}

std::vector<std::string> answered(LongPolls& polls, uint64_t replica_limit, uint64_t others_limit) {
  std::vector<std::string> who;
  polls.answer_servable(replica_limit, others_limit,
                        [&](const LongPolls::Parked& p) { who.push_back(p.identity); });
  return who;
}

TEST(LongPolls, ParkedRequestsAreBoundedInNumber) {
  LongPolls polls(LongPollsConfig{2, 60'000});
  EXPECT_EQ(polls.park("a", range(5, 100), kT0), LongPolls::ParkResult::kParked);
  EXPECT_EQ(polls.park("b", range(5, 100), kT0), LongPolls::ParkResult::kParked);
  EXPECT_EQ(polls.park("c", range(5, 100), kT0), LongPolls::ParkResult::kFull);
  EXPECT_EQ(polls.size(), 2u);
}

TEST(LongPolls, AReplicaIsAnsweredAtTheCommittedSeqOthersAtTheVisibleOne) {
  LongPolls polls(LongPollsConfig{});
  polls.park("edge", range(6, 100), kT0);
  polls.park("secondary", range(6, 100, true), kT0);
  EXPECT_TRUE(answered(polls, 5, 5).empty());
  EXPECT_EQ(answered(polls, 6, 5), (std::vector<std::string>{"secondary"}));
  EXPECT_EQ(polls.size(), 1u);
  EXPECT_EQ(answered(polls, 9, 6), (std::vector<std::string>{"edge"}));
  EXPECT_EQ(polls.size(), 0u);
}

TEST(LongPolls, AnswersInParkOrderAndKeepsTheRest) {
  LongPolls polls(LongPollsConfig{});
  polls.park("a", range(3, 100), kT0);
  polls.park("b", range(9, 100), kT0);
  polls.park("c", range(2, 100), kT0);
  EXPECT_EQ(answered(polls, 5, 5), (std::vector<std::string>{"a", "c"}));
  EXPECT_EQ(answered(polls, 9, 9), (std::vector<std::string>{"b"}));
}

TEST(LongPolls, ExpiresAtTheDeadlineWithTheWaitCutToTheMaximum) {
  LongPolls polls(LongPollsConfig{8, 1000});
  polls.park("short", range(5, 100), kT0);
  polls.park("long", range(5, 3'600'000), kT0);  // cut to 1 s
  EXPECT_EQ(polls.next_deadline_ns(), kT0 + 100 * kMs);
  std::vector<std::string> who;
  const auto note = [&](const LongPolls::Parked& p) { who.push_back(p.identity); };
  EXPECT_EQ(polls.expire(kT0 + 99 * kMs, note), 0u);
  EXPECT_EQ(polls.expire(kT0 + 100 * kMs, note), 1u);
  EXPECT_EQ(polls.next_deadline_ns(), kT0 + 1000 * kMs);
  EXPECT_EQ(polls.expire(kT0 + 1000 * kMs, note), 1u);
  EXPECT_EQ(who, (std::vector<std::string>{"short", "long"}));
  EXPECT_EQ(polls.next_deadline_ns(), UINT64_MAX);
}

TEST(LongPolls, AcksAreClampedToTheCommittedSeqAndNeverGoBack) {
  LongPolls polls(LongPollsConfig{});
  EXPECT_EQ(polls.acked_seq(), 0u);
  EXPECT_TRUE(polls.on_ack(4, 10, kT0));
  EXPECT_EQ(polls.acked_seq(), 4u);
  EXPECT_FALSE(polls.on_ack(UINT64_MAX, 10, kT0 + kMs));  // a stray ack releases nothing ahead
  EXPECT_EQ(polls.acked_seq(), 10u);
  EXPECT_TRUE(polls.on_ack(7, 12, kT0 + 2 * kMs));  // a late, older ack
  EXPECT_EQ(polls.acked_seq(), 10u);
  EXPECT_EQ(polls.last_ack_ns(), kT0 + 2 * kMs);
}

}  // namespace
}  // namespace oddsbus::engine
