#include "tools/cluster/status_page.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace oddsbus::cluster {

namespace {

void send_reply(int fd, const char* status, const char* type, const std::string& body) {
  const std::string reply = std::string("HTTP/1.1 ") + status + "\r\nContent-Type: " + type +
                            "\r\nContent-Length: " + std::to_string(body.size()) +
                            "\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n" + body;
  size_t sent = 0;
  while (sent < reply.size()) {
    const ssize_t n = ::send(fd, reply.data() + sent, reply.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return;
    sent += static_cast<size_t>(n);
  }
}

}  // namespace

StatusPage::StatusPage(uint16_t port, std::vector<std::string> edge_pages,
                       std::function<std::string()> status)
    : port_(port), edge_pages_(std::move(edge_pages)), status_(std::move(status)) {
  listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int one = 1;
  ::setsockopt(listener_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  if (::bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(listener_, 16) != 0) {
    ::close(listener_);
    listener_ = -1;
    return;
  }
  thread_ = std::thread([this] { serve(); });
}

StatusPage::~StatusPage() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  if (listener_ >= 0) ::close(listener_);
}

void StatusPage::serve() {
  while (!stop_) {
    pollfd p{listener_, POLLIN, 0};
    if (::poll(&p, 1, 200) != 1) continue;
    const int fd = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    // The request line is all we need; a client too slow to send it within 1 s gets nothing.
    std::string request;
    char buffer[2048];
    while (request.find("\r\n\r\n") == std::string::npos && request.size() < 16384) {
      pollfd r{fd, POLLIN, 0};
      if (::poll(&r, 1, 1000) != 1) break;
      const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
      if (n <= 0) break;
      request.append(buffer, static_cast<size_t>(n));
    }
    if (request.rfind("GET /status.json", 0) == 0) {
      send_reply(fd, "200 OK", "application/json", status_());
    } else if (request.rfind("GET / ", 0) == 0) {
      send_reply(fd, "200 OK", "text/html; charset=utf-8", html());
    } else {
      send_reply(fd, "404 Not Found", "text/plain", "not found\n");
    }
    ::close(fd);
  }
}

std::string StatusPage::html() const {
  std::string frames;
  for (const std::string& page : edge_pages_) {
    frames += "<div class=edge><a href=\"" + page + "\">" + page + "</a><iframe src=\"" + page +
              "\"></iframe></div>\n";
  }
  return R"(<!doctype html>
<html><head><meta charset="utf-8"><title>oddsbus chaos</title>
<style>
body { font-family: sans-serif; margin: 1em; }
table { border-collapse: collapse; } td, th { border: 1px solid #ccc; padding: 2px 8px; text-align: right; }
.bad { color: #fff; background: #c00; } .good { color: #060; }
.edges { display: flex; gap: 1em; flex-wrap: wrap; } .edge { flex: 1; min-width: 30em; }
iframe { width: 100%; height: 32em; border: 1px solid #ccc; }
</style></head><body>
<h1>oddsbus: local cluster under chaos</h1>
<p id=faults>faults: ...</p>
<table id=counts><tr><th>edge</th><th>connected</th><th>seq</th><th>epoch</th><th>deltas</th>
<th>lost</th><th>duplicated</th><th>re-images</th><th>resumes</th><th>reconnects</th></tr></table>
<p>Lost: updates a client never got (a market_seq skipped without an image announcing it).
Duplicated: an update delivered twice. Re-images are announced by the stream and are not loss.</p>
<div class=edges>
)" + frames +
         R"(</div>
<script>
async function refresh() {
  try {
    const s = await (await fetch('/status.json')).json();
    document.getElementById('faults').textContent =
      'elapsed ' + s.elapsed_s + ' s; faults ' + s.faults + ' (' + s.fault_kinds + '); last: ' + s.last_fault;
    const t = document.getElementById('counts');
    while (t.rows.length > 1) t.deleteRow(1);
    for (const e of s.edges) {
      const r = t.insertRow();
      for (const v of [e.name, e.connected, e.seq, e.epoch, e.deltas, e.lost, e.duplicated,
                       e.reimages, e.resumes, e.connects - 1]) r.insertCell().textContent = v;
      r.cells[5].className = e.lost ? 'bad' : 'good';
      r.cells[6].className = e.duplicated ? 'bad' : 'good';
    }
  } catch (e) {}
}
refresh(); setInterval(refresh, 1000);
</script></body></html>
)";
}

}  // namespace oddsbus::cluster
