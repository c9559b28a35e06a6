// SPDX-License-Identifier: GPL-3.0-or-later
// perfdash command line. Until the dashboard window exists, perfdash samples the attached
// processes and prints them in the terminal once a second, and writes the exports at the end.
#include "csvexport.h"
#include "processmonitor.h"

#include <QCommandLineParser>
#include <QCoreApplication>
#include <QDir>
#include <QFileInfo>
#include <QProcess>
#include <QTextStream>
#include <QTimer>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <utility>

namespace {
std::atomic<bool> g_interrupted { false };

void onSignal(int)
{
    g_interrupted.store(true);
}

[[noreturn]] void fail(const QString& message)
{
    std::fprintf(stderr, "perfdash: %s\n", qUtf8Printable(message));
    std::exit(2);
}

QString checkWritable(const QString& path)
{
    const QFileInfo info(path);
    const QFileInfo dir(info.absolutePath());
    if (!dir.isDir())
        return QStringLiteral("cannot write %1: directory %2 does not exist").arg(path, dir.filePath());
    if (!dir.isWritable() || (info.exists() && !info.isWritable()))
        return QStringLiteral("cannot write %1: permission denied").arg(path);
    return {};
}

QString formatBytes(qint64 bytes)
{
    return QStringLiteral("%1 MiB").arg(double(bytes) / (1024.0 * 1024.0), 0, 'f', 1);
}

QString stateName(perfdash::ProcessSample::Status status)
{
    using Status = perfdash::ProcessSample::Status;
    switch (status) {
    case Status::Ok:
        return QStringLiteral("live");
    case Status::Exited:
        return QStringLiteral("exited");
    case Status::NoSuchProcess:
        return QStringLiteral("missing");
    case Status::AccessDenied:
        return QStringLiteral("denied");
    case Status::Error:
        break;
    }
    return QStringLiteral("error");
}
} // namespace

