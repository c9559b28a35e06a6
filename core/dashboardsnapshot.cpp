// SPDX-License-Identifier: GPL-3.0-or-later
#include "dashboardsnapshot.h"

#include <QDateTime>
#include <QDir>
#include <QFile>

#include <sys/stat.h>
#include <unistd.h>

namespace perfdash {

SnapshotPtr buildSnapshot(const MetricsStore& store, const SnapshotRequest& request)
{
    auto s = std::make_shared<DashboardSnapshot>();
    s->job = request.job;
    s->takenAtMs = store.clock()->wallMs(); // a capture's end, or now
    s->processes = store.processes();
    const Thresholds limits = store.thresholds();
    const auto violations = store.budgetViolations();
    s->violations = int(violations.size());
    for (const ProcessInfo& p : std::as_const(s->processes)) {
        if (!p.instrumented || (request.processFilter && request.processFilter != p.key))
            continue;
        PerformanceMonitor* monitor = store.monitor(p.key);
        if (request.groupByPrefix) {
            // One merged row per first name component shared by two or more operations, as the
            // seeds' scopes group them: "api.*" holds api.users.list, api.users.get, ...
            QHash<QString, int> prefixes;
            for (const QString& name : monitor->operations()) {
                if (const qsizetype dot = name.indexOf(u'.'); dot > 0)
                    ++prefixes[name.left(dot + 1)];
            }
            for (auto it = prefixes.cbegin(); it != prefixes.cend(); ++it) {
                if (it.value() < 2)
                    continue;
                if (auto merged = monitor->aggregateStats(it.key(), request.window)) {
                    OperationRow row { p.key, p.pid, p.name, std::move(*merged), false, std::nullopt, true };
                    row.stats.operation = it.key() + u'*';
                    s->operations.append(std::move(row));
                }
            }
        }
        for (OperationStats& stats : monitor->allStats(request.window)) {
            OperationRow row;
            row.processKey = p.key;
            row.pid = p.pid;
            row.process = p.name;
            row.slow = limits.slowNs && stats.count && stats.maxNs >= limits.slowNs;
            for (const auto& [key, v] : violations) {
                if (key == p.key && v.operation == stats.operation) {
                    row.violation = v; // worst first
                    break;
                }
            }
            row.stats = std::move(stats);
            s->operations.append(std::move(row));
        }
    }
    const qint64 from = request.rangeMs > 0 ? s->takenAtMs - request.rangeMs : std::numeric_limits<qint64>::min();
    if (request.chartProcess && !request.chartOperation.isEmpty()) {
        if (PerformanceMonitor* monitor = store.monitor(request.chartProcess))
            s->latency = monitor->series(request.chartOperation, from, s->takenAtMs);
    }
    if (request.memoryProcess) {
        for (const MemoryRecord& r : store.memoryRecords(request.memoryProcess)) {
            if (r.timestampMs >= from)
                s->memory.append(r);
        }
    }
    return s;
}

QList<ProcessSample> listUserProcesses()
{
    QList<ProcessSample> out;
    const uid_t me = ::getuid();
    const QStringList entries = QDir(QStringLiteral("/proc")).entryList(QDir::Dirs | QDir::NoDotAndDotDot);
    for (const QString& entry : entries) {
        bool isPid = false;
        const qint64 pid = entry.toLongLong(&isPid);
        if (!isPid)
            continue;
        struct stat st {};
        if (::stat(QFile::encodeName(QStringLiteral("/proc/") + entry).constData(), &st) != 0 || (me != 0 && st.st_uid != me))
            continue;
        ProcessSample s = ProcessSampler(pid).sample();
        if (s.isValid() && !s.commandLine.isEmpty()) // kernel threads have no command line
            out.append(std::move(s));
    }
    return out;
}

} // namespace perfdash
