// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "csvexport.h"
#include "operationhistory.h"

#include <QWidget>

#include <memory>
#include <vector>

class QAbstractAxis;
class QChart;
class QChartView;
class QDateTimeAxis;
class QLineSeries;
class QLogValueAxis;
class QValueAxis;

namespace perfdash {

/**
 * The live charts: latency percentiles of the selected operation, its throughput and error rate,
 * and the selected process's memory and CPU. Each series is updated with one replace() of at most
 * MaxPoints points (older intervals are merged, keeping each group's worst value); no animations.
 */
class ChartsPanel : public QWidget
{
    Q_OBJECT
public:
    static constexpr int MaxPoints = 1500;

    explicit ChartsPanel(QWidget* parent = nullptr);
    ~ChartsPanel() override;

    void setLatency(const QString& title, const std::vector<SeriesPoint>& points, qint64 fromMs, qint64 toMs);
    void setMemory(const QString& title, const QList<MemoryRecord>& records, qint64 fromMs, qint64 toMs);
    void setLogScale(bool log);
    bool logScale() const noexcept { return m_log; }

    int latencyPointCount() const;
    int throughputPointCount() const;
    int memoryPointCount() const;

private:
    struct Chart;
    std::unique_ptr<Chart> makeChart(
        const QString& title, const QStringList& left, const QStringList& right, const QString& rightUnit);
    void attachLatencyAxis();

    std::unique_ptr<Chart> m_latency;
    std::unique_ptr<Chart> m_throughput;
    std::unique_ptr<Chart> m_memory;
    QValueAxis* m_latencyLinear;
    QLogValueAxis* m_latencyLog;
    bool m_log = false;
    double m_latencyScale = 1e6; // ns per axis unit
};

} // namespace perfdash
