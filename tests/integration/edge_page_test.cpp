// Multi-process, end to end: the live odds page (edge/live_page.h) in headless Chromium, served by
// a real `odds-edge` subscribed to a real `odds-engine run` over a journal ingested from a small
// oddsjson file. The test drives the browser over the Chrome DevTools Protocol (a Boost.Beast
// WebSocket) and reads only the page's stable hooks: #status data-seq/-stale/-connected, each
// selection row's data-market/-selection/-status/-price-e4, and #stale-banner's visibility.
// Skipped when /usr/bin/chromium is not installed. Every wait is bounded and fails with what the
// page showed last and the logs of the processes.
#include <signal.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "tests/integration/child_process.h"
#include "tests/integration/loopback.h"

namespace oddsbus {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace net = boost::asio;
using namespace std::chrono_literals;
using testing::bin_dir;
using testing::ChildProcess;
using testing::free_port;
using testing::url;
using testing::wait_until;

constexpr const char* kChromium = "/usr/bin/chromium";

net::ip::tcp::endpoint loopback(uint16_t port) {
  return {net::ip::make_address_v4("127.0.0.1"), port};
}

// One HTTP/1.1 request to 127.0.0.1:`port`, bounded by `timeout`: {status, body}, or {0, ""} when
// nothing answered in time.
std::pair<int, std::string> http_request(http::verb verb, uint16_t port, const std::string& target,
                                         std::chrono::milliseconds timeout = 3s) {
  net::io_context io;
  beast::tcp_stream stream(io);
  http::request<http::empty_body> request{verb, target, 11};
  request.set(http::field::host, "127.0.0.1:" + std::to_string(port));
  request.prepare_payload();
  beast::flat_buffer buffer;
  http::response<http::string_body> response;
  std::pair<int, std::string> result{0, ""};
  stream.expires_after(timeout);
  stream.async_connect(loopback(port), [&](beast::error_code error) {
    if (error) return;
    http::async_write(stream, request, [&](beast::error_code error, size_t) {
      if (error) return;
      http::async_read(stream, buffer, response, [&](beast::error_code error, size_t) {
        if (!error) result = {static_cast<int>(response.result_int()), response.body()};
      });
    });
  });
  io.run();
  return result;
}

std::string json_quote(std::string_view text) {
  std::string out = "\"";
  for (const char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out + "\"";
}

// The text after `"key":` (spaces allowed) up to the closing quote; no unescaping, so only for
// values known to hold no escapes (URLs, ids, the page summaries below).
std::optional<std::string> string_field(const std::string& json, const std::string& key) {
  size_t at = json.find('"' + key + '"');
  if (at == std::string::npos) return std::nullopt;
  at = json.find('"', json.find(':', at) + 1);
  const size_t end = json.find('"', at + 1);
  if (at == std::string::npos || end == std::string::npos) return std::nullopt;
  return json.substr(at + 1, end - at - 1);
}

// A Chrome DevTools Protocol session with one page target. Every call is bounded: on a timeout the
// connection is closed and every later call fails at once.
class DevTools {
 public:
  bool connect(uint16_t port, const std::string& path) {
    bool connected = false;
    beast::get_lowest_layer(ws_).expires_after(5s);
    beast::get_lowest_layer(ws_).async_connect(loopback(port), [&](beast::error_code error) {
      if (error) return;
      ws_.async_handshake("127.0.0.1:" + std::to_string(port), path,
                          [&](beast::error_code error) { connected = !error; });
    });
    run();
    return connected;
  }

  // Sends one command; returns its whole reply, or nullopt when none came within `timeout`.
  // Exceptions the page throws meanwhile (after Runtime.enable) are kept for failure messages.
  std::optional<std::string> call(const std::string& method, const std::string& params,
                                  std::chrono::milliseconds timeout = 5s) {
    const std::string id = std::to_string(++next_id_);
    const std::string command =
        R"({"id":)" + id + R"(,"method":")" + method + R"(","params":)" + params + "}";
    beast::get_lowest_layer(ws_).expires_after(timeout);
    beast::error_code failed;
    ws_.async_write(net::buffer(command), [&](beast::error_code error, size_t) { failed = error; });
    run();
    while (!failed) {
      beast::flat_buffer buffer;
      ws_.async_read(buffer, [&](beast::error_code error, size_t) { failed = error; });
      run();
      if (failed) break;
      std::string message = beast::buffers_to_string(buffer.data());
      if (message.starts_with(R"({"id":)" + id + ",")) return message;
      if (message.find("Runtime.exceptionThrown") != std::string::npos) {
        page_errors_ += message.substr(0, 600) + "\n";
      }
    }
    return std::nullopt;
  }

  // The string value of `expression` in the page, or nullopt (no reply, an exception, no page).
  std::optional<std::string> evaluate(std::string_view expression) {
    const auto reply = call("Runtime.evaluate", R"({"expression":)" + json_quote(expression) +
                                                    R"(,"returnByValue":true})");
    if (!reply || reply->find(R"("exceptionDetails")") != std::string::npos) return std::nullopt;
    return string_field(*reply, "value");
  }

  const std::string& page_errors() const { return page_errors_; }

 private:
  void run() {
    io_.restart();
    io_.run();
  }

  net::io_context io_;
  websocket::stream<beast::tcp_stream> ws_{io_};
  int next_id_ = 0;
  std::string page_errors_;
};

// What the page shows, read from its hooks in one evaluation.
struct Row {
  std::string status;
  uint64_t price_e4 = 0;
  bool operator==(const Row&) const = default;
};
using Rows = std::map<std::pair<uint64_t, uint64_t>, Row>;  // (market, selection) -> row

struct PageView {
  std::string text;  // as read, for failure messages
  uint64_t seq = 0;
  bool stale = false;
  bool connected = false;
  bool banner_visible = false;
  Rows rows;
};

// "SEQ STALE CONNECTED BANNER|MARKET SELECTION STATUS PRICE_E4|...": no quotes or backslashes, so
// the CDP reply needs no unescaping.
constexpr std::string_view kReadPage = R"js((() => {
  const s = document.getElementById("status"), b = document.getElementById("stale-banner");
  if (!s || !b) return "";
  const rows = [...document.querySelectorAll("tr[data-selection]")].map(r =>
      [r.dataset.market, r.dataset.selection, r.dataset.status, r.dataset.priceE4].join(" "));
  return [[s.dataset.seq, s.dataset.stale, s.dataset.connected,
           b.getClientRects().length > 0].join(" ")].concat(rows).join("|");
})())js";