int main(int argc, char** argv)
{
    QCoreApplication app(argc, argv);
    QCoreApplication::setApplicationName(QStringLiteral("perfdash"));
    QCoreApplication::setApplicationVersion(QStringLiteral(PERFDASH_VERSION));

    QCommandLineParser parser;
    parser.setApplicationDescription(
        QStringLiteral("Live profiling dashboard. Samples the memory and CPU of attached processes from /proc.\n"
                       "Usage: perfdash [options] [-- COMMAND [ARGS...]]"));
    parser.addHelpOption();
    parser.addVersionOption();
    const QCommandLineOption attach(
        QStringLiteral("attach"), QStringLiteral("Attach to a running process (repeatable)."), QStringLiteral("PID"));
    const QCommandLineOption headless(QStringLiteral("headless"), QStringLiteral("No window (the terminal view)."));
    const QCommandLineOption duration(
        QStringLiteral("duration"), QStringLiteral("Stop after SECONDS."), QStringLiteral("SECONDS"));
    const QCommandLineOption exportMemory(QStringLiteral("export-memory"),
        QStringLiteral("Write the memory and CPU samples as CSV to FILE when the run ends."), QStringLiteral("FILE"));
    const QCommandLineOption quiet(QStringLiteral("quiet"), QStringLiteral("Do not print the live table."));
    parser.addOptions({ attach, headless, duration, exportMemory, quiet });

    // Everything after "--" is the command to launch, untouched by the parser.
    QStringList arguments = QCoreApplication::arguments();
    QStringList command;
    if (const qsizetype dashes = arguments.indexOf(QStringLiteral("--")); dashes >= 0) {
        command = arguments.mid(dashes + 1);
        arguments = arguments.mid(0, dashes);
    }
    if (!parser.parse(arguments))
        fail(parser.errorText());
    if (parser.isSet(QStringLiteral("help")))
        parser.showHelp(0);
    if (parser.isSet(QStringLiteral("version")))
        parser.showVersion();
    if (!parser.positionalArguments().isEmpty())
        fail(QStringLiteral("unexpected argument '%1' (a command to launch goes after --)")
                 .arg(parser.positionalArguments().constFirst()));

    perfdash::ProcessMonitor monitor;
    for (const QString& value : parser.values(attach)) {
        bool ok = false;
        const qint64 pid = value.toLongLong(&ok);
        if (!ok || pid <= 0)
            fail(QStringLiteral("--attach needs a process id, not '%1'").arg(value));
        const perfdash::ProcessSample probe = perfdash::ProcessSampler(pid).sample();
        if (!probe.isValid())
            fail(probe.error);
        monitor.attach(pid);
    }
    double seconds = 0;
    if (parser.isSet(duration)) {
        bool ok = false;
        seconds = parser.value(duration).toDouble(&ok);
        if (!ok || seconds <= 0)
            fail(QStringLiteral("--duration needs a positive number of seconds, not '%1'").arg(parser.value(duration)));
    }
    const QString memoryPath = parser.value(exportMemory);
    if (!memoryPath.isEmpty()) {
        if (const QString error = checkWritable(memoryPath); !error.isEmpty())
            fail(error);
    }

    QProcess child;
    if (!command.isEmpty()) {
        child.setProgram(command.takeFirst());
        child.setArguments(command);
        child.setProcessChannelMode(QProcess::ForwardedChannels);
        child.start();
        if (!child.waitForStarted())
            fail(QStringLiteral("cannot launch %1: %2").arg(child.program(), child.errorString()));
        monitor.attach(child.processId());
    }
    if (monitor.pids().isEmpty())
        fail(QStringLiteral("nothing to watch: give --attach PID or -- COMMAND (see --help)"));

    std::signal(SIGINT, onSignal);
    std::signal(SIGTERM, onSignal);

    QTextStream out(stdout);
    const bool printTable = !parser.isSet(quiet);
    QObject::connect(&monitor, &perfdash::ProcessMonitor::processLost, &app, [&](qint64 pid, const QString& reason) {
        std::fprintf(stderr, "perfdash: %lld: %s\n", static_cast<long long>(pid), qUtf8Printable(reason));
    });

    int exitCode = 0;
    bool finished = false;
    QTimer tick;
    QTimer poll; // signal handlers may only set a flag; this turns it into a clean exit
    const auto finish = [&] {
        if (std::exchange(finished, true))
            return;
        tick.stop();
        poll.stop();
        if (!memoryPath.isEmpty()) {
            QString error;
            const auto records = monitor.memoryRecords();
            if (!perfdash::csvexport::writeFile(
                    memoryPath, [&](perfdash::CsvWriter& csv) { perfdash::csvexport::writeMemory(csv, records); },
                    &error)) {
                std::fprintf(stderr, "perfdash: %s\n", qUtf8Printable(error));
                exitCode = 1;
            }
        }
        if (child.state() != QProcess::NotRunning) {
            child.terminate();
            if (!child.waitForFinished(2000))
                child.kill();
        }
        QCoreApplication::exit(exitCode);
    };

    tick.setInterval(std::chrono::seconds(1));
    QObject::connect(&tick, &QTimer::timeout, &app, [&] {
        monitor.sampleNow();
        if (printTable) {
            out << QStringLiteral("%1  %2  %3  %4  %5  %6\n")
                       .arg(QStringLiteral("PID"), 8)
                       .arg(QStringLiteral("NAME"), -16)
                       .arg(QStringLiteral("STATE"), -8)
                       .arg(QStringLiteral("RSS"), 12)
                       .arg(QStringLiteral("CPU"), 7)
                       .arg(QStringLiteral("THREADS"), 7);
            for (qint64 pid : monitor.pids()) {
                const perfdash::ProcessSample s = monitor.latest(pid);
                out << QStringLiteral("%1  %2  %3  %4  %5  %6\n")
                           .arg(pid, 8)
                           .arg(monitor.label(pid).left(16), -16)
                           .arg(stateName(s.status), -8)
                           .arg(formatBytes(s.rssBytes), 12)
                           .arg(
                               s.cpuPercent ? QStringLiteral("%1%").arg(*s.cpuPercent, 0, 'f', 1) : QStringLiteral("-"),
                               7)
                           .arg(s.threads, 7);
            }
            out << Qt::endl;
        }
        const auto pids = monitor.pids();
        const bool allGone
            = std::all_of(pids.begin(), pids.end(), [&](qint64 pid) { return !monitor.latest(pid).isValid(); });
        if (allGone)
            finish();
    });
    poll.setInterval(std::chrono::milliseconds(100));
    QObject::connect(&poll, &QTimer::timeout, &app, [&] {
        if (g_interrupted.load())
            finish();
    });
    if (seconds > 0)
        QTimer::singleShot(std::chrono::milliseconds(qint64(seconds * 1000)), &app, finish);

    monitor.sampleNow(); // the first sample starts every CPU interval
    tick.start();
    poll.start();
    return app.exec();
}
