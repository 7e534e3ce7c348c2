// Test support: a real RabbitMQ broker (Debian's rabbitmq-server) on loopback for one test binary,
// a tiny HTTP server (the broker's authentication backend, and whatever else a test serves), and a
// publisher. The broker runs with a scratch node name, its own directories, config and Erlang
// port mapper on free ports, so it touches nothing of the machine's own RabbitMQ; it is stopped
// (its process group, then its epmd) when the RabbitMqBroker is destroyed.
//
// Users are authenticated over HTTP (the bundled rabbitmq_auth_backend_http plugin) by the test's
// HttpServer: RabbitMQ's internal backend refuses blank passwords, and Sportradar's UOF logs in
// with the access token as user name and a blank password.
#pragma once

#include <amqp.h>
#include <amqp_tcp_socket.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/loopback.h"

namespace oddsbus::testing {

// One request as the HttpServer read it.
struct HttpRequest {
  std::string method;
  std::string path;                            // without the query
  std::map<std::string, std::string> query;    // decoded enough for test values
  std::map<std::string, std::string> headers;  // names lower-case
};
struct HttpReply {
  int status = 200;
  std::string body;
};

// Serves HTTP/1.0-style requests (one per connection) on a free loopback port with `handler`, on
// its own thread, until destroyed.
class HttpServer {
 public:
  using Handler = std::function<HttpReply(const HttpRequest&)>;
  explicit HttpServer(Handler handler) : handler_(std::move(handler)) {
    listener_ = listen_loopback(port_);
    thread_ = std::thread([this] { serve(); });
  }
  ~HttpServer() {
    stop_ = true;
    thread_.join();
    ::close(listener_);
  }
  uint16_t port() const { return port_; }

 private:
  void serve() {
    while (!stop_) {
      const int fd = accept_within(listener_, std::chrono::milliseconds(100));
      if (fd < 0) continue;
      std::string data;
      char buffer[4096];
      while (data.find("\r\n\r\n") == std::string::npos) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, 2000) != 1) break;
        const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
        if (n <= 0) break;
        data.append(buffer, static_cast<size_t>(n));
      }
      HttpRequest request;
      const size_t line_end = data.find("\r\n");
      const std::string line = data.substr(0, line_end);
      const size_t sp1 = line.find(' ');
      const size_t sp2 = line.find(' ', sp1 + 1);
      request.method = line.substr(0, sp1);
      std::string target = line.substr(sp1 + 1, sp2 - sp1 - 1);
      const size_t q = target.find('?');
      request.path = target.substr(0, q);
      if (q != std::string::npos) {
        std::string query = target.substr(q + 1);
        size_t start = 0;
        while (start <= query.size()) {
          const size_t amp = query.find('&', start);
          const std::string pair = query.substr(start, amp - start);
          const size_t eq = pair.find('=');
          if (!pair.empty())
            request.query[pair.substr(0, eq)] =
                eq == std::string::npos ? "" : decode(pair.substr(eq + 1));
          if (amp == std::string::npos) break;
          start = amp + 1;
        }
      }
      size_t pos = line_end + 2;
      while (pos < data.size()) {
        const size_t end = data.find("\r\n", pos);
        if (end == std::string::npos || end == pos) break;
        const std::string header = data.substr(pos, end - pos);
        const size_t colon = header.find(':');
        std::string name = header.substr(0, colon);
        for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        std::string value = colon == std::string::npos ? "" : header.substr(colon + 1);
        while (!value.empty() && value.front() == ' ') value.erase(0, 1);
        request.headers[name] = value;
        pos = end + 2;
      }
      const HttpReply reply = handler_(request);
      const std::string response =
          "HTTP/1.1 " + std::to_string(reply.status) +
          " X\r\nContent-Type: text/plain\r\nContent-Length: " + std::to_string(reply.body.size()) +
          "\r\nConnection: close\r\n\r\n" + reply.body;
      ::send(fd, response.data(), response.size(), MSG_NOSIGNAL);
      ::close(fd);
    }
  }
  static std::string decode(const std::string& text) {
    std::string out;
    for (size_t i = 0; i < text.size(); ++i) {
      if (text[i] == '%' && i + 2 < text.size()) {
        out += static_cast<char>(std::stoi(text.substr(i + 1, 2), nullptr, 16));
        i += 2;
      } else {
        out += text[i] == '+' ? ' ' : text[i];
      }
    }
    return out;
  }

  Handler handler_;
  uint16_t port_ = 0;
  int listener_ = -1;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// An AMQP publisher (rabbitmq-c) that declares a topic exchange and publishes to it.
