// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "profiler/calltree.h"
#include "profiler/processprofiler.h"

#include <QHash>
#include <QObject>

#include <map>
#include <memory>
#include <vector>

namespace perfdash {

/**
 * The profiler of a dashboard: one ProcessProfiler per profiled process, at one rate. A refusal
 * (permissions, a process gone) is emitted as problem() with the sentence that says what fixes it;
 * it is never an empty profile without a word.
 */
class Profiler : public QObject
{
    Q_OBJECT
public:
    explicit Profiler(QObject* parent = nullptr);
    ~Profiler() override;

    void setFrequency(int hz) { m_options.frequencyHz = hz; }
    int frequency() const { return m_options.frequencyHz; }
    void setSystem(PerfSystem system) { m_system = std::move(system); }
    /// Where the operations of instrumented processes are known: their samples are attributed to
    /// them from the next profile() on (docs/PROFILE.md, "Profiles per operation").
    void setTimeline(OperationTimeline* timeline) { m_options.timeline = timeline; }
    /// The slow thresholds that split each operation's instances into slow and typical.
    void setSlowThresholds(const SlowThresholds* thresholds) { m_options.slowThresholds = thresholds; }

    /// Starts profiling @p pid (again if it was profiled and exited); null with @p error.
    ProcessProfiler* profile(qint64 pid, QString* error = nullptr);
    ProcessProfiler* profilerFor(qint64 pid) const;
    /// The last refusal for @p pid, empty when it is profiled.
    QString problemFor(qint64 pid) const { return m_problems.value(pid); }
    std::vector<ProcessProfiler*> profilers() const;
    /// Every process profile() was asked for, in the order asked (refused ones too).
    const std::vector<qint64>& requested() const { return m_requested; }
    /// Processes whose profile was asked for and refused, and not taken since.
    int refusedCount() const { return int(m_problems.size()); }
    /// Session snapshots of every process, for the folded export.
    std::vector<ProfileSnapshotPtr> sessionSnapshots() const;
    /// Every process's session profile split by operations (CPU, or with @p offCpu the time off
    /// CPU), for `--export-profile-by-operation` and `--export-off-cpu`.
    std::vector<ProfileSnapshotPtr> operationSnapshots(bool offCpu) const;
    /// Every process's session profile (CPU, off-CPU, by operation where traced) as one gzipped
    /// pprof profile.proto in @p path, atomically: `--export-pprof` (pprofexport.h); false with a
    /// sentence in @p error.
    bool writePprof(const QString& path, QString* error) const;
    /// @p pid's operations' CPU and wall time; empty when it is not profiled (or not instrumented).
    std::vector<OperationCpu> operationCpu(qint64 pid) const;
    void stopAll();
    /// For the headless table: per profiled process its samples over the last @p seconds and its
    /// @p top functions by self samples (or why it is not profiled), a line each.
    QString summary(int seconds = 10, int top = 5) const;

Q_SIGNALS:
    void problem(qint64 pid, const QString& message);
    void profilingStarted(qint64 pid);

private:
    ProcessProfiler::Options m_options;
    PerfSystem m_system = PerfSystem::real();
    std::map<qint64, std::unique_ptr<ProcessProfiler>> m_profilers;
    std::vector<std::unique_ptr<ProcessProfiler>> m_retired; ///< exited and profiled again
    QHash<qint64, QString> m_problems;
    std::vector<qint64> m_requested;
};

/**
 * Which process's profile a window shows: the selected one; else the one whose operation is
 * charted; else the first process a profile was asked for (a process attached with --profile
 * and not instrumented has no operation to chart; a refused one shows why); else none (0).
 */
qint64 profileToShow(qint64 selectedPid, qint64 chartedPid, const std::vector<qint64>& requested);

/// "operations: 1234 samples inside, 56 outside, 12 waiting; 300 not attributed (200 before
/// tracing, 100 ring overrun)", or "operations: not traced (not a perfdash client)": how the
/// samples of a profile were attributed to operations, every sample accounted for.
QString attributionNote(const ProfileStats& stats);

/// "; 56% of its CPU in the kernel (not sampled: user space only)": what the flame graph leaves
/// out, from /proc; empty when unknown.
QString kernelNote(const ProfileStats& stats);

} // namespace perfdash
