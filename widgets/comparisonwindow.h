// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "capture/capture.h"
#include "capture/comparison.h"

#include <QMainWindow>

class QCategoryAxis;
class QChartView;
class QLabel;
class QLineSeries;
class QTableView;
class QValueAxis;

namespace perfdash {

class ComparisonModel;

/**
 * Two captures side by side: the table `perfdash compare` prints (same verdicts, same thresholds:
 * both come from compareStores()) and, for the selected operation, both latency distributions
 * overlaid (cumulative, on a log axis labelled as the rest of the app writes durations), so a
 * shifted tail shows at a glance.
 */
class ComparisonWindow : public QMainWindow
{
    Q_OBJECT
public:
    /// Opens both captures; null with @p error when either cannot be read.
    static ComparisonWindow* open(
        const QString& basePath, const QString& newPath, QString* error, const ComparisonOptions& options = {});

    ComparisonModel* model() const { return m_model; }
    /// Shows @p row's distributions; the number of points drawn per run, for tests.
    int showDistributions(int row);
    /// The labels of the latency axis, lowest first (for tests).
    QStringList latencyAxisLabels() const;

private:
    ComparisonWindow(LoadedCapture base, LoadedCapture next, const ComparisonOptions& options);
    void setLatencyRange(double lowNs, double highNs);

    LoadedCapture m_base;
    LoadedCapture m_next;
    ComparisonModel* m_model;
    QTableView* m_view;
    QLabel* m_summary;
    QChartView* m_chart;
    QLineSeries* m_baseSeries;
    QLineSeries* m_newSeries;
    QCategoryAxis* m_x;
    QValueAxis* m_y;
};

} // namespace perfdash
