// The role core's decisions (engine/role_core.h), driven without sockets or clocks.
#include "engine/role_core.h"

#include <gtest/gtest.h>

namespace oddsbus::engine {
namespace {

constexpr uint64_t kMs = 1'000'000;
using Kind = RoleAction::Kind;

RoleCoreConfig sync_config() {
  RoleCoreConfig config;
  config.has_peer = true;
  config.sync = true;
  config.alone_after_ns = 2000 * kMs;
  config.failover_after_ns = 1500 * kMs;
  return config;
}

std::vector<uint64_t> released(const RoleOutput& out) {
  std::vector<uint64_t> seqs;
  for (const RoleAction& a : out.actions) {
    if (a.kind == Kind::kRelease) seqs.push_back(a.seq);
  }
  return seqs;
}

TEST(RoleCore, AsyncPrimaryPublishesAtOnceAndEverythingIsVisible) {
  RoleCoreConfig config;
  config.has_peer = true;
  RoleCore core(config, NodeRole::kPrimary, 10, 1, 0);
  RoleOutput out;
  EXPECT_TRUE(core.on_committed(12, 100, 1, out));
  EXPECT_EQ(core.visible_seq(), RoleCore::kNoLimit);
  EXPECT_EQ(core.committed_seq(), 12u);
  EXPECT_TRUE(out.actions.empty());
}

TEST(RoleCore, SyncHoldsUntilAckedReleasesInOrderAndWithholdsHeartbeats) {
  RoleCore core(sync_config(), NodeRole::kPrimary, 10, 1, 0);
  EXPECT_EQ(core.visible_seq(), 10u);  // what was journaled before the start stays visible
  RoleOutput out;
  EXPECT_FALSE(core.on_committed(12, 100, 1 * kMs, out));
  EXPECT_FALSE(core.on_committed(15, 100, 2 * kMs, out));
  EXPECT_FALSE(core.heartbeat_allowed());
  EXPECT_EQ(core.visible_seq(), 10u);
  EXPECT_EQ(core.replication_lag(), 15u);  // nothing acked yet at all
  core.on_ack(13, 3 * kMs, out);           // covers the first batch only
  EXPECT_EQ(released(out), (std::vector<uint64_t>{12}));
  EXPECT_EQ(core.visible_seq(), 12u);
  out.clear();
  core.on_ack(15, 4 * kMs, out);
  EXPECT_EQ(released(out), (std::vector<uint64_t>{15}));
  EXPECT_EQ(core.visible_seq(), 15u);
  EXPECT_TRUE(core.heartbeat_allowed());
  out.clear();
  EXPECT_FALSE(core.on_committed(16, 10, 6 * kMs, out));
  core.on_ack(16, 7 * kMs, out);
  EXPECT_EQ(released(out), (std::vector<uint64_t>{16}));
}

TEST(RoleCore, AnAckPastTheCommittedSeqIsClamped) {
  RoleCore core(sync_config(), NodeRole::kPrimary, 10, 1, 0);
  RoleOutput out;
  core.on_ack(UINT64_MAX, 1, out);
  EXPECT_EQ(core.acked_seq(), 10u);
  EXPECT_EQ(core.counters().acks_beyond_commit, 1u);
  EXPECT_FALSE(core.on_committed(11, 10, 2, out));  // the stray ack released nothing ahead
}

TEST(RoleCore, ASilentSecondaryMakesThePrimaryGoAloneThenAcksRestoreSync) {
  RoleCore core(sync_config(), NodeRole::kPrimary, 0, 1, 0);
  RoleOutput out;
  EXPECT_FALSE(core.on_committed(3, 100, 100 * kMs, out));
  EXPECT_FALSE(core.on_committed(5, 100, 200 * kMs, out));
  core.on_tick(2099 * kMs, out);
  EXPECT_TRUE(out.actions.empty());
  core.on_tick(2100 * kMs, out);
  EXPECT_EQ(released(out), (std::vector<uint64_t>{5}));
  ASSERT_FALSE(out.notices.empty());
  EXPECT_EQ(out.notices[0].kind, RoleNotice::Kind::kWentAlone);
  EXPECT_EQ(out.notices[0].ms, 2000u);
  EXPECT_TRUE(core.alone());
  EXPECT_EQ(core.visible_seq(), RoleCore::kNoLimit);
  EXPECT_EQ(core.counters().alone_episodes, 1u);
  out.clear();
  EXPECT_TRUE(core.on_committed(8, 100, 2200 * kMs, out));  // alone: at once
  core.on_ack(7, 2300 * kMs, out);
  EXPECT_TRUE(core.alone());
  core.on_ack(8, 2400 * kMs, out);
  EXPECT_FALSE(core.alone());
  EXPECT_EQ(core.visible_seq(), 8u);
  EXPECT_FALSE(core.on_committed(9, 100, 2500 * kMs, out));  // waits for acks again
}

TEST(RoleCore, HeldBytesPastTheBoundGoAloneAtOnce) {
  RoleCoreConfig config = sync_config();
  config.max_held_bytes = 250;
  RoleCore core(config, NodeRole::kPrimary, 0, 1, 0);
  RoleOutput out;
  EXPECT_FALSE(core.on_committed(1, 100, 1, out));
  EXPECT_FALSE(core.on_committed(2, 100, 2, out));
  EXPECT_TRUE(out.actions.empty());
  EXPECT_FALSE(core.on_committed(3, 100, 3, out));  // held, then released with the rest
  EXPECT_EQ(released(out), (std::vector<uint64_t>{3}));
  EXPECT_TRUE(core.alone());
}

TEST(RoleCore, ASilentPrimaryIsTakenOverAtOneMoreThanAnyEpochHeard) {
  RoleCoreConfig config = sync_config();
  config.sync = false;
  RoleCore core(config, NodeRole::kSecondary, 0, 1, 0);
  RoleOutput out;
  core.on_replicated(40, 2, 100 * kMs, out);
  core.on_heard(3, 1000 * kMs);  // a heartbeat of epoch 3, whose EpochChange is not here yet
  core.on_tick(2499 * kMs, out);
  EXPECT_TRUE(out.actions.empty());
  EXPECT_EQ(core.role(), NodeRole::kSecondary);
  core.on_tick(2500 * kMs, out);
  ASSERT_EQ(out.actions.size(), 1u);
  EXPECT_EQ(out.actions[0].kind, Kind::kTakeOver);
  EXPECT_EQ(out.actions[0].epoch, 4u);
  EXPECT_EQ(out.actions[0].seq, 41u);
  EXPECT_EQ(core.role(), NodeRole::kPrimary);
  EXPECT_EQ(core.committed_seq(), 41u);
  EXPECT_EQ(core.visible_seq(), RoleCore::kNoLimit);
  EXPECT_FALSE(core.alone());  // async: nothing to be alone from
  EXPECT_EQ(out.notices[0].kind, RoleNotice::Kind::kTookOver);
  EXPECT_EQ(out.notices[0].ms, 1500u);
}

TEST(RoleCore, ASecondaryWithoutAnyWordFromItsPrimaryTakesOverFromItsStart) {
  RoleCore core(sync_config(), NodeRole::kSecondary, 7, 2, 1000 * kMs);
  RoleOutput out;
  core.on_tick(2499 * kMs, out);
  EXPECT_TRUE(out.actions.empty());
  core.on_tick(2500 * kMs, out);
  ASSERT_EQ(out.actions.size(), 1u);
  EXPECT_EQ(out.actions[0].epoch, 3u);
  EXPECT_EQ(out.actions[0].seq, 8u);
  // Sync: the peer that would acknowledge just died; the new primary starts alone.
  EXPECT_TRUE(core.alone());
  EXPECT_EQ(out.notices.back().kind, RoleNotice::Kind::kStartedAlone);
  EXPECT_TRUE(core.on_committed(9, 10, 2600 * kMs, out));
  core.on_ack(9, 2700 * kMs, out);  // the old primary rejoined and caught up
  EXPECT_FALSE(core.alone());
  EXPECT_EQ(core.visible_seq(), 9u);
}

TEST(RoleCore, APrimaryIsFencedByAHigherEpochOnlyAndDropsWhatItHeld) {
  RoleCore core(sync_config(), NodeRole::kPrimary, 10, 2, 0);
  RoleOutput out;
  EXPECT_FALSE(core.on_committed(12, 100, 1, out));
  core.on_peer_epoch(2, 2, out);
  core.on_peer_epoch(1, 3, out);
  EXPECT_EQ(core.role(), NodeRole::kPrimary);
  EXPECT_TRUE(out.actions.empty());
  core.on_peer_epoch(3, 4, out);
  EXPECT_EQ(core.role(), NodeRole::kSecondary);
  // The held 11..12 are set aside first (nobody but the secondary saw them), then it fences.
  ASSERT_EQ(out.actions.size(), 2u);
  EXPECT_EQ(out.actions[0].kind, Kind::kSetAsideHeld);
  EXPECT_EQ(out.actions[0].seq, 11u);
  EXPECT_EQ(out.actions[1].kind, Kind::kFence);
  EXPECT_EQ(out.actions[1].epoch, 3u);
  EXPECT_EQ(core.committed_seq(), 10u);
  EXPECT_TRUE(released(out).empty());  // held batches are never published
  EXPECT_TRUE(core.heartbeat_allowed());
  EXPECT_EQ(core.visible_seq(), 10u);  // nothing held becomes visible
  EXPECT_EQ(core.counters().fencings, 1u);
  out.clear();
  core.on_diverged(11, out);
  ASSERT_EQ(out.actions.size(), 1u);
  EXPECT_EQ(out.actions[0].kind, Kind::kSetAside);
  EXPECT_EQ(out.actions[0].seq, 11u);
  EXPECT_EQ(core.committed_seq(), 10u);
  core.on_replicated(11, 3, 5, out);
  EXPECT_EQ(core.visible_seq(), RoleCore::kNoLimit);
  EXPECT_EQ(core.epoch(), 3u);
}

TEST(RoleCore, AFencedNodeNeverReusesItsOwnEpochAfterSettingFramesAside) {
  RoleCoreConfig config = sync_config();
  config.sync = false;
  RoleCore core(config, NodeRole::kPrimary, 10, 5, 0);
  RoleOutput out;
  core.on_peer_epoch(6, 1, out);
  core.on_diverged(8, out);
  core.on_replicated(9, 6, 2, out);
  out.clear();
  core.on_tick(2 + 1500 * kMs, out);
  ASSERT_EQ(out.actions.size(), 1u);
  EXPECT_EQ(out.actions[0].epoch, 7u);
  EXPECT_EQ(out.actions[0].seq, 10u);
}

// Simulator finding F6: a node fenced while holding, that later takes over, starts its epoch
// right after what it released, not after a held tail that no surviving history has to contain
// (a node or edge holding the deposed epoch must see the new epoch start at or before its own
// frames, or it never learns it lost them).
TEST(RoleCore, AFencedNodeThatHeldTakesOverRightAfterWhatItReleased) {
  RoleCore core(sync_config(), NodeRole::kPrimary, 86, 1, 0);
  RoleOutput out;
  EXPECT_FALSE(core.on_committed(185, 1000, 1, out));
  core.on_peer_epoch(2, 2, out);  // another node took over (at 87)
  ASSERT_EQ(out.actions.size(), 2u);
  EXPECT_EQ(out.actions[0].kind, Kind::kSetAsideHeld);
  EXPECT_EQ(out.actions[0].seq, 87u);
  out.clear();
  // It never hears the new primary's frames (it froze); later its silence means a takeover.
  core.on_tick(3 + 1500 * kMs, out);
  ASSERT_EQ(out.actions.size(), 1u);
  EXPECT_EQ(out.actions[0].kind, Kind::kTakeOver);
  EXPECT_EQ(out.actions[0].epoch, 3u);
  EXPECT_EQ(out.actions[0].seq, 87u) << "not 186: the held 87..185 are in no history";
}

TEST(RoleCore, AnAsyncOrAlonePrimaryHoldsNothingAndSetsNothingAsideWhenFenced) {
  RoleCoreConfig config = sync_config();
  config.sync = false;
  RoleCore core(config, NodeRole::kPrimary, 10, 1, 0);
  RoleOutput out;
  EXPECT_TRUE(core.on_committed(12, 100, 1, out));
  core.on_peer_epoch(2, 2, out);
  ASSERT_EQ(out.actions.size(), 1u);
  EXPECT_EQ(out.actions[0].kind, Kind::kFence);
  EXPECT_EQ(core.committed_seq(), 12u);
}

// Found by the chaos suite (tools/chaos): a node resumed from SIGSTOP took its own pause for its
// primary's silence. A gap between ticks longer than own_pause_ns restarts the failover clock.
TEST(RoleCore, ASecondaryNeverTakesItsOwnPauseForItsPrimarysSilence) {
  RoleCoreConfig config = sync_config();
  config.own_pause_ns = 500 * kMs;
  RoleCore core(config, NodeRole::kPrimary, 10, 4, 0);
  RoleOutput out;
  for (uint64_t t = 0; t <= 100 * kMs; t += 10 * kMs) core.on_tick(t, out);
  core.on_peer_epoch(5, 100 * kMs, out);  // fenced in a turn begun before the pause
  ASSERT_EQ(core.role(), NodeRole::kSecondary);
  out.clear();
  core.on_tick(2100 * kMs, out);  // resumed 2 s later
  EXPECT_TRUE(out.actions.empty()) << "its own pause is not its primary's silence";
  for (uint64_t t = 2110 * kMs; t < 3600 * kMs; t += 10 * kMs) core.on_tick(t, out);
  EXPECT_TRUE(out.actions.empty()) << "a whole failover window from the resume";
  core.on_tick(3610 * kMs, out);
  ASSERT_EQ(out.actions.size(), 1u) << "then a silent primary is taken over as always";
  EXPECT_EQ(out.actions[0].kind, Kind::kTakeOver);

  // Off (0): the same gap counts as silence.
  config.own_pause_ns = 0;
  RoleCore off(config, NodeRole::kSecondary, 10, 4, 0);
  out.clear();
  off.on_tick(10 * kMs, out);
  off.on_tick(2100 * kMs, out);
  EXPECT_EQ(out.actions.size(), 1u);
}

TEST(RoleCore, ThePlantedBugKeepsTheEpochAtTakeover) {
  RoleCoreConfig config = sync_config();
  config.planted_keep_epoch = true;
  RoleCore core(config, NodeRole::kSecondary, 3, 2, 0);
  RoleOutput out;
  core.on_tick(1500 * kMs, out);
  ASSERT_EQ(out.actions.size(), 1u);
  EXPECT_EQ(out.actions[0].epoch, 2u);
}

TEST(RoleCore, APrimaryWithoutAPeerNeverWaitsAndASecondaryWithoutOneNeverTakesOver) {
  RoleCoreConfig config;
  config.sync = true;
  RoleCore primary(config, NodeRole::kPrimary, 0, 1, 0);
  RoleOutput out;
  EXPECT_TRUE(primary.on_committed(1, 10, 1, out));
  RoleCore secondary(config, NodeRole::kSecondary, 0, 1, 0);
  secondary.on_tick(UINT64_MAX / 2, out);
  EXPECT_TRUE(out.actions.empty());
}

}  // namespace
}  // namespace oddsbus::engine

