// Test service for the inspector and pprof tests: a hot function, a Map of clients that
// is never cleaned (the leak), and a bounded LRU cache that fills and then plateaus.
// Prints one JSON line {"port": N, "pprof": bool} once listening on 127.0.0.1.
'use strict';
const http = require('http');

const CLIENTS_PER_TICK = Number(process.env.CLIENTS_PER_TICK || 20);
const CACHE_MAX = Number(process.env.CACHE_MAX || 2000);

// ---- the hot function: ~40% of a core in short bursts
function hotSpin(ms) {
  const end = Date.now() + ms;
  let acc = 0;
  while (Date.now() < end) {
    for (let i = 0; i < 2000; i++) acc += Math.sqrt(i * acc + 1) % 7;
  }
  return acc;
}

// ---- the leak: clients registered once authenticated, never deleted on disconnect.
// Async like a real connection handler; the code after `await` always runs in this
// function's own frame, so the heap sampler names it even when V8 inlines callers.
const clients = new Map();
let nextClient = 0;
function authenticate(id) {
  return new Promise((resolve) => setImmediate(resolve, { user: `user-${id}`, roles: ['reader'] }));
}
class ClientConnection {
  constructor(id, session) {
    this.id = id;
    this.session = session;
    this.connectedAt = Date.now();
    this.inbox = new Array(96).fill(0);
  }
}
async function registerClient() {
  const id = `client-${nextClient++}`;
  const session = await authenticate(id);
  clients.set(id, new ClientConnection(id, session));
}

// ---- the decoy: an LRU capped at CACHE_MAX entries, filled the same way
const cache = new Map();
let nextKey = 0;
function loadRow(key) {
  return new Promise((resolve) => setImmediate(resolve, { key, loadedAt: Date.now() }));
}
async function cacheResult() {
  const key = `k${nextKey++}`;
  const row = await loadRow(key);
  cache.set(key, { row, cells: new Array(96).fill(nextKey) });
  if (cache.size > CACHE_MAX) cache.delete(cache.keys().next().value);
}

setInterval(function burnTick() {
  hotSpin(40);
}, 100);
setInterval(() => {
  for (let i = 0; i < CLIENTS_PER_TICK; i++) {
    registerClient();
    cacheResult();
  }
}, 50);

// ---- optional pprof endpoints (Google's `pprof` package), as net/http/pprof serves them
let pprof = null;
if (process.argv.includes('--pprof')) {
  pprof = require('pprof');
  pprof.heap.start(64 * 1024, 64);
}

async function servePprof(url, res) {
  if (url.pathname === '/debug/pprof/profile') {
    const seconds = Number(url.searchParams.get('seconds') || 30);
    const profile = await pprof.time.profile({ durationMillis: seconds * 1000 });
    return send(res, 200, await pprof.encode(profile), 'application/octet-stream');
  }
  if (url.pathname === '/debug/pprof/heap') {
    return send(res, 200, await pprof.encode(pprof.heap.profile()), 'application/octet-stream');
  }
  if (url.pathname === '/debug/pprof/' || url.pathname === '/debug/pprof') {
    const body = '<html><body><a href="profile?debug=1">profile</a> <a href="heap?debug=1">heap</a></body></html>';
    return send(res, 200, body, 'text/html');
  }
  return send(res, 404, 'not found\n', 'text/plain');
}

function send(res, code, body, type) {
  res.writeHead(code, { 'Content-Type': type });
  res.end(body);
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://127.0.0.1');
  if (url.pathname === '/stats') {
    return send(res, 200, JSON.stringify({ clients: clients.size, cache: cache.size }), 'application/json');
  }
  if (pprof && url.pathname.startsWith('/debug/pprof')) {
    servePprof(url, res).catch((err) => send(res, 500, String(err), 'text/plain'));
    return;
  }
  send(res, 404, 'not found\n', 'text/plain');
});
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(JSON.stringify({ port: server.address().port, pprof: pprof !== null }) + '\n');
});
process.on('SIGTERM', () => process.exit(0));
