// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/csvexport.h"

#include "core/errors.h"

#include "core/atomicfile.h"
#include "core/csvwriter.h"
#include "core/performancemonitor.h"

#include <limits>

namespace perfdash::csvexport {

const QStringList& statisticsColumns()
{
    static const QStringList columns = QStringLiteral(
        "pid,process,operation,count,errors,error_rate,min_us,mean_us,p50_us,p90_us,p95_us,p99_us,p999_us,max_us,"
        "slow_count,cpu_us,cpu_share,total_us")
                                           .split(u',');
    return columns;
}

const QStringList& seriesColumns()
{
    static const QStringList columns
        = QStringLiteral("timestamp_ms,pid,process,operation,count,errors,p50_us,p95_us,p99_us,max_us").split(u',');
    return columns;
}

const QStringList& memoryColumns()
{
    static const QStringList columns
        = QStringLiteral("timestamp_ms,pid,process,rss_bytes,heap_bytes,cpu_percent").split(u',');
    return columns;
}

void writeStatistics(CsvWriter& csv, const QList<ProcessStatistics>& processes)
{
    csv.header(statisticsColumns());
    for (const ProcessStatistics& p : processes) {
        for (const OperationStats& s : p.operations) {
            csv.number(p.pid).text(p.process).text(s.operation);
            csv.number(s.count).number(s.errorCount).number(s.errorRate, 6);
            csv.microseconds(s.minNs).number(s.meanNs / 1000.0, 3);
            csv.microseconds(s.p50Ns).microseconds(s.p90Ns).microseconds(s.p95Ns);
            csv.microseconds(s.p99Ns).microseconds(s.p999Ns).microseconds(s.maxNs);
            csv.number(s.slowCount);
            if (p.profiled) {
                const OperationCpuTime cpu = p.cpu.value(s.operation);
                csv.number(cpu.cpuUs, 1);
                cpu.share >= 0 ? csv.number(cpu.share, 4) : csv.empty();
            } else {
                csv.empty().empty();
            }
            csv.microseconds(s.totalNs);
            csv.endRow();
        }
    }
}

void writeSeries(CsvWriter& csv, const QList<OperationSeries>& series)
{
    csv.header(seriesColumns());
    for (const OperationSeries& s : series) {
        for (const SeriesPoint& p : s.points) {
            csv.number(p.timestampMs).number(s.pid).text(s.process).text(s.operation);
            csv.number(p.count).number(p.errors);
            csv.microseconds(p.p50Ns).microseconds(p.p95Ns).microseconds(p.p99Ns).microseconds(p.maxNs);
            csv.endRow();
        }
    }
}

void writeMemory(CsvWriter& csv, const QList<MemoryRecord>& records)
{
    csv.header(memoryColumns());
    for (const MemoryRecord& r : records) {
        csv.number(r.timestampMs).number(r.pid).text(r.process);
        r.rssBytes >= 0 ? csv.number(r.rssBytes) : csv.empty();
        r.heapBytes >= 0 ? csv.number(r.heapBytes) : csv.empty();
        r.cpuPercent ? csv.number(*r.cpuPercent, 2) : csv.empty();
        csv.endRow();
    }
}

bool writeFile(const QString& path, const std::function<void(CsvWriter&)>& write, QString* error)
{
    AtomicFile file(path);
    if (!file.open(QIODevice::WriteOnly)) {
        return failWith(error, file.failure());
    }
    bool written = false;
    {
        CsvWriter csv(&file);
        write(csv);
        written = csv.flush();
    }
    if (!written || !file.commit()) {
        return failWith(error, file.failure());
    }
    return true;
}

ProcessStatistics statisticsOf(
    const PerformanceMonitor& monitor, qint64 pid, const QString& process, StatsWindow window)
{
    ProcessStatistics statistics;
    statistics.pid = pid;
    statistics.process = process;
    statistics.operations = monitor.allStats(window);
    return statistics;
}

QList<OperationSeries> seriesOf(const PerformanceMonitor& monitor, qint64 pid, const QString& process)
{
    QList<OperationSeries> out;
    for (const QString& name : monitor.operations()) {
        out.append(OperationSeries { pid, process, name,
            monitor.series(name, std::numeric_limits<qint64>::min(), std::numeric_limits<qint64>::max(), true) });
    }
    return out;
}

} // namespace perfdash::csvexport
