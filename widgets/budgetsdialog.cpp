// SPDX-License-Identifier: GPL-3.0-or-later
#include "widgets/budgetsdialog.h"

#include "core/headlessgate.h"
#include "models/format.h"

#include <QDialogButtonBox>
#include <QDoubleSpinBox>
#include <QFormLayout>
#include <QHeaderView>
#include <QLabel>
#include <QPushButton>
#include <QSettings>
#include <QTableWidget>
#include <QVBoxLayout>

#include <algorithm>
#include <cmath>
#include <optional>

namespace perfdash {

namespace {
enum BudgetColumn { Pattern, Percentile, Limit, Window, BudgetColumns };
enum SlowColumn { SlowPattern, SlowDuration, SlowColumns };

/// Milliseconds, shown as the tables write durations ("30 ms", "500 µs", "1.5 s"; never "30.000 ms"),
/// and typed with or without a unit (a bare number is milliseconds).
class DurationBox final : public QDoubleSpinBox
{
public:
    using QDoubleSpinBox::QDoubleSpinBox;

    QString textFromValue(double ms) const override { return formatDurationExact(quint64(std::llround(ms * 1e6))); }
    double valueFromText(const QString& text) const override { return parse(text).value_or(0.0); }
    QValidator::State validate(QString& text, int&) const override
    {
        if (text == specialValueText())
            return QValidator::Acceptable;
        const std::optional<double> ms = parse(text);
        return ms && *ms >= minimum() && *ms <= maximum() ? QValidator::Acceptable : QValidator::Intermediate;
    }

private:
    std::optional<double> parse(const QString& text) const
    {
        const QString t = text.trimmed();
        bool plain = false;
        const double ms = t.toDouble(&plain);
        if (plain)
            return std::isfinite(ms) ? std::optional<double>(ms) : std::nullopt;
        if (t == QLatin1String("0"))
            return 0.0;
        const std::optional<quint64> ns = HeadlessGate::parseDurationNs(t);
        return ns ? std::optional<double>(double(*ns) / 1e6) : std::nullopt;
    }
};

QDoubleSpinBox* millisecondsBox(double value, QWidget* parent)
{
    auto* box = new DurationBox(parent);
    box->setRange(0, 3'600'000);
    box->setDecimals(6); // nanoseconds
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

    // Per-operation slow thresholds: an instance at or over its operation's is slow (alerts,
    // slow count, the profile of its slow instances against its typical ones).
    auto* slowExplanation = new QLabel(tr("Slow threshold per operation (pattern with '*' and '?' wildcards; the "
                                          "exact name, else the longest matching pattern, else the default above):"),
        this);
    slowExplanation->setWordWrap(true);
    layout->addWidget(slowExplanation);
    m_slowRules = new QTableWidget(0, SlowColumns, this);
    m_slowRules->setHorizontalHeaderLabels({ tr("Operation pattern"), tr("Slow at or over") });
    m_slowRules->horizontalHeader()->setSectionResizeMode(SlowPattern, QHeaderView::Stretch);
    m_slowRules->verticalHeader()->hide();
    m_slowRules->setMinimumHeight(90);
    layout->addWidget(m_slowRules);
    auto* slowButtons = new QHBoxLayout;
    auto* addSlow = new QPushButton(tr("Add slow threshold"), this);
    auto* removeSlow = new QPushButton(tr("Remove"), this);
    slowButtons->addWidget(addSlow);
    slowButtons->addWidget(removeSlow);
    slowButtons->addStretch();
    layout->addLayout(slowButtons);
    connect(addSlow, &QPushButton::clicked, this, [this] {
        addSlowRule(SlowRule { QStringLiteral("*"), 50'000'000 });
    });
    connect(removeSlow, &QPushButton::clicked, this, [this] {
        if (m_slowRules->currentRow() >= 0)
            m_slowRules->removeRow(m_slowRules->currentRow());
    });

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
    connect(add, &QPushButton::clicked, this, [this] {
        addBudget(Budget { QStringLiteral("*"), 95.0, 100'000'000, StatsWindow::last(60) });
    });
    connect(remove, &QPushButton::clicked, this, [this] {
        if (m_table->currentRow() >= 0)
            m_table->removeRow(m_table->currentRow());
    });

    auto* buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel, this);
    connect(buttons, &QDialogButtonBox::accepted, this, &QDialog::accept);
    connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
    layout->addWidget(buttons);
    resize(620, 560);
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
        const auto value
            = [&](int column) { return static_cast<QDoubleSpinBox*>(m_table->cellWidget(row, column))->value(); };
        out.append(Budget { pattern, value(Percentile), quint64(std::llround(value(Limit) * 1e6)),
            StatsWindow::last(int(value(Window))) });
    }
    return out;
}

