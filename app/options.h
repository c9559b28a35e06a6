// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "core/metricsstore.h"
#include "run/runend.h"

#include <QList>
#include <QString>
#include <QStringList>

#include <optional>

namespace perfdash {

/// perfdash's command line, checked: what main() wires (the compare subcommand has its own).
struct Options
{
    QStringList command; ///< after --: the program to launch and its arguments
    bool headless = false;
    std::optional<QString> socketPath; ///< --socket; none: IngestServer::defaultSocketPath()
    QList<qint64> attach;
    bool demo = false;
    double seconds = 0; ///< --duration; 0: until the window closes, the command ends or a signal
    bool quiet = false;
    QString open; ///< --open: a capture to show (or, headless, to export from)
    RunOutputs outputs; ///< the exports and --record
    // The listeners asked for, their [HOST:]PORT unparsed (an empty one is refused when parsed).
    std::optional<QString> prometheus;
    std::optional<QString> otlp;
    std::optional<QString> otlpGrpc;
    bool otlpHideInternal = false;
    QList<Budget> budgets;
    QList<SlowRule> slowRules;
    QString screenshot;
    QString view; ///< charts, profile, both, memory; empty: as the user left it
    int profileView = -1; ///< ProfilePanel::Tab; -1: as the user left it
    bool profiling = false; ///< --profile, or an option that needs a profile
    int profileHz = 0; ///< 0: the profiler's default
};

/**
 * Parses the application's arguments (QCoreApplication::arguments(), cut before "--") with
 * @p command after "--". Prints --help or --version and exits; a bad argument ends the program
 * with status 2 and a sentence on stderr (fail()). @p headlessRun: the run has no window.
 */
Options parseOptions(bool headlessRun, const QStringList& command);

} // namespace perfdash