namespace oddsbus::engine {
namespace {

// Simulator finding F3: a sync primary that restarts as secondary may hold, in its journal,
// batches it held unacknowledged; it serves nothing until its journal is known to be its
// primary's history.
TEST(RoleCoreStart, ASyncSecondaryServesNothingUntilItsJournalIsThePrimarysHistory) {
  RoleCore core(sync_config(), NodeRole::kSecondary, 962, 2, 0);
  EXPECT_EQ(core.visible_seq(), 0u);
  core.on_primary_position(3, 990);  // a new primary in a later epoch: our tail may be lost
  EXPECT_EQ(core.visible_seq(), 0u);
  core.on_primary_position(2, 961);  // our epoch, but behind us: not proof either
  EXPECT_EQ(core.visible_seq(), 0u);
  core.on_primary_position(2, 962);
  EXPECT_EQ(core.visible_seq(), RoleCore::kNoLimit);

  RoleCore replicated(sync_config(), NodeRole::kSecondary, 962, 2, 0);
  RoleOutput out;
  replicated.on_diverged(920, out);
  replicated.on_replicated(925, 3, 1, out);
  EXPECT_EQ(replicated.visible_seq(), RoleCore::kNoLimit);

  RoleCoreConfig async = sync_config();
  async.sync = false;
  EXPECT_EQ(RoleCore(async, NodeRole::kSecondary, 962, 2, 0).visible_seq(), RoleCore::kNoLimit);
}

// Simulator finding F4: a primary whose journal lost a published tail (OS crash, nosync) must not
// sequence on from it while its peer holds more of the history.
TEST(RoleCoreStart, AConfiguredPrimaryJoinsAPeerThatIsPrimaryOrAhead) {
  const auto start = [](std::optional<PeerStatus> peer) {
    return choose_start_role(NodeRole::kPrimary, 241, 1, peer);
  };
  EXPECT_EQ(start(std::nullopt), NodeRole::kPrimary);
  EXPECT_EQ(start(PeerStatus{true, 1, 100}), NodeRole::kSecondary);
  EXPECT_EQ(start(PeerStatus{false, 1, 241}), NodeRole::kPrimary);
  EXPECT_EQ(start(PeerStatus{false, 1, 100}), NodeRole::kPrimary);
  EXPECT_EQ(start(PeerStatus{false, 1, 250}), NodeRole::kSecondary);
  EXPECT_EQ(start(PeerStatus{false, 2, 100}), NodeRole::kSecondary);
  EXPECT_EQ(choose_start_role(NodeRole::kSecondary, 241, 1, std::nullopt), NodeRole::kSecondary);
}

}  // namespace
}  // namespace oddsbus::engine
