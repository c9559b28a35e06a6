// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "http/listenerrefusals.h"
#include "profiler/calltree.h"

#include <QString>

#include <functional>
#include <vector>

class QProcess;

namespace perfdash {

class CaptureRecorder;
class HeapProfiler;
class IngestServer;
class MetricsEndpoint;
class MetricsStore;
class OtlpReceiver;
class Profiler;

/// The files a run writes when it ends; an empty path is a file not asked for.
struct RunOutputs
{
    QString statisticsCsv; ///< --export-csv
    QString seriesCsv; ///< --export-series
    QString memoryCsv; ///< --export-memory
    QString trace; ///< --export-trace (Chrome trace)
    QString profile; ///< --export-profile (folded stacks)
    QString profileByOperation; ///< --export-profile-by-operation
    QString offCpu; ///< --export-off-cpu
    QString pprof; ///< --export-pprof
    QString heap; ///< --export-heap
    QString capture; ///< --record: the capture the recorder writes, finished here
    bool heapTracking = false; ///< the launched programs' heaps are tracked (--heap)
};

/// A receiver besides RunParts::otlp that feeds the store (OTLP/gRPC), as the end of a run uses it:
/// a function, so that this library links none of what it is made of.
struct RunListener
{
    std::function<void()> close; ///< stops it; what it accepted is in the store when this returns
    std::function<ListenerRefusals()> refusals; ///< said at the end with the others
};

/// The parts of a run its end stops and reads. The store is required; a part the run lacks is null.
struct RunParts
{
    MetricsStore* store = nullptr;
    bool live = false; ///< false: an opened capture, shown or exported as it was recorded
    IngestServer* server = nullptr;
    MetricsEndpoint* metrics = nullptr;
    OtlpReceiver* otlp = nullptr;
    Profiler* profiler = nullptr;
    HeapProfiler* heapProfiler = nullptr;
    CaptureRecorder* recorder = nullptr; ///< with RunOutputs::capture
    std::vector<RunListener> listeners {}; ///< closed first, with otlp: nothing arrives during the exports
};

/**
 * The end of a run, however it ends (--duration, the command's exit, a signal, the window closed),
 * in the order that loses nothing: the live heap read while the programs still hold it, the
 * children stopped (terminate, so that the client library sends its last interval; kill after 3 s),
 * the profiler and the heap channels drained, the ingest closed (what is in flight applied), budgets
 * checked and refusals said, the capture finished with its profiles, the exports written on a
 * worker pool, every failure said and counted in the exit status (HeadlessGate's: the command's own
 * failure first, then 1 for a file not written, 4 for a refused profile, 3 for a broken budget).
 * finish() runs once; later calls return the same status.
 */
class RunEnd
{
public:
    using Say = std::function<void(const QString&)>;

    RunEnd(const RunParts& parts, RunOutputs outputs, Say say);

    /// A program the run launched (not owned); @p isCommand: the run's command (-- COMMAND), whose
    /// exit status becomes the run's.
    void addChild(QProcess* child, bool isCommand = false);
    /// The command ended by itself (not stopped by finish()).
    void commandEnded(bool crashed, int exitCode);

    bool finished() const noexcept { return m_finished; }
    /// Ends the run; @p exitCode is what the run decided before (1: a screenshot not saved). Returns
    /// the exit status.
    int finish(int exitCode = 0);
    int exitCode() const noexcept { return m_exitCode; }

private:
    void stopChildren();
    void checkBudgetsAndRefusals(const QString& refusals);
    void finishCapture(const std::vector<ProfileSnapshotPtr>& heaps);
    void writeExports(std::vector<ProfileSnapshotPtr> heaps);
    std::vector<ProfileSnapshotPtr> liveHeaps() const;

    RunParts m_parts;
    RunOutputs m_outputs;
    Say m_say;
    std::vector<QProcess*> m_children;
    QProcess* m_command = nullptr;
    int m_commandStatus = 0; // HeadlessGate::Ok until the command ends by itself
    int m_exitCode = 0;
    bool m_finished = false;
};

} // namespace perfdash
