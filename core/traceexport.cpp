// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/traceexport.h"

#include "core/errors.h"

#include <QIODevice>
#include <QJsonDocument>
#include <QJsonObject>
#include <QSet>

#include "core/atomicfile.h"

namespace perfdash::traceexport {

namespace {
/// Streams one event object per call, comma-separated, so a large trace is never held whole.
class EventWriter
{
public:
    explicit EventWriter(QIODevice* device)
        : m_device(device)
    {
        m_ok = m_device->write("{\"displayTimeUnit\":\"ms\",\"traceEvents\":[\n") > 0;
    }
    void add(const QJsonObject& event)
    {
        if (!m_ok)
            return;
        QByteArray line = QJsonDocument(event).toJson(QJsonDocument::Compact);
        if (m_count++ > 0)
            line.prepend(",\n");
        m_ok = m_device->write(line) == line.size();
    }
    bool finish() { return m_ok && m_device->write("\n]}\n") > 0; }

private:
    QIODevice* m_device;
    qint64 m_count = 0;
    bool m_ok = true;
};

QJsonObject metadata(const char* name, qint64 pid, qint64 tid, const QString& value)
{
    return QJsonObject { { QStringLiteral("ph"), QStringLiteral("M") }, { QStringLiteral("name"), QLatin1String(name) },
        { QStringLiteral("pid"), pid }, { QStringLiteral("tid"), tid },
        { QStringLiteral("args"), QJsonObject { { QStringLiteral("name"), value } } } };
}
} // namespace

bool write(const MetricsStore& store, QIODevice* device)
{
    EventWriter out(device);
    for (const ProcessInfo& p : store.processes()) {
        out.add(metadata("process_name", p.pid, 0, QStringLiteral("%1 (%2)").arg(p.name).arg(p.pid)));
        QSet<quintptr> threads;
        if (const auto monitor = p.instrumented ? store.sharedMonitor(p.key) : nullptr) {
            for (const OperationSample& s : monitor->exportSamples()) {
                const qint64 tid = qint64(s.threadId);
                if (!threads.contains(s.threadId)) {
                    threads.insert(s.threadId);
                    out.add(metadata("thread_name", p.pid, tid, QStringLiteral("thread %1").arg(tid)));
                }
                QJsonObject args = QJsonObject::fromVariantMap(s.metadata);
                args.insert(QStringLiteral("ok"), s.ok);
                const double durationUs = double(s.durationNs) / 1000.0;
                out.add(QJsonObject { { QStringLiteral("ph"), QStringLiteral("X") },
                    { QStringLiteral("name"), s.operation },
                    { QStringLiteral("cat"), s.ok ? QStringLiteral("operation") : QStringLiteral("operation,error") },
                    { QStringLiteral("pid"), p.pid }, { QStringLiteral("tid"), tid },
                    { QStringLiteral("ts"),
                        s.startNs ? double(s.startNs) / 1000.0 : double(s.timestampMs) * 1000.0 - durationUs },
                    { QStringLiteral("dur"), durationUs }, { QStringLiteral("args"), args } });
            }
        }
        for (const MemoryRecord& r : store.memoryRecords(p.key)) {
            QJsonObject values;
            if (r.rssBytes >= 0)
                values.insert(QStringLiteral("rss_bytes"), double(r.rssBytes));
            if (r.heapBytes >= 0)
                values.insert(QStringLiteral("heap_bytes"), double(r.heapBytes));
            if (!values.isEmpty())
                out.add(QJsonObject { { QStringLiteral("ph"), QStringLiteral("C") },
                    { QStringLiteral("name"), QStringLiteral("memory") }, { QStringLiteral("pid"), p.pid },
                    { QStringLiteral("tid"), 0 }, { QStringLiteral("ts"), double(r.timestampMs) * 1000.0 },
                    { QStringLiteral("args"), values } });
            if (r.cpuPercent)
                out.add(QJsonObject { { QStringLiteral("ph"), QStringLiteral("C") },
                    { QStringLiteral("name"), QStringLiteral("cpu") }, { QStringLiteral("pid"), p.pid },
                    { QStringLiteral("tid"), 0 }, { QStringLiteral("ts"), double(r.timestampMs) * 1000.0 },
                    { QStringLiteral("args"), QJsonObject { { QStringLiteral("percent"), *r.cpuPercent } } } });
        }
        // Counters and gauges are known by their latest value: one sample at the last sighting.
        const auto metric = [&](const QString& name, double value) {
            out.add(QJsonObject { { QStringLiteral("ph"), QStringLiteral("C") }, { QStringLiteral("name"), name },
                { QStringLiteral("pid"), p.pid }, { QStringLiteral("tid"), 0 },
                { QStringLiteral("ts"), double(p.lastSeenMs) * 1000.0 },
                { QStringLiteral("args"), QJsonObject { { QStringLiteral("value"), value } } } });
        };
        for (auto it = p.counters.cbegin(); it != p.counters.cend(); ++it)
            metric(it.key(), it.value());
        for (auto it = p.gauges.cbegin(); it != p.gauges.cend(); ++it)
            metric(it.key(), it.value());
    }
    return out.finish();
}

bool writeFile(const MetricsStore& store, const QString& path, QString* error)
{
    AtomicFile file(path);
    if (!file.open(QIODevice::WriteOnly) || !write(store, &file) || !file.commit()) {
        return failWith(error, file.failure());
    }
    return true;
}

} // namespace perfdash::traceexport
