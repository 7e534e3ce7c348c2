// Edge security (issue 14): TLS and bearer tokens on a real odds-edge fed by a real publisher.
// The test makes its own certificate with Debian's openssl (the README's command), writes a
// tokens file granting one token every market and another a single market, and checks:
//  - the TLS handshake verifies against the test's certificate for 127.0.0.1, and plain HTTP to
//    the TLS port gets no answer;
//  - without a token, or with a wrong one, every route but /healthz answers 401 with a
//    `WWW-Authenticate: Bearer` challenge (RFC 6750 section 3) and no data, and so does the
//    WebSocket upgrade;
//  - a token limited to one market sees only it: /v1/markets, /v1/snapshot, /v1/markets/{id}
//    (403 for another), and the stream (an error for a subscribe beyond it, no data of others);
//  - a bad certificate, key or a tokens file others can read stops odds-edge at start-up with a
//    message naming the file.
#include <sys/stat.h>

#include <boost/asio/ssl.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <fstream>
#include <functional>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/security/edge_fixture.h"

namespace oddsbus {
namespace {

using namespace std::chrono_literals;
namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using testing::bin_dir;
using testing::run_to_completion;
using testing::wait_until;

const std::string kAllToken = "all-markets-token";
const std::string kOneToken = "one-market-token";

struct Reply {
  unsigned status = 0;  // 0: no HTTP answer (error says why)
  std::string body;
  std::string challenge;  // WWW-Authenticate
  std::string error;
};

std::unique_ptr<ssl::context> client_tls(const std::filesystem::path& ca) {
  auto ctx = std::make_unique<ssl::context>(ssl::context::tls_client);
  ctx->load_verify_file(ca.string());
  ctx->set_verify_mode(ssl::verify_peer);
  return ctx;
}

// GET https://127.0.0.1:port/target, the certificate checked against `ca` for 127.0.0.1, with
// `Authorization: Bearer token` when a token is given. Bounded: 5 s.
Reply https_get(uint16_t port, const std::filesystem::path& ca, const std::string& target,
                const std::string& token = "") {
  asio::io_context io;
  auto ctx = client_tls(ca);
  beast::ssl_stream<beast::tcp_stream> stream(io, *ctx);
  stream.set_verify_callback(ssl::host_name_verification("127.0.0.1"));
  http::request<http::empty_body> request(http::verb::get, target, 11);
  request.set(http::field::host, "127.0.0.1");
  if (!token.empty()) request.set(http::field::authorization, "Bearer " + token);
  beast::flat_buffer buffer;
  http::response<http::string_body> response;
  Reply reply;
  auto failed = [&](beast::error_code ec) {
    if (ec) reply.error = ec.message();
    return static_cast<bool>(ec);
  };
  beast::get_lowest_layer(stream).expires_after(5s);
  beast::get_lowest_layer(stream).async_connect(
      tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), [&](beast::error_code ec) {
        if (failed(ec)) return;
        stream.async_handshake(ssl::stream_base::client, [&](beast::error_code ec) {
          if (failed(ec)) return;
          http::async_write(stream, request, [&](beast::error_code ec, size_t) {
            if (failed(ec)) return;
            http::async_read(stream, buffer, response, [&](beast::error_code ec, size_t) {
              if (failed(ec)) return;
              reply.status = response.result_int();
              reply.body = response.body();
              reply.challenge = std::string(response[http::field::www_authenticate]);
            });
          });
        });
      });
  io.run();
  return reply;
}

// A WebSocket client of wss://127.0.0.1:port/v1/stream, bounded by explicit timeouts.
class WssClient {
 public:
  WssClient(uint16_t port, const std::filesystem::path& ca, const std::string& token)
      : ctx_(client_tls(ca)), ws_(io_, *ctx_) {
    ws_.next_layer().set_verify_callback(ssl::host_name_verification("127.0.0.1"));
    beast::get_lowest_layer(ws_).expires_after(5s);
    ws_.set_option(websocket::stream_base::decorator([token](websocket::request_type& request) {
      if (!token.empty()) request.set(http::field::authorization, "Bearer " + token);
    }));
    beast::get_lowest_layer(ws_).async_connect(
        tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), [this](beast::error_code ec) {
          if (ec) return;
          ws_.next_layer().async_handshake(ssl::stream_base::client, [this](beast::error_code ec) {
            if (ec) return;
            ws_.async_handshake(upgrade_, "127.0.0.1", "/v1/stream",
                                [this](beast::error_code ec) { opened_ = !ec; });
          });
        });
    io_.run();
    if (opened_) beast::get_lowest_layer(ws_).expires_never();
  }

