#include "engine/client_view.h"

#include <simdjson.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <utility>

#include "engine/replay.h"
#include "engine/time_text.h"
#include "schemas/state_json.h"

namespace oddsbus::engine {

namespace {

bool contains(const std::vector<uint64_t>& sorted, uint64_t id) {
  return std::binary_search(sorted.begin(), sorted.end(), id);
}

std::vector<uint64_t> ids_of(simdjson::dom::element record, const char* key) {
  std::vector<uint64_t> ids;
  simdjson::dom::array array;
  if (record[key].get(array) != simdjson::SUCCESS) return ids;
  for (simdjson::dom::element id : array) {
    uint64_t value = 0;
    if (id.get(value) == simdjson::SUCCESS) ids.push_back(value);
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

uint64_t uint_of(simdjson::dom::element record, const char* key) {
  uint64_t value = 0;
  if (record[key].get(value) != simdjson::SUCCESS) return 0;
  return value;
}

std::string string_of(simdjson::dom::element record, const char* key) {
  std::string_view value;
  if (record[key].get(value) != simdjson::SUCCESS) return {};
  return std::string(value);
}

void append_ids(std::string& out, const std::vector<uint64_t>& ids) {
  out += '[';
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i > 0) out += ", ";
    out += std::to_string(ids[i]);
  }
  out += ']';
}

// Folds one session's records, in log order, up to a time.
class SessionFold {
 public:
  SessionFold(std::string_view session, uint64_t at_ns) : at_ns_(at_ns) {
    point_.session = std::string(session);
  }

  bool connected() const { return connected_; }
  ClientViewPoint& point() { return point_; }

  void on_hole(uint64_t dropped) {
    if (connected_ && !ended_) point_.lost_lines += dropped;
  }

  void on_record(std::string_view type, simdjson::dom::element record) {
    const uint64_t ts = uint_of(record, "ts_ns");
    if (type == "connect") {
      if (connected_) return;
      connected_ = true;
      point_.connected_ns = ts;
      point_.remote = string_of(record, "remote");
      return;
    }
    if (!connected_ || ended_) return;
    const uint64_t subscription = uint_of(record, "subscription");
    if (type == "subscribe" || type == "unsubscribe") {
      AuditSubscription sub;
      bool all = false;
      sub.all = record["all"].get(all) == simdjson::SUCCESS && all;
      sub.markets = ids_of(record, "markets");
      sub.events = ids_of(record, "events");
      if (ts <= at_ns_) point_.subscription = sub;
      subscriptions_[subscription] = std::move(sub);
    } else if (type == "image" || type == "resumed" || type == "conflated") {
      if (ts > at_ns_) return;
      shown(type, uint_of(record, "seq"), record, ts, subscription);
      if (type == "conflated") ++point_.conflations;
      if (type == "resumed") ++point_.resumes;
    } else if (type == "deltas") {
      simdjson::dom::array seqs;
      simdjson::dom::array dts;
      if (record["seqs"].get(seqs) != simdjson::SUCCESS ||
          record["dt_ns"].get(dts) != simdjson::SUCCESS) {
        ++point_.lost_lines;
        return;
      }
      auto dt = dts.begin();
      for (simdjson::dom::element seq : seqs) {
        if (dt == dts.end()) break;
        const uint64_t written = ts + uint64_t(*dt);
        ++dt;
        if (written <= at_ns_) shown("delta", uint64_t(seq), record, written, subscription);
      }
    } else if (type == "disconnect") {
      ended_ = true;
      if (ts <= at_ns_) {
        point_.disconnected_ns = ts;
        point_.disconnect_reason = string_of(record, "reason");
      }
    }
  }

  // The subscription each message was rendered for, once every record is read.
  void finish() {
    if (!point_.received) return;
    auto it = subscriptions_.find(shown_subscription_);
    if (it != subscriptions_.end()) point_.rendered_for = it->second;
  }

 private:
  void shown(std::string_view by, uint64_t seq, simdjson::dom::element record, uint64_t ts,
             uint64_t subscription) {
    if (point_.received && ts < point_.shown_ns) return;
    point_.received = true;
    point_.shown_by = std::string(by);
    point_.seq = seq;
    point_.epoch = static_cast<uint32_t>(uint_of(record, "epoch"));
    point_.shown_ns = ts;
    shown_subscription_ = subscription;
  }