void BudgetsDialog::setSlowRules(const QList<SlowRule>& rules)
{
    m_slowRules->setRowCount(0);
    for (const SlowRule& rule : rules)
        addSlowRule(rule);
}

void BudgetsDialog::addSlowRule(const SlowRule& rule)
{
    const int row = m_slowRules->rowCount();
    m_slowRules->insertRow(row);
    m_slowRules->setItem(row, SlowPattern, new QTableWidgetItem(rule.pattern));
    m_slowRules->setCellWidget(row, SlowDuration, millisecondsBox(double(rule.slowNs) / 1e6, m_slowRules));
}

QList<SlowRule> BudgetsDialog::slowRules() const
{
    QList<SlowRule> out;
    for (int row = 0; row < m_slowRules->rowCount(); ++row) {
        const QTableWidgetItem* item = m_slowRules->item(row, SlowPattern);
        const QString pattern = item ? item->text().trimmed() : QString();
        const auto* box = static_cast<QDoubleSpinBox*>(m_slowRules->cellWidget(row, SlowDuration));
        const quint64 ns = box ? quint64(std::llround(box->value() * 1e6)) : 0;
        if (!pattern.isEmpty() && ns > 0) // "off": no rule
            out.append(SlowRule { pattern, ns });
    }
    return out;
}

Thresholds BudgetsDialog::thresholds() const
{
    return Thresholds { quint64(std::llround(m_slow->value() * 1e6)),
        quint64(std::llround(m_verySlow->value() * 1e6)) };
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

namespace perfdash {

QList<SlowRule> loadSlowRules()
{
    QSettings settings;
    QList<SlowRule> out;
    const int n = settings.beginReadArray(QStringLiteral("slowRules"));
    for (int i = 0; i < n; ++i) {
        settings.setArrayIndex(i);
        SlowRule rule { settings.value(QStringLiteral("pattern")).toString().trimmed(),
            settings.value(QStringLiteral("slowNs")).toULongLong() };
        if (!rule.pattern.isEmpty() && rule.slowNs > 0)
            out.append(rule);
    }
    settings.endArray();
    return out;
}

void saveSlowRules(const QList<SlowRule>& rules)
{
    QSettings settings;
    settings.remove(QStringLiteral("slowRules")); // fewer rows than before: none of the old stays
    settings.beginWriteArray(QStringLiteral("slowRules"), int(rules.size()));
    for (int i = 0; i < rules.size(); ++i) {
        settings.setArrayIndex(i);
        settings.setValue(QStringLiteral("pattern"), rules[i].pattern);
        settings.setValue(QStringLiteral("slowNs"), rules[i].slowNs);
    }
    settings.endArray();
}

QList<SlowRule> mergeSlowRules(const QList<SlowRule>& saved, const QList<SlowRule>& current)
{
    QList<SlowRule> out = current;
    for (const SlowRule& rule : saved) {
        if (std::none_of(out.begin(), out.end(), [&](const SlowRule& r) { return r.pattern == rule.pattern; }))
            out.append(rule);
    }
    return out;
}

} // namespace perfdash
