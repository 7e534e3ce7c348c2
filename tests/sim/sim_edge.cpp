// Edges (an Arbiter in kSnapshot mode over both nodes, a MarketCache) and their clients' streams,
// folded as a client would.
#include "tests/sim/sim_cluster.h"

#include <simdjson.h>

namespace oddsbus::sim::detail {

void Simulation::boot_edge(Edge& e) {
  edge::ArbiterConfig ac;
  ac.mode = edge::ResyncMode::kSnapshot;
  ac.recovery_services = kNodes;
  ac.max_range = 512;
  ac.reorder_max_frames = 4096;
  ac.reorder_max_bytes = 4 << 20;
  if (profile_.plant == Plant::kSkipReorder) set_skip_reorder(ac);
  e.arbiter = std::make_unique<edge::Arbiter>(ac);
  for (int i = 0; i < 2; ++i) {
    Client& c = e.clients.emplace_back();
    connect(e, c, false);
  }
}

void Simulation::connect(Edge& e, Client& c, bool resume) {
  edge::ClientStreamConfig cc;
  cc.max_queue_bytes = kMaxQueueBytes;
  cc.max_image_part_bytes = 2048;
  c.stream = std::make_unique<edge::ClientStream>(cc, e.totals, now_);
  c.pending_parts.clear();
  std::string request = R"({"op": "subscribe", "markets": "all")";
  if (resume && c.has_image) {
    request += ", \"resume_from\": " + std::to_string(c.last_seq) +
               ", \"resume_epoch\": " + std::to_string(c.last_epoch);
  }
  request += "}";
  c.stream->on_text(request, e.parser, context(e));
}

void Simulation::fold(Edge& e, Client& c, const std::string& message) {
  ++c.messages;
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(message).get(root) != simdjson::SUCCESS) {
    violation(kInOrderOnce, "e%d client got an unparseable message", e.index);
    return;
  }
  std::string_view type;
  if (root["type"].get(type) != simdjson::SUCCESS) return;
  uint64_t epoch = 0;
  if (root["epoch"].get(epoch) == simdjson::SUCCESS) c.last_epoch = static_cast<uint32_t>(epoch);
  auto fold_market = [&](simdjson::dom::element entry, bool replace) {
    const uint64_t id = entry["market"].get_uint64().value_unsafe();
    if (entry["removed"].error() == simdjson::SUCCESS) {
      c.markets.erase(id);
      return;
    }
    FoldedMarket& m = c.markets[id];
    if (replace || entry["name"].error() == simdjson::SUCCESS) m.prices.clear();
    std::string_view status;
    if (entry["status"].get(status) == simdjson::SUCCESS) m.status = std::string(status);
    simdjson::dom::array sels;
    if (entry["selections"].get(sels) != simdjson::SUCCESS) return;
    for (simdjson::dom::element s : sels) {
      m.prices[s["selection"].get_uint64().value_unsafe()] =
          s["price_e4"].get_uint64().value_unsafe();
    }
  };
  if (type == "image") {
    uint64_t parts = 0;
    if (root["parts"].get(parts) == simdjson::SUCCESS) {
      const uint64_t part = root["part"].get_uint64().value_unsafe();
      if (part == 1) c.pending_parts.clear();
      c.pending_parts.push_back(message);
      if (part < parts) return;
    } else {
      c.pending_parts.assign(1, message);
    }
    const uint64_t seq = root["seq"].get_uint64().value_unsafe();
    c.markets.clear();
    for (const std::string& text : c.pending_parts) {
      simdjson::dom::parser part_parser;
      simdjson::dom::element one;
      if (part_parser.parse(text).get(one) != simdjson::SUCCESS) continue;
      simdjson::dom::array list;
      if (one["markets"].get(list) != simdjson::SUCCESS) continue;
      for (simdjson::dom::element entry : list) {
        fold_market(entry, true);
      }
    }
    c.pending_parts.clear();
    c.last_seq = seq;
    c.has_image = true;
  } else if (type == "delta") {
    const uint64_t seq = root["seq"].get_uint64().value_unsafe();
    if (!c.has_image || seq <= c.last_seq) {
      violation(kInOrderOnce, "e%d client: delta seq %" PRIu64 " after seq %" PRIu64 "%s", e.index,
                seq, c.last_seq, c.has_image ? "" : " without an image");
    }
    c.last_seq = seq;
    simdjson::dom::array list;
    if (root["markets"].get(list) != simdjson::SUCCESS) return;
    for (simdjson::dom::element entry : list) {
      fold_market(entry, false);
    }
  } else if (type == "resumed") {
    c.pending_parts.clear();
    const uint64_t seq = root["seq"].get_uint64().value_unsafe();
    if (seq < c.last_seq) {
      violation(kInOrderOnce, "e%d client: resumed at %" PRIu64 " behind %" PRIu64, e.index, seq,
                c.last_seq);
    }
    c.last_seq = seq;
  }
}

