#include "edge/http_routes.h"

#include <gtest/gtest.h>
#include <simdjson.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "edge/edge_health.h"
#include "edge/edge_metrics.h"
#include "schemas/state_digest.h"
#include "tests/edge/edge_test_frames.h"
#include "tests/tools/promtool.h"

namespace oddsbus::edge {
namespace {

using testing_support::EdgeFeed;

constexpr uint64_t kMs = 1'000'000;
constexpr uint64_t kSec = 1'000'000'000;

EdgeHealth assess(const EdgeHealthInput& input, const EdgeHealthConfig& config = {}) {
  return assess_health(input, config);
}

class HttpRoutesTest : public ::testing::Test {
 protected:
  HttpRoutesTest() {
    feed_.define(1, 10, "Match odds", {{11, "Home"}, {12, "Away"}});
    feed_.define(2, 10, "Total \"goals\"", {{21, "Over"}, {22, "Under"}});
    feed_.install_snapshot();
    feed_.price(1, 11, "2.5");
    feed_.price(2, 22, "7/4");
    feed_.settle(2, {22});
    health_.ok = true;
    health_.stale = false;
    health_.reason = "ok";
  }

  HttpReply get(std::string_view target, std::string_view method = "GET",
                const MarketRights* rights = nullptr) {
    const RouteContext ctx{feed_.cache(), health_, Freshness{stale_, wall_ns_},
                           render_,       this,    rights};
    return route_request(method, target, ctx);
  }

  simdjson::dom::element parse(const HttpReply& reply) {
    simdjson::dom::element root;
    EXPECT_EQ(parser_.parse(reply.body).get(root), simdjson::SUCCESS) << reply.body;
    return root;
  }

  static std::string fake_metrics(const void* owner) {
    return static_cast<const HttpRoutesTest*>(owner)->metrics_text_;
  }

