// SPDX-License-Identifier: GPL-3.0-or-later
#include "profiler/profiler.h"

#include <QDateTime>

#include <algorithm>

namespace perfdash {

QString kernelNote(const ProfileStats& stats)
{
    if (stats.kernelShare < 0)
        return {};
    return QStringLiteral("; %1% of its CPU in the kernel%2")
        .arg(stats.kernelShare * 100, 0, 'f', 0)
        .arg(stats.kernelSampled ? QStringLiteral(" ([kernel] frames)")
                                 : QStringLiteral(" (not sampled: user space only)"));
}

Profiler::Profiler(QObject* parent)
    : QObject(parent)
{
}

Profiler::~Profiler()
{
    stopAll();
}

ProcessProfiler* Profiler::profile(qint64 pid, QString* error)
{
    if (std::find(m_requested.begin(), m_requested.end(), pid) == m_requested.end())
        m_requested.push_back(pid);
    if (ProcessProfiler* existing = profilerFor(pid); existing && !existing->hasExited())
        return existing;
    auto profiler = std::make_unique<ProcessProfiler>(pid, m_options, m_system);
    QString why;
    if (!profiler->start(&why)) {
        m_problems.insert(pid, why);
        if (error)
            *error = why;
        Q_EMIT problem(pid, why);
        return nullptr;
    }
    m_problems.remove(pid);
    ProcessProfiler* raw = profiler.get();
    // A view's worker may still be reading the old one: it stays until the end of the session.
    if (auto old = m_profilers.find(pid); old != m_profilers.end())
        m_retired.push_back(std::move(old->second));
    m_profilers[pid] = std::move(profiler);
    Q_EMIT profilingStarted(pid);
    return raw;
}

ProcessProfiler* Profiler::profilerFor(qint64 pid) const
{
    const auto it = m_profilers.find(pid);
    return it == m_profilers.end() ? nullptr : it->second.get();
}

std::vector<ProcessProfiler*> Profiler::profilers() const
{
    std::vector<ProcessProfiler*> all;
    for (const auto& [pid, profiler] : m_profilers)
        all.push_back(profiler.get());
    return all;
}

std::vector<ProfileSnapshotPtr> Profiler::sessionSnapshots() const
{
    std::vector<ProfileSnapshotPtr> snapshots;
    for (const auto& [pid, profiler] : m_profilers) {
        profiler->waitNamed(30000); // names come on the symbolizer's thread: all of them, for an export
        snapshots.push_back(profiler->snapshot({}));
    }
    return snapshots;
}

std::vector<ProfileSnapshotPtr> Profiler::operationSnapshots(bool offCpu) const
{
    std::vector<ProfileSnapshotPtr> snapshots;
    for (const auto& [pid, profiler] : m_profilers) {
        profiler->waitNamed(30000);
        for (ProfileSnapshotPtr& s : profiler->operationSnapshots(offCpu))
            snapshots.push_back(std::move(s));
    }
    return snapshots;
}

bool Profiler::writePprof(const QString& path, QString* error) const
{
    std::vector<PprofProcess> parts;
    std::uint64_t durationNs = 0;
    for (const auto& [pid, profiler] : m_profilers) {
        profiler->waitNamed(30000);
        parts.push_back(profiler->pprofPart());
        durationNs = std::max(durationNs, parts.back().durationNs);
    }
    // When the profiles began, on the wall clock (pprof's time_nanos).
    const std::int64_t startNs = QDateTime::currentMSecsSinceEpoch() * 1'000'000 - std::int64_t(durationNs);
    return pprofexport::writeFile(path, parts, startNs, error);
}

std::vector<OperationCpu> Profiler::operationCpu(qint64 pid) const
{
    const ProcessProfiler* profiler = profilerFor(pid);
    return profiler ? profiler->operations() : std::vector<OperationCpu> {};
}

qint64 profileToShow(qint64 selectedPid, qint64 chartedPid, const std::vector<qint64>& requested)
{
    if (selectedPid > 0)
        return selectedPid;
    if (chartedPid > 0)
        return chartedPid;
    return requested.empty() ? 0 : requested.front();
}

QString Profiler::summary(int seconds, int top) const
{
    QString text;
    for (auto it = m_problems.begin(); it != m_problems.end(); ++it)
        text += QStringLiteral("  profile %1: %2\n").arg(it.key()).arg(it.value());
    for (const auto& [pid, profiler] : m_profilers) {
        ProfileQuery query;
        query.lastSeconds = seconds;
        const ProfileSnapshotPtr s = profiler->snapshot(query);
        const double all = double(std::max<std::uint64_t>(1, s->totalSamples()));
        QStringList functions;
        const std::vector<FunctionCost> costs = s->topFunctions();
        for (std::size_t i = 0; i < costs.size() && int(i) < top; ++i) {
            if (costs[i].self > 0)
                functions.append(QStringLiteral("%1 %2%")
                                     .arg(s->functions[costs[i].function].name.left(40))
                                     .arg(100.0 * double(costs[i].self) / all, 0, 'f', 1));
        }
        text += QStringLiteral("  profile %1 %2%3: %4 samples/%5s at %6 Hz (lost %7)%8%9%10\n")
                    .arg(pid)
                    .arg(s->process)
                    .arg(s->stats.exited ? QStringLiteral(" (exited)") : QString())
                    .arg(s->totalSamples())
                    .arg(seconds)
                    .arg(s->stats.frequencyHz)
                    .arg(s->stats.lost)
                    .arg(kernelNote(s->stats))
                    .arg(functions.isEmpty() ? QString() : QStringLiteral(": "))
                    .arg(functions.join(QStringLiteral(", ")));
        text += QStringLiteral("    %1\n").arg(attributionNote(s->stats));
    }
    return text;
}

QString attributionNote(const ProfileStats& stats)
{
    if (!stats.operationsTraced)
        return QStringLiteral("operations: not traced (not a perfdash client, or not asked yet)")
            + (stats.operationsProblem.isEmpty() ? QString() : QStringLiteral(": ") + stats.operationsProblem);
    QString text = QStringLiteral("operations: %1 samples inside, %2 outside, %3 waiting")
                       .arg(stats.insideOperations)
                       .arg(stats.outsideOperations)
                       .arg(stats.attributionPending);
    if (const std::uint64_t unknown = stats.unattributedTotal()) {
        QStringList reasons;
        for (int gap = 1; gap < OperationTimeline::GapCount; ++gap) {
            if (stats.unattributed[std::size_t(gap)])
                reasons << QStringLiteral("%1 %2")
                               .arg(stats.unattributed[std::size_t(gap)])
                               .arg(gapName(OperationTimeline::Gap(gap)));
        }
        text += QStringLiteral("; %1 not attributed (%2)").arg(unknown).arg(reasons.join(QStringLiteral(", ")));
    }
    if (!stats.operationsProblem.isEmpty())
        text += QStringLiteral("; ") + stats.operationsProblem;
    return text;
}

void Profiler::stopAll()
{
    for (auto& [pid, profiler] : m_profilers)
        profiler->stop();
}

} // namespace perfdash
