// SPDX-License-Identifier: GPL-3.0-or-later
#include "run/runend.h"

#include "capture/capture.h"
#include "core/csvexport.h"
#include "core/headlessgate.h"
#include "core/metricsstore.h"
#include "core/traceexport.h"
#include "http/metricsendpoint.h"
#include "http/refusalsummary.h"
#include "ipc/ingestserver.h"
#include "otlp/otlpreceiver.h"
#include "profiler/foldedexport.h"
#include "profiler/heapprofiler.h"
#include "profiler/processprofiler.h"
#include "profiler/profiler.h"
#include "run/capturedprofiles.h"
#include "toolkit/workerpool.h"

#include <QProcess>

#include <deque>

#include <utility>

namespace perfdash {

RunEnd::RunEnd(const RunParts& parts, RunOutputs outputs, Say say)
    : m_parts(parts)
    , m_outputs(std::move(outputs))
    , m_say(std::move(say))
    , m_commandStatus(HeadlessGate::Ok)
{
    Q_ASSERT(m_parts.store);
}

void RunEnd::addChild(QProcess* child, bool isCommand)
{
    m_children.push_back(child);
    if (isCommand)
        m_command = child;
}

void RunEnd::commandEnded(bool crashed, int exitCode)
{
    if (!m_finished && m_commandStatus == HeadlessGate::Ok)
        m_commandStatus = HeadlessGate::commandStatus(crashed, exitCode);
}

int RunEnd::finish(int exitCode)
{
    if (std::exchange(m_finished, true))
        return m_exitCode;
    m_exitCode = exitCode;
    for (const RunListener& listener : m_parts.listeners) {
        if (listener.close)
            listener.close(); // OTLP/gRPC first: its last calls are applied on the OTLP receiver's thread
    }
    if (m_parts.otlp)
        m_parts.otlp->close(); // what it accepted is in the store; nothing arrives during the exports
    // The command ended by itself if it is no longer running before the children are stopped.
    if (m_command && m_command->state() == QProcess::NotRunning && m_commandStatus == HeadlessGate::Ok)
        m_commandStatus
            = HeadlessGate::commandStatus(m_command->exitStatus() == QProcess::CrashExit, m_command->exitCode());
    // The live heap at the end: of a program still running, what it holds before it is stopped
    // (its exit frees it); of one that ended by itself, what it never freed.
    std::vector<ProfileSnapshotPtr> heaps = liveHeaps();
    stopChildren();
    if (m_parts.profiler)
        m_parts.profiler->stopAll(); // the children are gone: what their buffers still hold is read now
    if (m_parts.heapProfiler)
        m_parts.heapProfiler->poll(); // and what their heap channels still hold (the heap column's last value)
    QString refusals; // before close() resets the counts
    if (m_parts.live && m_parts.server && m_parts.metrics && m_parts.otlp) {
        QList<ListenerRefusals> listeners { m_parts.otlp->refusals() };
        for (const RunListener& listener : m_parts.listeners) {
            if (listener.refusals)
                listeners.append(listener.refusals());
        }
        refusals = refusalSummary(*m_parts.store, m_parts.server->stats(), m_parts.metrics->httpStats(), listeners);
    }
    if (m_parts.server)
        m_parts.server->close(); // applies what is still in flight
    if (m_parts.live) {
        checkBudgetsAndRefusals(refusals);
        m_parts.store->sampleProcesses();
    }
    m_parts.store->stop();
    finishCapture(heaps);
    writeExports(std::move(heaps));
    m_exitCode = HeadlessGate::exitStatus(m_exitCode, m_commandStatus); // the command's own failure comes first
    return m_exitCode;
}

std::vector<ProfileSnapshotPtr> RunEnd::liveHeaps() const
{
    std::vector<ProfileSnapshotPtr> heaps;
    if (!m_parts.heapProfiler)
        return heaps;
    m_parts.heapProfiler->poll();
    if (!m_outputs.heapTracking)
        return heaps;
    const auto processes = m_parts.store->processes();
    for (const ProfileSnapshotPtr& h : m_parts.heapProfiler->snapshots(HeapView::Live)) {
        // A client's hello names it as the tables do ("orders-api"); else the program's file name
        // stays (/proc's comm is cut at 15 characters).
        auto named = std::make_shared<ProfileSnapshot>(*h);
        for (const ProcessInfo& p : processes) {
            if (p.pid == h->pid && p.state == ProcessInfo::State::Live && !p.name.isEmpty())
                named->process = p.name;
        }
        heaps.push_back(std::move(named));
    }
    return heaps;
}

void RunEnd::stopChildren()
{
    for (QProcess* child : m_children) {
        if (child->state() != QProcess::NotRunning) {
            child->terminate(); // lets the client library send its last interval
            if (!child->waitForFinished(3000))
                child->kill();
        }
    }
}

void RunEnd::checkBudgetsAndRefusals(const QString& refusals)
{
    const QStringList broken = HeadlessGate::brokenBudgets(*m_parts.store);
    for (const QString& line : broken)
        m_say(line);
    if (!broken.isEmpty() && m_exitCode == 0)
        m_exitCode = HeadlessGate::BudgetBroken;
    if (m_parts.profiler && m_parts.profiler->refusedCount() > 0
        && (m_exitCode == 0 || m_exitCode == HeadlessGate::BudgetBroken))
        m_exitCode = HeadlessGate::ProfileRefused; // said on stderr when it happened
    if (!refusals.isEmpty())
        m_say(refusals);
}

void RunEnd::finishCapture(const std::vector<ProfileSnapshotPtr>& heaps)
{
    if (m_outputs.capture.isEmpty() || !m_parts.recorder)
        return;
    if (QString incomplete; !m_parts.recorder->finish(&incomplete)) { // what the capture misses, if anything
        m_say(incomplete);
        m_exitCode = 1;
    }
    // The capture keeps the profiles too (a table of their own): every one taken, by --profile or
    // started from the window's Profile button, and the heaps.
    QList<CapturedProfile> captured
        = m_parts.profiler ? capturedProfiles(m_parts.profiler->profilers()) : QList<CapturedProfile> {};
    addCapturedHeaps(&captured, heaps);
    if (captured.isEmpty())
        return;
    if (QString error; !writeCaptureProfiles(m_outputs.capture, captured, &error)) {
        m_say(error);
        m_exitCode = 1;
    }
}

void RunEnd::writeExports(std::vector<ProfileSnapshotPtr> heaps)
{
    // Copies taken here; the files are written on the worker pool.
    MetricsStore& store = *m_parts.store;
    auto statistics = store.statistics();
    for (ProcessStatistics& p : statistics) { // cpu_us and cpu_share, where its operations were profiled
        const ProcessProfiler* profiled = m_parts.profiler ? m_parts.profiler->profilerFor(p.pid) : nullptr;
        p.profiled = profiled && profiled->stats().operationsTraced;
        for (const OperationCpu& op : p.profiled ? profiled->operations() : std::vector<OperationCpu> {})
            p.cpu.insert(op.operation, { double(op.cpuNs) / 1000.0, op.cpuShare() });
    }
    const auto series = store.series();
    const auto memory = store.memoryRecords();
    WorkerPool pool(2);
    QList<QFuture<bool>> writes;
    std::deque<QString> reasons; // one per file, written by its job when it fails
    const auto submit = [&](std::function<bool(QString*)> write) {
        QString* why = &reasons.emplace_back();
        writes.append(pool.submit(QStringLiteral("export"), [write = std::move(write), why] { return write(why); }));
    };
    const auto csv = [&](const QString& path, std::function<void(CsvWriter&)> rows) {
        if (!path.isEmpty())
            submit([path, rows = std::move(rows)](QString* error) { return csvexport::writeFile(path, rows, error); });
    };
    csv(m_outputs.statisticsCsv, [&statistics](CsvWriter& w) { csvexport::writeStatistics(w, statistics); });
    csv(m_outputs.seriesCsv, [&series](CsvWriter& w) { csvexport::writeSeries(w, series); });
    csv(m_outputs.memoryCsv, [&memory](CsvWriter& w) { csvexport::writeMemory(w, memory); });
    if (!m_outputs.trace.isEmpty())
        submit([&store, path = m_outputs.trace](QString* error) { return traceexport::writeFile(store, path, error); });

    Profiler* profiler = m_parts.profiler;
    const bool profiled = profiler && !profiler->profilers().empty();
    const auto profileFile = [&](const QString& path, std::function<bool(const QString&, QString*)> write) {
        if (path.isEmpty())
            return;
        if (!profiled)
            m_say(QStringLiteral("%1 not written: no process was profiled").arg(path));
        else
            submit([path, write = std::move(write)](QString* error) { return write(path, error); });
    };
    profileFile(m_outputs.profile, [profiler](const QString& path, QString* error) {
        return foldedexport::writeFile(path, profiler->sessionSnapshots(), error);
    });
    profileFile(m_outputs.profileByOperation, [profiler](const QString& path, QString* error) {
        return foldedexport::writeFile(path, profiler->operationSnapshots(false), error);
    });
    profileFile(m_outputs.offCpu, [profiler](const QString& path, QString* error) {
        return foldedexport::writeFile(path, profiler->operationSnapshots(true), error);
    });
    profileFile(
        m_outputs.pprof, [profiler](const QString& path, QString* error) { return profiler->writePprof(path, error); });
    if (!m_outputs.heap.isEmpty()) {
        if (heaps.empty()) { // asked for and not written: a failed export, as --help says (status 1)
            m_say(QStringLiteral("%1 not written: no program's heap was tracked").arg(m_outputs.heap));
            m_exitCode = 1;
        } else {
            submit([heaps = std::move(heaps), path = m_outputs.heap](
                       QString* error) { return foldedexport::writeFile(path, heaps, error); });
        }
        // What is wrong or missing in the file's numbers: a wrapper's exec, child processes not tracked.
        for (const HeapTotals& t : m_parts.heapProfiler ? m_parts.heapProfiler->totals() : std::vector<HeapTotals>()) {
            if (t.reporting && !t.problem.isEmpty())
                m_say(QStringLiteral("%1: the heap of %2 (pid %3): %4")
                          .arg(m_outputs.heap, t.name)
                          .arg(t.pid)
                          .arg(t.problem));
        }
    }
    for (qsizetype i = 0; i < writes.size(); ++i) {
        if (!writes[i].result()) {
            m_say(reasons[std::size_t(i)]);
            m_exitCode = 1;
        }
    }
}

} // namespace perfdash