  bool opened() const { return opened_; }
  unsigned upgrade_status() const { return upgrade_.result_int(); }
  std::string upgrade_challenge() const {
    return std::string(upgrade_[http::field::www_authenticate]);
  }

  void send(const std::string& text) {
    beast::get_lowest_layer(ws_).expires_after(5s);
    ws_.async_write(asio::buffer(text), [](beast::error_code, size_t) {});
    io_.restart();
    io_.run();
    beast::get_lowest_layer(ws_).expires_never();
  }

  // Messages read until `done` holds for them or `timeout` passes.
  std::vector<std::string> read_until(
      const std::function<bool(const std::vector<std::string>&)>& done,
      std::chrono::milliseconds timeout) {
    std::vector<std::string> messages;
    bool finished = false;
    std::function<void()> next = [&] {
      ws_.async_read(buffer_, [&](beast::error_code ec, size_t) {
        if (ec) {
          finished = true;
          return;
        }
        messages.push_back(beast::buffers_to_string(buffer_.data()));
        buffer_.clear();
        if (done(messages)) {
          finished = true;
          return;
        }
        next();
      });
    };
    next();
    io_.restart();
    io_.run_for(timeout);
    if (!finished) {
      beast::get_lowest_layer(ws_).cancel();
      io_.restart();
      io_.run();
    }
    return messages;
  }

 private:
  asio::io_context io_;
  std::unique_ptr<ssl::context> ctx_;
  websocket::stream<beast::ssl_stream<beast::tcp_stream>> ws_;
  websocket::response_type upgrade_;
  beast::flat_buffer buffer_;
  bool opened_ = false;
};

std::string type_of(simdjson::dom::parser& parser, const std::string& message) {
  simdjson::dom::element root;
  if (parser.parse(message).get(root) != simdjson::SUCCESS) return "not JSON";
  std::string_view type;
  return root["type"].get(type) == simdjson::SUCCESS ? std::string(type) : "";
}

// The market ids a served message or document names.
std::set<uint64_t> markets_in(const std::string& json) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  std::set<uint64_t> ids;
  if (parser.parse(json).get(root) != simdjson::SUCCESS) return ids;
  simdjson::dom::array markets;
  if (root["markets"].get(markets) != simdjson::SUCCESS) return ids;
  for (simdjson::dom::element m : markets) ids.insert(uint64_t(m["market"]));
  return ids;
}

class EdgeAuthTest : public testing::EdgeSecurityTest {
 protected:
  // The README's commands: a self-signed certificate for 127.0.0.1, and a private key file.
  void make_certificate() {
    auto [code, out] = run_to_completion(
        {"/usr/bin/openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
         "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key_.string(), "-out", cert_.string(),
         "-days", "2", "-subj", "/CN=odds-edge-test", "-addext", "subjectAltName=IP:127.0.0.1"},
        (dir_ / "openssl.log").string(), 30s);
    ASSERT_EQ(code, 0) << out;
    ::chmod(key_.c_str(), 0600);
  }

  // Every mapped market id (the source's mapping.toml), ascending.
  std::vector<uint64_t> mapped_markets() {
    std::ifstream in(dir_ / "mapping.toml");
    std::vector<uint64_t> ids;
    const std::regex id_line(R"(^id = (\d+))");
    std::smatch m;
    for (std::string line; std::getline(in, line);) {
      if (std::regex_search(line, m, id_line)) ids.push_back(std::stoull(m[1]));
    }
    std::sort(ids.begin(), ids.end());
    return ids;
  }

  void write_tokens(uint64_t market) {
    std::ofstream(tokens_) << "[[token]]\nvalue = \"" << kAllToken << "\"\nmarkets = \"all\"\n\n"
                           << "[[token]]\nvalue = \"" << kOneToken << "\"\nmarkets = [" << market
                           << "]\n";
    ::chmod(tokens_.c_str(), 0600);
  }

