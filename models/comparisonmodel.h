// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "capture/comparison.h"

#include <QAbstractTableModel>

namespace perfdash {

/**
 * The rows of a comparison of two captures, as `perfdash compare` prints them: per process name
 * and operation, the verdict (verdictText(), the same words and thresholds), the change of the
 * chosen percentile, then count, throughput, error rate, p50, p95 and p99 of both runs as
 * "base → new". Qt::UserRole holds the value to sort by (the verdict's: what fails a gate first, then
 * the largest change).
 */
class ComparisonModel : public QAbstractTableModel
{
    Q_OBJECT
public:
    enum Column { Process, Operation, VerdictColumn, Change, Count, Throughput, Errors, P50, P95, P99, ColumnCount };

    explicit ComparisonModel(QObject* parent = nullptr);
    void setRows(const QList<ComparisonRow>& rows, const ComparisonOptions& options);
    const ComparisonRow* rowAt(int row) const;
    const ComparisonOptions& options() const { return m_options; }
    /// "2 regression(s) beyond 10% at p95", as the command line ends its report.
    QString summary() const;

    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

private:
    QVariant display(const ComparisonRow& r, Column column) const;
    QVariant sortValue(const ComparisonRow& r, Column column) const;
    QString toolTip(const ComparisonRow& r, Column column) const;

    QList<ComparisonRow> m_rows;
    ComparisonOptions m_options;
};

} // namespace perfdash
