// SPDX-License-Identifier: GPL-3.0-or-later
#include "http/metricsendpoint.h"

#include "core/metricsstore.h"
#include "ipc/descriptorbudget.h"
#include "ipc/ingestserver.h"

#include <QHttpServer>
#include <QHttpServerRequest>
#include <QHttpServerResponder>
#include <QHttpServerResponse>
#include <QPointer>
#include <QTcpSocket>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <memory>

namespace perfdash {

namespace {
// Bucket bounds in seconds: 1 µs to 1 minute.
constexpr double Bounds[] = { 1e-6, 5e-6, 1e-5, 5e-5, 1e-4, 5e-4, 1e-3, 5e-3, 1e-2, 5e-2, 0.1, 0.5, 1, 5, 10, 60 };

QByteArray escape(const QString& value)
{
    QByteArray out = value.toUtf8();
    out.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n");
    return out;
}

QByteArray number(double v)
{
    return QByteArray::number(v, 'g', 12);
}

} // namespace

MetricsEndpoint::MetricsEndpoint(MetricsStore* store, QObject* parent)
    : QObject(parent)
    , m_store(store)
    , m_http(new QHttpServer(this))
    , m_pool(1)
{
    m_limits.maxConnections = descriptorbudget::httpConnections();
    m_limits.budgetKeptFree = 0; // the share OTLP leaves free is this endpoint's
    m_limits.maxRequestBytes = 8 * 1024; // a scrape is a GET: headers only
    m_limits.responseDeadlineMs = 10'000; // shorter than the idle and request timeouts: it closes slow clients
    m_limits.closeAfterResponse = true; // as a scraper expects of /metrics; keeps no idle descriptors
    m_limits.retryAfterS = 1; // a scraper told 503 tries again
    // Rendered on the pool, answered on this thread. Not as a QFuture<QHttpServerResponse>: Qt HTTP
    // Server 6.4 keeps the request and the socket by plain reference and pointer until the future
    // is done, so a scraper that hung up before its answer was ready crashed the dashboard. Here the
    // socket is watched (QPointer) and the answer written only if it is still there.
    m_http->route(
        QStringLiteral("/metrics"), QHttpServerRequest::Method::Get, [this](QHttpServerResponder&& responder) {
            const QPointer<QTcpSocket> socket = responder.socket();
            // Scrapers that hung up are not rendered for: 400 of them queue 400 renderings otherwise,
            // and the next scraper that waits for its answer waits behind all of them.
            auto gone = std::make_shared<std::atomic<bool>>(false);
            if (socket) {
                connect(socket, &QAbstractSocket::disconnected, this, [gone] { *gone = true; });
                connect(socket, &QObject::destroyed, this, [gone] { *gone = true; });
            }
            const MetricsStore* target = m_store;
            const IngestServer* ingest = m_ingest;
            const LimitedTcpServer* guard = m_guard;
            QList<ListenerRefusals> listeners; // read here, on the listeners' side of the threads
            for (const auto& listener : std::as_const(m_listeners))
                listeners.append(listener());
            m_pool.submit(QStringLiteral("metrics"), [this, socket, gone, target, ingest, guard, listeners] {
                if (*gone)
                    return;
                QByteArray body = render(*target, ingest, guard, listeners);
                QMetaObject::invokeMethod(
                    this, [socket, body = std::move(body)] { answer(socket, body); }, Qt::QueuedConnection);
            });
        });
    m_http->route(QStringLiteral("/metrics"), QHttpServerRequest::Method::Head, [] {
        return QHttpServerResponse(QByteArrayLiteral("text/plain; version=0.0.4; charset=utf-8"), QByteArray());
    });
}

MetricsEndpoint::~MetricsEndpoint()
{
    m_pool.waitForDone();
}

bool MetricsEndpoint::listen(const QHostAddress& host, quint16 port, QString* error)
{
    auto* guard = new LimitedTcpServer(
        m_limits, QStringLiteral("/metrics"), QStringLiteral("/metrics' perfdash_http_* series"), this);
    if (!guard->listen(host, port)) {
        *error = QStringLiteral("cannot serve /metrics on %1:%2: %3")
                     .arg(host.toString())
                     .arg(port)
                     .arg(guard->errorString());
        delete guard;
        return false;
    }
    connect(guard, &LimitedTcpServer::limitHit, this, &MetricsEndpoint::problem);
    m_guard = guard;
    m_http->bind(guard); // the HTTP server takes ownership
    return true;
}

void MetricsEndpoint::answer(QTcpSocket* socket, const QByteArray& body)
{
    if (!socket || socket->state() != QAbstractSocket::ConnectedState)
        return; // the scraper hung up while its answer was rendered
    socket->write(QByteArrayLiteral("HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
                                    "Content-Length: ")
        + QByteArray::number(body.size()) + QByteArrayLiteral("\r\n\r\n"));
    socket->write(body);
}

quint16 MetricsEndpoint::port() const
{
    return m_guard ? m_guard->serverPort() : 0;
}

LimitedTcpServer::Stats MetricsEndpoint::httpStats() const
{
    return m_guard ? m_guard->stats() : LimitedTcpServer::Stats {};
}

void MetricsEndpoint::addListener(std::function<ListenerRefusals()> refusals)
{
    m_listeners.append(std::move(refusals));
}

QByteArray MetricsEndpoint::render(const MetricsStore& store, const IngestServer* ingest, const LimitedTcpServer* http,
    const QList<ListenerRefusals>& listeners)
{
    QByteArray out;
    const QList<ProcessInfo> all = store.processes();
    // A process that reconnected is several entries of the store with the same name and pid: one
    // series each would be duplicates with equal labels, which Prometheus rejects. They are one
    // process to a scraper, so their operations are summed and the newest entry gives the gauges.
    QList<QByteArray> order;
    QHash<QByteArray, QList<const ProcessInfo*>> groups;
    for (const ProcessInfo& p : all) {
        const QByteArray labels = "process=\"" + escape(p.name) + "\",pid=\"" + QByteArray::number(p.pid) + '"';
        auto& members = groups[labels];
        if (members.isEmpty())
            order.append(labels);
        members.append(&p);
    }
    out += "# HELP perfdash_operation_duration_seconds How long operations took, since perfdash started.\n"
           "# TYPE perfdash_operation_duration_seconds histogram\n";
    QByteArray errors = "# HELP perfdash_operation_errors_total Operations that failed.\n"
                        "# TYPE perfdash_operation_errors_total counter\n";
    auto histogram = std::make_unique<LatencyHistogram>();
    auto part = std::make_unique<LatencyHistogram>();
    for (const QByteArray& process : std::as_const(order)) {
        std::vector<std::shared_ptr<const PerformanceMonitor>> monitors;
        QStringList names;
        for (const ProcessInfo* p : groups.value(process)) {
            if (!p->instrumented)
                continue;
            if (auto monitor = store.sharedMonitor(p->key)) {
                names += monitor->operations();
                monitors.push_back(std::move(monitor));
            }
        }
        names.sort();
        names.erase(std::unique(names.begin(), names.end()), names.end());
        for (const QString& name : std::as_const(names)) {
            histogram->reset();
            quint64 failed = 0;
            for (const auto& monitor : monitors) {
                part->reset();
                failed += monitor->histogram(name, StatsWindow::session(), *part);
                histogram->add(*part);
            }
            const QByteArray labels = process + ",operation=\"" + escape(name) + '"';
            // A bucket counts under a bound when it starts at or below it: a value equal to a bound is
            // always under it; one up to a bucket's width (1/64) above it may be too.
            int bucket = 0;
            quint64 cumulative = 0;
            for (double bound : Bounds) {
                const auto boundNs = quint64(std::llround(bound * 1e9));
                while (bucket < LatencyHistogram::BucketCount && LatencyHistogram::bucketLowerBound(bucket) <= boundNs)
                    cumulative += histogram->countAt(bucket++);
                out += "perfdash_operation_duration_seconds_bucket{" + labels + ",le=\"" + number(bound) + "\"} "
                    + QByteArray::number(cumulative) + '\n';
            }
            out += "perfdash_operation_duration_seconds_bucket{" + labels + ",le=\"+Inf\"} "
                + QByteArray::number(histogram->count()) + '\n';
            out += "perfdash_operation_duration_seconds_sum{" + labels + "} " + number(double(histogram->sumNs()) / 1e9)
                + '\n';
            out += "perfdash_operation_duration_seconds_count{" + labels + "} " + QByteArray::number(histogram->count())
                + '\n';
            errors += "perfdash_operation_errors_total{" + labels + "} " + QByteArray::number(failed) + '\n';
        }
    }
    out += errors;
    const auto perProcess = [&](const char* name, const char* type, const char* help, const auto& value) {
        out += QByteArray("# HELP ") + name + ' ' + help + "\n# TYPE " + name + ' ' + type + '\n';
        for (const QByteArray& process : std::as_const(order)) {
            const QList<const ProcessInfo*> members = groups.value(process);
            if (const std::optional<double> v = value(members))
                out += QByteArray(name) + '{' + process + "} " + number(*v) + '\n';
        }
    };
    const auto newest = [](const auto& value) {
        return [value](const QList<const ProcessInfo*>& members) { return value(*members.constLast()); };
    };
    const auto summed = [](const auto& value) {
        return [value](const QList<const ProcessInfo*>& members) {
            double total = 0;
            for (const ProcessInfo* p : members)
                total += double(value(*p));
            return std::optional<double>(total);
        };
    };
    perProcess(
        "perfdash_process_resident_memory_bytes", "gauge", "Resident set size.", newest([](const ProcessInfo& p) {
            return p.rssBytes >= 0 ? std::optional<double>(double(p.rssBytes)) : std::nullopt;
        }));
    perProcess("perfdash_process_heap_bytes", "gauge", "Heap in use, as the process reports it.",
        newest([](const ProcessInfo& p) {
            return p.heapBytes >= 0 ? std::optional<double>(double(p.heapBytes)) : std::nullopt;
        }));
    perProcess("perfdash_process_cpu_percent", "gauge", "CPU use over the last second, 100 = one core.",
        newest([](const ProcessInfo& p) { return p.cpuPercent; }));
    perProcess("perfdash_process_up", "gauge", "1 while the process is connected or sampled, 0 once it has exited.",
        newest([](const ProcessInfo& p) {
            return std::optional<double>(
                p.state == ProcessInfo::State::Live || p.state == ProcessInfo::State::ProcOnly ? 1.0 : 0.0);
        }));
    perProcess("perfdash_process_dropped_total", "counter",
        "What perfdash or the client could not count for the process: lost operations, dropped events, names over the "
        "limit, malformed input, refused values.",
        summed([](const ProcessInfo& p) { return p.drops(); }));

    // perfdash's own state: what it holds and what it refused.
    const auto self = [&](const char* name, const char* type, const char* help,
                          const QList<std::pair<QByteArray, double>>& values) {
        out += QByteArray("# HELP ") + name + ' ' + help + "\n# TYPE " + name + ' ' + type + '\n';
        for (const auto& [labels, value] : values)
            out += QByteArray(name) + (labels.isEmpty() ? QByteArray() : QByteArray('{' + labels + '}')) + ' '
                + number(value) + '\n';
    };
    const auto inState = [&](ProcessInfo::State state) {
        return double(
            std::count_if(all.begin(), all.end(), [state](const ProcessInfo& p) { return p.state == state; }));
    };
    self("perfdash_processes", "gauge", "Processes the dashboard holds, by state.",
        { { "state=\"live\"", inState(ProcessInfo::State::Live) },
            { "state=\"exited\"", inState(ProcessInfo::State::Exited) },
            { "state=\"attached\"", inState(ProcessInfo::State::ProcOnly) },
            { "state=\"error\"", inState(ProcessInfo::State::Error) } });
    const MetricsStore::Refusals refusals = store.refusals();
    self("perfdash_refused_total", "counter",
        "Data the store refused, by reason (each also counted per process where it has one).",
        { { "reason=\"process_limit\"", double(refusals.processLimit) },
            { "reason=\"counter_limit\"", double(refusals.counterLimit) },
            { "reason=\"gauge_limit\"", double(refusals.gaugeLimit) },
            { "reason=\"invalid_value\"", double(refusals.invalidValues) } });
    if (ingest) {
        const IngestServer::Stats st = ingest->stats();
        self("perfdash_ingest_connections", "gauge", "Connections to the ingest socket open now.",
            { { {}, double(st.connections) } });
        self("perfdash_ingest_connections_max", "gauge",
            "Connections the ingest socket holds at once (from ulimit -n).", { { {}, double(st.maxConnections) } });
        self("perfdash_ingest_connections_accepted_total", "counter", "Connections accepted on the ingest socket.",
            { { {}, double(st.accepted) } });
        self("perfdash_ingest_connections_refused_total", "counter",
            "Connections refused on the ingest socket, by reason (with accepted: every connection tried).",
            { { "reason=\"limit\"", double(st.refusedLimit) },
                { "reason=\"descriptors\"", double(st.refusedDescriptors) },
                { "reason=\"uid\"", double(st.refusedUid) } });
        self("perfdash_ingest_connections_rejected_total", "counter",
            "Accepted connections the dashboard closed, by reason: process_limit (told REJECT: it holds its limit of "
            "live processes), version (a protocol version it does not speak), protocol (not a perfdash client, "
            "framing lost, a line over 1 MiB).",
            { { "reason=\"process_limit\"", double(st.rejectedProcessLimit) },
                { "reason=\"version\"", double(st.rejectedVersion) },
                { "reason=\"protocol\"", double(st.closedProtocol) } });
        self("perfdash_ingest_messages_total", "counter", "Messages decoded from the ingest socket.",
            { { {}, double(st.messages) } });
        self("perfdash_ingest_bytes_total", "counter", "Bytes read from the ingest socket.",
            { { {}, double(st.bytes) } });
    }
    if (http) {
        const LimitedTcpServer::Stats st = http->stats();
        self("perfdash_http_connections", "gauge", "HTTP connections to /metrics open now.",
            { { {}, double(st.open) } });
        self("perfdash_http_connections_refused_total", "counter", "HTTP connections refused, by reason.",
            { { "reason=\"limit\"", double(st.refusedLimit) },
                { "reason=\"descriptors\"", double(st.refusedDescriptors) } });
        self("perfdash_http_requests_timed_out_total", "counter",
            "HTTP connections closed for not completing a request in time.", { { {}, double(st.timedOut) } });
        self("perfdash_http_requests_too_large_total", "counter", "HTTP requests refused for their size (413).",
            { { {}, double(st.oversized) } });
    }
    // Every other listener (OTLP): the same names under its own prefix.
    for (const ListenerRefusals& l : listeners) {
        const QByteArray prefix = "perfdash_" + l.name;
        const auto series = [&](const QByteArray& suffix, const char* type, const QByteArray& help,
                                const QList<std::pair<QByteArray, double>>& values) {
            const QByteArray name = prefix + suffix;
            self(name.constData(), type, help.constData(), values);
        };
        series(
            "_connections", "gauge", "Connections to " + l.title.toUtf8() + " open now.", { { {}, double(l.open) } });
        series("_connections_accepted_total", "counter", "Connections " + l.title.toUtf8() + " accepted.",
            { { {}, double(l.accepted) } });
        QList<std::pair<QByteArray, double>> reasons;
        for (const ListenerRefusals::Reason& r : l.reasons)
            reasons.append({ "reason=\"" + r.label + '"', double(r.count) });
        series("_refused_total", "counter", "Connections and requests " + l.title.toUtf8() + " refused, by reason.",
            reasons);
        if (!l.rejectedItems.isEmpty()) {
            QList<std::pair<QByteArray, double>> items;
            for (const ListenerRefusals::Reason& r : l.rejectedItems)
                items.append({ "kind=\"" + r.label + '"', double(r.count) });
            series("_rejected_total", "counter",
                "Items inside accepted requests " + l.title.toUtf8() + " refused, by kind.", items);
        }
    }
    return out;
}

} // namespace perfdash
