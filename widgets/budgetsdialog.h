// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "performancemonitor.h"

#include <QDialog>

class QDoubleSpinBox;
class QTableWidget;

namespace perfdash {

/// Edits the slow and very slow thresholds and the percentile budgets (pattern, percentile,
/// limit, window). The caller applies and saves what accepted() leaves in budgets()/thresholds().
class BudgetsDialog : public QDialog
{
    Q_OBJECT
public:
    BudgetsDialog(const QList<Budget>& budgets, const Thresholds& thresholds, QWidget* parent = nullptr);

    QList<Budget> budgets() const;
    Thresholds thresholds() const;
    /// Adds an editable row (also what the Add button does).
    void addBudget(const Budget& budget);

private:
    QTableWidget* m_table;
    QDoubleSpinBox* m_slow;
    QDoubleSpinBox* m_verySlow;
};

/// Budgets and thresholds as QSettings keeps them.
QList<Budget> loadBudgets();
void saveBudgets(const QList<Budget>& budgets);
Thresholds loadThresholds();
void saveThresholds(const Thresholds& thresholds);

} // namespace perfdash
