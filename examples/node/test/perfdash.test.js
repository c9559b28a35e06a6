// SPDX-License-Identifier: MIT
// Runs the client against a real headless perfdash (PERFDASH_BIN) and checks what it exported.
'use strict';

const test = require('node:test');
const assert = require('node:assert');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { Client } = require('../perfdash');

const perfdashBin = process.env.PERFDASH_BIN || path.join(__dirname, '..', '..', '..', 'build', 'bin', 'perfdash');

function waitFor(condition, timeoutMs = 30000) {
  return new Promise((resolve, reject) => {
    const deadline = Date.now() + timeoutMs;
    const poll = () => {
      if (condition()) return resolve();
      if (Date.now() > deadline) return reject(new Error('timed out'));
      setTimeout(poll, 20);
    };
    poll();
  });
}

function startDashboard(dir) {
  const socketPath = path.join(dir, 'perfdash.sock');
  const csv = path.join(dir, 'stats.csv');
  const child = spawn(perfdashBin, ['--headless', '--quiet', '--socket', socketPath, '--export-csv', csv],
    { stdio: ['ignore', 'inherit', 'inherit'] });
  const exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, socketPath, csv, exited };
}

function rows(csvPath) {
  const [header, ...lines] = fs.readFileSync(csvPath, 'utf8').trim().split('\r\n');
  const names = header.split(',');
  return lines.map((line) => Object.fromEntries(line.split(',').map((v, i) => [names[i], v])));
}

test('track, timers and middleware reach perfdash exactly', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'perfdash-node-'));
  const dashboard = startDashboard(dir);
  await waitFor(() => fs.existsSync(dashboard.socketPath));

  const client = new Client({ socketPath: dashboard.socketPath, name: 'node-test', memoryIntervalMs: 50 });
  await waitFor(() => client.connected);

  for (let i = 0; i < 100; i++) assert.strictEqual(client.track('sync.op', () => i * 2), i * 2);
  for (let i = 0; i < 20; i++) await client.track('async.op', () => new Promise((r) => setTimeout(() => r(i), 1)));
  assert.throws(() => client.track('sync.fail', () => { throw new Error('boom'); }), /boom/);
  await assert.rejects(client.track('async.fail', () => Promise.reject(new Error('nope'))), /nope/);
  const timer = client.startTimer();
  await new Promise((r) => setTimeout(r, 5));
  assert.ok(timer.elapsed() >= 4);
  assert.ok(timer.stop('timed.op') >= 4);

  // No router here: the test names its two routes itself, as a program without one would.
  const middleware = client.middleware({ route: (req) => (req.url.startsWith('/broken') ? '/broken' : '/users') });
  const server = http.createServer((req, res) => {
    middleware(req, res, () => {
      res.statusCode = req.url.startsWith('/broken') ? 503 : 200;
      res.end('ok');
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address();
  const get = (p) => new Promise((resolve) => http.get({ port, path: p, host: '127.0.0.1' }, (res) => { res.resume(); res.on('end', resolve); }));
  for (let i = 0; i < 5; i++) await get('/users?page=' + i);
  await get('/broken');
  server.close();

  await new Promise((r) => setTimeout(r, 120)); // a couple of memory reports
  await client.close();
  dashboard.child.kill('SIGINT');
  assert.strictEqual(await dashboard.exited, 0);

  const byName = Object.fromEntries(rows(dashboard.csv).filter((r) => r.process === 'node-test').map((r) => [r.operation, r]));
  assert.strictEqual(byName['sync.op'].count, '100');
  assert.strictEqual(byName['async.op'].count, '20');
  assert.ok(Number(byName['async.op'].p50_us) >= 500, 'async operations last until their promise settles');
  assert.strictEqual(byName['sync.fail'].errors, '1');
  assert.strictEqual(byName['async.fail'].errors, '1');
  assert.strictEqual(byName['timed.op'].count, '1');
  assert.strictEqual(byName['http.GET /users'].count, '5');
  assert.strictEqual(byName['http.GET /users'].errors, '0');
  assert.strictEqual(byName['http.GET /broken'].errors, '1');
});

test('no dashboard: calls still work and nothing blocks', async () => {
  const client = new Client({ socketPath: path.join(os.tmpdir(), 'no-such-perfdash.sock'), maxQueue: 10, memoryIntervalMs: 0 });
  for (let i = 0; i < 25; i++) client.track('lonely', () => i);
  assert.strictEqual(client.queue.length, 10);
  assert.strictEqual(client.dropped, 15);
  await client.close();
});

test('what was dropped while no dashboard was there is told when one comes', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'perfdash-node-'));
  const socketPath = path.join(dir, 'late.sock');
  const client = new Client({ socketPath, maxQueue: 10, memoryIntervalMs: 0, name: 'late' });
  for (let i = 0; i < 25; i++) client.record('queued', 5);
  assert.strictEqual(client.droppedOperations, 15);

  // A stand-in dashboard that keeps every line it is sent.
  const lines = [];
  const server = require('node:net').createServer((socket) => {
    let buffer = '';
    socket.on('data', (chunk) => {
      buffer += chunk;
      const parts = buffer.split('\n');
      buffer = parts.pop();
      lines.push(...parts.map((line) => JSON.parse(line)));
    });
  });
  await new Promise((r) => server.listen(socketPath, r));
  await waitFor(() => lines.some((l) => l.type === 'drops'));
  await client.close();
  server.close();
  assert.strictEqual(lines[0].type, 'hello');
  assert.strictEqual(lines.filter((l) => l.type === 'op').length, 10);
  assert.deepStrictEqual(lines.find((l) => l.type === 'drops'), { type: 'drops', operations: 15 });
});