class AmqpPublisher {
 public:
  AmqpPublisher() : state_(amqp_new_connection()) {}
  ~AmqpPublisher() {
    if (open_) {
      amqp_channel_close(state_, 1, AMQP_REPLY_SUCCESS);
      amqp_connection_close(state_, AMQP_REPLY_SUCCESS);
    }
    amqp_destroy_connection(state_);
  }
  // Logs in; false (with why) when the broker is not there yet or refuses.
  bool open(uint16_t port, const std::string& user, const std::string& password, std::string& why) {
    amqp_socket_t* socket = amqp_tcp_socket_new(state_);
    timeval timeout{5, 0};
    if (amqp_socket_open_noblock(socket, "127.0.0.1", port, &timeout) != AMQP_STATUS_OK) {
      why = "connect";
      return false;
    }
    const amqp_rpc_reply_t login =
        amqp_login(state_, "/", 0, AMQP_DEFAULT_FRAME_SIZE, 0, AMQP_SASL_METHOD_PLAIN, user.c_str(),
                   password.c_str());
    if (login.reply_type != AMQP_RESPONSE_NORMAL) {
      why = "login";
      return false;
    }
    amqp_channel_open(state_, 1);
    if (amqp_get_rpc_reply(state_).reply_type != AMQP_RESPONSE_NORMAL) {
      why = "channel";
      return false;
    }
    open_ = true;
    return true;
  }
  bool declare_topic_exchange(const std::string& name) {
    amqp_exchange_declare(state_, 1, amqp_cstring_bytes(name.c_str()), amqp_cstring_bytes("topic"),
                          0, 0, 0, 0, amqp_empty_table);
    return amqp_get_rpc_reply(state_).reply_type == AMQP_RESPONSE_NORMAL;
  }
  bool publish(const std::string& exchange, const std::string& key, const std::string& body) {
    return amqp_basic_publish(state_, 1, amqp_cstring_bytes(exchange.c_str()),
                              amqp_cstring_bytes(key.c_str()), 0, 0, nullptr,
                              amqp_bytes_t{body.size(), const_cast<char*>(body.data())}) ==
           AMQP_STATUS_OK;
  }

 private:
  amqp_connection_state_t state_;
  bool open_ = false;
};

// rabbitmq-server on loopback, authenticating users at http://127.0.0.1:AUTH_PORT/auth/...
class RabbitMqBroker {
 public:
  static constexpr const char* kServer = "/usr/lib/rabbitmq/bin/rabbitmq-server";
  static constexpr const char* kInstall =
      "apt-get install rabbitmq-server (tools/odds setup installs every package the tests need)";

  // PEM files for an amqps listener (server certificate and key, signed by `ca`).
  struct Tls {
    std::string ca;
    std::string certificate;
    std::string key;
  };

  // With `tls`, the broker also listens for amqps on amqps_port().
  RabbitMqBroker(const std::filesystem::path& dir, uint16_t auth_port,
                 const std::optional<Tls>& tls = std::nullopt)
      : dir_(dir),
        amqp_port_(free_port()),
        amqps_port_(tls ? free_port() : 0),
        dist_port_(free_port()),
        epmd_port_(free_port()) {
    std::filesystem::create_directories(dir_ / "mnesia");
    std::filesystem::create_directories(dir_ / "log");
    const std::string auth = "http://127.0.0.1:" + std::to_string(auth_port) + "/auth/";
    std::ofstream(dir_ / "rabbitmq.conf") << "listeners.tcp.1 = 127.0.0.1:" << amqp_port_ << "\n"
                                          << "loopback_users = none\n"
                                          << "auth_backends.1 = http\n"
                                          << "auth_http.http_method = get\n"
                                          << "auth_http.user_path = " << auth << "user\n"
                                          << "auth_http.vhost_path = " << auth << "vhost\n"
                                          << "auth_http.resource_path = " << auth << "resource\n"
                                          << "auth_http.topic_path = " << auth << "topic\n";
    if (tls) {
      std::ofstream(dir_ / "rabbitmq.conf", std::ios::app)
          << "listeners.ssl.1 = 127.0.0.1:" << amqps_port_ << "\n"
          << "ssl_options.cacertfile = " << tls->ca << "\n"
          << "ssl_options.certfile = " << tls->certificate << "\n"
          << "ssl_options.keyfile = " << tls->key << "\n"
          << "ssl_options.verify = verify_none\n"
          << "ssl_options.fail_if_no_peer_cert = false\n";
    }
    std::ofstream(dir_ / "enabled_plugins") << "[rabbitmq_auth_backend_http].\n";
    std::ofstream(dir_ / "rabbitmq-env.conf") << "";
  }
  ~RabbitMqBroker() { stop(); }
  RabbitMqBroker(const RabbitMqBroker&) = delete;
  RabbitMqBroker& operator=(const RabbitMqBroker&) = delete;

