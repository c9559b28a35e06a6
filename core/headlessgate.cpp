// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/headlessgate.h"

#include "core/metricsstore.h"

#include <QRegularExpression>

#include <algorithm>
#include <cmath>

namespace perfdash {

std::optional<double> HeadlessGate::parseDurationSeconds(const QString& text, QString* error)
{
    bool ok = false;
    const double seconds = text.toDouble(&ok);
    // 24 days: QTimer counts milliseconds in an int. nan and inf are refused here, not later.
    constexpr double MaxSeconds = 24.0 * 24 * 3600;
    if (!ok || !std::isfinite(seconds) || seconds <= 0 || seconds > MaxSeconds) {
        *error = QStringLiteral("--duration needs a positive, finite number of seconds up to %1 (24 days), not '%2'")
                     .arg(MaxSeconds, 0, 'f', 0)
                     .arg(text);
        return std::nullopt;
    }
    return seconds;
}

std::optional<quint64> HeadlessGate::parseDurationNs(const QString& text)
{
    static const QRegularExpression form(QStringLiteral(R"(^\s*([0-9]+(?:\.[0-9]*)?|\.[0-9]+)\s*(ns|us|µs|ms|s)\s*$)"));
    const QRegularExpressionMatch m = form.match(text);
    if (!m.hasMatch())
        return std::nullopt;
    const double value = m.captured(1).toDouble();
    const QString unit = m.captured(2);
    const double scale = unit == QLatin1String("ns") ? 1.0
        : unit == QLatin1String("ms")                ? 1e6
        : unit == QLatin1String("s")                 ? 1e9
                                                     : 1e3;
    const double ns = value * scale;
    if (!std::isfinite(ns) || ns <= 0 || ns > double(LatencyHistogram::MaxTrackableNs))
        return std::nullopt;
    return quint64(std::llround(ns));
}

std::optional<Budget> HeadlessGate::parseBudget(const QString& text, QString* error)
{
    static const QRegularExpression form(QStringLiteral(R"(^(.+):p([0-9]+(?:\.[0-9]+)?)\s*<=\s*(.+)$)"));
    const QRegularExpressionMatch m = form.match(text);
    const auto bad = [&](const QString& why) {
        *error = QStringLiteral("--budget '%1': %2 (the form is 'PATTERN:pNN<=DURATION', e.g. 'db.*:p99<=5ms')")
                     .arg(text, why);
        return std::nullopt;
    };
    if (!m.hasMatch())
        return bad(QStringLiteral("not understood"));
    const double percentile = m.captured(2).toDouble();
    if (!(percentile > 0 && percentile <= 100))
        return bad(QStringLiteral("the percentile must be over 0 and at most 100"));
    const std::optional<quint64> limit = parseDurationNs(m.captured(3));
    if (!limit)
        return bad(QStringLiteral("'%1' is not a duration such as 800us, 5ms or 1.5s").arg(m.captured(3)));
    return Budget { m.captured(1).trimmed(), percentile, *limit, StatsWindow::session() };
}

int HeadlessGate::commandStatus(bool crashed, int exitCodeOrSignal)
{
    if (!crashed && exitCodeOrSignal == 0)
        return Ok;
    return std::min(255, CommandFailed + (crashed ? 128 : 0) + exitCodeOrSignal);
}

int HeadlessGate::exitStatus(int perfdashStatus, int commandStatus)
{
    return commandStatus != Ok ? commandStatus : perfdashStatus;
}

QStringList HeadlessGate::brokenBudgets(MetricsStore& store)
{
    store.checkBudgets();
    QStringList out;
    for (const auto& [key, v] : store.budgetViolations()) {
        if (v.severity <= 1.0)
            continue;
        out.append(QStringLiteral("budget broken: %1 in %2 (pid %3): p%4 %5 us > %6 us (%7)")
                       .arg(v.operation, store.processName(key))
                       .arg(store.process(key) ? store.process(key)->pid : 0)
                       .arg(v.budget.percentile)
                       .arg(double(v.actualNs) / 1e3, 0, 'f', 3)
                       .arg(double(v.budget.limitNs) / 1e3, 0, 'f', 3)
                       .arg(v.budget.pattern));
    }
    return out;
}

} // namespace perfdash
