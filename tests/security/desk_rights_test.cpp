// Desk rights (issue 14): a desk without a right is refused `forbidden` with the missing right
// named, the refusal is counted, and nothing changes (no frame, same state); an allowed desk's
// frame carries its identity and request id, shown by `odds-replay history --json` and `events`.
// The rights file itself: what it grants, and the mistakes it refuses by name.
#include "engine/desk_rights.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <memory>
#include <thread>

#include "engine/node_assembly.h"
#include "engine/restore.h"
#include "schemas/state_digest.h"
#include "tests/engine/desk_test_support.h"
#include "tests/engine/engine_test_support.h"
#include "tests/tools/run_tool.h"

namespace oddsbus::engine {
namespace {

using namespace std::chrono_literals;
using testing_support::DeskClient;

constexpr const char* kAliceKey = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7";
constexpr const char* kBobKey = "Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID";

DeskRights rights_of(std::string_view text) {
  auto rights = DeskRights::parse(text, "test.toml");
  EXPECT_TRUE(rights) << rights.error();
  return rights ? std::move(*rights) : DeskRights{};
}

desk::Request request(std::string client, desk::Command command, uint64_t market) {
  desk::Request r;
  r.client = std::move(client);
  r.id = "1";
  r.command = command;
  r.market = market;
  r.event = market;
  return r;
}

TEST(DeskRightsFile, GrantsActionsOnMarketsAndEventsAndNamesWhatIsMissing) {
  const DeskRights rights = rights_of(R"(
[[desk]]
client = "alice"
actions = ["price", "release"]
markets = [1001]
events = [501]

[[desk]]
client = "ops"
actions = ["suspend", "suspend-event"]
markets = "all"
)");
  using C = desk::Command;
  EXPECT_FALSE(rights.refuse("", request("alice", C::kSetPrice, 1001), 0));
  EXPECT_FALSE(rights.refuse("", request("alice", C::kSetPrice, 2002), 501)) << "by its event";
  EXPECT_EQ(rights.refuse("", request("alice", C::kSetPrice, 2002), 502),
            "no right to price market 2002");
  EXPECT_EQ(rights.refuse("", request("alice", C::kSuspend, 1001), 0), "no right to suspend");
  EXPECT_EQ(rights.refuse("", request("mallory", C::kSetPrice, 1001), 0),
            "client mallory has no desk rights");
  EXPECT_FALSE(rights.refuse("", request("ops", C::kSuspend, 9), 0));
  EXPECT_FALSE(rights.refuse("", request("ops", C::kSuspendEvent, 777), 0));
  EXPECT_EQ(rights.refuse("", request("alice", C::kSuspendEvent, 501), 0),
            "no right to suspend-event");
  EXPECT_FALSE(rights.refuse("", request("alice", C::kHeld, 0), 0)) << "any known desk may list";
}

TEST(DeskRightsFile, AnAuthenticatedDeskIsKnownByItsKeyAndItsClientWordGrantsNothing) {
  const DeskRights rights = rights_of(std::string(R"(
[[desk]]
key = ")") + kAliceKey + R"("
actions = ["price"]
markets = "all"

[[desk]]
client = "alice"
actions = ["price", "settle"]
markets = "all"
)");
  using C = desk::Command;
  EXPECT_FALSE(rights.refuse(kAliceKey, request("anything", C::kSetPrice, 1), 0));
  EXPECT_EQ(rights.refuse(kAliceKey, request("alice", C::kSettle, 1), 0), "no right to settle")
      << "the key's rights, not those of the CLIENT word it writes";
  EXPECT_EQ(rights.refuse(kBobKey, request("alice", C::kSetPrice, 1), 0),
            std::string("desk key ") + kBobKey + " has no desk rights")
      << "a desk cannot claim another's rights by writing its CLIENT word";
}

TEST(DeskRightsFile, RefusesMistakesByName) {
  const auto error = [](std::string_view text) {
    auto rights = DeskRights::parse(text, "r.toml");
    return rights ? std::string("<accepted>") : rights.error();
  };
  EXPECT_NE(error("[[desk]]\nclient = \"a\"\nactions = [\"price\"]\ncolour = 1\n")
                .find("unknown key 'colour'"),
            std::string::npos);
  EXPECT_NE(error("[[desk]]\nclient = \"a\"\nactions = [\"fly\"]\n").find("unknown action 'fly'"),
            std::string::npos);
  EXPECT_NE(error("[[desk]]\nkey = \"short\"\nactions = []\n").find("not a CURVE public key"),
            std::string::npos);
  EXPECT_NE(error("[[desk]]\nactions = []\n").find("exactly one of key and client"),
            std::string::npos);
  EXPECT_NE(error("[[desk]]\nclient = \"a\"\n[[desk]]\nclient = \"a\"\n").find("named twice"),
            std::string::npos);
  EXPECT_NE(error("[desks]\n").find("unknown key 'desks'"), std::string::npos);
}

// A node run with --desk-rights: alice may price market 1001 only.
class DeskRightsNode : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string rights = dir_.sub("rights.toml");
    std::ofstream(rights) << "[[desk]]\nclient = \"alice\"\nactions = [\"price\"]\n"
                             "markets = [1001]\n";
    NodeConfig config;
    config.journal_dir = dir_.sub("journal");
    config.pub_url = "tcp://127.0.0.1:*";
    config.desk_url = "tcp://127.0.0.1:*";
    config.desk_rights_path = rights;
    NodeOptions options;
    options.local_producers = 1;
    node_ = std::make_unique<Node>(config, options);
    auto started = node_->start();
    ASSERT_TRUE(started) << started.error();
    std::atomic<bool> stop{false};
    feeds::Event up;
    up.type = feeds::EventType::kSourceStatus;
    up.source = "local";
    up.source_up = true;
    ASSERT_EQ(node_->push(0, up, stop), PushResult::kPushed);
    for (feeds::Event e :
         {testing_support::market_event(1001, 501, "Match Odds", testing_support::home_draw_away()),
          testing_support::market_event(1002, 502, "Other", testing_support::home_draw_away()),
          testing_support::price_event(1001, 1, "2.0")}) {
      e.source = "local";
      ASSERT_EQ(node_->push(0, e, stop), PushResult::kPushed);
    }
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (node_->last_seq() < 3 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(1ms);
    }
    ASSERT_EQ(node_->last_seq(), 3u);
  }
  uint64_t forbidden() const {
    return node_->desk()
        ->counters()
        .rejected[static_cast<size_t>(desk::RejectReason::kForbidden)]
        .load();
  }

