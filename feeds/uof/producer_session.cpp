#include "feeds/uof/producer_session.h"

#include <charconv>
#include <set>

namespace oddsbus::feeds::uof {
namespace {

constexpr uint64_t kHourMs = 3'600'000;

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

std::optional<uint64_t> number(std::string_view text) {
  uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

}  // namespace

std::optional<MessageHead> read_head(std::string_view m) {
  size_t i = 0;
  // Skip whitespace, the XML declaration / processing instructions and comments.
  for (;;) {
    while (i < m.size() && is_space(m[i])) ++i;
    if (m.compare(i, 2, "<?") == 0) {
      const size_t end = m.find("?>", i + 2);
      if (end == std::string_view::npos) return std::nullopt;
      i = end + 2;
    } else if (m.compare(i, 4, "<!--") == 0) {
      const size_t end = m.find("-->", i + 4);
      if (end == std::string_view::npos) return std::nullopt;
      i = end + 3;
    } else {
      break;
    }
  }
  if (i >= m.size() || m[i] != '<') return std::nullopt;
  ++i;
  const size_t name_start = i;
  while (i < m.size() && !is_space(m[i]) && m[i] != '>' && m[i] != '/') ++i;
  MessageHead head;
  head.name = m.substr(name_start, i - name_start);
  if (head.name.empty()) return std::nullopt;
  for (;;) {
    while (i < m.size() && is_space(m[i])) ++i;
    if (i >= m.size()) return std::nullopt;
    if (m[i] == '>' || m[i] == '/') break;
    const size_t key_start = i;
    while (i < m.size() && m[i] != '=' && !is_space(m[i]) && m[i] != '>') ++i;
    const std::string_view key = m.substr(key_start, i - key_start);
    while (i < m.size() && is_space(m[i])) ++i;
    if (i >= m.size() || m[i] != '=') return std::nullopt;
    ++i;
    while (i < m.size() && is_space(m[i])) ++i;
    if (i >= m.size() || (m[i] != '"' && m[i] != '\'')) return std::nullopt;
    const char quote = m[i++];
    const size_t value_end = m.find(quote, i);
    if (value_end == std::string_view::npos) return std::nullopt;
    const std::string_view value = m.substr(i, value_end - i);
    i = value_end + 1;
    if (key == "product") {
      head.product = number(value);
    } else if (key == "timestamp") {
      head.timestamp_ms = number(value);
    } else if (key == "subscribed") {
      head.subscribed = number(value);
    } else if (key == "request_id") {
      head.request_id = number(value);
    }
  }
  return head;
}

ProducerProfile producer_profile(uint64_t product) {
  // Paths: the api_url of each producer in producers.xml (docs.sportradar.com/uof/introduction/
  // key-concepts/producers). Periods: "UOF - Recovery using API", "Max recovery periods for
  // producers": Live Odds producers 10 hours, gaming producers 3 hours, all others 72 hours.
  switch (product) {
    case 1:
      return {"liveodds", 10 * kHourMs};
    case 3:
      return {"pre", 72 * kHourMs};
    case 4:
      return {"betpal", 10 * kHourMs};  // scope "live"
    case 5:
      return {"premium_cricket", 72 * kHourMs};
    case 6:
      return {"vf", 3 * kHourMs};
    case 7:
      return {"wns", 72 * kHourMs};
    case 8:
      return {"vbl", 3 * kHourMs};
    case 9:
      return {"vto", 3 * kHourMs};
    default:
      return {"", 0};
  }
}

std::string RecoveryRequest::target() const {
  std::string t = path + "/recovery/initiate_request?";
  if (after_ms != 0) t += "after=" + std::to_string(after_ms) + "&";
  t += "request_id=" + std::to_string(request_id);
  if (node_id) t += "&node_id=" + std::to_string(*node_id);
  return t;
}

ProducerSession::ProducerSession(const ProducerSessionConfig& config)
    : config_(config), next_request_id_(config.first_request_id) {}

std::optional<ProducerSession::State> ProducerSession::state(uint64_t product) const {
  const auto it = producers_.find(product);
  if (it == producers_.end()) return std::nullopt;
  return it->second.state;
}

ProducerSession::Producer* ProducerSession::producer(uint64_t product, SessionClock now,
                                                     ProducerActions& out) {
  if (auto it = producers_.find(product); it != producers_.end()) return &it->second;
  if (producers_.size() >= kMaxProducers) {
    ++counters_.untracked;
    return nullptr;
  }
  // A producer first heard of is down until its first recovery completes.
  Producer& p = producers_[product];
  p.last_alive_ns = now.mono_ns;
  ++counters_.producer_down;
  out.notices.push_back({ProducerNotice::Kind::kDown, product, "first heard of: needs recovery"});
  return &p;
}

void ProducerSession::go_down(uint64_t product, Producer& p, std::string_view why, SessionClock now,
                              ProducerActions& out) {
  if (p.state == State::kUp) ++counters_.producer_down;
  p.state = State::kDown;
  p.request_id = 0;
  if (!p.adapter_down) {
    out.inject.push_back("<alive product=\"" + std::to_string(product) + "\" timestamp=\"" +
                         std::to_string(now.wall_ms) + "\" subscribed=\"0\"/>");
    p.adapter_down = true;
  }
  out.notices.push_back({ProducerNotice::Kind::kDown, product, std::string(why)});
}

void ProducerSession::maybe_request(uint64_t product, Producer& p, SessionClock now,
                                    ProducerActions& out) {
  if (p.state != State::kDown) return;
  if (p.requested && now.mono_ns - p.requested_ns < config_.min_request_interval_ns) return;
  const ProducerProfile profile = producer_profile(product);
  p.requested = true;
  p.requested_ns = now.mono_ns;
  if (profile.path.empty()) {
    ++counters_.unroutable;
    out.notices.push_back({ProducerNotice::Kind::kUnroutable, product,
                           "no recovery path known for this producer id: it stays down"});
    return;
  }
  RecoveryRequest request;
  request.product = product;
  request.path = std::string(profile.path);
  request.request_id = next_request_id_++;
  request.node_id = config_.node_id;
  if (p.after_ms != 0 && now.wall_ms >= p.after_ms &&
      now.wall_ms - p.after_ms <= profile.max_recovery_ms) {
    request.after_ms = p.after_ms;
  }
  p.state = State::kRecovering;
  p.request_id = request.request_id;
  ++counters_.recovery_requests;
  out.notices.push_back({ProducerNotice::Kind::kRecovering, product,
                         "request_id=" + std::to_string(request.request_id) +
                             (request.after_ms ? " after=" + std::to_string(request.after_ms)
                                               : std::string(" full"))});
  out.requests.push_back(std::move(request));
}

void ProducerSession::on_alive(const MessageHead& head, uint64_t product, Producer& p,
                               SessionClock now, ProducerActions& out) {
  p.last_alive_ns = now.mono_ns;
  const bool subscribed = head.subscribed.value_or(1) != 0;
  if (!subscribed) {
    // The adapter reads this very alive and takes the producer down itself.
    p.adapter_down = true;
    if (p.state == State::kUp) {
      ++counters_.unsubscribed_down;
      go_down(product, p, "alive subscribed=0", now, out);
    } else if (p.state == State::kRecovering &&
               now.mono_ns - p.requested_ns >= config_.min_request_interval_ns) {
      // Still unsubscribed long after asking: the request was lost; ask again (the Java SDK's
      // RecoveryManagerImpl re-requests on subscribed=0 during a recovery).
      p.state = State::kDown;
      p.request_id = 0;
    }
    maybe_request(product, p, now, out);
    return;
  }
  if (p.state == State::kUp && head.timestamp_ms) p.after_ms = *head.timestamp_ms;
  maybe_request(product, p, now, out);
}

void ProducerSession::on_message(std::string_view message, SessionClock now, ProducerActions& out) {
  out.clear();
  out.deliver = true;
  const std::optional<MessageHead> head = read_head(message);
  if (!head || !head->product) return;  // the adapter judges it
  const uint64_t product = *head->product;
  if (head->name == "alive") {
    Producer* p = producer(product, now, out);
    if (p == nullptr) return;
    // A producer the adapter still thinks up (first heard of, or silent) learns it is down first.
    if (p->state != State::kUp && !p->adapter_down && head->subscribed.value_or(1) != 0) {
      go_down(product, *p, "needs recovery", now, out);
    }
    on_alive(*head, product, *p, now, out);
    return;
  }
  if (head->name == "snapshot_complete") {
    const auto it = producers_.find(product);
    if (it == producers_.end() || it->second.state != State::kRecovering || !head->request_id ||
        *head->request_id != it->second.request_id) {
      ++counters_.snapshots_ignored;
      out.deliver = false;
      return;
    }
    Producer& p = it->second;
    p.state = State::kUp;
    p.adapter_down = false;  // the adapter brings it up on this message
    p.request_id = 0;
    ++counters_.producer_up;
    out.notices.push_back(
        {ProducerNotice::Kind::kUp, product,
         "recovery request_id=" + std::to_string(*head->request_id) + " complete"});
  }
}

void ProducerSession::on_tick(SessionClock now, ProducerActions& out) {
  out.clear();
  for (auto& [product, p] : producers_) {
    if (p.state != State::kDown && now.mono_ns - p.last_alive_ns > config_.inactivity_ns) {
      ++counters_.inactivity_down;
      go_down(product, p, "no alive within the inactivity limit", now, out);
    } else if (p.state == State::kRecovering &&
               now.mono_ns - p.requested_ns > config_.max_recovery_ns) {
      ++counters_.recovery_timeouts;
      go_down(product, p, "recovery did not complete within the maximum recovery time", now, out);
    }
  }
  if (config_.heartbeat_interval_ns == 0 ||
      now.mono_ns - last_heartbeat_ns_ < config_.heartbeat_interval_ns) {
    return;
  }
  for (const auto& [product, p] : producers_) {
    if (p.state != State::kUp) continue;
    out.inject.push_back("<alive product=\"" + std::to_string(product) + "\" timestamp=\"" +
                         std::to_string(now.wall_ms) + "\" subscribed=\"1\"/>");
    last_heartbeat_ns_ = now.mono_ns;
    break;
  }
}

void ProducerSession::on_disconnected(SessionClock now, ProducerActions& out) {
  out.clear();
  ++counters_.disconnects;
  for (auto& [product, p] : producers_) {
    if (p.state == State::kDown && p.adapter_down) continue;
    go_down(product, p, "connection lost", now, out);
  }
}

void ProducerSession::on_request_result(uint64_t product, uint64_t request_id, bool accepted,
                                        std::string_view why, SessionClock now,
                                        ProducerActions& out) {
  out.clear();
  if (accepted) return;
  ++counters_.recovery_failures;
  const auto it = producers_.find(product);
  if (it == producers_.end()) return;
  Producer& p = it->second;
  out.notices.push_back({ProducerNotice::Kind::kRequestFailed, product,
                         "request_id=" + std::to_string(request_id) + ": " + std::string(why)});
  if (p.state == State::kRecovering && p.request_id == request_id) {
    p.state = State::kDown;
    p.request_id = 0;
  }
  (void)now;
}

std::vector<std::string> binding_keys(const Mapping& mapping, std::string_view feed) {
  std::set<std::string> events;
  for (const MarketMapping& market : mapping.markets()) {
    for (const ProviderMarketMapping& provider : market.providers) {
      if (provider.feed == feed && !provider.event.empty()) events.insert(provider.event);
    }
  }
  if (events.empty()) return {"#"};
  std::vector<std::string> keys{"-.-.-.#"};
  for (const std::string& event : events) {
    // "sr:match:12345" -> words "sr:match" and "12345".
    const size_t last = event.rfind(':');
    const size_t first = event.find(':');
    if (last == std::string::npos || first == last || last + 1 == event.size() ||
        event.find('.') != std::string::npos || event.find('*') != std::string::npos ||
        event.find('#') != std::string::npos) {
      return {"#"};
    }
    keys.push_back("*.*.*.*.*." + event.substr(0, last) + "." + event.substr(last + 1) + ".*");
  }
  return keys;
}

}  // namespace oddsbus::feeds::uof
