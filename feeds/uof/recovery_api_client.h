// Sportradar's UOF recovery API over HTTP(S) with Boost.Beast: POSTs the requests a
// ProducerSession asks for (`<api_url>/<product>/recovery/initiate_request?...`, "UOF - Recovery
// using API") with the `x-access-token: <access token>` header every API request carries
// (docs.sportradar.com/uof/api-and-structure/overview, "API Authentication"). The answer is only an
// acknowledgement (2xx accepted); the recovered messages come over AMQP and end with the
// request's snapshot_complete.
//
// RecoveryApiClient owns one worker thread so that a slow API never stalls the AMQP loop (whose
// heartbeats and alive timing must keep going): submit() queues a request, drain() returns the
// answers that arrived. Each request has `timeout` end to end (the Java SDK's recovery HTTP
// timeout, 30 s by default). submit()/drain() are for one owner thread (the feed's); the worker
// is joined by the destructor, which abandons what is queued.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <expected>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "feeds/uof/producer_session.h"

namespace oddsbus::feeds::uof {

// http(s)://HOST[:PORT][/BASE]: the API's base (api_url in the credentials file).
struct ApiUrl {
  bool tls = true;
  std::string host;
  std::string port;  // "443"/"80" when not given
  std::string base;  // path prefix without a trailing '/', e.g. "/v1" ("" for none)
};
std::expected<ApiUrl, std::string> parse_api_url(std::string_view url);

struct RecoveryApiConfig {
  ApiUrl api;
  std::string access_token;
  std::string ca_file;  // "" : the system's CA store (https only)
  std::chrono::milliseconds timeout{30000};
};

// One POST of `target` (relative to api.base). Returns the HTTP status, or what went wrong
// (resolution, connection, TLS, timeout) as a one-line message. Blocks up to config.timeout.
std::expected<unsigned, std::string> post_recovery(const RecoveryApiConfig& config,
                                                   const std::string& target);

struct RecoveryResult {
  uint64_t product = 0;
  uint64_t request_id = 0;
  bool accepted = false;
  std::string detail;  // "HTTP 202", or the error
};

class RecoveryApiClient {
 public:
  explicit RecoveryApiClient(RecoveryApiConfig config);
  ~RecoveryApiClient();
  RecoveryApiClient(const RecoveryApiClient&) = delete;
  RecoveryApiClient& operator=(const RecoveryApiClient&) = delete;

  void submit(const RecoveryRequest& request);
  // Appends the results that arrived since the last call.
  void drain(std::vector<RecoveryResult>& out);

 private:
  void work();

  RecoveryApiConfig config_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<RecoveryRequest> pending_;
  std::vector<RecoveryResult> done_;
  bool stop_ = false;
  std::thread worker_;
};

}  // namespace oddsbus::feeds::uof
