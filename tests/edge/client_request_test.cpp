#include "edge/client_request.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace oddsbus::edge {
namespace {

using Op = ClientRequest::Op;
using Ids = std::vector<uint64_t>;

class ClientRequestParserTest : public ::testing::Test {
 protected:
  ClientRequest accept(std::string_view text) {
    auto request = parser_.parse(text);
    EXPECT_TRUE(request.has_value()) << text << ": " << request.error();
    return request.value_or(ClientRequest{});
  }
  std::string refuse(std::string_view text) {
    auto request = parser_.parse(text);
    EXPECT_FALSE(request.has_value()) << text << " was accepted";
    return request ? std::string() : request.error();
  }

  ClientRequestParser parser_{4};
};

TEST_F(ClientRequestParserTest, ParsesPing) {
  const ClientRequest request = accept(R"({"op": "ping"})");
  EXPECT_EQ(request.op, Op::kPing);
  EXPECT_FALSE(request.resume_from);
}

TEST_F(ClientRequestParserTest, ParsesSubscribeToAll) {
  const ClientRequest request = accept(R"({"op": "subscribe", "markets": "all"})");
  EXPECT_EQ(request.op, Op::kSubscribe);
  EXPECT_TRUE(request.all);
  EXPECT_TRUE(request.markets.empty());
  EXPECT_TRUE(request.events.empty());
}

TEST_F(ClientRequestParserTest, ParsesSubscribeToMarketIdsInAscendingOrder) {
  const ClientRequest request = accept(R"({"op": "subscribe", "markets": [30, 10, 20]})");
  EXPECT_EQ(request.op, Op::kSubscribe);
  EXPECT_FALSE(request.all);
  EXPECT_EQ(request.markets, (Ids{10, 20, 30}));
}

TEST_F(ClientRequestParserTest, ParsesOneEventAndAnEventList) {
  EXPECT_EQ(accept(R"({"op": "subscribe", "event": 7})").events, (Ids{7}));
  EXPECT_EQ(accept(R"({"op": "subscribe", "events": [9, 8]})").events, (Ids{8, 9}));
  const ClientRequest both = accept(R"({"op": "subscribe", "event": 5, "markets": [1]})");
  EXPECT_EQ(both.events, (Ids{5}));
  EXPECT_EQ(both.markets, (Ids{1}));
}

TEST_F(ClientRequestParserTest, ParsesResumeFromOnASubscribe) {
  const ClientRequest request =
      accept(R"({"op": "subscribe", "markets": "all", "resume_from": 18446744073709551615})");
  ASSERT_TRUE(request.resume_from);
  EXPECT_EQ(*request.resume_from, 18446744073709551615ull);
  EXPECT_EQ(*accept(R"({"op": "subscribe", "markets": [1], "resume_from": 0})").resume_from, 0u);
}

TEST_F(ClientRequestParserTest, ParsesUnsubscribe) {
  const ClientRequest request = accept(R"({"op": "unsubscribe", "markets": [2, 1]})");
  EXPECT_EQ(request.op, Op::kUnsubscribe);
  EXPECT_EQ(request.markets, (Ids{1, 2}));
  EXPECT_TRUE(accept(R"({"op": "unsubscribe", "markets": "all"})").all);
}

TEST_F(ClientRequestParserTest, RefusesMalformedJson) {
  EXPECT_TRUE(refuse(R"({"op": "ping")").starts_with("malformed JSON")) << refuse("{");
  EXPECT_TRUE(refuse("").starts_with("malformed JSON"));
}

TEST_F(ClientRequestParserTest, RefusesAnythingButAnObject) {
  EXPECT_EQ(refuse(R"(["op", "ping"])"), "expected a JSON object");
  EXPECT_EQ(refuse("42"), "expected a JSON object");
}

TEST_F(ClientRequestParserTest, RefusesAMissingOrUnknownOp) {
  EXPECT_EQ(refuse(R"({"markets": "all"})"), "op: expected a string");
  EXPECT_EQ(refuse(R"({"op": 1})"), "op: expected a string");
  const std::string error = refuse(R"({"op": "publish", "markets": "all"})");
  EXPECT_NE(error.find("publish"), std::string::npos) << error;
  EXPECT_NE(error.find("subscribe, unsubscribe or ping"), std::string::npos) << error;
}

TEST_F(ClientRequestParserTest, RefusesIllTypedIds) {
  EXPECT_EQ(refuse(R"({"op": "subscribe", "markets": [1, "2"]})"),
            "markets: ids are unsigned integers");
  EXPECT_EQ(refuse(R"({"op": "subscribe", "markets": [-1]})"),
            "markets: ids are unsigned integers");
  EXPECT_EQ(refuse(R"({"op": "subscribe", "markets": [1.5]})"),
            "markets: ids are unsigned integers");
  EXPECT_EQ(refuse(R"({"op": "subscribe", "markets": "some"})"),
            "markets: expected \"all\" or a list of ids");
  EXPECT_EQ(refuse(R"({"op": "subscribe", "markets": {"id": 1}})"),
            "markets: expected an id or a list of ids");
  EXPECT_EQ(refuse(R"({"op": "subscribe", "event": "x"})"),
            "event: expected an id or a list of ids");
  EXPECT_EQ(refuse(R"({"op": "subscribe", "events": [true]})"),
            "events: ids are unsigned integers");
}

TEST_F(ClientRequestParserTest, RefusesMoreIdsThanTheLimit) {
  EXPECT_NE(refuse(R"({"op": "subscribe", "markets": [1, 2, 3, 4, 5]})").find("more than 4"),
            std::string::npos);
  EXPECT_NE(refuse(R"({"op": "subscribe", "markets": [1, 2, 3], "events": [4, 5]})")
                .find("more than 4 ids"),
            std::string::npos);
  EXPECT_EQ(accept(R"({"op": "subscribe", "markets": [1, 2], "events": [4, 5]})").markets.size(),
            2u);
}

TEST_F(ClientRequestParserTest, RefusesResumeFromThatIsNotASeqOrNotOnASubscribe) {
  EXPECT_EQ(refuse(R"({"op": "unsubscribe", "markets": [1], "resume_from": 5})"),
            "resume_from: only with subscribe");
  EXPECT_EQ(refuse(R"({"op": "subscribe", "markets": [1], "resume_from": "5"})"),
            "resume_from: expected a seq");
  EXPECT_EQ(refuse(R"({"op": "subscribe", "markets": [1], "resume_from": -5})"),
            "resume_from: expected a seq");
}

TEST_F(ClientRequestParserTest, RefusesASubscriptionThatNamesNothing) {
  EXPECT_EQ(refuse(R"({"op": "subscribe"})"),
            "subscribe: name markets (a list or \"all\") or an event");
  EXPECT_EQ(refuse(R"({"op": "unsubscribe", "markets": []})"),
            "unsubscribe: name markets (a list or \"all\") or an event");
}

TEST_F(ClientRequestParserTest, KeepsNothingFromAnEarlierRequest) {
  accept(R"({"op": "subscribe", "markets": [1, 2, 3], "resume_from": 9})");
  const ClientRequest next = accept(R"({"op": "subscribe", "event": 4})");
  EXPECT_TRUE(next.markets.empty());
  EXPECT_FALSE(next.resume_from);
  EXPECT_EQ(refuse("{\"op\": \"subscr"), refuse("{\"op\": \"subscr"));
}

}  // namespace
}  // namespace oddsbus::edge