// The price a row shows, or -1 when the page has no such row.
int64_t price_of(const PageView& view, uint64_t market, uint64_t selection) {
  const auto row = view.rows.find({market, selection});
  return row == view.rows.end() ? -1 : static_cast<int64_t>(row->second.price_e4);
}

std::optional<PageView> parse_view(const std::string& text) {
  PageView view;
  view.text = text;
  std::stringstream parts(text);
  std::string part;
  if (!std::getline(parts, part, '|')) return std::nullopt;
  std::istringstream head(part);
  std::string stale, connected, banner;
  if (!(head >> view.seq >> stale >> connected >> banner)) return std::nullopt;
  view.stale = stale == "true";
  view.connected = connected == "true";
  view.banner_visible = banner == "true";
  while (std::getline(parts, part, '|')) {
    std::istringstream fields(part);
    uint64_t market = 0, selection = 0;
    Row row;
    if (!(fields >> market >> selection >> row.status >> row.price_e4)) return std::nullopt;
    view.rows[{market, selection}] = row;
  }
  return view;
}

// Markets 1001 (three prices in three notations), 1002 (one selection never priced) and 1003
// (suspended after its price).
constexpr std::string_view kFeed =
    R"({"type":"market","market":1001,"event":501,"name":"Match Odds","selections":[{"id":1,"name":"Home"},{"id":2,"name":"Draw"},{"id":3,"name":"Away"}]}
{"type":"market","market":1002,"event":501,"name":"Over/Under 2.5","selections":[{"id":1,"name":"Over"},{"id":2,"name":"Under"}]}
{"type":"market","market":1003,"event":502,"name":"Winner","selections":[{"id":7,"name":"Alpha"}]}
{"type":"price","market":1001,"selection":1,"odds":"2.50"}
{"type":"price","market":1001,"selection":2,"odds":"5/2"}
{"type":"price","market":1001,"selection":3,"odds":"+150"}
{"type":"price","market":1002,"selection":1,"odds":"-110"}
{"type":"price","market":1003,"selection":7,"odds":"evens"}
{"type":"status","market":1003,"status":"suspended","reason":"trader"}
)";

