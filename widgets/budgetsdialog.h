// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "core/performancemonitor.h"
#include "core/slowthresholds.h"

#include <QDialog>

class QDoubleSpinBox;
class QTableWidget;

namespace perfdash {

/// Edits the slow and very slow thresholds, the per-operation slow thresholds (pattern, duration:
/// `--slow`'s rules) and the percentile budgets (pattern, percentile, limit, window). The caller
/// applies and saves what accepted() leaves in budgets()/thresholds()/slowRules().
class BudgetsDialog : public QDialog
{
    Q_OBJECT
public:
    BudgetsDialog(const QList<Budget>& budgets, const Thresholds& thresholds, QWidget* parent = nullptr);

    QList<Budget> budgets() const;
    Thresholds thresholds() const;
    /// Adds an editable row (also what the Add button does).
    void addBudget(const Budget& budget);
    /// The per-operation slow thresholds shown (the store's, command line's included).
    void setSlowRules(const QList<SlowRule>& rules);
    /// The rows with a pattern and a duration, in order.
    QList<SlowRule> slowRules() const;
    void addSlowRule(const SlowRule& rule);

private:
    QTableWidget* m_table;
    QTableWidget* m_slowRules;
    QDoubleSpinBox* m_slow;
    QDoubleSpinBox* m_verySlow;
};

/// Budgets and thresholds as QSettings keeps them.
QList<Budget> loadBudgets();
void saveBudgets(const QList<Budget>& budgets);
Thresholds loadThresholds();
void saveThresholds(const Thresholds& thresholds);
/// Per-operation slow thresholds as QSettings keeps them (the window's; `--slow` adds to them).
QList<SlowRule> loadSlowRules();
void saveSlowRules(const QList<SlowRule>& rules);
/// @p current (the command line's, or what the store holds) with the rules of @p saved whose pattern
/// it does not have: a pattern given on the command line wins over the saved one.
QList<SlowRule> mergeSlowRules(const QList<SlowRule>& saved, const QList<SlowRule>& current);

} // namespace perfdash
