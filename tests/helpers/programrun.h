// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Running the programs the tests drive: a run to its end (perfdash from the command line), and a
// helper started until it says "ready".

#include <QByteArray>
#include <QProcess>
#include <QStringList>

#include <memory>

namespace perfdash::testing {

struct Run
{
    int status = -1; ///< the exit code; -1 when it crashed or was killed for the timeout
    QByteArray out, err;
};

/// Starts @p process (set up by the caller) with @p program and @p arguments and waits for its end
/// (killed after @p timeoutMs).
inline Run runToEnd(QProcess& process, const QString& program, const QStringList& arguments, int timeoutMs)
{
    process.start(program, arguments);
    Run run;
    if (!process.waitForFinished(timeoutMs)) {
        process.kill();
        process.waitForFinished();
    }
    run.status = process.exitStatus() == QProcess::NormalExit ? process.exitCode() : -1;
    run.out = process.readAllStandardOutput();
    run.err = process.readAllStandardError();
    return run;
}

/// Starts @p program and waits for its first line, "ready"; null when it does not say so.
inline std::unique_ptr<QProcess> startReady(const QString& program, const QStringList& arguments = {})
{
    auto process = std::make_unique<QProcess>();
    process->start(program, arguments);
    if (!process->waitForStarted(10000))
        return nullptr;
    while (!process->canReadLine()) {
        if (!process->waitForReadyRead(10000))
            return nullptr;
    }
    if (process->readLine().trimmed() != "ready")
        return nullptr;
    return process;
}

} // namespace perfdash::testing
