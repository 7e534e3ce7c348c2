#include "edge/session_audit.h"

#include <utility>

#include "schemas/state_json.h"

namespace oddsbus::edge {

namespace {

void append_ids(std::string& out, const std::vector<uint64_t>& ids) {
  out += '[';
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i > 0) out += ", ";
    out += std::to_string(ids[i]);
  }
  out += ']';
}

}  // namespace

std::string audit_open_record(const std::string& run, uint64_t wall_ns) {
  std::string line = "{\"type\": \"open\", \"ts_ns\": " + std::to_string(wall_ns) + ", \"run\": ";
  append_json_string(line, run);
  line += "}\n";
  return line;
}

SessionAudit::SessionAudit(ClientAuditLog& log, std::string session, std::string_view remote,
                           uint64_t wall_ns)
    : log_(log), session_(std::move(session)) {
  batch_seqs_.reserve(kMaxBatch);
  batch_dt_ns_.reserve(kMaxBatch);
  begin("connect", wall_ns);
  line_ += ", \"remote\": ";
  append_json_string(line_, remote);
  submit();
}

void SessionAudit::begin(std::string_view type, uint64_t wall_ns) {
  line_ = "{\"type\": \"";
  line_ += type;
  line_ += "\", \"session\": ";
  append_json_string(line_, session_);
  line_ += ", \"ts_ns\": " + std::to_string(wall_ns);
}

void SessionAudit::submit() {
  line_ += "}\n";
  log_.submit(line_);
}

void SessionAudit::record(const StreamAuditNote& note) {
  if (closed_) return;
  using Kind = StreamAuditNote::Kind;
  if (note.kind == Kind::kDelta) {
    if (!batch_seqs_.empty() &&
        (note.epoch != batch_epoch_ || note.subscription != batch_subscription_ ||
         batch_seqs_.size() >= kMaxBatch || note.wall_ns < batch_start_ns_)) {
      flush_deltas();
    }
    if (batch_seqs_.empty()) {
      batch_start_ns_ = note.wall_ns;
      batch_epoch_ = note.epoch;
      batch_subscription_ = note.subscription;
    }
    batch_seqs_.push_back(note.seq);
    batch_dt_ns_.push_back(note.wall_ns - batch_start_ns_);
    return;
  }
  flush_deltas();
  auto subscription = [&] { line_ += ", \"subscription\": " + std::to_string(note.subscription); };
  auto seq_epoch = [&] {
    line_ +=
        ", \"seq\": " + std::to_string(note.seq) + ", \"epoch\": " + std::to_string(note.epoch);
  };
  switch (note.kind) {
    case Kind::kSubscribe:
    case Kind::kUnsubscribe:
      begin(note.kind == Kind::kSubscribe ? "subscribe" : "unsubscribe", note.wall_ns);
      subscription();
      line_ += note.all ? ", \"all\": true, \"markets\": " : ", \"all\": false, \"markets\": ";
      append_ids(line_, note.markets);
      line_ += ", \"events\": ";
      append_ids(line_, note.events);
      if (note.resume) {
        line_ += ", \"resume_from\": " + std::to_string(note.resume_from) +
                 ", \"resume_epoch\": " + std::to_string(note.resume_epoch);
      }
      break;
    case Kind::kImage:
      begin("image", note.wall_ns);
      seq_epoch();
      subscription();
      line_ += ", \"reason\": ";
      append_json_string(line_, note.reason);
      break;
    case Kind::kResumed:
      begin("resumed", note.wall_ns);
      seq_epoch();
      subscription();
      break;
    case Kind::kConflating:
      begin("conflating", note.wall_ns);
      line_ += ", \"held_seq\": " + std::to_string(note.held_seq) +
               ", \"dropped\": " + std::to_string(note.dropped);
      subscription();
      break;
    case Kind::kConflatedDelta:
      begin("conflated", note.wall_ns);
      seq_epoch();
      subscription();
      line_ += ", \"held_seq\": " + std::to_string(note.held_seq) + ", \"markets\": ";
      append_ids(line_, note.markets);
      break;
    case Kind::kDelta:
      return;
  }
  submit();
}

void SessionAudit::flush_if_older(uint64_t wall_ns, uint64_t max_age_ns) {
  if (!batch_seqs_.empty() && wall_ns - batch_start_ns_ > max_age_ns) flush_deltas();
}

void SessionAudit::flush_deltas() {
  if (batch_seqs_.empty()) return;
  begin("deltas", batch_start_ns_);
  line_ += ", \"epoch\": " + std::to_string(batch_epoch_) +
           ", \"subscription\": " + std::to_string(batch_subscription_) + ", \"seqs\": ";
  append_ids(line_, batch_seqs_);
  line_ += ", \"dt_ns\": ";
  append_ids(line_, batch_dt_ns_);
  submit();
  batch_seqs_.clear();
  batch_dt_ns_.clear();
}

void SessionAudit::close(std::string_view reason, uint64_t wall_ns) {
  if (closed_) return;
  flush_deltas();
  begin("disconnect", wall_ns);
  line_ += ", \"reason\": ";
  append_json_string(line_, reason);
  submit();
  closed_ = true;
}

}  // namespace oddsbus::edge
