// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "core/performancemonitor.h"

#include <QStringList>

#include <optional>

namespace perfdash {

class MetricsStore;

/**
 * What makes a headless run usable as a CI gate: checked arguments (--duration, --budget) and
 * documented exit statuses. The window shows broken budgets as alerts; a headless run says them
 * on stderr at the end and fails with BudgetBroken.
 */
class HeadlessGate final
{
public:
    /// perfdash's exit statuses (README, --help). A launched command's failure is passed on apart.
    enum Status {
        Ok = 0,
        WriteFailed = 1, ///< an export or the recording could not be written
        BadArguments = 2, ///< bad arguments, or the run could not start (socket taken, path unusable)
        BudgetBroken = 3, ///< a budget was broken at the end of the run
        ProfileRefused = 4, ///< a profile asked for (--profile) was refused by the kernel
        CommandFailed = 64, ///< 64 + the command's exit status; 192 + the signal that killed it (capped at 255)
    };

    /// A positive, finite number of seconds a QTimer can wait (at most 24 days); nullopt with @p error.
    static std::optional<double> parseDurationSeconds(const QString& text, QString* error);
    /// "PATTERN:pNN<=DURATION", DURATION a number with ns, us (µs), ms or s; nullopt with @p error.
    /// The budget holds over the whole run (StatsWindow::session()).
    static std::optional<Budget> parseBudget(const QString& text, QString* error);
    /// A duration such as "5ms", "250us", "1.5s"; nullopt when it is not one.
    static std::optional<quint64> parseDurationNs(const QString& text);
    /// The status perfdash exits with for a command that ended so (Ok when it succeeded).
    static int commandStatus(bool crashed, int exitCodeOrSignal);
    /// The status a run ends with. A launched command's failure (commandStatus(), 64 and over)
    /// comes first, so that a CI job tells it from perfdash's own; then perfdash's status, where a
    /// write failure (1) was already put before a refused profile (4) and a broken budget (3).
    /// Each failure is said on stderr.
    static int exitStatus(int perfdashStatus, int commandStatus);
    /// Evaluates every budget now; one line per budget broken, worst first; empty when all hold.
    static QStringList brokenBudgets(MetricsStore& store);
};

} // namespace perfdash
