// The desk protocol's text: requests and replies round-trip, and what is malformed is refused with
// a reason.
#include "engine/desk_protocol.h"

#include <gtest/gtest.h>

#include <string>

namespace oddsbus::desk {
namespace {

TEST(DeskProtocol, ParsesSetPriceWithExpiry) {
  auto r = parse_request("trader-1 r42 set-price 1001 2 5/2 for=30000");
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->client, "trader-1");
  EXPECT_EQ(r->id, "r42");
  EXPECT_EQ(r->command, Command::kSetPrice);
  EXPECT_EQ(r->market, 1001u);
  EXPECT_EQ(r->selection, 2u);
  EXPECT_EQ(r->odds, "5/2");
  EXPECT_EQ(r->override_for_ms, 30000u);
}

TEST(DeskProtocol, RequestsRoundTripThroughTheirText) {
  for (const char* text :
       {"c 1 set-price 7 3 +150", "c 2 set-price 7 3 2.50 for=5", "c 3 suspend 7", "c 4 reopen 7",
        "c 5 suspend 7 for=100", "c 6 settle 7 1 3", "c 7 settle 7", "c 8 release 7"}) {
    auto r = parse_request(text);
    ASSERT_TRUE(r) << text << ": " << r.error();
    EXPECT_EQ(format_request(*r), text);
  }
}

TEST(DeskProtocol, RefusesMalformedRequestsWithAReason) {
  for (const char* text :
       {"", "c 1", "c 1 set-price 7 3", "c 1 set-price x 3 2.5", "c 1 set-price 7 3 2.5 for=0",
        "c 1 set-price 7 3 2.5 for=abc", "c 1 suspend 7 8", "c 1 release 7 8", "c 1 settle 7 x",
        "c 1 fly 7", "c 1 reopen -7"}) {
    auto r = parse_request(text);
    EXPECT_FALSE(r) << "accepted '" << text << "'";
    if (!r) {
      EXPECT_FALSE(r.error().empty());
    }
  }
  EXPECT_FALSE(parse_request(std::string(kMaxRequestBytes + 1, 'a')));
  EXPECT_FALSE(parse_request("c 1 sus\tpend 7"));
  EXPECT_TRUE(parse_request("c 1 suspend 7\r\n")) << "a line end typed by hand is ignored";
  EXPECT_FALSE(parse_request(std::string(kMaxTokenBytes + 1, 'c') + " 1 suspend 7"));
}

TEST(DeskProtocol, FindsTheIdOfARequestItCannotParse) {
  EXPECT_EQ(request_id_of("c r9 fly 7"), "r9");
  EXPECT_EQ(request_id_of("c"), "-");
}

TEST(DeskProtocol, RepliesRoundTrip) {
  Reply ack;
  ack.ok = true;
  ack.id = "r1";
  ack.seq = 123456789012;
  ack.epoch = 3;
  EXPECT_EQ(format_reply(ack), "ack r1 123456789012 3");
  auto a = parse_reply(format_reply(ack));
  ASSERT_TRUE(a) << a.error();
  EXPECT_TRUE(a->ok);
  EXPECT_EQ(a->id, "r1");
  EXPECT_EQ(a->seq, 123456789012u);
  EXPECT_EQ(a->epoch, 3u);

  Reply no;
  no.id = "r2";
  no.reason = RejectReason::kNotPrimary;
  no.detail = "tcp://10.0.0.2:7003";
  EXPECT_EQ(format_reply(no), "reject r2 not-primary tcp://10.0.0.2:7003");
  auto n = parse_reply(format_reply(no));
  ASSERT_TRUE(n) << n.error();
  EXPECT_FALSE(n->ok);
  EXPECT_EQ(n->reason, RejectReason::kNotPrimary);
  EXPECT_EQ(n->detail, "tcp://10.0.0.2:7003");

  no.reason = RejectReason::kBadOdds;
  no.detail = "'0.5': out of\nrange";
  auto d = parse_reply(format_reply(no));
  ASSERT_TRUE(d);
  EXPECT_EQ(d->detail, "'0.5': out of?range");
  EXPECT_FALSE(parse_reply("hello"));
  EXPECT_FALSE(parse_reply("reject r1 no-such-reason"));
}

}  // namespace
}  // namespace oddsbus::desk
