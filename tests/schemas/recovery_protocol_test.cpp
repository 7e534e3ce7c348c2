#include "schemas/recovery_protocol.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

namespace oddsbus::recovery {
namespace {

Request parsed(std::string_view text) {
  auto request = parse_request(text);
  EXPECT_TRUE(request) << text << ": " << request.error();
  return request.value_or(Request{});
}

ReplyHeader parsed_reply(std::string_view text) {
  auto header = parse_reply_header(text);
  EXPECT_TRUE(header) << text << ": " << header.error();
  return header.value_or(ReplyHeader{});
}

TEST(RecoveryProtocol, ParsesEveryRequest) {
  EXPECT_EQ(parsed("status").kind, RequestKind::kStatus);
  EXPECT_EQ(parsed("snapshot").kind, RequestKind::kSnapshot);

  const Request ack = parsed("ack 42");
  EXPECT_EQ(ack.kind, RequestKind::kAck);
  EXPECT_EQ(ack.from, 42u);

  const Request range = parsed("range 10 20");
  EXPECT_EQ(range.kind, RequestKind::kRange);
  EXPECT_EQ(range.from, 10u);
  EXPECT_EQ(range.to, 20u);
  EXPECT_EQ(range.wait_ms, 0u);

  const Request wait = parsed("range 21 18446744073709551615 250");
  EXPECT_EQ(wait.from, 21u);
  EXPECT_EQ(wait.to, UINT64_MAX);
  EXPECT_EQ(wait.wait_ms, 250u);

  EXPECT_EQ(parsed("range 7 7").to, 7u) << "a one-frame range";
  EXPECT_FALSE(wait.replica);

  const Request replica = parsed("range 30 40 100 replica");
  EXPECT_EQ(replica.kind, RequestKind::kRange);
  EXPECT_EQ(replica.from, 30u);
  EXPECT_EQ(replica.to, 40u);
  EXPECT_EQ(replica.wait_ms, 100u);
  EXPECT_TRUE(replica.replica);
}

TEST(RecoveryProtocol, ExtraSpacesBetweenWordsAreTolerated) {
  const Request range = parsed("  range  3   9 ");
  EXPECT_EQ(range.kind, RequestKind::kRange);
  EXPECT_EQ(range.from, 3u);
  EXPECT_EQ(range.to, 9u);
}

TEST(RecoveryProtocol, RequestsRoundTrip) {
  const std::vector<Request> requests = {
      {RequestKind::kStatus, 0, 0, 0},
      {RequestKind::kSnapshot, 0, 0, 0},
      {RequestKind::kAck, 0, 0, 0},
      {RequestKind::kAck, UINT64_MAX, 0, 0},
      {RequestKind::kRange, 1, 1, 0},
      {RequestKind::kRange, 5, 70000, 0},
      {RequestKind::kRange, 1, UINT64_MAX, UINT32_MAX},
      {RequestKind::kRange, 1, 9, 0, true},
      {RequestKind::kRange, 1, 9, 250, true},
  };
  for (const Request& request : requests) {
    const std::string text = format_request(request);
    const Request back = parsed(text);
    EXPECT_EQ(back.kind, request.kind) << text;
    EXPECT_EQ(back.from, request.from) << text;
    EXPECT_EQ(back.to, request.to) << text;
    EXPECT_EQ(back.wait_ms, request.wait_ms) << text;
    EXPECT_EQ(back.replica, request.replica) << text;
  }
  EXPECT_EQ(format_request({RequestKind::kRange, 5, 9, 0, true}), "range 5 9 0 replica");
  EXPECT_EQ(format_request({RequestKind::kRange, 5, 9, 100}), "range 5 9 100");
  EXPECT_EQ(format_request({RequestKind::kRange, 5, 9, 0}), "range 5 9");
  EXPECT_EQ(format_request({RequestKind::kAck, 12, 0, 0}), "ack 12");
}

TEST(RecoveryProtocol, RefusesMalformedRequestsWithAReason) {
  const std::vector<std::string> bad = {
      "",
      "   ",
      "Status",
      "status now",
      "snapshot 5",
      "hello",
      "ack",
      "ack -1",
      "ack 1 2",
      "ack 12x",
      "ack 18446744073709551616",  // u64 overflow
      "range",
      "range 5",
      "range 0 5",  // seq starts at 1
      "range 9 5",  // TO before FROM
      "range -1 5",
      "range +1 5",
      "range 1 5 -3",
      "range 1 5 4294967296",  // WAIT_MS overflows u32
      "range 1 5 10 extra",
      "range 1 5 replica",  // WAIT_MS comes first
      "range 1 5 10 replica extra",
      "range 1 5 10 extra more words here",
      "range a b",
      "range 1 0x10",
      "status\n",
      std::string("status\0", 7),
  };
  for (const std::string& text : bad) {
    auto request = parse_request(text);
    EXPECT_FALSE(request) << "'" << text << "' was accepted";
    if (!request) {
      EXPECT_FALSE(request.error().empty()) << text;
    }
  }
}

TEST(RecoveryProtocol, ErrorsQuoteLongInputShortened) {
  const std::string flood(10'000, 'x');
  auto request = parse_request(flood);
  ASSERT_FALSE(request);
  EXPECT_LT(request.error().size(), 300u) << "a flood is not echoed whole into logs";
}

TEST(RecoveryProtocol, FormatsReplyHeadersAsTheProtocolSays) {
  ReplyHeader status;
  status.kind = ReplyKind::kStatus;
  status.node = 2;
  status.epoch = 3;
  status.epoch_start = 1001;
  status.last_seq = 5000;
  status.primary = true;
  EXPECT_EQ(format_reply_header(status), "status 2 3 1001 5000 primary");
  status.primary = false;
  EXPECT_EQ(format_reply_header(status), "status 2 3 1001 5000 secondary");

  ReplyHeader range;
  range.kind = ReplyKind::kRange;
  range.from = 10;
  range.served_to = 20;
  range.last_seq = 30;
  range.epoch = 4;
  range.epoch_start = 7;
  EXPECT_EQ(format_reply_header(range), "range 10 20 30 4 7");

  ReplyHeader gone;
  gone.kind = ReplyKind::kGone;
  gone.from = 3;
  gone.oldest = 100;
  EXPECT_EQ(format_reply_header(gone), "gone 3 100");

  ReplyHeader snapshot;
  snapshot.kind = ReplyKind::kSnapshot;
  snapshot.seq = 77;
  snapshot.epoch = 1;
  snapshot.digest = 0xef46db3751d8e999ull;
  snapshot.chunks = 2;
  EXPECT_EQ(format_reply_header(snapshot), "snapshot 77 1 ef46db3751d8e999 2");
  snapshot.digest = 0xab;
  EXPECT_EQ(format_reply_header(snapshot), "snapshot 77 1 00000000000000ab 2")
      << "the digest is always 16 hex digits";

  ReplyHeader busy;
  busy.kind = ReplyKind::kBusy;
  busy.retry_ms = 250;
  EXPECT_EQ(format_reply_header(busy), "busy 250");

  ReplyHeader error;
  error.kind = ReplyKind::kError;
  error.reason = "bad-request";
  error.detail = "unknown request 'x'";
  EXPECT_EQ(format_reply_header(error), "error bad-request unknown request 'x'");
}

TEST(RecoveryProtocol, ReplyHeadersRoundTrip) {
  std::vector<ReplyHeader> headers(9);
  headers[0].kind = ReplyKind::kStatus;
  headers[0].node = UINT32_MAX;
  headers[0].epoch = 9;
  headers[0].epoch_start = 12;
  headers[0].last_seq = UINT64_MAX;
  headers[0].primary = true;
  headers[1].kind = ReplyKind::kStatus;
  headers[1].primary = false;
  headers[2].kind = ReplyKind::kRange;
  headers[2].from = 1;
  headers[2].served_to = 0;  // nothing at FROM yet
  headers[2].last_seq = 0;
  headers[2].epoch = 1;
  headers[2].epoch_start = 1;
  headers[3].kind = ReplyKind::kRange;
  headers[3].from = 65537;
  headers[3].served_to = 131072;
  headers[3].last_seq = 1'000'000;
  headers[3].epoch = 2;
  headers[3].epoch_start = 500'000;
  headers[4].kind = ReplyKind::kGone;
  headers[4].from = 1;
  headers[4].oldest = 4096;
  headers[5].kind = ReplyKind::kSnapshot;
  headers[5].seq = 123456789;
  headers[5].epoch = 3;
  headers[5].digest = UINT64_MAX;
  headers[5].chunks = 17;
  headers[6].kind = ReplyKind::kBusy;
  headers[6].retry_ms = 1;
  headers[7].kind = ReplyKind::kError;
  headers[7].reason = "bad-request";
  headers[7].detail = "range: bad WAIT_MS 'x'";
  headers[8].kind = ReplyKind::kError;
  headers[8].reason = "internal";
  headers[8].detail = "";
  for (const ReplyHeader& h : headers) {
    const std::string text = format_reply_header(h);
    const ReplyHeader back = parsed_reply(text);
    EXPECT_EQ(back.kind, h.kind) << text;
    EXPECT_EQ(back.node, h.node) << text;
    EXPECT_EQ(back.epoch, h.epoch) << text;
    EXPECT_EQ(back.epoch_start, h.epoch_start) << text;
    EXPECT_EQ(back.last_seq, h.last_seq) << text;
    EXPECT_EQ(back.primary, h.primary) << text;
    EXPECT_EQ(back.from, h.from) << text;
    EXPECT_EQ(back.served_to, h.served_to) << text;
    EXPECT_EQ(back.oldest, h.oldest) << text;
    EXPECT_EQ(back.seq, h.seq) << text;
    EXPECT_EQ(back.digest, h.digest) << text;
    EXPECT_EQ(back.chunks, h.chunks) << text;
    EXPECT_EQ(back.retry_ms, h.retry_ms) << text;
    EXPECT_EQ(back.reason, h.reason) << text;
    EXPECT_EQ(back.detail, h.detail) << text;
  }
}

TEST(RecoveryProtocol, AnErrorWithoutReasonIsSentAsInternal) {
  ReplyHeader error;
  error.kind = ReplyKind::kError;
  error.detail = "journal read failed";
  const ReplyHeader back = parsed_reply(format_reply_header(error));
  EXPECT_EQ(back.reason, "internal");
  EXPECT_EQ(back.detail, "journal read failed");
}

TEST(RecoveryProtocol, AnErrorDetailKeepsItsSpacesAndManyWords) {
  const ReplyHeader back =
      parsed_reply("error bad-request unknown request 'a b c d e f g h i j' (want status)");
  EXPECT_EQ(back.reason, "bad-request");
  EXPECT_EQ(back.detail, "unknown request 'a b c d e f g h i j' (want status)");
}

// Regression: the detail was once located with text.find(REASON), which finds a REASON that also
// occurs inside the word "error" (e.g. "r", "or", "err") at the wrong place.
TEST(RecoveryProtocol, AnErrorReasonFoundInsideTheWordErrorKeepsItsDetail) {
  const ReplyHeader back = parsed_reply("error r something broke");
  EXPECT_EQ(back.reason, "r");
  EXPECT_EQ(back.detail, "something broke");
}

TEST(RecoveryProtocol, RefusesMalformedReplyHeaders) {
  const std::vector<std::string> bad = {
      "",
      "   ",
      "hello",
      "status",
      "status 1 2 3 4",
      "status 1 2 3 4 leader",
      "status 1 2 3 4 primary extra",
      "status 4294967296 2 3 4 primary",  // node overflows u32
      "status -1 2 3 4 primary",
      "range 1 2 3 4",
      "range 1 2 3 4 5 6",
      "range 1 2 3 x 5",
      "range 1 2 3 4294967296 5",  // epoch overflows u32
      "gone 1",
      "gone 1 x",
      "gone 1 2 3",
      "snapshot 1 1 ef46db3751d8e99 1",    // 15 hex digits
      "snapshot 1 1 ef46db3751d8e9999 1",  // 17 hex digits
      "snapshot 1 1 ef46db3751d8e99g 1",
      "snapshot 1 1 -f46db3751d8e999 1",
      "snapshot 1 1 ef46db3751d8e999",
      "snapshot x 1 ef46db3751d8e999 1",
      "busy",
      "busy soon",
      "busy -5",
      "busy 1 2",
      "error",
      "ok",
  };
  for (const std::string& text : bad) {
    auto header = parse_reply_header(text);
    EXPECT_FALSE(header) << "'" << text << "' was accepted";
    if (!header) {
      EXPECT_FALSE(header.error().empty()) << text;
    }
  }
}

TEST(RecoveryProtocol, SnapshotDigestIsReadAsHex) {
  const ReplyHeader h = parsed_reply("snapshot 5 2 00000000000000ff 1");
  EXPECT_EQ(h.digest, 0xffu);
  EXPECT_EQ(parsed_reply("snapshot 5 2 EF46DB3751D8E999 1").digest, 0xef46db3751d8e999ull)
      << "upper-case hex is read too";
}

}  // namespace
}  // namespace oddsbus::recovery
