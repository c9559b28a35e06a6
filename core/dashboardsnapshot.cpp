// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/dashboardsnapshot.h"

#include "core/processlist.h"

#include <tuple>

namespace perfdash {

namespace {
/// The operations a chart target stands for: itself, or every one under a group's prefix.
QStringList operationsOf(const PerformanceMonitor& monitor, const QString& operation, bool group)
{
    return group ? monitor.operations(operation.chopped(1)) : QStringList { operation };
}

std::vector<SeriesPoint> seriesOf(
    const PerformanceMonitor& monitor, const QString& operation, bool group, qint64 from, qint64 to)
{
    // A group has no series of its own: its per-second histograms are merged (the last
    // StatsWindow::MaxSeconds, the seconds still held).
    return group ? mergedSeries(monitor, operationsOf(monitor, operation, true), from, to)
                 : monitor.series(operation, from, to);
}
} // namespace

ChartTarget costliestOperation(const QList<OperationRow>& rows, const ChartTarget& current)
{
    const auto total = [](const OperationRow& r) { return r.stats.meanNs * double(r.stats.count); };
    const OperationRow* top = nullptr;
    double currentTotal = -1;
    for (const OperationRow& row : rows) {
        if (row.group || row.stats.count == 0)
            continue;
        if (!current.group && row.processKey == current.processKey && row.stats.operation == current.operation)
            currentTotal = total(row);
        // Ties go to the smaller process key and name: the same answer at every refresh.
        if (!top || total(row) > total(*top)
            || (total(row) == total(*top)
                && std::tie(row.processKey, row.stats.operation) < std::tie(top->processKey, top->stats.operation)))
            top = &row;
    }
    if (!top)
        return {};
    if (currentTotal >= 0 && total(*top) <= currentTotal * SnapshotRequest::CostliestMargin)
        return current;
    return ChartTarget { top->processKey, top->stats.operation, false };
}

SnapshotPtr buildSnapshot(const MetricsStore& store, const SnapshotRequest& request)
{
    auto s = std::make_shared<DashboardSnapshot>();
    s->job = request.job;
    s->takenAtMs = store.clock()->wallMs(); // a capture's end, or now
    s->processes = store.processes();
    const Thresholds limits = store.thresholds();
    const auto violations = store.budgetViolations();
    const bool ranged = request.statsToMs > request.statsFromMs && request.statsFromMs > 0;
    s->violations = int(violations.size());
    for (const ProcessInfo& p : std::as_const(s->processes)) {
        if (!p.instrumented || (request.processFilter && request.processFilter != p.key))
            continue;
        const auto monitor = store.sharedMonitor(p.key); // held: eviction may happen meanwhile
        if (!monitor)
            continue;
        if (request.groupByPrefix) {
            // One merged row per first name component shared by two or more operations, as the
            // the monitor API's scopes group them: "api.*" holds api.users.list, api.users.get, ...
            QHash<QString, int> prefixes;
            for (const QString& name : monitor->operations()) {
                if (const qsizetype dot = name.indexOf(u'.'); dot > 0)
                    ++prefixes[name.left(dot + 1)];
            }
            for (auto it = prefixes.cbegin(); it != prefixes.cend(); ++it) {
                if (it.value() < 2)
                    continue;
                auto merged = ranged ? rangeStats(*monitor, monitor->operations(it.key()), it.key(),
                                  request.statsFromMs, request.statsToMs, &s->statsRangeBeyondHeld)
                                     : monitor->aggregateStats(it.key(), request.window);
                if (merged) {
                    OperationRow row { p.key, p.pid, p.name, std::move(*merged), false, std::nullopt, true };
                    row.stats.operation = it.key() + u'*';
                    s->operations.append(std::move(row));
                }
            }
        }
        QList<OperationStats> all;
        if (ranged) {
            // A range chosen on the charts: each operation's per-second histograms of that range.
            for (const QString& name : monitor->operations()) {
                if (auto stats = rangeStats(
                        *monitor, { name }, name, request.statsFromMs, request.statsToMs, &s->statsRangeBeyondHeld))
                    all.append(std::move(*stats));
            }
        } else {
            all = monitor->allStats(request.window);
        }
        for (OperationStats& stats : all) {
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
    s->charted = ChartTarget { request.chartProcess, request.chartOperation, request.chartGroup };
    if (request.chartCostliest)
        s->charted = costliestOperation(s->operations, s->charted);
    const ChartTarget& chart = s->charted;
    if (chart.processKey && !chart.operation.isEmpty()) {
        if (const auto monitor = store.sharedMonitor(chart.processKey)) {
            s->latency = seriesOf(*monitor, chart.operation, chart.group, from, s->takenAtMs);
            if (request.heatmap) {
                const qint64 now = s->takenAtMs / 1000;
                const qint64 first = std::max(now - StatsWindow::MaxSeconds + 1, from / 1000);
                s->heatmap
                    = buildLatencyHeatmap(*monitor, operationsOf(*monitor, chart.operation, chart.group), first, now);
            }
        }
    }
    for (const ChartTarget& target : request.compare) {
        const auto monitor = store.sharedMonitor(target.processKey);
        s->compared.push_back(monitor ? seriesOf(*monitor, target.operation, target.group, from, s->takenAtMs)
                                      : std::vector<SeriesPoint> {});
    }
    const auto memoryOf = [&](quint64 key) {
        QList<MemoryRecord> out;
        for (const MemoryRecord& r : store.memoryRecords(key)) {
            if (r.timestampMs >= from)
                out.append(r);
        }
        return out;
    };
    // The charted process's memory when no process was asked for (the costliest operation's).
    if (const quint64 memoryProcess = request.memoryProcess ? request.memoryProcess : chart.processKey)
        s->memory = memoryOf(memoryProcess);
    for (quint64 key : request.memoryProcesses)
        s->memories.append(key == request.memoryProcess ? s->memory : memoryOf(key));
    return s;
}

QList<ProcessSample> listUserProcesses()
{
    return ProcessList().read(0); // no process has pid 0: none is left out
}

} // namespace perfdash
