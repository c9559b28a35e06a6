// SPDX-License-Identifier: MIT
// Records what the official OTLP exporters send, for perfdash's decoder tests: a capture server
// on a free port, then app.js once per encoding (metrics on), each body saved as the exporter sent
// it: OUT/traces.json, traces.pb, metrics.json, metrics.pb.
//   node record.js OUT
'use strict';

const http = require('http');
const fs = require('fs');
const path = require('path');
const { execFile } = require('child_process');
const { promisify } = require('util');
const run = promisify(execFile);

const out = process.argv[2] || '.';
fs.mkdirSync(out, { recursive: true });
let encoding = 'json';
const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const signal = req.url.endsWith('/v1/metrics') ? 'metrics' : 'traces';
    const ext = encoding === 'json' ? 'json' : 'pb';
    const file = path.join(out, `${signal}.${ext}`);
    if (!fs.existsSync(file)) // the first body of each kind
      fs.writeFileSync(file, Buffer.concat(chunks));
    res.writeHead(200, { 'Content-Type': req.headers['content-type'] });
    res.end(encoding === 'json' ? '{}' : '');
  });
});
server.listen(0, '127.0.0.1', async () => {
  const endpoint = `http://127.0.0.1:${server.address().port}`;
  for (const e of ['json', 'protobuf']) {
    encoding = e; // the app runs to its end before the next: one encoding at a time
    const { stdout } = await run(process.execPath,
      [path.join(__dirname, 'app.js'), '--encoding', e, '--users', '3', '--failures', '2', '--metrics'], {
        env: { ...process.env, OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, OTEL_SERVICE_NAME: `recorded-${e}` },
      });
    process.stdout.write(stdout);
  }
  server.close();
});
