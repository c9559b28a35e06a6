// SPDX-License-Identifier: GPL-3.0-or-later
#include "metricsendpoint.h"

#include "metricsstore.h"

#include <QPointer>
#include <QTcpServer>
#include <QTcpSocket>

namespace perfdash {

namespace {
    constexpr qint64 MaxRequestBytes = 8 * 1024;
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

    QByteArray response(int status, const QByteArray& reason, const QByteArray& type, const QByteArray& body)
    {
        return "HTTP/1.1 " + QByteArray::number(status) + ' ' + reason + "\r\nContent-Type: " + type
            + "\r\nContent-Length: " + QByteArray::number(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
    }
} // namespace

MetricsEndpoint::MetricsEndpoint(MetricsStore* store, QObject* parent)
    : QObject(parent)
    , m_store(store)
    , m_server(new QTcpServer(this))
    , m_pool(1)
{
    connect(m_server, &QTcpServer::newConnection, this, &MetricsEndpoint::accept);
}

MetricsEndpoint::~MetricsEndpoint()
{
    m_pool.waitForDone();
}

bool MetricsEndpoint::parseAddress(const QString& text, QHostAddress* host, quint16* port, QString* error)
{
    const qsizetype colon = text.lastIndexOf(u':');
    const QString hostText = colon >= 0 ? text.left(colon) : QStringLiteral("127.0.0.1");
    bool ok = false;
    const uint p = (colon >= 0 ? text.mid(colon + 1) : text).toUInt(&ok);
    if (!ok || p > 65535) {
        *error = QStringLiteral("--prometheus needs HOST:PORT or PORT, not '%1'").arg(text);
        return false;
    }
    const QString bare = hostText.startsWith(u'[') && hostText.endsWith(u']') ? hostText.mid(1, hostText.size() - 2) : hostText;
    if (bare == QLatin1String("localhost"))
        *host = QHostAddress(QHostAddress::LocalHost);
    else if (!host->setAddress(bare)) {
        *error = QStringLiteral("--prometheus: '%1' is not an IP address").arg(hostText);
        return false;
    }
    *port = quint16(p);
    return true;
}

bool MetricsEndpoint::listen(const QHostAddress& host, quint16 port, QString* error)
{
    if (!m_server->listen(host, port)) {
        *error = QStringLiteral("cannot serve /metrics on %1:%2: %3").arg(host.toString()).arg(port).arg(m_server->errorString());
        return false;
    }
    return true;
}

quint16 MetricsEndpoint::port() const
{
    return m_server->serverPort();
}

void MetricsEndpoint::accept()
{
    while (QTcpSocket* socket = m_server->nextPendingConnection()) {
        connect(socket, &QTcpSocket::readyRead, this, [this, socket] { read(socket); });
        connect(socket, &QTcpSocket::disconnected, socket, &QObject::deleteLater);
    }
}

void MetricsEndpoint::read(QTcpSocket* socket)
{
    if (socket->property("answered").toBool())
        return;
    QByteArray request = socket->property("request").toByteArray() + socket->read(MaxRequestBytes);
    if (request.size() > MaxRequestBytes) {
        socket->setProperty("answered", true);
        socket->write(response(431, "Request Header Fields Too Large", "text/plain", "request too large\n"));
        socket->disconnectFromHost();
        return;
    }
    socket->setProperty("request", request);
    if (!request.contains("\r\n\r\n") && !request.contains("\n\n"))
        return; // the headers are not complete yet
    socket->setProperty("answered", true);
    const QList<QByteArray> line = request.left(request.indexOf('\n')).trimmed().split(' ');
    const bool get = line.size() >= 2 && (line[0] == "GET" || line[0] == "HEAD");
    const QByteArray path = line.size() >= 2 ? line[1].split('?').constFirst() : QByteArray();
    if (!get || path != "/metrics") {
        socket->write(response(404, "Not Found", "text/plain", "perfdash serves /metrics only\n"));
        socket->disconnectFromHost();
        return;
    }
    const bool head = line[0] == "HEAD";
    MetricsStore* store = m_store;
    QPointer<QTcpSocket> guard(socket);
    m_pool.submit(QStringLiteral("metrics"), [store] { return render(*store); }).then(this, [guard, head](const QByteArray& body) {
        if (!guard)
            return;
        QByteArray reply = response(200, "OK", "text/plain; version=0.0.4; charset=utf-8", body);
        if (head)
            reply.chop(body.size());
        guard->write(reply);
        guard->disconnectFromHost();
    });
}

QByteArray MetricsEndpoint::render(const MetricsStore& store)
{
    QByteArray out;
    const QList<ProcessInfo> processes = store.processes();
    out += "# HELP perfdash_operation_duration_seconds How long operations took, since perfdash started.\n"
           "# TYPE perfdash_operation_duration_seconds histogram\n";
    QByteArray errors = "# HELP perfdash_operation_errors_total Operations that failed.\n"
                        "# TYPE perfdash_operation_errors_total counter\n";
    auto histogram = std::make_unique<LatencyHistogram>();
    for (const ProcessInfo& p : processes) {
        if (!p.instrumented)
            continue;
        const PerformanceMonitor* monitor = store.monitor(p.key);
        const QByteArray process = "process=\"" + escape(p.name) + "\",pid=\"" + QByteArray::number(p.pid) + '"';
        for (const QString& name : monitor->operations()) {
            const quint64 failed = monitor->histogram(name, StatsWindow::session(), *histogram);
            const QByteArray labels = process + ",operation=\"" + escape(name) + '"';
            // A log-linear bucket is counted under a bound when all of it lies at or below it.
            int bucket = 0;
            quint64 cumulative = 0;
            for (double bound : Bounds) {
                const auto boundNs = quint64(bound * 1e9);
                while (bucket < LatencyHistogram::BucketCount
                    && LatencyHistogram::bucketLowerBound(bucket) + LatencyHistogram::bucketWidth(bucket) - 1 <= boundNs)
                    cumulative += histogram->countAt(bucket++);
                out += "perfdash_operation_duration_seconds_bucket{" + labels + ",le=\"" + number(bound) + "\"} "
                    + QByteArray::number(cumulative) + '\n';
            }
            out += "perfdash_operation_duration_seconds_bucket{" + labels + ",le=\"+Inf\"} "
                + QByteArray::number(histogram->count()) + '\n';
            out += "perfdash_operation_duration_seconds_sum{" + labels + "} " + number(double(histogram->sumNs()) / 1e9) + '\n';
            out += "perfdash_operation_duration_seconds_count{" + labels + "} " + QByteArray::number(histogram->count()) + '\n';
            errors += "perfdash_operation_errors_total{" + labels + "} " + QByteArray::number(failed) + '\n';
        }
    }
    out += errors;
    const auto gauge = [&](const char* name, const char* help, const auto& value) {
        out += QByteArray("# HELP ") + name + ' ' + help + "\n# TYPE " + name + " gauge\n";
        for (const ProcessInfo& p : processes) {
            if (const std::optional<double> v = value(p))
                out += QByteArray(name) + "{process=\"" + escape(p.name) + "\",pid=\"" + QByteArray::number(p.pid) + "\"} "
                    + number(*v) + '\n';
        }
    };
    gauge("perfdash_process_resident_memory_bytes", "Resident set size.",
        [](const ProcessInfo& p) { return p.rssBytes >= 0 ? std::optional<double>(double(p.rssBytes)) : std::nullopt; });
    gauge("perfdash_process_heap_bytes", "Heap in use, as the process reports it.",
        [](const ProcessInfo& p) { return p.heapBytes >= 0 ? std::optional<double>(double(p.heapBytes)) : std::nullopt; });
    gauge("perfdash_process_cpu_percent", "CPU use over the last second, 100 = one core.",
        [](const ProcessInfo& p) { return p.cpuPercent; });
    gauge("perfdash_process_up", "1 while the process is connected or sampled, 0 once it has exited.",
        [](const ProcessInfo& p) {
            return std::optional<double>(p.state == ProcessInfo::State::Live || p.state == ProcessInfo::State::ProcOnly ? 1.0 : 0.0);
        });
    return out;
}

} // namespace perfdash
