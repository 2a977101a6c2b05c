// Leak scenario service for Node (tests/leaks/scenario.py): two real leaks and decoys that
// grow while watched but are bounded. Prints "ready <pid>" once every schedule runs.
//   leak:  `sockets` Map filled by addSubscriber, never cleaned on disconnect
//          (its values are Socket objects built by openSocket: the same finding, not another)
//   leak:  `history` array filled by appendHistory, never trimmed
//   decoy: `rows` LRU capped at 400 entries (full within ~4 s)
//   decoy: `slowRows` LRU capped at 600 entries, filled at 20/s (full after ~30 s)
//   decoy: `metrics` Map cleared every 20 s
//   decoy: `tokens` TTL cache, entries older than 15 s expire
'use strict';

class Socket {
  constructor(id) {
    this.id = id;
    this.openedAt = Date.now();
    this.inbox = new Array(48).fill(id.length);
  }
}

function openSocket(id) {
  return new Socket(id);
}

// ---- leak 1: subscribers are added, never removed
const sockets = new Map();
let nextSocket = 0;
function addSubscriber() {
  const id = `sub-${nextSocket++}`;
  sockets.set(id, { id, socket: openSocket(id), topics: ['news', 'prices'], seen: new Array(24).fill(0) });
}

// ---- leak 2: an audit history that is never trimmed
const history = [];
function appendHistory() {
  const n = history.length;
  history.push({ at: Date.now(), n, line: `event ${n} `.padEnd(200, '.'), tags: new Array(16).fill(n) });
}

// ---- decoy: an LRU with a max size
class LRU {
  constructor(max) {
    this.max = max;
    this.map = new Map();
  }
  put(key, value) {
    this.map.delete(key);
    this.map.set(key, value);
    if (this.map.size > this.max) this.map.delete(this.map.keys().next().value);
  }
}
const rows = new LRU(400);
let nextRow = 0;
function cacheRow() {
  const key = `row-${nextRow++}`;
  rows.put(key, { key, cells: new Array(64).fill(nextRow) });
}
const slowRows = new LRU(600);
let nextSlow = 0;
function cacheSlowRow() {
  // by the clock, not by ticks (timers run late on a loaded machine): 20 rows/s, full at 30 s
  while (nextSlow < ((Date.now() - started) / 1000) * 20) {
    const key = `slow-${nextSlow++}`;
    slowRows.put(key, { key, cells: new Array(256).fill(nextSlow) });
  }
}

// ---- decoy: a map cleared every 20 s
const metrics = new Map();
let nextMetric = 0;
function recordMetric() {
  const key = `m-${nextMetric++}`;
  metrics.set(key, { key, samples: new Array(64).fill(nextMetric) });
}

// ---- decoy: a TTL cache (15 s)
const tokens = new Map();
let nextToken = 0;
function issueToken() {
  const key = `tok-${nextToken++}`;
  tokens.set(key, { key, at: Date.now(), claims: new Array(64).fill(nextToken) });
  const cutoff = Date.now() - 15000;
  for (const [k, v] of tokens) {
    if (v.at >= cutoff) break;
    tokens.delete(k);
  }
}

// Each filler is its own timer's callback, as a request or socket handler is called from the
// event loop: V8 may inline what a filler calls into it, never the filler into a shared
// caller, so the heap sampler (which sees only outermost frames of optimised code) names it.
const started = Date.now();
setInterval(addSubscriber, 25);
setInterval(appendHistory, 12);
setInterval(cacheRow, 12);
setInterval(recordMetric, 25);
setInterval(issueToken, 25);
setInterval(cacheSlowRow, 25);
setInterval(() => metrics.clear(), 20000);

process.on('SIGTERM', () => process.exit(0));
process.stdout.write(`ready ${process.pid}\n`);
