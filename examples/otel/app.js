// SPDX-License-Identifier: MIT
// An Express service instrumented only with the official OpenTelemetry Node packages: the
// NodeSDK with the HTTP and Express instrumentations, exporting OTLP/HTTP (JSON or protobuf) or
// OTLP/gRPC to perfdash. It serves two routes and calls them itself a known number of times, then flushes and
// exits: the end-to-end test of perfdash's OTLP receiver (tests/otlp/otel_e2e.sh) counts what arrives.
//
//   node app.js [--encoding json|protobuf|grpc] [--users N] [--failures N] [--metrics]
// The endpoint is the SDK's: OTEL_EXPORTER_OTLP_ENDPOINT (default http://localhost:4318, and
// http://localhost:4317 for grpc).
'use strict';

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : fallback;
};
const encoding = option('encoding', 'json');
const users = Number(option('users', '20'));
const failures = Number(option('failures', '5'));
const withMetrics = args.includes('--metrics');

const { NodeSDK } = require('@opentelemetry/sdk-node');
const { HttpInstrumentation } = require('@opentelemetry/instrumentation-http');
const { ExpressInstrumentation } = require('@opentelemetry/instrumentation-express');
const { PeriodicExportingMetricReader } = require('@opentelemetry/sdk-metrics');
const exporters = {
  json: ['@opentelemetry/exporter-trace-otlp-http', '@opentelemetry/exporter-metrics-otlp-http'],
  protobuf: ['@opentelemetry/exporter-trace-otlp-proto', '@opentelemetry/exporter-metrics-otlp-proto'],
  grpc: ['@opentelemetry/exporter-trace-otlp-grpc', '@opentelemetry/exporter-metrics-otlp-grpc'],
}[encoding];
if (!exporters) {
  console.error(`app.js: --encoding is json, protobuf or grpc, not ${encoding}`);
  process.exit(2);
}
const { OTLPTraceExporter } = require(exporters[0]);
const { OTLPMetricExporter } = require(exporters[1]);

const sdk = new NodeSDK({
  traceExporter: new OTLPTraceExporter(),
  metricReader: withMetrics
    ? new PeriodicExportingMetricReader({ exporter: new OTLPMetricExporter(), exportIntervalMillis: 60000 })
    : undefined,
  instrumentations: [new HttpInstrumentation(), new ExpressInstrumentation()],
});
sdk.start();

// Required after start(): the instrumentations patch http and express as they load.
const express = require('express');
const http = require('http');

const app = express();
app.get('/users/:id', (req, res) => res.json({ id: req.params.id, name: `user ${req.params.id}` }));
app.get('/orders/:id', (req) => {
  throw new Error(`order ${req.params.id} is unavailable`); // answered 500: the server span's status is ERROR
});
app.use((err, req, res, next) => res.status(500).json({ error: err.message })); // quietly, unlike Express's own

function get(port, path) {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    }).on('error', reject);
  });
}

const server = app.listen(0, '127.0.0.1', async () => {
  const { port } = server.address();
  const statuses = {};
  for (let i = 0; i < users; ++i) {
    const s = await get(port, `/users/${i}`);
    statuses[s] = (statuses[s] || 0) + 1;
  }
  for (let i = 0; i < failures; ++i) {
    const s = await get(port, `/orders/${i}`);
    statuses[s] = (statuses[s] || 0) + 1;
  }
  server.close();
  await sdk.shutdown(); // flushes the batch span processor and the metric reader
  console.log(JSON.stringify({ encoding, statuses }));
});