  // Source, certificate, tokens, and the edge with TLS and tokens, healthy.
  void start_secure_edge() {
    ASSERT_NO_FATAL_FAILURE(make_certificate());
    ASSERT_NO_FATAL_FAILURE(start_source(200));
    markets_ = mapped_markets();
    ASSERT_GE(markets_.size(), 3u);  // the mapping may name more markets than the feed moves
    one_ = markets_[0];
    write_tokens(one_);
    testing::ChildProcess& edge = start_edge(
        {"--tls-cert", cert_.string(), "--tls-key", key_.string(), "--tokens", tokens_.string()});
    ASSERT_TRUE(wait_until([&] { return https_get(http(), cert_, "/healthz").status == 200; }, 20s))
        << https_get(http(), cert_, "/healthz").error << edge.log() << engine_->log();
  }

  std::optional<double> secure_metric(const std::string& series) {
    const Reply reply = https_get(http(), cert_, "/metrics", kAllToken);
    if (reply.status != 200) return std::nullopt;
    return testing::metric_in(reply.body, series);
  }

  std::filesystem::path cert_;
  std::filesystem::path key_;
  std::filesystem::path tokens_;
  std::vector<uint64_t> markets_;
  uint64_t one_ = 0;

  void SetUp() override {
    EdgeSecurityTest::SetUp();
    cert_ = dir_ / "cert.pem";
    key_ = dir_ / "key.pem";
    tokens_ = dir_ / "tokens.toml";
  }
};

TEST_F(EdgeAuthTest, NeedsATokenOnEveryRouteButHealthzAndServesOnlyItsMarkets) {
  ASSERT_NO_FATAL_FAILURE(start_secure_edge());

  for (const char* route : {"/v1/markets", "/v1/snapshot", "/v1/markets/1", "/metrics", "/"}) {
    const Reply none = https_get(http(), cert_, route);
    EXPECT_EQ(none.status, 401u) << route << " " << none.error;
    EXPECT_EQ(none.challenge, "Bearer realm=\"odds-edge\"") << route;
    EXPECT_EQ(none.body.find("\"markets\""), std::string::npos) << route << ": " << none.body;
    const Reply wrong = https_get(http(), cert_, route, "not-a-token");
    EXPECT_EQ(wrong.status, 401u) << route;
    EXPECT_NE(wrong.challenge.find("error=\"invalid_token\""), std::string::npos)
        << route << ": " << wrong.challenge;
  }
  EXPECT_EQ(https_get(http(), cert_, "/healthz").status, 200u) << "/healthz is open to probes";

  const Reply all = https_get(http(), cert_, "/v1/markets", kAllToken);
  ASSERT_EQ(all.status, 200u) << all.body;
  EXPECT_GE(markets_in(all.body).size(), static_cast<size_t>(kMarkets));

  const Reply one = https_get(http(), cert_, "/v1/markets", kOneToken);
  ASSERT_EQ(one.status, 200u) << one.body;
  EXPECT_EQ(markets_in(one.body), std::set<uint64_t>{one_});
  const Reply snapshot = https_get(http(), cert_, "/v1/snapshot", kOneToken);
  ASSERT_EQ(snapshot.status, 200u);
  EXPECT_EQ(markets_in(snapshot.body), std::set<uint64_t>{one_});
  EXPECT_EQ(https_get(http(), cert_, "/v1/markets/" + std::to_string(one_), kOneToken).status,
            200u);
  const Reply other =
      https_get(http(), cert_, "/v1/markets/" + std::to_string(markets_[1]), kOneToken);
  EXPECT_EQ(other.status, 403u);
  EXPECT_NE(other.challenge.find("insufficient_scope"), std::string::npos) << other.challenge;

  // Plain HTTP to the TLS port gets no HTTP answer.
  EXPECT_EQ(testing::http_get(http(), "/healthz").first, 0u);

  EXPECT_EQ(secure_metric("oddsbus_edge_auth_refused_total{reason=\"unauthorized\"}"), 10);
  EXPECT_EQ(secure_metric("oddsbus_edge_auth_refused_total{reason=\"forbidden\"}"), 1);
  EXPECT_EQ(secure_metric("oddsbus_edge_tls_handshake_failures_total"), 1)
      << "the plain HTTP request";
}