  EdgeFeed feed_;
  EdgeHealth health_;
  bool stale_ = false;
  uint64_t wall_ns_ = 10 * kSec;  // frame seq N was sequenced at N s
  std::string (*render_)(const void*) = &HttpRoutesTest::fake_metrics;
  std::string metrics_text_ = "# HELP x y\n# TYPE x gauge\nx 1\n";
  simdjson::dom::parser parser_;
};

TEST_F(HttpRoutesTest, ServesEveryMarketWithItsSeqAtV1Markets) {
  const HttpReply reply = get("/v1/markets?pretty=1");
  EXPECT_EQ(reply.status, 200u);
  EXPECT_EQ(reply.content_type, "application/json");
  auto root = parse(reply);
  EXPECT_EQ(root["seq"].get_uint64().value(), 5u);
  EXPECT_EQ(root["epoch"].get_uint64().value(), 1u);
  EXPECT_FALSE(root["stale"].get_bool().value());
  const simdjson::dom::array markets = root["markets"].get_array().value();
  ASSERT_EQ(markets.size(), 2u);
  auto first = markets.at(0);
  EXPECT_EQ(first["market"].get_uint64().value(), 1u);
  EXPECT_EQ(first["event"].get_uint64().value(), 10u);
  EXPECT_EQ(first["name"].get_string().value(), "Match odds");
  EXPECT_EQ(first["status"].get_string().value(), "open");
  EXPECT_EQ(first["market_seq"].get_uint64().value(), 2u);
  EXPECT_EQ(first["age_ms"].get_uint64().value(), 7000u) << "updated by frame 3, at 3 s";
  EXPECT_FALSE(first["stale"].get_bool().value());
  const simdjson::dom::array selections = first["selections"].get_array().value();
  ASSERT_EQ(selections.size(), 2u);
  EXPECT_EQ(selections.at(0)["selection"].get_uint64().value(), 11u);
  EXPECT_EQ(selections.at(0)["name"].get_string().value(), "Home");
  EXPECT_EQ(selections.at(0)["price_e4"].get_uint64().value(), 25000u);
  EXPECT_EQ(selections.at(0)["odds"].get_string().value(), "2.5");
  EXPECT_EQ(selections.at(1)["price_e4"].get_uint64().value(), 0u) << "no price yet";
  EXPECT_EQ(selections.at(1)["odds"].get_string().value(), "");
  auto second = markets.at(1);
  EXPECT_EQ(second["name"].get_string().value(), "Total \"goals\"");
  EXPECT_EQ(second["status"].get_string().value(), "settled");
}

// Edge security (issue 14): a token granting market 2 only.
TEST_F(HttpRoutesTest, ServesATokenOnlyTheMarketsItGrants) {
  const MarketRights only_two{false, {2}};
  auto markets = parse(get("/v1/markets", "GET", &only_two))["markets"].get_array().value();
  ASSERT_EQ(markets.size(), 1u);
  EXPECT_EQ(markets.at(0)["market"].get_uint64().value(), 2u);

  const HttpReply snapshot = get("/v1/snapshot", "GET", &only_two);
  auto root = parse(snapshot);
  ASSERT_EQ(root["markets"].get_array().value().size(), 1u);
  const uint64_t two[] = {2};
  EXPECT_EQ(root["digest"].get_string().value(),
            digest_hex(state_digest(feed_.cache().state(), two)))
      << "the digest is of the markets served";
  EXPECT_NE(root["digest"].get_string().value(), digest_hex(state_digest(feed_.cache().state())));

  EXPECT_EQ(get("/v1/markets/1", "GET", &only_two).status, 403u);
  EXPECT_EQ(get("/v1/markets/2", "GET", &only_two).status, 200u);
  const MarketRights all{};
  EXPECT_EQ(parse(get("/v1/markets", "GET", &all))["markets"].get_array().value().size(), 2u);
}

TEST_F(HttpRoutesTest, FlagsEveryMarketStaleWhileTheEdgeIsStale) {
  stale_ = true;
  auto root = parse(get("/v1/markets"));
  EXPECT_TRUE(root["stale"].get_bool().value());
  const simdjson::dom::array markets = root["markets"].get_array().value();
  for (auto market : markets) EXPECT_TRUE(market["stale"].get_bool().value());
}

TEST_F(HttpRoutesTest, ServesOneMarketAtV1MarketsId) {
  const HttpReply reply = get("/v1/markets/2");
  EXPECT_EQ(reply.status, 200u);
  auto root = parse(reply);
  EXPECT_EQ(root["seq"].get_uint64().value(), 5u);
  const simdjson::dom::array markets = root["markets"].get_array().value();
  ASSERT_EQ(markets.size(), 1u);
  EXPECT_EQ(markets.at(0)["market"].get_uint64().value(), 2u);
  EXPECT_EQ(markets.at(0)["selections"].at(1)["odds"].get_string().value(), "7/4");
}

TEST_F(HttpRoutesTest, Answers404ForAnUnknownOrNonNumericMarket) {
  for (const char* target :
       {"/v1/markets/99", "/v1/markets/abc", "/v1/markets/", "/v1/markets/1x", "/v1/markets/-1",
        "/v1/markets/1/2", "/v1/markets/99999999999999999999"}) {
    const HttpReply reply = get(target);
    EXPECT_EQ(reply.status, 404u) << target;
    EXPECT_EQ(reply.content_type, "application/json");
    EXPECT_EQ(parse(reply)["error"].error(), simdjson::SUCCESS) << target << ": " << reply.body;
  }
}

TEST_F(HttpRoutesTest, ServesASnapshotWhoseDigestIsTheStateDigest) {
  const HttpReply reply = get("/v1/snapshot");
  EXPECT_EQ(reply.status, 200u);
  auto root = parse(reply);
  EXPECT_EQ(root["channel"].get_uint64().value(), testing_support::kChannel);
  EXPECT_EQ(root["epoch"].get_uint64().value(), 1u);
  EXPECT_EQ(root["seq"].get_uint64().value(), 5u);
  const std::string digest(root["digest"].get_string().value());
  EXPECT_EQ(digest, digest_hex(state_digest(feed_.cache().state())));
  EXPECT_EQ(digest, digest_hex(state_digest(feed_.reference())))
      << "the same frames folded elsewhere give the same digest";
  EXPECT_EQ(digest.size(), 16u);
  EXPECT_EQ(root["markets"].get_array().value().size(), 2u);

  feed_.price(1, 12, "3.0");
  const std::string after(parse(get("/v1/snapshot"))["digest"].get_string().value());
  EXPECT_NE(after, digest);
  EXPECT_EQ(after, digest_hex(state_digest(feed_.reference())));
}

TEST_F(HttpRoutesTest, Answers405ForMethodsOtherThanGetAndHead) {
  for (const char* method : {"POST", "PUT", "DELETE", "get"}) {
    const HttpReply reply = get("/v1/markets", method);
    EXPECT_EQ(reply.status, 405u) << method;
    EXPECT_EQ(parse(reply)["error"].error(), simdjson::SUCCESS);
  }
  EXPECT_EQ(get("/v1/markets", "HEAD").status, 200u);
}

TEST_F(HttpRoutesTest, Answers426ForTheStreamWithoutAnUpgrade) {
  const HttpReply reply = get("/v1/stream");
  EXPECT_EQ(reply.status, 426u);
  EXPECT_EQ(parse(reply)["error"].error(), simdjson::SUCCESS);
}

TEST_F(HttpRoutesTest, Answers404ForAnUnknownPath) {
  for (const char* target : {"/v2/markets", "/v1/marketsx", "/v1", "/healthz/x", "/index.html"}) {
    const HttpReply reply = get(target);
    EXPECT_EQ(reply.status, 404u) << target;
    EXPECT_EQ(parse(reply)["error"].error(), simdjson::SUCCESS);
  }
}

TEST_F(HttpRoutesTest, Answers503OnDataPathsUntilTheEdgeHasAState) {
  EdgeFeed unpositioned;
  unpositioned.define(1, 10, "M", {{11, "A"}});
  health_ = assess({false, 0, 0, 0, 0, kSec});
  const RouteContext ctx{unpositioned.cache(), health_, Freshness{}, render_, this};
  for (const char* target : {"/v1/markets", "/v1/markets/1", "/v1/snapshot"}) {
    const HttpReply reply = route_request("GET", target, ctx);
    EXPECT_EQ(reply.status, 503u) << target;
    EXPECT_EQ(parse(reply)["error"].error(), simdjson::SUCCESS);
  }
  EXPECT_EQ(route_request("GET", "/healthz", ctx).status, 503u);
  EXPECT_EQ(route_request("GET", "/", ctx).status, 200u);
  EXPECT_EQ(route_request("GET", "/metrics", ctx).status, 200u);
}

TEST_F(HttpRoutesTest, ServesTheLivePageAtTheRoot) {
  const HttpReply reply = get("/");
  EXPECT_EQ(reply.status, 200u);
  EXPECT_TRUE(reply.content_type.starts_with("text/html"));
  EXPECT_NE(reply.body.find("id=\"status\""), std::string::npos);
  EXPECT_NE(reply.body.find("/v1/stream"), std::string::npos);
}

TEST_F(HttpRoutesTest, AnswersHealthzWithTheVerdictAndItsReason) {
  HttpReply reply = get("/healthz");
  EXPECT_EQ(reply.status, 200u);
  EXPECT_EQ(reply.body, "ok\n");
  health_ = assess({true, 1 * kSec, 0, 5, 5, 4 * kSec});
  reply = get("/healthz");
  EXPECT_EQ(reply.status, 503u);
  EXPECT_EQ(reply.body, "stale: no publisher heard for 3000 ms\n");
}

TEST_F(HttpRoutesTest, ServesMetricsAsPrometheusText) {
  const HttpReply reply = get("/metrics");
  EXPECT_EQ(reply.status, 200u);
  EXPECT_EQ(reply.content_type, "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_EQ(reply.body, metrics_text_);
  render_ = nullptr;
  EXPECT_EQ(get("/metrics").status, 404u);
}

// Issue 18, item 2: stale and /healthz are one verdict. Before, an edge waiting for a snapshot,
// catching up, or stuck on a gap answered 503 on /healthz while its clients were told fresh.
TEST(EdgeHealth, IsStaleBeforeTheEdgeHasAState) {
  const EdgeHealth h = assess({false, 5 * kSec, 0, 0, 100, 5 * kSec});
  EXPECT_FALSE(h.ok);
  EXPECT_TRUE(h.stale);
  EXPECT_NE(h.reason.find("snapshot"), std::string::npos) << h.reason;
}

TEST(EdgeHealth, IsStaleWhenNoPublisherWasEverHeard) {
  const EdgeHealth h = assess({true, 0, 0, 10, 10, 5 * kSec});
  EXPECT_FALSE(h.ok);
  EXPECT_TRUE(h.stale);
  EXPECT_EQ(h.reason, "stale: no publisher heard yet");
}

TEST(EdgeHealth, IsStaleOnlyPastStaleAfter) {
  const EdgeHealthConfig config{.stale_after_ns = 1 * kSec, .max_lag = 10};
  EXPECT_TRUE(assess({true, 4 * kSec, 0, 10, 10, 5 * kSec}, config).ok) << "exactly stale_after";
  const EdgeHealth h = assess({true, 4 * kSec, 0, 10, 10, 5 * kSec + 1 * kMs}, config);
  EXPECT_FALSE(h.ok);
  EXPECT_TRUE(h.stale);
  EXPECT_EQ(h.reason, "stale: no publisher heard for 1001 ms");
}

TEST(EdgeHealth, IsStaleWhenTooFarBehindTheNewestSeq) {
  const EdgeHealthConfig config{.stale_after_ns = 1 * kSec, .max_lag = 1000};
  const EdgeHealth behind = assess({true, 5 * kSec, 0, 1000, 2500, 5 * kSec}, config);
  EXPECT_FALSE(behind.ok);
  EXPECT_TRUE(behind.stale);
  EXPECT_EQ(behind.lag, 1500u);
  EXPECT_EQ(behind.reason, "catching up: 1500 frames behind the newest seq 2500");
  const EdgeHealth close = assess({true, 5 * kSec, 0, 1500, 2500, 5 * kSec}, config);
  EXPECT_TRUE(close.ok);
  EXPECT_FALSE(close.stale);
  EXPECT_EQ(close.lag, 1000u);
  EXPECT_EQ(close.reason, "ok");
  EXPECT_EQ(assess({true, 5 * kSec, 0, 30, 20, 5 * kSec}, config).lag, 0u)
      << "ahead of an old announcement is no lag";
}

TEST(EdgeHealth, IsStaleWhenAGapStaysOpenPastTheGapTimeout) {
  const EdgeHealthConfig config{
      .stale_after_ns = 1 * kSec, .max_lag = 1000, .gap_timeout_ns = 20 * kMs};
  EXPECT_TRUE(assess({true, 5 * kSec, 5 * kSec - 20 * kMs, 10, 12, 5 * kSec}, config).ok)
      << "a gap the other line may still fill";
  const EdgeHealth h = assess({true, 5 * kSec, 5 * kSec - 21 * kMs, 10, 12, 5 * kSec}, config);
  EXPECT_FALSE(h.ok);
  EXPECT_TRUE(h.stale);
  EXPECT_EQ(h.reason, "stale: frames after seq 10 missing for 21 ms (recovering them)");
}

TEST(EdgeHealth, IsNotStaleWhenAPublisherWasHeardAfterNowWasRead) {
  // The caller read its clock, then learned of a delivery stamped a moment later.
  const EdgeHealth h = assess({true, 5 * kSec + 1, 0, 10, 10, 5 * kSec});
  EXPECT_FALSE(h.stale);
  EXPECT_TRUE(h.ok) << h.reason;
}

// Parses Prometheus text exposition: HELP and TYPE once per family before its samples, samples
// `name{labels} value`. Returns family name -> type, and sample (name with labels) -> value.
struct PrometheusText {
  std::map<std::string, std::string> types;
  std::map<std::string, std::string> helps;
  std::map<std::string, double> samples;
};

::testing::AssertionResult parse_prometheus(const std::string& text, PrometheusText& out) {
  std::istringstream in(text);
  std::string line;
  std::string family;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    if (line.starts_with("# HELP ")) {
      std::istringstream fields(line.substr(7));
      fields >> family;
      std::string help;
      std::getline(fields, help);
      if (out.helps.contains(family)) {
        return ::testing::AssertionFailure() << "second HELP for " << family;
      }
      out.helps[family] = help;
      continue;
    }
    if (line.starts_with("# TYPE ")) {
      std::istringstream fields(line.substr(7));
      std::string name, type;
      fields >> name >> type;
      if (name != family) return ::testing::AssertionFailure() << "TYPE without HELP: " << line;
      if (out.types.contains(name)) return ::testing::AssertionFailure() << "second TYPE: " << line;
      out.types[name] = type;
      continue;
    }
    if (line.starts_with("#")) continue;
    const size_t space = line.rfind(' ');
    if (space == std::string::npos) return ::testing::AssertionFailure() << "bad sample: " << line;
    const std::string name = line.substr(0, space);
    const std::string bare = name.substr(0, name.find('{'));
    if (bare != family) {
      return ::testing::AssertionFailure() << "sample outside its family: " << line;
    }
    char* end = nullptr;
    const std::string value = line.substr(space + 1);
    const double v = std::strtod(value.c_str(), &end);
    if (end != value.c_str() + value.size()) {
      return ::testing::AssertionFailure() << "bad value: " << line;
    }
    if (out.samples.contains(name)) return ::testing::AssertionFailure() << "repeated: " << line;
    out.samples[name] = v;
  }
  return ::testing::AssertionSuccess();
}

class EdgeMetricsTest : public ::testing::Test {
 protected:
  EdgeMetricsTest() {
    arbiter_.duplicates = 11;
    arbiter_.gaps = 2;
    arbiter_.snapshots = 1;
    subscriber_.batches = 300;
    streams_.conflations = 4;
    streams_.slow_drops = 3;
    streams_.resumes = 6;
    streams_.bad_requests = 8;
    limits_.refused_full = 9;
    limits_.refused_too_fast = 5;
    serving_.frames_applied = 17;
    serving_.idle_closes = 12;
  }
  std::string render() {
    return render_edge_metrics(EdgeMetricsInput{.arbiter = arbiter_,
                                                .subscriber = subscriber_,
                                                .streams = streams_,
                                                .limits = limits_,
                                                .serving = serving_,
                                                .epoch = 2,
                                                .last_seq = 1000,
                                                .newest_seq = 1040,
                                                .stale = false,
                                                .healthy = true,
                                                .clients = 7,
                                                .open_connections = 9,
                                                .markets = 20,
                                                .window_frames = 500,
                                                .window_bytes = 65536});
  }

