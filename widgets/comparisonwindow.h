// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "capture.h"

#include <QAbstractTableModel>
#include <QMainWindow>

class QChartView;
class QLineSeries;
class QLogValueAxis;
class QValueAxis;
class QTableView;

namespace perfdash {

/// The rows of a comparison: counts and percentiles of both runs and the change, regressions marked.
class ComparisonModel : public QAbstractTableModel
{
    Q_OBJECT
public:
    enum Column { Process, Operation, BaseCount, NewCount, BaseP50, NewP50, BaseP95, NewP95, BaseP99, NewP99, Change, ColumnCount };

    explicit ComparisonModel(QObject* parent = nullptr);
    void setRows(const QList<ComparisonRow>& rows, double percentile);
    const ComparisonRow* rowAt(int row) const;

    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

private:
    QList<ComparisonRow> m_rows;
    double m_percentile = 95;
};

/**
 * Two captures side by side: the table of deltas and, for the selected operation, both latency
 * distributions overlaid (cumulative, on a log axis), so a shifted tail shows at a glance.
 */
class ComparisonWindow : public QMainWindow
{
    Q_OBJECT
public:
    /// Opens both captures; null with @p error when either cannot be read.
    static ComparisonWindow* open(const QString& basePath, const QString& newPath, QString* error,
        double percentile = 95, double threshold = 10);

    ComparisonModel* model() const { return m_model; }
    /// Shows @p row's distributions; the number of points drawn per run, for tests.
    int showDistributions(int row);

private:
    ComparisonWindow(LoadedCapture base, LoadedCapture next, double percentile, double threshold);

    LoadedCapture m_base;
    LoadedCapture m_next;
    ComparisonModel* m_model;
    QTableView* m_view;
    QChartView* m_chart;
    QLineSeries* m_baseSeries;
    QLineSeries* m_newSeries;
    QLogValueAxis* m_x;
    QValueAxis* m_y;
};

} // namespace perfdash