TEST_F(EdgeAuthTest, TheStreamNeedsATokenAndSendsOnlyItsMarkets) {
  ASSERT_NO_FATAL_FAILURE(start_secure_edge());
  simdjson::dom::parser parser;

  WssClient anonymous(http(), cert_, "");
  EXPECT_FALSE(anonymous.opened());
  EXPECT_EQ(anonymous.upgrade_status(), 401u);
  EXPECT_EQ(anonymous.upgrade_challenge(), "Bearer realm=\"odds-edge\"");
  WssClient wrong(http(), cert_, "not-a-token");
  EXPECT_FALSE(wrong.opened());
  EXPECT_EQ(wrong.upgrade_status(), 401u);

  WssClient one(http(), cert_, kOneToken);
  ASSERT_TRUE(one.opened());
  one.send(R"({"op": "subscribe", "markets": "all"})");
  // An error for "all", the image of its one market, then its deltas only.
  size_t deltas = 0;
  const std::vector<std::string> got = one.read_until(
      [&](const std::vector<std::string>& m) {
        deltas += type_of(parser, m.back()) == "delta";
        return deltas >= 5;
      },
      15s);
  ASSERT_GE(got.size(), 2u);
  EXPECT_EQ(type_of(parser, got[0]), "error") << got[0];
  EXPECT_NE(got[0].find("not permitted"), std::string::npos) << got[0];
  EXPECT_EQ(type_of(parser, got[1]), "image");
  EXPECT_EQ(markets_in(got[1]), std::set<uint64_t>{one_});
  EXPECT_GE(deltas, 5u) << "the one market's changes did not arrive";
  for (const std::string& m : got) {
    if (type_of(parser, m) == "delta") {
      EXPECT_EQ(markets_in(m), std::set<uint64_t>{one_}) << m;
    }
  }
  one.send(R"({"op": "subscribe", "markets": [)" + std::to_string(markets_[2]) + "]}");
  const std::vector<std::string> refused = one.read_until(
      [&](const std::vector<std::string>& m) { return type_of(parser, m.back()) == "error"; }, 5s);
  ASSERT_FALSE(refused.empty());
  EXPECT_NE(refused.back().find(std::to_string(markets_[2])), std::string::npos) << refused.back();
  for (const std::string& m : refused) {
    EXPECT_FALSE(markets_in(m).contains(markets_[2])) << m;
  }

  WssClient all(http(), cert_, kAllToken);
  ASSERT_TRUE(all.opened());
  all.send(R"({"op": "subscribe", "markets": "all"})");
  const std::vector<std::string> image = all.read_until(
      [&](const std::vector<std::string>& m) { return type_of(parser, m.back()) == "image"; }, 5s);
  ASSERT_FALSE(image.empty());
  EXPECT_GE(markets_in(image.back()).size(), static_cast<size_t>(kMarkets));

  EXPECT_EQ(secure_metric("oddsbus_edge_auth_refused_total{reason=\"unauthorized\"}"), 2);
  EXPECT_EQ(secure_metric("oddsbus_edge_forbidden_subscribes_total"), 2);
}

TEST_F(EdgeAuthTest, RefusesABadCertificateKeyOrTokensFileAtStartUp) {
  ASSERT_NO_FATAL_FAILURE(make_certificate());
  const std::filesystem::path junk = dir_ / "junk.pem";
  std::ofstream(junk) << "not a certificate\n";
  ::chmod(junk.c_str(), 0600);
  write_tokens(1);

  auto start_fails = [&](const std::vector<std::string>& flags, const std::string& names) {
    auto [code, out] = run_to_completion(edge_argv(flags), (dir_ / "bad.log").string(), 20s);
    EXPECT_EQ(code, 1) << out;
    EXPECT_NE(out.find(names), std::string::npos) << out;
    return out;
  };
  start_fails({"--tls-cert", junk.string(), "--tls-key", key_.string()}, junk.string());
  start_fails({"--tls-cert", cert_.string(), "--tls-key", junk.string()}, junk.string());
  start_fails({"--tls-cert", cert_.string()}, "--tls-key");
  start_fails({"--tls-cert", (dir_ / "absent.pem").string(), "--tls-key", key_.string()},
              "absent.pem");
  ::chmod(tokens_.c_str(), 0644);
  const std::string out = start_fails({"--tokens", tokens_.string()}, tokens_.string());
  EXPECT_NE(out.find("readable"), std::string::npos) << out;
}

}  // namespace
}  // namespace oddsbus
