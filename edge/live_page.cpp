#include "edge/live_page.h"

namespace oddsbus::edge {
namespace {

// Names and odds come from feeds: the script only ever puts them into the page as textContent.
// Prices are formatted from the integer price_e4, never through a binary float. Ids are kept as
// the decimal text the edge sent (quoted before JSON.parse, compared as BigInt): a JavaScript
// number holds integers exactly only below 2^53, and ids above it would collide.
constexpr std::string_view kPage = R"page(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>oddsbus: live odds</title>
<style>
  body { margin: 0; font: 14px/1.4 system-ui, sans-serif; color: #1d2430; background: #f5f6f8; }
  header { display: flex; justify-content: space-between; align-items: center;
           padding: 10px 16px; background: #1d2430; color: #fff; }
  h1 { margin: 0; font-size: 16px; }
  #status { font-variant-numeric: tabular-nums; }
  #status .dot { display: inline-block; width: 8px; height: 8px; margin-right: 6px;
                 border-radius: 50%; background: #c0392b; }
  #status[data-connected="true"] .dot { background: #2ecc71; }
  #stale-banner { padding: 8px 16px; background: #f39c12; font-weight: 600; }
  #stale-banner[hidden] { display: none; }
  main { padding: 16px; }
  table { width: 100%; max-width: 960px; border-collapse: collapse; background: #fff; }
  th, td { padding: 6px 10px; border-bottom: 1px solid #e3e6eb; text-align: left; }
  thead th { background: #eef0f3; color: #5b6576; font-size: 12px; text-transform: uppercase; }
  tbody th, tbody td[rowspan] { vertical-align: top; }
  .num { text-align: right; font-variant-numeric: tabular-nums; }
  .badge { padding: 1px 7px; border-radius: 8px; background: #27ae60; color: #fff; font-size: 11px; }
  tbody[data-status="suspended"] .badge { background: #e67e22; }
  tbody[data-status="closed"] .badge, tbody[data-status="settled"] .badge { background: #7f8c8d; }
  tbody[data-status]:not([data-status="open"]) td,
  tbody[data-status]:not([data-status="open"]) th { color: #9aa3b0; }
  body.stale td.num, body.offline td.num, tbody.stale td.num { color: #b5bcc6; }
  td.flash { animation: flash 1.2s ease-out; }
  @keyframes flash { from { background: #ffe66d; } to { background: transparent; } }
  #empty td { color: #9aa3b0; text-align: center; }
</style>
</head>
<body>
<header>
  <h1>oddsbus live odds</h1>
  <div id="status" data-seq="0" data-stale="false" data-connected="false"><span class="dot"></span
  ><span id="conn">connecting</span> &middot; seq <span id="seq">0</span></div>
</header>
<div id="stale-banner" role="alert" hidden>
  Stale: the edge has lost its publishers. Prices shown may be out of date.</div>
<main>
<table>
  <thead><tr><th>Market</th><th>Status</th><th>Selection</th><th class="num">Odds</th>
    <th class="num">Price</th></tr></thead>
  <tbody id="empty"><tr><td colspan="5">waiting for markets</td></tr></tbody>
</table>
</main>
<script>
"use strict";
const markets = new Map();  // market id (decimal text) -> MARKET as sent, deltas folded in
const bodies = new Map();   // market id -> its <tbody>
const table = document.querySelector("table");
const statusEl = document.getElementById("status");
let lastSeq = 0, lastEpoch = 0, stale = false, connected = false;

// Ids as text: "market", "selection" and "event" values are quoted before parsing. Inside JSON
// strings a quote is escaped (\"), so the pattern never matches text within a name.
const idField = /"(market|selection|event)": ?(\d+)/g;
function parseMessage(text) { return JSON.parse(text.replace(idField, '"$1": "$2"')); }
function idCompare(a, b) { const x = BigInt(a), y = BigInt(b); return x < y ? -1 : x > y ? 1 : 0; }
let ws = null, backoffMs = 250, pinger = 0, watchdog = 0;

// price_e4 -> decimal odds text with at least two decimals: 25000 -> "2.50", 19091 -> "1.9091".
function decimal(e4) {
  if (!e4) return "-";
  return Math.floor(e4 / 10000) + "." + String(e4 % 10000).padStart(4, "0").replace(/0{1,2}$/, "");
}

function el(tag, attrs, text) {
  const e = document.createElement(tag);
  for (const k in attrs) e.setAttribute(k, attrs[k]);
  if (text !== undefined) e.textContent = text;
  return e;
}

// One <tbody> per market, one row per selection; cells of `changed` selections flash.
function marketBody(m, changed) {
  const body = el("tbody", {"data-market": m.market, "data-status": m.status});
  if (m.stale) body.classList.add("stale");
  const sels = m.selections.length ? m.selections : [null];
  sels.forEach((s, i) => {
    const row = body.appendChild(el("tr", {"data-market": m.market, "data-status": m.status}));
    if (i === 0) {
      row.appendChild(el("th", {rowspan: sels.length, title: "market " + m.market +
                                ", event " + m.event}, m.name));
      row.appendChild(el("td", {rowspan: sels.length})).appendChild(
          el("span", {class: "badge"}, m.status));
    }
    if (!s) return void row.appendChild(el("td", {colspan: 3}, "no selections"));
    row.dataset.selection = s.selection;
    row.dataset.priceE4 = s.price_e4;
    const cls = changed.has(s.selection) ? "num flash" : "num";
    row.append(el("td", {}, s.name), el("td", {class: cls}, s.price_e4 ? s.odds : "-"),
               el("td", {class: cls}, decimal(s.price_e4)));
  });
  return body;
}

function show(m, changed) {
  const body = marketBody(m, changed), old = bodies.get(m.market);
  if (old) {
    old.replaceWith(body);
  } else {
    const next = [...bodies.keys()].filter(id => idCompare(id, m.market) > 0).sort(idCompare)[0];
    table.insertBefore(body, next === undefined ? null : bodies.get(next));
  }
  bodies.set(m.market, body);
  document.getElementById("empty").hidden = true;
}

function renderAll() {
  for (const body of bodies.values()) body.remove();
  bodies.clear();
  document.getElementById("empty").hidden = markets.size > 0;
  [...markets.keys()].sort(idCompare).forEach(id => show(markets.get(id), new Set()));
}

function applyDelta(entry) {
  if (entry.removed) {  // the market left this view (moved to another event, or evicted)
    markets.delete(entry.market);
    const body = bodies.get(entry.market);
    if (body) body.remove();
    bodies.delete(entry.market);
    document.getElementById("empty").hidden = markets.size > 0;
    return;
  }
  const old = markets.get(entry.market), changed = new Set();
  let m = old;
  if ("name" in entry) {  // a whole market: new, redefined or conflated
    m = entry;
    for (const s of m.selections) {
      const before = old && old.selections.find(o => o.selection === s.selection);
      if (old && (!before || before.price_e4 !== s.price_e4)) changed.add(s.selection);
    }
  } else if (old) {
    if (entry.status) old.status = entry.status;
    if (entry.market_seq !== undefined) old.market_seq = entry.market_seq;
    for (const s of entry.selections || []) {
      const before = old.selections.find(o => o.selection === s.selection);
      if (!before) continue;  // not ours yet: the next image carries it
      if (before.price_e4 !== s.price_e4) changed.add(s.selection);
      Object.assign(before, s);
    }
    old.stale = false;
  } else {
    return;
  }
  markets.set(m.market, m);
  show(m, changed);
}

function setStale(value) {
  stale = !!value;
  if (!stale) for (const m of markets.values()) m.stale = false;
}

function showStatus() {
  statusEl.dataset.seq = lastSeq;
  statusEl.dataset.stale = stale;
  statusEl.dataset.connected = connected;
  document.getElementById("conn").textContent =
      connected ? (stale ? "live, stale" : "live") : "reconnecting";
  document.getElementById("seq").textContent = lastSeq;
  document.getElementById("stale-banner").hidden = !stale;
  document.body.classList.toggle("stale", stale);
  document.body.classList.toggle("offline", !connected);
}

// A large image comes in parts 1..k ("part", "parts"), applied when the last arrives; a part 1
// starts over (the rest of an earlier image was dropped for a newer one), as does a resume.
let imageParts = [];
function onMessage(msg) {
  if (msg.type === "image" && typeof msg.parts === "number") {
    if (msg.part === 1) imageParts = [];
    if (msg.part !== imageParts.length + 1) {  // a part missing: wait for the next image
      imageParts = [];
      return;
    }
    imageParts.push(msg.markets);
    if (msg.part < msg.parts) return;
    msg.markets = [].concat(...imageParts);
    imageParts = [];
  } else if (msg.type === "resumed") {
    imageParts = [];
  }
  if (msg.type === "image") {
    markets.clear();
    for (const m of msg.markets) markets.set(m.market, m);
    setStale(msg.stale);
    lastSeq = msg.seq;
    renderAll();
  } else if (msg.type === "delta") {
    msg.markets.forEach(applyDelta);
  } else if (msg.type === "stale" || msg.type === "resumed") {
    const cleared = stale && !msg.stale;
    setStale(msg.stale);
    if (cleared) renderAll();
  } else if (msg.type === "error") {
    statusEl.title = "edge error: " + msg.error;
  }
  // The position to resume from: a seq and the epoch it belongs to, from the same message.
  if (typeof msg.seq === "number" && typeof msg.epoch === "number" &&
      (msg.seq > lastSeq || msg.type === "image")) {
    lastSeq = msg.seq;
    lastEpoch = msg.epoch;
  }
  showStatus();
}

// No message for 30 s (pings go every 10 s) means a dead connection: close and reconnect.
function kick() {
  clearTimeout(watchdog);
  watchdog = setTimeout(() => ws.close(), 30000);
}

function connect() {
  const socket = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") +
                               location.host + "/v1/stream");
  ws = socket;
  socket.onopen = () => {
    const subscribe = {op: "subscribe", markets: "all"};
    if (lastSeq > 0) {
      subscribe.resume_from = lastSeq;
      subscribe.resume_epoch = lastEpoch;
    }
    socket.send(JSON.stringify(subscribe));
    connected = true;
    pinger = setInterval(() => socket.send('{"op":"ping"}'), 10000);
    kick();
    showStatus();
  };
  socket.onmessage = (event) => {
    backoffMs = 250;  // reset only once the edge actually serves us
    kick();
    let msg;
    try { msg = parseMessage(event.data); } catch (e) { return; }
    onMessage(msg);
  };
  socket.onclose = () => {
    clearInterval(pinger);
    clearTimeout(watchdog);
    connected = false;
    showStatus();
    setTimeout(connect, backoffMs * (0.5 + Math.random() / 2));
    backoffMs = Math.min(backoffMs * 2, 8000);
  };
}

connect();
</script>
</body>
</html>
)page";

}  // namespace

std::string_view live_page_html() { return kPage; }

}  // namespace oddsbus::edge