Rows ingested_rows() {
  return {{{1001, 1}, {"open", 25000}}, {{1001, 2}, {"open", 35000}},
          {{1001, 3}, {"open", 25000}}, {{1002, 1}, {"open", 19091}},
          {{1002, 2}, {"open", 0}},     {{1003, 7}, {"suspended", 20000}}};
}

class EdgePageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(kChromium)) {
      GTEST_SKIP() << kChromium << " is not installed (apt-get install chromium, or tools/odds "
                   << "setup): the live page test needs a headless browser";
    }
    dir_ = std::filesystem::path(::testing::TempDir()) /
           ("edge_page_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    pub_url_ = url(free_port());
    recovery_url_ = url(free_port());
    desk_url_ = url(free_port());
    http_port_ = free_port();

    { std::ofstream(dir_ / "feed.jsonl") << kFeed; }
    auto [code, out] = testing::run_to_completion(
        {bin_dir() + "/odds-engine", "ingest", "--journal", (dir_ / "journal").string(), "--format",
         "oddsjson", (dir_ / "feed.jsonl").string()},
        (dir_ / "ingest.log").string());
    ASSERT_EQ(code, 0) << out;

    start_engine();
    start_edge();
    ASSERT_NO_FATAL_FAILURE(await_healthy());
    ASSERT_NO_FATAL_FAILURE(start_browser());
  }

  void TearDown() override {
    devtools_.reset();
    if (browser_) {
      ::kill(-browser_->pid(), SIGKILL);  // its own process group: renderers, GPU, zygotes
      browser_->signal(SIGKILL);
      browser_->wait_for(10s);
      browser_.reset();
    }
    edge_.reset();
    engine_.reset();
    if (dir_.empty()) return;
    std::error_code error;
    for (int attempt = 0; attempt < 50 && std::filesystem::exists(dir_); ++attempt) {
      std::filesystem::remove_all(dir_, error);  // browser children may still be exiting
      if (error) std::this_thread::sleep_for(100ms);
    }
  }

  void start_engine() {
    engine_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{bin_dir() + "/odds-engine", "run", "--journal",
                                 (dir_ / "journal").string(), "--node", "1", "--pub", pub_url_,
                                 "--recovery", recovery_url_, "--desk", desk_url_, "--heartbeat-ms",
                                 "100"},
        (dir_ / ("engine" + std::to_string(++engine_starts_) + ".log")).string());
  }

  void start_edge(const std::vector<std::string>& extra = {}) {
    std::vector<std::string> argv{bin_dir() + "/odds-edge",
                                  "--sub",
                                  pub_url_,
                                  "--recovery",
                                  recovery_url_,
                                  "--http",
                                  "127.0.0.1:" + std::to_string(http_port_),
                                  "--stale-after-ms",
                                  "1000"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    edge_ = std::make_unique<ChildProcess>(
        argv, (dir_ / ("edge" + std::to_string(++edge_starts_) + ".log")).string());
  }

  std::string logs() const {
    std::string out;
    if (engine_) out += "--- odds-engine\n" + engine_->log();
    if (edge_) out += "--- odds-edge\n" + edge_->log();
    if (devtools_ && !devtools_->page_errors().empty()) {
      out += "--- page exceptions\n" + devtools_->page_errors();
    }
    return out;
  }

  void await_healthy() {
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    int status = 0;
    while (std::chrono::steady_clock::now() < deadline && edge_->running() &&
           (status = http_request(http::verb::get, http_port_, "/healthz", 1s).first) != 200) {
      std::this_thread::sleep_for(50ms);
    }
    ASSERT_EQ(status, 200) << "odds-edge /healthz never answered 200\n" << logs();
  }

  // Chromium with its own profile and process group; DevTools on a port it picks and writes to
  // <profile>/DevToolsActivePort. The test's page target is a fresh tab navigated to the edge.
  void start_browser() {
    const auto profile = dir_ / "chromium-profile";
    browser_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{
            "/usr/bin/setsid", kChromium, "--headless", "--no-sandbox", "--disable-gpu",
            "--disable-dev-shm-usage", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--user-data-dir=" + profile.string(), "--remote-debugging-port=0", "about:blank"},
        (dir_ / "chromium.log").string());
    uint16_t port = 0;
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    while (port == 0 && std::chrono::steady_clock::now() < deadline && browser_->running()) {
      std::ifstream file(profile / "DevToolsActivePort");
      std::string line;
      if (std::getline(file, line) && !file.eof()) port = static_cast<uint16_t>(std::stoi(line));
      if (port == 0) std::this_thread::sleep_for(50ms);
    }
    ASSERT_NE(port, 0) << "chromium wrote no DevToolsActivePort\n" << browser_->log();
    const auto [status, target] = http_request(http::verb::put, port, "/json/new?about:blank", 30s);
    const auto ws_url = string_field(target, "webSocketDebuggerUrl");
    ASSERT_TRUE(status == 200 && ws_url) << status << " " << target;
    const std::string prefix = "ws://127.0.0.1:" + std::to_string(port);
    ASSERT_TRUE(ws_url->starts_with(prefix)) << *ws_url;
    devtools_ = std::make_unique<DevTools>();
    ASSERT_TRUE(devtools_->connect(port, ws_url->substr(prefix.size()))) << *ws_url;
    // Chromium may still be starting its page on a loaded machine: give the first call time.
    ASSERT_TRUE(devtools_->call("Runtime.enable", "{}", 30s));
    const auto navigated = devtools_->call(
        "Page.navigate", R"({"url":"http://127.0.0.1:)" + std::to_string(http_port_) + R"(/"})");
    ASSERT_TRUE(navigated && navigated->find("errorText") == std::string::npos)
        << navigated.value_or("no reply to Page.navigate");
  }

  // Reads the page until `shows` holds; fails (with the last view and the logs) after `timeout`.
  bool page_shows(const std::string& what, const std::function<bool(const PageView&)>& shows,
                  std::chrono::milliseconds timeout = 15s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    last_view_.text = "nothing: the browser never answered";
    do {
      if (const auto text = devtools_->evaluate(kReadPage)) {
        if (auto view = parse_view(*text)) {
          last_view_ = *view;
          if (shows(*view)) return true;
        }
      }
      std::this_thread::sleep_for(50ms);
    } while (std::chrono::steady_clock::now() < deadline);
    ADD_FAILURE() << "the page did not show " << what << " within " << timeout.count()
                  << " ms; it last showed: " << last_view_.text << "\n"
                  << logs();
    return false;
  }

  // Runs `odds-desk --desk <engine> ARGS...`; returns the seq it printed.
  uint64_t desk(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {bin_dir() + "/odds-desk", "--desk", desk_url_};
    argv.insert(argv.end(), args.begin(), args.end());
    auto [code, out] = testing::run_to_completion(argv, (dir_ / "desk.log").string(), 30s);
    EXPECT_EQ(code, 0) << out;
    const size_t at = out.find("\"seq\":");
    return at == std::string::npos ? 0 : std::strtoull(out.c_str() + at + 6, nullptr, 10);
  }

  // A global only this page load has: still there later means the page was never reloaded.
  void mark_page() {
    ASSERT_EQ(devtools_->evaluate("String(window.edgePageTestMark = 'same page')"), "same page");
  }
  bool page_is_marked() {
    return devtools_->evaluate("String(window.edgePageTestMark)") == "same page";
  }

  bool shows_ingested(const PageView& view) {
    return view.connected && !view.stale && !view.banner_visible && view.rows == ingested_rows();
  }

  std::filesystem::path dir_;
  std::string pub_url_, recovery_url_, desk_url_;
  uint16_t http_port_ = 0;
  int engine_starts_ = 0, edge_starts_ = 0;
  std::unique_ptr<ChildProcess> engine_, edge_, browser_;
  std::unique_ptr<DevTools> devtools_;
  PageView last_view_;
};

TEST_F(EdgePageTest, ShowsTheIngestedPricesAndFollowsDeskChangesWithoutReload) {
  ASSERT_TRUE(page_shows("the ingested markets, live and not stale",
                         [&](const PageView& v) { return shows_ingested(v); }));
  const uint64_t first_seq = last_view_.seq;
  EXPECT_GE(first_seq, 9u);  // the nine ingested lines
  ASSERT_NO_FATAL_FAILURE(mark_page());

  const uint64_t price_seq = desk({"set-price", "1001", "2", "3.25"});
  ASSERT_GT(price_seq, first_seq);
  ASSERT_TRUE(page_shows(
      "1001/2 at 32500 and seq >= " + std::to_string(price_seq),
      [&](const PageView& v) { return price_of(v, 1001, 2) == 32500 && v.seq >= price_seq; }));
  desk({"set-price", "1002", "2", "7/4"});  // a first price for a selection that had none
  const uint64_t suspend_seq = desk({"suspend", "1002"});
  Rows expected = ingested_rows();
  expected[{1001, 2}].price_e4 = 32500;
  expected[{1002, 2}].price_e4 = 27500;
  expected[{1002, 1}].status = expected[{1002, 2}].status = "suspended";
  ASSERT_TRUE(page_shows("1002 suspended with 1002/2 at 27500", [&](const PageView& v) {
    return v.rows == expected && v.seq >= suspend_seq && v.connected && !v.stale;
  }));
  EXPECT_TRUE(page_is_marked()) << "the page reloaded instead of applying deltas";
}

TEST_F(EdgePageTest, ShowsTheStaleBannerWhileThePublisherIsGoneAndClearsIt) {
  ASSERT_TRUE(page_shows("the ingested markets, live and not stale",
                         [&](const PageView& v) { return shows_ingested(v); }));
  ASSERT_NO_FATAL_FAILURE(mark_page());

  engine_->signal(SIGKILL);
  ASSERT_TRUE(engine_->wait_for(10s).has_value());
  ASSERT_TRUE(page_shows(
      "data-stale=true and the banner, prices kept",
      [&](const PageView& v) {
        return v.stale && v.banner_visible && v.connected && v.rows == ingested_rows();
      },
      10s));

  start_engine();  // the same journal and endpoints: the edge hears its publisher again
  ASSERT_TRUE(page_shows("data-stale=false and no banner", [&](const PageView& v) {
    return !v.stale && !v.banner_visible && v.connected;
  }));
  const uint64_t seq = desk({"set-price", "1001", "3", "11/4"});
  ASSERT_TRUE(page_shows("1001/3 at 37500 from the restarted engine", [&](const PageView& v) {
    return price_of(v, 1001, 3) == 37500 && v.seq >= seq && !v.stale;
  }));
  EXPECT_TRUE(page_is_marked()) << "the page reloaded";
}

TEST_F(EdgePageTest, ReconnectsToARestartedEdgeAndShowsWhatChangedMeanwhile) {
  ASSERT_TRUE(page_shows("the ingested markets, live and not stale",
                         [&](const PageView& v) { return shows_ingested(v); }));
  ASSERT_NO_FATAL_FAILURE(mark_page());

  edge_->signal(SIGTERM);
  ASSERT_TRUE(edge_->wait_for(10s).has_value()) << logs();
  ASSERT_TRUE(page_shows("data-connected=false", [&](const PageView& v) { return !v.connected; }));
  const uint64_t seq = desk({"set-price", "1001", "1", "4.0"});

  // The new edge sends its image in parts of a market or so each: the page applies them together.
  start_edge({"--image-part-bytes", "300"});
  Rows expected = ingested_rows();
  expected[{1001, 1}].price_e4 = 40000;
  ASSERT_TRUE(page_shows(
      "a reconnect with 1001/1 at 40000",
      [&](const PageView& v) {
        return v.connected && !v.stale && v.rows == expected && v.seq >= seq;
      },
      30s));
  EXPECT_TRUE(page_is_marked()) << "the page reloaded instead of reconnecting";
}

}  // namespace
}  // namespace oddsbus
