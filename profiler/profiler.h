// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "calltree.h"
#include "processprofiler.h"

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

    /// Starts profiling @p pid (again if it was profiled and exited); null with @p error.
    ProcessProfiler* profile(qint64 pid, QString* error = nullptr);
    ProcessProfiler* profilerFor(qint64 pid) const;
    /// The last refusal for @p pid, empty when it is profiled.
    QString problemFor(qint64 pid) const { return m_problems.value(pid); }
    std::vector<ProcessProfiler*> profilers() const;
    /// Session snapshots of every process, for the folded export.
    std::vector<ProfileSnapshotPtr> sessionSnapshots() const;
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
};

} // namespace perfdash
