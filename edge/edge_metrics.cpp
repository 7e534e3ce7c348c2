#include "edge/edge_metrics.h"

#include "schemas/metric_text.h"

namespace oddsbus::edge {

std::string render_edge_metrics(const EdgeMetricsInput& in) {
  MetricText f;
  const ArbiterCounters& a = in.arbiter;
  f.counter("oddsbus_edge_frames_applied_total", "Frames applied to the edge's market state",
            in.serving.frames_applied);
  f.counter("oddsbus_edge_duplicate_frames_total",
            "Frames at or below the applied seq (the other publisher's copies)", a.duplicates);
  f.counter("oddsbus_edge_reordered_frames_total", "Frames that waited in the reorder buffer",
            a.reordered);
  f.counter("oddsbus_edge_reorder_overflow_frames_total",
            "Frames dropped because the reorder buffer was full (recovered later)",
            a.overflow_drops);
  f.counter("oddsbus_edge_fenced_frames_total", "Frames of a lower epoch dropped after a takeover",
            a.fenced);
  f.counter("oddsbus_edge_gaps_total", "Gaps in the seq detected", a.gaps);
  f.counter("oddsbus_edge_range_requests_total", "Retransmission requests sent", a.range_requests);
  f.counter("oddsbus_edge_request_timeouts_total", "Recovery requests that timed out",
            a.request_timeouts);
  f.counter("oddsbus_edge_recovery_replies_total", "Replies received from recovery services",
            in.subscriber.replies);
  f.counter("oddsbus_edge_snapshot_requests_total", "Snapshots requested", a.snapshots);
  f.counter("oddsbus_edge_snapshots_installed_total", "Snapshots decoded and installed",
            in.serving.snapshots_installed);
  f.counter("oddsbus_edge_superseded_snapshots_total",
            "Snapshots refused: a higher epoch had replaced their history (next service asked)",
            in.subscriber.superseded_snapshots);
  f.counter("oddsbus_edge_divergences_total",
            "Times applied history lost to a higher epoch (resynchronised from a snapshot)",
            a.divergences);
  f.counter("oddsbus_edge_epoch_changes_total", "Epoch changes followed", a.epoch_changes);
  f.counter("oddsbus_edge_corrupt_batches_total", "Published batches that failed their checks",
            a.corrupt_batches);
  f.counter("oddsbus_edge_batches_received_total", "Batches received from publishers",
            in.subscriber.batches);
  f.counter("oddsbus_edge_curve_handshake_failures_total",
            "CURVE handshakes with a publisher or recovery service that failed: not the server "
            "--curve-server-key names, or it refused our key (nothing from it is received)",
            in.subscriber.handshake_failures);
  f.counter("oddsbus_edge_line_reconnects_total",
            "Publisher lines silent for 5 s connected again (a link ZeroMQ dropped, e.g. for an "
            "oversized message, comes back)",
            in.subscriber.line_reconnects);
  f.counter("oddsbus_edge_service_reconnects_total",
            "Recovery services connected again after a request to them timed out",
            in.subscriber.service_reconnects);
  f.counter("oddsbus_edge_stale_transitions_total", "Times the edge lost every publisher",
            in.serving.stale_transitions);
  f.gauge("oddsbus_edge_epoch", "Epoch of the applied state", in.epoch);
  f.gauge("oddsbus_edge_seq", "Seq of the applied state", in.last_seq);
  f.gauge("oddsbus_edge_newest_seq", "Newest seq any publisher announced", in.newest_seq);
  f.gauge("oddsbus_edge_lag_frames", "Frames between the applied seq and the newest announced",
          in.newest_seq > in.last_seq ? in.newest_seq - in.last_seq : 0);
  f.gauge("oddsbus_edge_stale", "1 while no publisher has been heard within stale_after",
          in.stale ? 1 : 0);
  f.gauge("oddsbus_edge_healthy", "1 when /healthz answers 200", in.healthy ? 1 : 0);
  f.gauge("oddsbus_edge_markets", "Markets held", in.markets);
  f.gauge("oddsbus_edge_retained_frames", "Changes retained for resume_from", in.window_frames);
  f.gauge("oddsbus_edge_retained_bytes", "Bytes retained for resume_from", in.window_bytes);
  f.gauge("oddsbus_edge_clients", "WebSocket clients connected", in.clients);
  f.gauge("oddsbus_edge_connections", "Open HTTP and WebSocket connections", in.open_connections);
  const StreamTotals& s = in.streams;
  f.counter("oddsbus_edge_messages_sent_total", "Messages written to WebSocket clients",
            s.messages_sent);
  f.counter("oddsbus_edge_bytes_sent_total", "Bytes written to WebSocket clients", s.bytes_sent);
  f.counter("oddsbus_edge_deltas_sent_total", "Deltas written to WebSocket clients", s.deltas_sent);
  f.counter("oddsbus_edge_images_sent_total", "Images written to WebSocket clients", s.images_sent);
  f.counter("oddsbus_edge_conflations_total", "Times a client fell behind and was conflated",
            s.conflations);
  f.counter("oddsbus_edge_conflated_deltas_total", "Conflated deltas written", s.conflated_deltas);
  f.counter("oddsbus_edge_heartbeats_sent_total", "Heartbeats written to quiet clients",
            s.heartbeats_sent);
  f.counter("oddsbus_edge_resumes_total", "Subscribes whose resume_from was honoured", s.resumes);
  f.counter("oddsbus_edge_resume_misses_total",
            "Subscribes whose resume_from was too old (an image was sent)", s.resume_misses);
  f.counter("oddsbus_edge_client_requests_refused_total",
            "Client messages refused (answered with an error)", s.bad_requests);
  f.counter("oddsbus_edge_clients_dropped_total", "Clients disconnected by the edge", s.slow_drops,
            {{"reason", "slow"}});
  f.counter("oddsbus_edge_clients_dropped_total", "Clients disconnected by the edge",
            in.serving.idle_closes, {{"reason", "idle"}});
  f.counter("oddsbus_edge_clients_dropped_total", "Clients disconnected by the edge",
            in.serving.oversize_messages, {{"reason", "oversize"}});
  f.counter("oddsbus_edge_clients_dropped_total", "Clients disconnected by the edge",
            in.serving.header_timeouts, {{"reason", "header_timeout"}});
  f.counter("oddsbus_edge_clients_dropped_total", "Clients disconnected by the edge", s.floods,
            {{"reason", "flood"}});
  f.counter("oddsbus_edge_connections_refused_total", "New connections refused",
            in.limits.refused_full, {{"reason", "max_connections"}});
  f.counter("oddsbus_edge_connections_refused_total", "New connections refused",
            in.limits.refused_too_fast, {{"reason", "rate"}});
  f.counter("oddsbus_edge_http_requests_total", "HTTP requests answered", in.serving.http_requests);
  f.counter("oddsbus_edge_http_refused_total", "HTTP requests answered with a 4xx status",
            in.serving.http_refused);
  f.counter("oddsbus_edge_oversize_requests_total",
            "HTTP requests over the header or body limit (431 or 413, then closed)",
            in.serving.oversize_requests);
  f.counter("oddsbus_edge_auth_refused_total",
            "Requests and WebSocket upgrades refused for their bearer token",
            in.serving.unauthorized, {{"reason", "unauthorized"}});
  f.counter("oddsbus_edge_auth_refused_total",
            "Requests and WebSocket upgrades refused for their bearer token", in.serving.forbidden,
            {{"reason", "forbidden"}});
  f.counter("oddsbus_edge_forbidden_subscribes_total",
            "Stream subscribes naming markets beyond the client's token (answered with an error)",
            s.forbidden_subscribes);
  f.counter("oddsbus_edge_tls_handshake_failures_total", "TLS handshakes that failed or timed out",
            in.serving.tls_handshake_failures);
  return f.text();
}

}  // namespace oddsbus::edge