  ArbiterCounters arbiter_;
  SubscriberCounters subscriber_;
  StreamTotals streams_;
  ConnectionLimitsCounters limits_;
  ServingCounters serving_;
};

TEST_F(EdgeMetricsTest, RendersParseablePrometheusTextWithHelpAndTypeForEveryFamily) {
  const std::string text = render();
  PrometheusText parsed;
  ASSERT_TRUE(parse_prometheus(text, parsed)) << text;
  EXPECT_EQ(parsed.helps.size(), parsed.types.size());
  for (const auto& [name, type] : parsed.types) {
    EXPECT_TRUE(name.starts_with("oddsbus_edge_")) << name;
    EXPECT_TRUE(type == "counter" || type == "gauge") << name << " " << type;
    EXPECT_EQ(type == "counter", name.ends_with("_total")) << name;
    EXPECT_FALSE(parsed.helps[name].empty()) << name;
  }
  for (const char* family :
       {"oddsbus_edge_frames_applied_total", "oddsbus_edge_duplicate_frames_total",
        "oddsbus_edge_gaps_total", "oddsbus_edge_snapshot_requests_total",
        "oddsbus_edge_conflations_total", "oddsbus_edge_resumes_total",
        "oddsbus_edge_client_requests_refused_total", "oddsbus_edge_clients_dropped_total",
        "oddsbus_edge_connections_refused_total", "oddsbus_edge_seq", "oddsbus_edge_lag_frames",
        "oddsbus_edge_stale", "oddsbus_edge_healthy", "oddsbus_edge_clients"}) {
    EXPECT_TRUE(parsed.types.contains(family)) << family;
  }
}

TEST_F(EdgeMetricsTest, CarriesTheValuesItWasGiven) {
  PrometheusText parsed;
  ASSERT_TRUE(parse_prometheus(render(), parsed));
  auto& s = parsed.samples;
  EXPECT_EQ(s["oddsbus_edge_frames_applied_total"], 17);
  EXPECT_EQ(s["oddsbus_edge_duplicate_frames_total"], 11);
  EXPECT_EQ(s["oddsbus_edge_batches_received_total"], 300);
  EXPECT_EQ(s["oddsbus_edge_conflations_total"], 4);
  EXPECT_EQ(s["oddsbus_edge_client_requests_refused_total"], 8);
  EXPECT_EQ(s["oddsbus_edge_clients_dropped_total{reason=\"slow\"}"], 3);
  EXPECT_EQ(s["oddsbus_edge_clients_dropped_total{reason=\"idle\"}"], 12);
  EXPECT_EQ(s["oddsbus_edge_connections_refused_total{reason=\"max_connections\"}"], 9);
  EXPECT_EQ(s["oddsbus_edge_connections_refused_total{reason=\"rate\"}"], 5);
  EXPECT_EQ(s["oddsbus_edge_epoch"], 2);
  EXPECT_EQ(s["oddsbus_edge_seq"], 1000);
  EXPECT_EQ(s["oddsbus_edge_lag_frames"], 40);
  EXPECT_EQ(s["oddsbus_edge_stale"], 0);
  EXPECT_EQ(s["oddsbus_edge_healthy"], 1);
  EXPECT_EQ(s["oddsbus_edge_clients"], 7);
  EXPECT_EQ(s["oddsbus_edge_retained_bytes"], 65536);
}

// promtool from Debian's prometheus package, unpacked into the build tree on first use: the check
// never skips (tests/tools/promtool.h).
TEST_F(EdgeMetricsTest, PassesPromtoolCheckMetrics) {
  const std::string body = render();
  const testing::PromtoolResult checked = testing::promtool_check_metrics(body);
  ASSERT_TRUE(checked.ran) << checked.output;
  EXPECT_EQ(checked.exit_code, 0) << checked.output << "\n" << body;
}

}  // namespace
}  // namespace oddsbus::edge
