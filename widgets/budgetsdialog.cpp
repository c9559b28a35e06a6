// SPDX-License-Identifier: GPL-3.0-or-later
#include "budgetsdialog.h"

#include <QDialogButtonBox>
#include <QDoubleSpinBox>
#include <QFormLayout>
#include <QHeaderView>
#include <QLabel>
#include <QPushButton>
#include <QSettings>
#include <QTableWidget>
#include <QVBoxLayout>

namespace perfdash {

namespace {
    enum BudgetColumn { Pattern, Percentile, Limit, Window, BudgetColumns };

    QDoubleSpinBox* millisecondsBox(double value, QWidget* parent)
    {
        auto* box = new QDoubleSpinBox(parent);
        box->setRange(0, 3'600'000);
        box->setDecimals(3);
        box->setSuffix(QStringLiteral(" ms"));
        box->setSpecialValueText(QObject::tr("off"));
        box->setValue(value);
        return box;
    }
} // namespace

BudgetsDialog::BudgetsDialog(const QList<Budget>& budgets, const Thresholds& thresholds, QWidget* parent)
    : QDialog(parent)
{
    setWindowTitle(tr("Budgets and thresholds"));
    auto* layout = new QVBoxLayout(this);
    auto* form = new QFormLayout;
    m_slow = millisecondsBox(double(thresholds.slowNs) / 1e6, this);
    m_verySlow = millisecondsBox(double(thresholds.verySlowNs) / 1e6, this);
    form->addRow(tr("Slow operation at or over"), m_slow);
    form->addRow(tr("Very slow operation at or over"), m_verySlow);
    layout->addLayout(form);

    auto* explanation = new QLabel(tr("A budget holds every operation matching the pattern ('*' and '?' wildcards) "
                                      "to a percentile over a sliding window."),
        this);
    explanation->setWordWrap(true);
    layout->addWidget(explanation);
    m_table = new QTableWidget(0, BudgetColumns, this);
    m_table->setHorizontalHeaderLabels({ tr("Operation pattern"), tr("Percentile"), tr("Limit"), tr("Window") });
    m_table->horizontalHeader()->setSectionResizeMode(Pattern, QHeaderView::Stretch);
    m_table->verticalHeader()->hide();
    layout->addWidget(m_table);
    for (const Budget& b : budgets)
        addBudget(b);

    auto* rowButtons = new QHBoxLayout;
    auto* add = new QPushButton(tr("Add budget"), this);
    auto* remove = new QPushButton(tr("Remove"), this);
    rowButtons->addWidget(add);
    rowButtons->addWidget(remove);
    rowButtons->addStretch();
    layout->addLayout(rowButtons);
    connect(add, &QPushButton::clicked, this,
        [this] { addBudget(Budget { QStringLiteral("*"), 95.0, 100'000'000, StatsWindow::last(60) }); });
    connect(remove, &QPushButton::clicked, this, [this] {
        if (m_table->currentRow() >= 0)
            m_table->removeRow(m_table->currentRow());
    });

    auto* buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel, this);
    connect(buttons, &QDialogButtonBox::accepted, this, &QDialog::accept);
    connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
    layout->addWidget(buttons);
    resize(620, 420);
}

void BudgetsDialog::addBudget(const Budget& budget)
{
    const int row = m_table->rowCount();
    m_table->insertRow(row);
    m_table->setItem(row, Pattern, new QTableWidgetItem(budget.pattern));
    auto* percentile = new QDoubleSpinBox(m_table);
    percentile->setRange(0.1, 100);
    percentile->setDecimals(1);
    percentile->setPrefix(QStringLiteral("p"));
    percentile->setValue(budget.percentile);
    m_table->setCellWidget(row, Percentile, percentile);
    m_table->setCellWidget(row, Limit, millisecondsBox(double(budget.limitNs) / 1e6, m_table));
    auto* window = new QDoubleSpinBox(m_table);
    window->setRange(1, StatsWindow::MaxSeconds);
    window->setDecimals(0);
    window->setSuffix(QStringLiteral(" s"));
    window->setValue(budget.window.isSession() ? StatsWindow::MaxSeconds : budget.window.seconds);
    m_table->setCellWidget(row, Window, window);
}

QList<Budget> BudgetsDialog::budgets() const
{
    QList<Budget> out;
    for (int row = 0; row < m_table->rowCount(); ++row) {
        const QString pattern = m_table->item(row, Pattern) ? m_table->item(row, Pattern)->text().trimmed() : QString();
        if (pattern.isEmpty())
            continue;
        const auto value = [&](int column) { return static_cast<QDoubleSpinBox*>(m_table->cellWidget(row, column))->value(); };
        out.append(Budget { pattern, value(Percentile), quint64(value(Limit) * 1e6), StatsWindow::last(int(value(Window))) });
    }
    return out;
}

Thresholds BudgetsDialog::thresholds() const
{
    return Thresholds { quint64(m_slow->value() * 1e6), quint64(m_verySlow->value() * 1e6) };
}

QList<Budget> loadBudgets()
{
    QSettings settings;
    QList<Budget> out;
    const int n = settings.beginReadArray(QStringLiteral("budgets"));
    for (int i = 0; i < n; ++i) {
        settings.setArrayIndex(i);
        out.append(Budget { settings.value(QStringLiteral("pattern")).toString(),
            settings.value(QStringLiteral("percentile"), 95.0).toDouble(),
            settings.value(QStringLiteral("limitNs")).toULongLong(),
            StatsWindow::last(settings.value(QStringLiteral("windowSeconds"), 60).toInt()) });
    }
    settings.endArray();
    return out;
}

void saveBudgets(const QList<Budget>& budgets)
{
    QSettings settings;
    settings.beginWriteArray(QStringLiteral("budgets"), int(budgets.size()));
    for (int i = 0; i < budgets.size(); ++i) {
        settings.setArrayIndex(i);
        settings.setValue(QStringLiteral("pattern"), budgets[i].pattern);
        settings.setValue(QStringLiteral("percentile"), budgets[i].percentile);
        settings.setValue(QStringLiteral("limitNs"), budgets[i].limitNs);
        settings.setValue(QStringLiteral("windowSeconds"), budgets[i].window.seconds);
    }
    settings.endArray();
}

Thresholds loadThresholds()
{
    QSettings settings;
    return Thresholds { settings.value(QStringLiteral("thresholds/slowNs"), quint64(100'000'000)).toULongLong(),
        settings.value(QStringLiteral("thresholds/verySlowNs"), quint64(1'000'000'000)).toULongLong() };
}

void saveThresholds(const Thresholds& thresholds)
{
    QSettings settings;
    settings.setValue(QStringLiteral("thresholds/slowNs"), thresholds.slowNs);
    settings.setValue(QStringLiteral("thresholds/verySlowNs"), thresholds.verySlowNs);
}

} // namespace perfdash
