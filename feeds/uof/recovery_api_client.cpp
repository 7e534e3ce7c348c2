#include "feeds/uof/recovery_api_client.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pthread.h>

#include <utility>  // Boost 1.74 asio/awaitable.hpp uses std::exchange without it

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <optional>

namespace oddsbus::feeds::uof {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

http::request<http::empty_body> make_request(const RecoveryApiConfig& config,
                                             const std::string& target) {
  http::request<http::empty_body> request{http::verb::post, config.api.base + "/" + target, 11};
  request.set(http::field::host, config.api.host);
  request.set("x-access-token", config.access_token);
  request.set(http::field::user_agent, "oddsbus");
  request.prepare_payload();
  return request;
}

template <typename Stream>
asio::awaitable<unsigned> exchange(Stream& stream, const http::request<http::empty_body>& request) {
  co_await http::async_write(stream, request, asio::use_awaitable);
  beast::flat_buffer buffer;
  http::response<http::string_body> response;
  co_await http::async_read(stream, buffer, response, asio::use_awaitable);
  co_return response.result_int();
}

asio::awaitable<unsigned> post(const RecoveryApiConfig& config, const std::string& target,
                               asio::ssl::context* tls) {
  auto executor = co_await asio::this_coro::executor;
  tcp::resolver resolver(executor);
  const auto endpoints =
      co_await resolver.async_resolve(config.api.host, config.api.port, asio::use_awaitable);
  const auto request = make_request(config, target);
  if (tls == nullptr) {
    beast::tcp_stream stream(executor);
    stream.expires_after(config.timeout);
    co_await stream.async_connect(endpoints, asio::use_awaitable);
    co_return co_await exchange(stream, request);
  }
  beast::ssl_stream<beast::tcp_stream> stream(executor, *tls);
  beast::get_lowest_layer(stream).expires_after(config.timeout);
  // SNI and host name verification: the certificate must name the API's host.
  if (!SSL_set_tlsext_host_name(stream.native_handle(), config.api.host.c_str())) {
    throw beast::system_error(
        beast::error_code(static_cast<int>(::ERR_get_error()), asio::error::get_ssl_category()));
  }
  stream.set_verify_callback(asio::ssl::host_name_verification(config.api.host));
  co_await beast::get_lowest_layer(stream).async_connect(endpoints, asio::use_awaitable);
  co_await stream.async_handshake(asio::ssl::stream_base::client, asio::use_awaitable);
  co_return co_await exchange(stream, request);
}

}  // namespace

std::expected<ApiUrl, std::string> parse_api_url(std::string_view url) {
  ApiUrl api;
  std::string_view rest;
  if (url.starts_with("https://")) {
    rest = url.substr(8);
  } else if (url.starts_with("http://")) {
    api.tls = false;
    rest = url.substr(7);
  } else {
    return std::unexpected("api_url '" + std::string(url) +
                           "' is not http(s)://HOST[:PORT][/PATH]");
  }
  const size_t slash = rest.find('/');
  const std::string_view authority = rest.substr(0, slash);
  std::string_view base = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash);
  while (!base.empty() && base.back() == '/') base.remove_suffix(1);
  const size_t colon = authority.rfind(':');
  if (colon != std::string_view::npos && authority.find(']') == std::string_view::npos) {
    api.host = std::string(authority.substr(0, colon));
    api.port = std::string(authority.substr(colon + 1));
    if (api.port.empty() || api.port.find_first_not_of("0123456789") != std::string::npos) {
      return std::unexpected("api_url '" + std::string(url) + "': bad port");
    }
  } else {
    api.host = std::string(authority);
    api.port = api.tls ? "443" : "80";
  }
  if (api.host.empty()) return std::unexpected("api_url '" + std::string(url) + "': no host");
  api.base = std::string(base);
  return api;
}

std::expected<unsigned, std::string> post_recovery(const RecoveryApiConfig& config,
                                                   const std::string& target) {
  asio::io_context io;
  std::optional<asio::ssl::context> tls;
  try {
    if (config.api.tls) {
      tls.emplace(asio::ssl::context::tls_client);
      tls->set_verify_mode(asio::ssl::verify_peer);
      if (config.ca_file.empty()) {
        tls->set_default_verify_paths();
      } else {
        tls->load_verify_file(config.ca_file);
      }
    }
  } catch (const std::exception& e) {
    return std::unexpected(std::string("TLS setup: ") + e.what());
  }
  std::optional<std::expected<unsigned, std::string>> result;
  asio::co_spawn(io, post(config, target, tls ? &*tls : nullptr),
                 [&](std::exception_ptr error, unsigned status) {
                   if (!error) {
                     result = status;
                     return;
                   }
                   try {
                     std::rethrow_exception(error);
                   } catch (const std::exception& e) {
                     result = std::unexpected(std::string(e.what()));
                   }
                 });
  // The stream's expiry bounds connect and exchange; this bounds resolution as well.
  io.run_for(config.timeout + std::chrono::seconds(1));
  if (!result)
    return std::unexpected("timed out after " + std::to_string(config.timeout.count()) + " ms");
  return *result;
}

RecoveryApiClient::RecoveryApiClient(RecoveryApiConfig config)
    : config_(std::move(config)), worker_([this] {
        pthread_setname_np(pthread_self(), "uof-recovery");
        work();
      }) {}

RecoveryApiClient::~RecoveryApiClient() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  worker_.join();
}

void RecoveryApiClient::submit(const RecoveryRequest& request) {
  {
    std::lock_guard lock(mutex_);
    pending_.push_back(request);
  }
  wake_.notify_all();
}

void RecoveryApiClient::drain(std::vector<RecoveryResult>& out) {
  std::lock_guard lock(mutex_);
  out.insert(out.end(), std::make_move_iterator(done_.begin()),
             std::make_move_iterator(done_.end()));
  done_.clear();
}

void RecoveryApiClient::work() {
  std::unique_lock lock(mutex_);
  for (;;) {
    wake_.wait(lock, [this] { return stop_ || !pending_.empty(); });
    if (stop_) return;
    const RecoveryRequest request = std::move(pending_.front());
    pending_.pop_front();
    lock.unlock();
    const auto status = post_recovery(config_, request.target());
    RecoveryResult result{request.product, request.request_id, false, ""};
    if (status) {
      result.accepted = *status >= 200 && *status < 300;
      result.detail = "HTTP " + std::to_string(*status);
    } else {
      result.detail = status.error();
    }
    lock.lock();
    done_.push_back(std::move(result));
  }
}

}  // namespace oddsbus::feeds::uof