void Simulation::read_client(Edge& e, Client& c, size_t max_messages) {
  for (size_t i = 0; i < max_messages; ++i) {
    std::shared_ptr<const std::string> m = c.stream->start_write(now_);
    if (!m) return;
    fold(e, c, *m);
    c.stream->on_written(context(e));
  }
}

void Simulation::edge_packet(Edge& e, const Packet& p) {
  const size_t service = static_cast<size_t>(p.from);
  if (p.kind == Packet::Kind::kPub) {
    e.arbiter->on_batch(service, p.parts[0], now_, e.out);
    handle_edge(e);
    return;
  }
  if (p.kind != Packet::Kind::kReply) return;
  auto header = recovery::parse_reply_header(p.text);
  if (!header) return;
  std::vector<std::span<const uint8_t>> parts;
  for (const Bytes& b : p.parts) parts.emplace_back(b);
  if (header->kind == recovery::ReplyKind::kSnapshot) {
    if (e.arbiter->positioned()) return;  // unwanted: a late answer (edge/subscriber.cpp)
    auto image =
        decode_checked_snapshot(parts, header->seq, header->epoch, header->digest, header->chunks);
    if (!image) {
      e.arbiter->on_snapshot_failed(service, now_, e.out);
      handle_edge(e);
      return;
    }
    if (e.arbiter->snapshot_superseded(image->seq, image->epoch, image->epoch_start)) {
      e.arbiter->on_snapshot_superseded(service, now_, e.out);  // as edge/subscriber.cpp
      handle_edge(e);
      return;
    }
    e.out.frames.clear();
    e.out.bytes.clear();
    const uint64_t seq = image->seq;
    const uint32_t epoch = image->epoch;
    const uint64_t epoch_start = image->epoch_start;
    trace("e%d snapshot from n%zu at seq %" PRIu64 " e%u", e.index, service, seq, epoch);
    for (Applied& a : e.applied) a.reimaged = true;
    e.cache.install(std::move(*image));
    ++e.snapshots;
    ++result_.snapshots;
    for (Client& c : e.clients) c.stream->on_resync(context(e));
    e.arbiter->on_snapshot_loaded(seq, epoch, epoch_start, now_, e.out);
    handle_edge(e);
    return;
  }
  e.arbiter->on_reply(service, *header, parts, now_, e.out);
  handle_edge(e);
}

void Simulation::handle_edge(Edge& e) {
  for (const edge::ArbiterAction& a : e.out.actions) {
    using K = edge::ArbiterAction::Kind;
    if (a.kind != K::kRequestRange && a.kind != K::kRequestSnapshot) continue;
    recovery::Request r;
    r.kind = a.kind == K::kRequestRange ? recovery::RequestKind::kRange
                                        : recovery::RequestKind::kSnapshot;
    r.from = a.from;
    r.to = a.to;
    Packet p;
    p.kind = Packet::Kind::kRequest;
    p.from = kNodes + e.index;
    p.to = static_cast<int>(a.service);
    p.identity = "e" + std::to_string(e.index);
    p.text = recovery::format_request(r);
    send(std::move(p));
  }
  for (size_t i = 0; i < e.out.frames.size(); ++i) {
    const fb::Frame& f = *e.out.frames[i];
    if (!e.cache.positioned() || f.seq() != e.cache.seq() + 1) {
      violation(kInOrderOnce, "e%d applied seq %" PRIu64 " e%u at seq %" PRIu64 "%s", e.index,
                f.seq(), f.epoch(), e.cache.seq(), e.cache.positioned() ? "" : " (no image)");
    }
    const uint64_t h = hash_bytes(e.out.bytes[i]);
    auto it = accepted_.find({f.epoch(), f.seq()});
    if (it == accepted_.end() || it->second != h) {
      violation(kOneFramePerSeq,
                "e%d applied a frame other than the one last journaled at epoch %u seq %" PRIu64,
                e.index, f.epoch(), f.seq());
    }
    e.applied.push_back({f.seq(), f.epoch(), h, false});
    auto change = e.cache.apply(f, edge::Freshness{e.stale, kWallBase + now_});
    if (change) {
      for (Client& c : e.clients) c.stream->on_change(change, context(e));
    }
  }
  e.out.clear();
}

void Simulation::edge_tick(Edge& e) {
  e.arbiter->on_tick(now_, e.out);
  handle_edge(e);
  const bool stale = !e.arbiter->positioned() || e.arbiter->last_live_ns() + kSec < now_;
  if (stale != e.stale) {
    e.stale = stale;
    for (Client& c : e.clients) c.stream->on_stale(stale, context(e));
  }
  for (Client& c : e.clients) {
    c.stream->on_tick(context(e));
    if (c.stream->close_verdict()) {
      trace("e%d client closed: %s", e.index, c.stream->close_verdict()->reason.c_str());
      connect(e, c, true);
      continue;
    }
    if (c.slow_until <= now_) {
      read_client(e, c, 1000);
    } else if (rng_.chance(0.02)) {
      read_client(e, c, 1);  // a slow reader
    }
  }
  check_stale(e);
}

}  // namespace oddsbus::sim::detail