  // Starts the broker; "" when it is up, else why not.
  std::string start() {
    if (::access(kServer, X_OK) != 0) {
      return std::string(kServer) + " is missing: " + kInstall;
    }
    const std::string d = dir_.string();
    std::vector<std::string> env = {
        "PATH=/usr/bin:/bin:/usr/sbin:/sbin",
        "HOME=" + d,  // the Erlang cookie
        "RABBITMQ_NODENAME=oddsbus-test-" + std::to_string(::getpid()) + "@localhost",
        "RABBITMQ_NODE_IP_ADDRESS=127.0.0.1",
        "RABBITMQ_NODE_PORT=" + std::to_string(amqp_port_),
        "RABBITMQ_DIST_PORT=" + std::to_string(dist_port_),
        "ERL_EPMD_PORT=" + std::to_string(epmd_port_),
        "ERL_EPMD_ADDRESS=127.0.0.1",
        "RABBITMQ_MNESIA_BASE=" + d + "/mnesia",
        "RABBITMQ_LOG_BASE=" + d + "/log",
        "RABBITMQ_CONFIG_FILE=" + d + "/rabbitmq.conf",
        "RABBITMQ_ADVANCED_CONFIG_FILE=" + d + "/advanced.config",
        "RABBITMQ_ENABLED_PLUGINS_FILE=" + d + "/enabled_plugins",
        "RABBITMQ_CONF_ENV_FILE=" + d + "/rabbitmq-env.conf",
        "RABBITMQ_PID_FILE=" + d + "/rabbitmq.pid",
    };
    pid_ = ::fork();
    if (pid_ == 0) {
      ::setsid();  // its own process group: stop() signals all of it
      const std::string out = d + "/server.out";
      const int fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      std::vector<char*> envp;
      for (auto& e : env) envp.push_back(e.data());
      envp.push_back(nullptr);
      char* argv[] = {const_cast<char*>(kServer), nullptr};
      ::execve(kServer, argv, envp.data());
      ::_exit(127);
    }
    return pid_ > 0 ? "" : "fork failed";
  }

  // Waits until `user` can log in (the broker is up and asks the auth server).
  bool wait_ready(const std::string& user, std::chrono::seconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return false;
      }
      AmqpPublisher probe;
      std::string why;
      if (probe.open(amqp_port_, user, "", why)) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    return false;
  }

  void stop() {
    if (pid_ > 0) {
      ::kill(-pid_, SIGTERM);
      for (int i = 0; i < 300; ++i) {
        if (::waitpid(pid_, nullptr, WNOHANG) == pid_) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        if (i == 299) {
          ::kill(-pid_, SIGKILL);
          ::waitpid(pid_, nullptr, 0);
        }
      }
      ::kill(-pid_, SIGKILL);  // anything of the group left behind
      pid_ = -1;
    }
    if (epmd_port_ != 0) {
      // The Erlang port mapper the broker started daemonises out of the group: ask it to go.
      const std::string kill = "ERL_EPMD_PORT=" + std::to_string(epmd_port_) + " epmd -port " +
                               std::to_string(epmd_port_) + " -kill >/dev/null 2>&1";
      [[maybe_unused]] const int ignored = std::system(kill.c_str());
      epmd_port_ = 0;
    }
  }

  uint16_t amqp_port() const { return amqp_port_; }
  uint16_t amqps_port() const { return amqps_port_; }
  std::string log_tail() const {
    std::ifstream in(dir_ / "server.out");
    std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    return all.size() > 3000 ? all.substr(all.size() - 3000) : all;
  }

 private:
  std::filesystem::path dir_;
  uint16_t amqp_port_;
  uint16_t amqps_port_;
  uint16_t dist_port_;
  uint16_t epmd_port_;
  pid_t pid_ = -1;
};

}  // namespace oddsbus::testing