  testing_support::TempDir dir_;
  std::unique_ptr<Node> node_;
};

TEST_F(DeskRightsNode, ADeskWithoutTheRightIsRefusedCountedAndChangesNothing) {
  zmq::context_t context(1);
  DeskClient desk(context, node_->desk_endpoint());
  const uint64_t before_digest = [&] {
    auto restored = restore_sequencer(node_->journal());
    return state_digest((*restored)->state());
  }();
  struct Case {
    const char* request;
    const char* detail;
  };
  const Case cases[] = {
      {"mallory m1 set-price 1001 1 9.0", "client mallory has no desk rights"},
      {"alice a1 suspend 1001", "no right to suspend"},
      {"alice a2 set-price 1002 1 9.0", "no right to price market 1002"},
      {"alice a3 suspend-event 501", "no right to suspend-event"},
  };
  uint64_t refused = 0;
  for (const Case& c : cases) {
    const desk::Reply reply = desk.ask_reply(c.request);
    EXPECT_FALSE(reply.ok) << c.request;
    EXPECT_EQ(reply.reason, desk::RejectReason::kForbidden) << c.request;
    EXPECT_EQ(reply.detail, c.detail) << c.request;
    EXPECT_EQ(forbidden(), ++refused) << "counted";
  }
  EXPECT_EQ(node_->sequencer_counters().desk_forbidden.load(), refused);
  EXPECT_EQ(node_->last_seq(), 3u) << "no frame";
  ASSERT_TRUE(node_->stop());
  auto restored = restore_sequencer(node_->journal());
  ASSERT_TRUE(restored);
  EXPECT_EQ(state_digest((*restored)->state()), before_digest) << "no state change";
  EXPECT_TRUE((*restored)->desk().held().empty()) << "nothing taken";
}

TEST_F(DeskRightsNode, AnAllowedDesksFrameShowsItsIdentityAndRequestIdInReplay) {
  zmq::context_t context(1);
  DeskClient desk(context, node_->desk_endpoint());
  const desk::Reply reply = desk.ask_reply("alice move-17 set-price 1001 1 5/2");
  ASSERT_TRUE(reply.ok) << reply.detail;
  ASSERT_TRUE(node_->stop());
  const std::string journal = dir_.sub("journal");
  oddsbus::testing::TempDir scratch;
  const auto history =
      oddsbus::testing::run_tool({oddsbus::testing::tool_dir() + "/odds-replay", "history",
                                  "--journal", journal, "--market", "1001", "--json"},
                                 scratch);
  ASSERT_EQ(history.exit_code, 0) << history.err;
  const auto lines = oddsbus::testing::lines_of(history.out);
  ASSERT_FALSE(lines.empty());
  const std::string& last = lines.back();
  EXPECT_NE(last.find("\"seq\": " + std::to_string(reply.seq)), std::string::npos) << last;
  EXPECT_NE(last.find("\"desk_identity\": \"alice\""), std::string::npos) << last;
  EXPECT_NE(last.find("\"request_id\": \"move-17\""), std::string::npos) << last;
  EXPECT_NE(last.find("\"override\": \"take\""), std::string::npos) << last;

  const auto events =
      oddsbus::testing::run_tool({oddsbus::testing::tool_dir() + "/odds-replay", "events",
                                  "--journal", journal, "--from", std::to_string(reply.seq)},
                                 scratch);
  ASSERT_EQ(events.exit_code, 0) << events.err;
  EXPECT_NE(events.out.find("\"desk\": {\"identity\": \"alice\", \"client\": \"alice\", "
                            "\"request_id\": \"move-17\"}"),
            std::string::npos)
      << events.out;
}

}  // namespace
}  // namespace oddsbus::engine
