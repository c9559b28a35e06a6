// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "core/operationhistory.h"
#include "core/operationstats.h"

#include <QHash>
#include <QList>
#include <QStringList>

#include <functional>
#include <optional>
#include <vector>

namespace perfdash {

class CsvWriter;
class PerformanceMonitor;

/// An operation's CPU while its process was profiled: the statistics CSV's cpu_us and cpu_share.
struct OperationCpuTime
{
    double cpuUs = 0; ///< on-CPU microseconds inside its instances, nested operations included
    double share = -1; ///< cpuUs over the wall time of its instances, 0..1; -1: unknown (none ended)
};

struct ProcessStatistics
{
    qint64 pid = 0;
    QString process;
    QList<OperationStats> operations;
    /// Its operations were profiled (cpu: by operation name); otherwise the CPU columns are empty.
    bool profiled = false;
    QHash<QString, OperationCpuTime> cpu;
};

struct OperationSeries
{
    qint64 pid = 0;
    QString process;
    QString operation;
    std::vector<SeriesPoint> points;
};

struct MemoryRecord
{
    qint64 timestampMs = 0;
    qint64 pid = 0;
    QString process;
    qint64 rssBytes = -1; ///< -1: unknown, written as an empty cell
    qint64 heapBytes = -1; ///< -1: unknown (a process that does not report its heap)
    std::optional<double> cpuPercent;
};

/// The three CSV export schemas of docs/CSV.md. Their columns only ever grow at the end.
namespace csvexport {
const QStringList& statisticsColumns();
const QStringList& seriesColumns();
const QStringList& memoryColumns();

void writeStatistics(CsvWriter& csv, const QList<ProcessStatistics>& processes);
void writeSeries(CsvWriter& csv, const QList<OperationSeries>& series);
void writeMemory(CsvWriter& csv, const QList<MemoryRecord>& records);

/// Writes @p path atomically (AtomicFile, 0600): either the whole file appears or the old one
/// stays, also on a full disk. On failure returns false with a sentence in @p error.
bool writeFile(const QString& path, const std::function<void(CsvWriter&)>& write, QString* error);

ProcessStatistics statisticsOf(
    const PerformanceMonitor& monitor, qint64 pid, const QString& process, StatsWindow window = StatsWindow::session());
/// Every operation's series, including the unfinished current second.
QList<OperationSeries> seriesOf(const PerformanceMonitor& monitor, qint64 pid, const QString& process);
} // namespace csvexport

} // namespace perfdash
