// SPDX-License-Identifier: GPL-3.0-or-later
#include "app/headlesstable.h"

#include "core/metricsstore.h"
#include "http/metricsendpoint.h"
#include "http/refusalsummary.h"
#include "ipc/ingestserver.h"
#include "models/format.h"
#include "otlp/otlpreceiver.h"

#include <QTextStream>

#include <algorithm>

namespace perfdash {

namespace {
QString stateName(const ProcessInfo& p)
{
    switch (p.state) {
    case ProcessInfo::State::Live:
        return QStringLiteral("live");
    case ProcessInfo::State::Exited:
        return QStringLiteral("exited");
    case ProcessInfo::State::ProcOnly:
        return QStringLiteral("/proc");
    case ProcessInfo::State::Error:
        return QStringLiteral("error");
    }
    return {};
}

} // namespace

void printTable(QTextStream& out, const MetricsStore& store, const IngestServer& server, const MetricsEndpoint& metrics,
    const OtlpReceiver& otlp, const QList<ListenerRefusals>& others)
{
    out << QStringLiteral("%1  %2  %3  %4  %5  %6\n")
               .arg(QStringLiteral("PID"), 8)
               .arg(QStringLiteral("PROCESS"), -18)
               .arg(QStringLiteral("STATE"), -6)
               .arg(QStringLiteral("OPS/S"), 9)
               .arg(QStringLiteral("RSS"), 10)
               .arg(QStringLiteral("CPU"), 7);
    for (const ProcessInfo& p : store.processes()) {
        out << QStringLiteral("%1  %2  %3  %4  %5  %6\n")
                   .arg(p.pid, 8)
                   .arg(p.name.left(18), -18)
                   .arg(stateName(p), -6)
                   .arg(p.instrumented ? QString::number(p.operationsPerSecond, 'f', 0) : QStringLiteral("-"), 9)
                   .arg(p.rssBytes >= 0 ? QStringLiteral("%1 MiB").arg(double(p.rssBytes) / 1048576.0, 0, 'f', 1)
                                        : QStringLiteral("-"),
                       10)
                   .arg(p.cpuPercent ? QStringLiteral("%1%").arg(*p.cpuPercent, 0, 'f', 1) : QStringLiteral("-"), 7);
        if (!p.reason.isEmpty() && p.state != ProcessInfo::State::Live)
            out << QStringLiteral("          %1\n").arg(p.reason);
        if (!p.instrumented)
            continue;
        const auto monitor = store.sharedMonitor(p.key); // an exited process may be evicted meanwhile
        if (!monitor)
            continue;
        QList<OperationStats> ops = monitor->allStats(StatsWindow::last(10));
        std::sort(ops.begin(), ops.end(), [](const auto& a, const auto& b) { return a.count > b.count; });
        for (const OperationStats& s : ops.mid(0, 6)) {
            out << QStringLiteral("          %1 %2/10s  p50 %3  p99 %4  max %5  errors %6%\n")
                       .arg(s.operation.left(24), -24)
                       .arg(s.count, 8)
                       .arg(formatDuration(s.p50Ns), 9)
                       .arg(formatDuration(s.p99Ns), 9)
                       .arg(formatDuration(s.maxNs), 9)
                       .arg(s.errorRate * 100, 0, 'f', 1);
        }
        if (p.drops() > 0)
            out << QStringLiteral(
                "          drops %1 (lost %2, events %3, names over the limit %4, malformed %5, refused values %6)%7\n")
                       .arg(p.drops())
                       .arg(p.lostOperations)
                       .arg(p.droppedEvents)
                       .arg(p.droppedOperations)
                       .arg(p.malformed)
                       .arg(p.refusedValues)
                       .arg(p.lastProblem.isEmpty() ? QString() : QStringLiteral(": ") + p.lastProblem);
    }
    if (const QString refusals = refusalSummary(
            store, server.stats(), metrics.httpStats(), QList<ListenerRefusals> { otlp.refusals() } + others);
        !refusals.isEmpty())
        out << refusals << '\n';
    out << Qt::endl;
}

} // namespace perfdash
