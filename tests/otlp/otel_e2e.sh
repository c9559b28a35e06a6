#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# End to end: an Express app instrumented only with the official OpenTelemetry Node packages
# (examples/otel/app.js: @opentelemetry/sdk-node, instrumentation-http, instrumentation-express)
# sends its spans and metrics to a headless perfdash over OTLP/HTTP, once with the JSON exporter
# and once with the protobuf one (gzip), then over OTLP/gRPC with the gRPC exporters (gzip). Every
# request is counted per route, with its errors.
#   otel_e2e.sh PERFDASH SOURCE_DIR
set -eu
perfdash=$1
app_dir=$2/examples/otel
if [ ! -d "$app_dir/node_modules/@opentelemetry/sdk-node" ]; then
    echo "otel_e2e: $app_dir/node_modules is missing: run setup.sh (it runs npm ci there)" >&2
    exit 1
fi
work=$(mktemp -d)
pid=
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

free_port() {
    node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })'
}
port=$(free_port)
grpc_port=$(free_port)
while [ "$grpc_port" = "$port" ]; do grpc_port=$(free_port); done
"$perfdash" --headless --quiet --socket "$work/perfdash.sock" --otlp "127.0.0.1:$port" --otlp-grpc "127.0.0.1:$grpc_port" \
    --export-csv "$work/stats.csv" --duration 240 >"$work/perfdash.log" 2>&1 &
pid=$!
for p in "$port" "$grpc_port"; do
    tries=0
    until node -e 'require("net").connect(+process.argv[1], "127.0.0.1").on("connect", () => process.exit(0)).on("error", () => process.exit(1))' "$p"; do
        tries=$((tries + 1))
        if [ $tries -gt 200 ] || ! kill -0 "$pid" 2>/dev/null; then
            echo "otel_e2e: perfdash did not listen on $p" >&2
            cat "$work/perfdash.log" >&2
            exit 1
        fi
        sleep 0.05
    done
done

endpoint="http://127.0.0.1:$port"
OTEL_SERVICE_NAME=e2e-json OTEL_EXPORTER_OTLP_ENDPOINT=$endpoint \
    node "$app_dir/app.js" --encoding json --users 23 --failures 7 --metrics
OTEL_SERVICE_NAME=e2e-protobuf OTEL_EXPORTER_OTLP_ENDPOINT=$endpoint OTEL_EXPORTER_OTLP_COMPRESSION=gzip \
    node "$app_dir/app.js" --encoding protobuf --users 17 --failures 4 --metrics
OTEL_SERVICE_NAME=e2e-grpc OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$grpc_port" OTEL_EXPORTER_OTLP_COMPRESSION=gzip \
    node "$app_dir/app.js" --encoding grpc --users 13 --failures 5 --metrics

kill -INT "$pid"
wait "$pid" || { echo "otel_e2e: perfdash failed" >&2; cat "$work/perfdash.log" >&2; exit 1; }
pid=
# The headless run says what it refused at its end: the exporters' calls were all taken.
if grep -q 'OTLP' "$work/perfdash.log"; then
    echo "otel_e2e: perfdash refused OTLP requests:" >&2
    cat "$work/perfdash.log" >&2
    exit 1
fi

# The statistics CSV, checked with node (RFC 4180 quoting: names with commas are quoted).
node - "$work/stats.csv" <<'JS'
const fs = require('fs');
const rows = [];
for (const line of fs.readFileSync(process.argv[2], 'utf8').split(/\r?\n/).filter(Boolean)) {
  const cells = [];
  let cell = '', quoted = false;
  for (let i = 0; i < line.length; ++i) {
    const c = line[i];
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') { cell += '"'; ++i; } else if (c === '"') quoted = false; else cell += c;
    } else if (c === '"') quoted = true; else if (c === ',') { cells.push(cell); cell = ''; } else cell += c;
  }
  cells.push(cell);
  rows.push(cells);
}
const header = rows.shift();
const col = (name) => header.indexOf(name);
const find = (process, operation) => rows.find((r) => r[col('process')] === process && r[col('operation')] === operation);
let failures = 0;
const expect = (process, operation, count, errors) => {
  const r = find(process, operation);
  const got = r ? `${r[col('count')]} requests, ${r[col('errors')]} errors` : 'missing';
  const want = `${count} requests, ${errors} errors`;
  const ok = got === want;
  failures += ok ? 0 : 1;
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${process} / ${operation}: ${got}${ok ? '' : ` (want ${want})`}`);
};
for (const [service, users, failed] of [['e2e-json', 23, 7], ['e2e-protobuf', 17, 4], ['e2e-grpc', 13, 5]]) {
  expect(service, 'GET /users/:id', users, 0);
  expect(service, 'GET /orders/:id', failed, failed);
  expect(service, '[client] GET', users + failed, failed);
  expect(service, '[internal] request handler - /users/:id', users, 0);
  // The same requests as the SDK's own duration histogram (http.server.duration, in ms).
  expect(service, 'http.server.duration {http.method=GET,http.route=/users/:id}', users, 0);
  expect(service, 'http.server.duration {http.method=GET,http.route=/orders/:id}', failed, failed);
  const p = rows.find((r) => r[col('process')] === service);
  if (!p || !(Number(p[col('pid')]) > 0)) { console.log(`FAIL ${service}: no pid`); ++failures; }
}
if (failures) {
  console.log(rows.map((r) => r.join(',')).join('\n'));
  process.exit(1);
}
JS