test('a dashboard that does not read: bounded buffer, drops counted', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'perfdash-node-'));
  const socketPath = path.join(dir, 'stalled.sock');
  const sockets = [];
  const server = net.createServer((socket) => { socket.pause(); sockets.push(socket); }); // never reads
  await new Promise((r) => server.listen(socketPath, r));
  const client = new Client({ socketPath, name: 'stalled', memoryIntervalMs: 0, maxBufferedBytes: 256 * 1024 });
  await waitFor(() => client.connected);
  const operations = 200000;
  for (let i = 0; i < operations; i++) client.record('stalled.op', 10);
  assert.ok(client.socket.writableLength <= 256 * 1024, `buffered ${client.socket.writableLength} bytes`);
  assert.ok(client.droppedOperations > 0);
  assert.strictEqual(client.dropped, client.droppedOperations);
  const kept = operations - client.droppedOperations;
  assert.ok(kept > 1000, `kept ${kept}`);
  client.closed = true;
  client.socket.destroy();
  for (const s of sockets) s.destroy();
  server.close();
});

test('middleware names by route only: raw URLs do not make names', async () => {
  const names = new Set();
  const client = new Client({ socketPath: '/nonexistent/perfdash.sock', memoryIntervalMs: 0 });
  client.record = (name) => names.add(name);
  const middleware = client.middleware();
  const { EventEmitter } = require('node:events');
  for (let i = 0; i < 1000; i++) {
    const res = new EventEmitter();
    res.statusCode = 200;
    const req = { method: 'GET', url: `/items/${i}?q=${i}` };
    if (i % 2) { req.baseUrl = '/api'; req.route = { path: '/items/:id' }; }
    middleware(req, res, () => {});
    res.emit('finish');
  }
  assert.deepStrictEqual([...names].sort(), ['http.GET (unmatched)', 'http.GET /api/items/:id']);
  await client.close();
});

test('middleware: a router mounted at a pattern does not make a name per value', async () => {
  // Express gives req.baseUrl as the matched path: "/users/42" for app.use('/users/:id', router).
  const names = new Set();
  const client = new Client({ socketPath: '/nonexistent/perfdash.sock', memoryIntervalMs: 0 });
  client.record = (name) => names.add(name);
  const middleware = client.middleware({ maxRoutes: 50 });
  const { EventEmitter } = require('node:events');
  const request = (baseUrl, routePath) => {
    const res = new EventEmitter();
    res.statusCode = 200;
    middleware({ method: 'GET', url: baseUrl + '/x', baseUrl, route: { path: routePath } }, res, () => {});
    res.emit('finish');
  };
  for (let i = 0; i < 300; i++) {
    request(`/users/${1000 + i}`, '/orders');
    request(`/sessions/${require('node:crypto').randomUUID()}`, '/');
    request(`/blobs/${(0xabcdef123456 + i).toString(16)}`, '/meta');
  }
  request('/internationalization', '/locales');
  request('/tokens/aB3dE5fG7hJ9kL1mN3pQ', '/');
  assert.deepStrictEqual([...names].sort(), ['http.GET /blobs/:param/meta', 'http.GET /internationalization/locales',
    'http.GET /sessions/:param/', 'http.GET /tokens/:param/', 'http.GET /users/:param/orders']);
  // Whatever the application does, names stay bounded.
  for (let i = 0; i < 200; i++) request(`/area${i}`, '/x');
  assert.strictEqual(names.size, 5 + 45 + 1);
  assert.ok(names.has('http.GET (other routes)'));
  await client.close();
});

test('lines queued before the dashboard came are written within the same bound', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'perfdash-node-'));
  const socketPath = path.join(dir, 'late-stalled.sock');
  const client = new Client({ socketPath, name: 'late-stalled', memoryIntervalMs: 0, maxQueue: 100000,
    maxBufferedBytes: 64 * 1024 });
  for (let i = 0; i < 50000; i++) client.record('queued.op', 10, true, { note: 'é'.repeat(20) });
  assert.strictEqual(client.droppedOperations, 0);
  const sockets = [];
  const server = net.createServer((socket) => { socket.pause(); sockets.push(socket); }); // never reads
  await new Promise((r) => server.listen(socketPath, r));
  await waitFor(() => client.connected);
  assert.ok(client.socket.writableLength <= 64 * 1024, `buffered ${client.socket.writableLength} bytes`);
  assert.ok(client.droppedOperations > 0);
  client.closed = true;
  client.socket.destroy();
  for (const s of sockets) s.destroy();
  server.close();
});
