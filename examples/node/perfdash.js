// SPDX-License-Identifier: MIT
// perfdash client for Node.js: NDJSON over perfdash's local socket, no dependencies.
//
//   const perfdash = require('./perfdash');
//   const rows = await perfdash.track('db.query', () => db.query(sql), { table: 'users' });
//   app.use(perfdash.middleware());          // every request as "http.GET /users/:id"
//
// The program never waits for a dashboard: lines are queued (bounded, maxQueue lines) while none
// is there, sent when one appears; while connected, at most maxBufferedBytes (8 MiB) wait in the
// socket for a dashboard that does not read. What had to be dropped either way is counted
// (client.dropped lines, of which client.droppedOperations operations) and told to the dashboard.
'use strict';

const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

function defaultSocketPath() {
  if (process.env.PERFDASH_SOCKET) return process.env.PERFDASH_SOCKET;
  if (process.env.XDG_RUNTIME_DIR) return path.join(process.env.XDG_RUNTIME_DIR, 'perfdash', 'perfdash.sock');
  return `/tmp/perfdash-${os.userInfo().uid}/perfdash.sock`;
}

// A value in a path, not a name: digits, a UUID, a long hex string, or a long token with digits
// in it ("/internationalization" stays a name).
const valueSegment = /^(?:\d+|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{12,}|(?=[A-Za-z_-]*\d)[A-Za-z0-9_-]{16,})$/i;

function mountPattern(baseUrl) {
  if (!baseUrl) return '';
  return baseUrl.split('/').map((segment) => (valueSegment.test(segment) ? ':param' : segment)).join('/');
}

class Client {
  constructor(options = {}) {
    this.socketPath = options.socketPath || defaultSocketPath();
    this.name = options.name || process.env.PERFDASH_NAME || path.basename(process.argv[1] || process.argv0);
    this.maxQueue = options.maxQueue || 100000;
    this.maxBufferedBytes = options.maxBufferedBytes || 8 * 1024 * 1024;
    this.dropsUntold = false;
    this.disabled = options.disabled ?? process.env.PERFDASH_DISABLE === '1';
    this.queue = [];
    this.dropped = 0;
    this.droppedOperations = 0;
    this.socket = null;
    this.connected = false;
    this.closed = false;
    this.retryTimer = null;
    if (this.disabled) return;
    this._connect();
    const memoryMs = options.memoryIntervalMs ?? 1000;
    if (memoryMs > 0) {
      this.memoryTimer = setInterval(() => this.reportMemory(), memoryMs);
      this.memoryTimer.unref(); // reporting never keeps the program alive
    }
  }

  _connect() {
    if (this.closed) return;
    const socket = net.createConnection(this.socketPath);
    this.socket = socket;
    socket.on('connect', () => {
      this.connected = true;
      socket.write(JSON.stringify({ type: 'hello', version: 1, pid: process.pid, name: this.name }) + '\n');
      // What was queued goes out within the same bound as everything else written while connected.
      const pending = this.queue;
      this.queue = [];
      for (const queued of pending) this._write(queued.line, queued.op);
      // A running total: the dashboard adds it to what it counted to tell what was recorded.
      if (this.droppedOperations) socket.write(JSON.stringify({ type: 'drops', operations: this.droppedOperations }) + '\n');
    });
    // The dashboard caught up: tell it what was dropped meanwhile.
    socket.on('drain', () => this._tellDrops());
    socket.on('error', () => {}); // 'close' follows and retries
    socket.on('close', () => {
      this.connected = false;
      if (this.closed) return;
      // A dashboard started later sees us within about a second.
      this.retryTimer = setTimeout(() => this._connect(), 1000);
      this.retryTimer.unref();
    });
    socket.unref();
  }

  _tellDrops() {
    if (!this.dropsUntold || !this.connected) return;
    this.dropsUntold = false;
    this.socket.write(JSON.stringify({ type: 'drops', operations: this.droppedOperations }) + '\n');
  }

  _drop(op) {
    this.dropped += 1;
    if (op) {
      this.droppedOperations += 1;
      this.dropsUntold = true;
    }
  }

  _write(line, op) {
    // Backpressure: a dashboard that does not read must not grow this process without bound.
    if (this.socket.writableLength + Buffer.byteLength(line) > this.maxBufferedBytes) this._drop(op);
    else this.socket.write(line);
  }