  const uint64_t at_ns_;
  ClientViewPoint point_;
  bool connected_ = false;
  bool ended_ = false;
  uint64_t shown_subscription_ = 0;
  std::map<uint64_t, AuditSubscription> subscriptions_;
};

}  // namespace

bool AuditSubscription::wants(const MarketRecord& market) const {
  return all || contains(markets, market.id) || contains(events, market.event);
}

std::vector<std::string> audit_log_files(const std::string& path) {
  std::vector<std::string> files;
  std::error_code ec;
  for (unsigned i = 1;; ++i) {
    const std::string rotated = path + "." + std::to_string(i);
    if (!std::filesystem::exists(rotated, ec)) break;
    files.push_back(rotated);
  }
  std::reverse(files.begin(), files.end());
  files.push_back(path);
  return files;
}

std::expected<ClientViewPoint, std::string> find_client_view_point(
    const std::vector<std::string>& files, std::string_view session, uint64_t at_ns) {
  SessionFold fold(session, at_ns);
  std::string quoted = "\"";
  quoted += session;
  quoted += "\"";
  simdjson::dom::parser parser;
  size_t readable = 0;
  std::string line;
  for (const std::string& file : files) {
    std::ifstream in(file, std::ios::binary);
    if (!in) continue;
    ++readable;
    while (std::getline(in, line)) {
      const bool hole = line.find("\"hole\"") != std::string::npos;
      if (!hole && line.find(quoted) == std::string::npos) continue;
      simdjson::dom::element record;
      std::string_view type;
      if (parser.parse(line).get(record) != simdjson::SUCCESS ||
          record["type"].get(type) != simdjson::SUCCESS) {
        // A line cut short (a log being written, a crash): what it said is lost.
        if (fold.connected()) fold.on_hole(1);
        continue;
      }
      if (type == "hole") {
        fold.on_hole(uint_of(record, "dropped"));
        continue;
      }
      std::string_view of;
      if (record["session"].get(of) != simdjson::SUCCESS || of != session) continue;
      fold.on_record(type, record);
    }
  }
  const std::string& newest = files.empty() ? std::string() : files.back();
  if (readable == 0) {
    return std::unexpected("cannot read the audit log " + newest +
                           "; give the file odds-edge --audit-log wrote");
  }
  if (!fold.connected()) {
    return std::unexpected("session " + std::string(session) + " is not in the audit log " +
                           newest + " (" + std::to_string(readable) +
                           " file(s)); its sessions are the \"connect\" records, e.g. grep "
                           "'\"connect\"' " +
                           newest);
  }
  fold.finish();
  ClientViewPoint point = std::move(fold.point());
  if (at_ns < point.connected_ns) {
    return std::unexpected("session " + point.session + " connected at " +
                           format_iso8601_ns(point.connected_ns) + ", after " +
                           format_iso8601_ns(at_ns));
  }
  return point;
}

std::expected<ClientView, std::string> client_view(const Journal& journal,
                                                   const ClientViewPoint& point,
                                                   const ReadProgress& progress) {
  ClientView view{point, MarketState{}};
  if (!point.received) return view;
  StateQuery query;
  query.at_seq = point.seq;
  auto folded = state_at(journal, query, progress);
  if (!folded) {
    return std::unexpected("the session was shown seq " + std::to_string(point.seq) + ": " +
                           folded.error());
  }
  if (folded->epoch() != point.epoch) {
    return std::unexpected("the edge served seq " + std::to_string(point.seq) + " of epoch " +
                           std::to_string(point.epoch) + " but the journal holds it in epoch " +
                           std::to_string(folded->epoch()) +
                           ": this journal is not the history the edge followed (a history "
                           "that lost a takeover?); give the journal of the winning node");
  }
  std::map<uint64_t, MarketRecord> shown;
  for (const auto& [id, market] : folded->markets()) {
    if (!point.subscription.wants(market)) continue;
    if (point.rendered_for && !point.rendered_for->wants(market)) continue;
    shown.emplace(id, market);
  }
  view.state.load(point.seq, point.epoch, std::move(shown));
  return view;
}

void append_client_view_json(std::string& out, const ClientView& view, uint64_t at_ns) {
  const ClientViewPoint& point = view.point;
  out += "{\"session\": ";
  append_json_string(out, point.session);
  out += ", \"at\": \"" + format_iso8601_ns(at_ns) +
         "\", \"epoch\": " + std::to_string(point.epoch) + ", \"shown_by\": ";
  if (point.received) {
    append_json_string(out, point.shown_by);
    out += ", \"shown_at\": \"" + format_iso8601_ns(point.shown_ns) + "\"";
  } else {
    out += "null, \"shown_at\": null";
  }
  out += ", \"remote\": ";
  append_json_string(out, point.remote);
  out += ", \"connected_at\": \"" + format_iso8601_ns(point.connected_ns) + "\"";
  if (point.disconnected_ns) {
    out += ", \"disconnected_at\": \"" + format_iso8601_ns(*point.disconnected_ns) +
           "\", \"disconnect_reason\": ";
    append_json_string(out, point.disconnect_reason);
  } else {
    out += ", \"disconnected_at\": null";
  }
  out += point.subscription.all ? ", \"subscription\": {\"all\": true, \"markets\": "
                                : ", \"subscription\": {\"all\": false, \"markets\": ";
  append_ids(out, point.subscription.markets);
  out += ", \"events\": ";
  append_ids(out, point.subscription.events);
  out += "}, \"conflations\": " + std::to_string(point.conflations) +
         ", \"resumes\": " + std::to_string(point.resumes) +
         ", \"lost_lines\": " + std::to_string(point.lost_lines) + ", ";
  std::string state;
  append_state_json(state, view.state);
  out.append(state, 1);  // the state JSON's own fields, after its opening brace
}

void append_client_view_text(std::string& out, const ClientView& view, uint64_t at_ns) {
  const ClientViewPoint& point = view.point;
  out += "session " + point.session + " (" + point.remote + "), connected " +
         format_iso8601_ns(point.connected_ns);
  if (point.disconnected_ns) {
    out += ", disconnected " + format_iso8601_ns(*point.disconnected_ns) + " (" +
           point.disconnect_reason + ")";
  }
  out += "\nat " + format_iso8601_ns(at_ns) + ": ";
  if (!point.received) {
    out += "nothing shown yet\n";
  } else {
    out += "showing seq " + std::to_string(point.seq) + " epoch " + std::to_string(point.epoch) +
           " (" + point.shown_by + " written " + format_iso8601_ns(point.shown_ns) + "), " +
           std::to_string(view.state.markets().size()) + " market(s); " +
           std::to_string(point.conflations) + " conflated delta(s), " +
           std::to_string(point.resumes) + " resume(s) so far\n";
  }
  if (point.lost_lines > 0) {
    out += "warning: the audit log lost " + std::to_string(point.lost_lines) +
           " line(s) while this session was open; the client may have been shown a later seq\n";
  }
  append_state_table(out, view.state);
}

}  // namespace oddsbus::engine