  _send(object) {
    if (this.disabled || this.closed) return;
    const line = JSON.stringify(object) + '\n';
    const op = object.type === 'op';
    if (this.connected) this._write(line, op);
    else if (this.queue.length < this.maxQueue) this.queue.push({ line, op });
    else this._drop(op);
  }

  /** Records an operation measured elsewhere: its duration in microseconds. */
  record(name, durationUs, ok = true, meta = undefined) {
    const line = { type: 'op', name, duration_us: durationUs, ok, ts_us: Date.now() * 1000 };
    if (meta && Object.keys(meta).length) line.meta = meta;
    this._send(line);
  }

  /** Runs fn as operation `name`; a thrown error or rejected promise marks it failed and propagates. */
  track(name, fn, meta = undefined) {
    const start = process.hrtime.bigint();
    const done = (ok) => this.record(name, Number(process.hrtime.bigint() - start) / 1000, ok, meta);
    let result;
    try {
      result = fn();
    } catch (error) {
      done(false);
      throw error;
    }
    if (result && typeof result.then === 'function') {
      return result.then(
        (value) => { done(true); return value; },
        (error) => { done(false); throw error; },
      );
    }
    done(true);
    return result;
  }

  /** A timer: elapsed() and stop() in milliseconds; stop(name, ok, meta) also records it. */
  startTimer() {
    const start = process.hrtime.bigint();
    let stopped = null;
    const elapsedNs = () => (stopped ?? process.hrtime.bigint()) - start;
    return {
      elapsed: () => Number(elapsedNs()) / 1e6,
      stop: (name = undefined, ok = true, meta = undefined) => {
        if (stopped === null) stopped = process.hrtime.bigint();
        if (name) this.record(name, Number(elapsedNs()) / 1000, ok, meta);
        return Number(elapsedNs()) / 1e6;
      },
    };
  }

  reportMemory() {
    const usage = process.memoryUsage();
    this._send({ type: 'memory', rss_bytes: usage.rss, heap_bytes: usage.heapUsed });
  }

  /**
   * Express-style middleware: each request is tracked as "http.METHOD route", failed when the
   * status is 500 or more. The name is the matched route pattern ("/users/:id") and never the
   * raw URL, so that names stay few: a request no route matched is "http.METHOD (unmatched)".
   * options.route(req) names the route where there is no router (return a pattern, not the URL).
   * Express gives a router's mount point as the path it matched ("/users/42" for a router mounted
   * at "/users/:id"), not as its pattern: segments of it that look like values (numbers, ids,
   * hex, UUIDs) become ":param". Past options.maxRoutes (500) distinct names, further ones are
   * "http.METHOD (other routes)": the names stay bounded whatever the application does.
   */
  middleware(options = {}) {
    const routeOf = options.route || ((req) => (req.route && typeof req.route.path === 'string'
      ? mountPattern(req.baseUrl) + req.route.path : null));
    const maxRoutes = options.maxRoutes ?? 500;
    const seen = new Set();
    return (req, res, next) => {
      const start = process.hrtime.bigint();
      res.on('finish', () => {
        let name = `http.${req.method} ${routeOf(req) || '(unmatched)'}`;
        if (!seen.has(name)) {
          if (seen.size < maxRoutes) seen.add(name);
          else name = `http.${req.method} (other routes)`;
        }
        this.record(name, Number(process.hrtime.bigint() - start) / 1000,
          res.statusCode < 500, { status: res.statusCode });
      });
      next();
    };
  }

  /** Sends what is queued and closes the connection; resolves when it is closed. */
  close() {
    this.closed = true;
    clearInterval(this.memoryTimer);
    clearTimeout(this.retryTimer);
    return new Promise((resolve) => {
      if (!this.socket || !this.connected) return resolve();
      this.socket.end(resolve);
    });
  }
}

let shared = null;
function client() {
  if (!shared) shared = new Client();
  return shared;
}

module.exports = {
  Client,
  defaultSocketPath,
  track: (name, fn, meta) => client().track(name, fn, meta),
  record: (name, durationUs, ok, meta) => client().record(name, durationUs, ok, meta),
  startTimer: () => client().startTimer(),
  middleware: (options) => client().middleware(options),
  close: () => (shared ? shared.close() : Promise.resolve()),
};
