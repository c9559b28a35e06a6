// SPDX-License-Identifier: GPL-3.0-or-later
// perfdash: listens for instrumented processes, samples attached ones from /proc, shows them in
// the dashboard window (or, --headless, in the terminal) and writes the CSV exports at the end.
#include "capture.h"
#include "comparisonwindow.h"
#include "csvexport.h"
#include "ingestserver.h"
#include "mainwindow.h"
#include "metricsendpoint.h"
#include "metricsstore.h"
#include "traceexport.h"
#include "workerpool.h"

#include <QApplication>
#include <QIcon>
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
#include <cstring>
#include <memory>
#include <utility>

using namespace perfdash;

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

QString stateName(const ProcessInfo& p)
{
    switch (p.state) {
    case ProcessInfo::State::Live: return QStringLiteral("live");
    case ProcessInfo::State::Exited: return QStringLiteral("exited");
    case ProcessInfo::State::ProcOnly: return QStringLiteral("/proc");
    case ProcessInfo::State::Error: return QStringLiteral("error");
    }
    return {};
}

QString formatDuration(quint64 ns)
{
    if (ns < 1000)
        return QStringLiteral("%1 ns").arg(ns);
    if (ns < 1'000'000)
        return QStringLiteral("%1 µs").arg(double(ns) / 1e3, 0, 'f', 1);
    if (ns < 1'000'000'000)
        return QStringLiteral("%1 ms").arg(double(ns) / 1e6, 0, 'f', 1);
    return QStringLiteral("%1 s").arg(double(ns) / 1e9, 0, 'f', 2);
}

void printTable(QTextStream& out, const MetricsStore& store)
{
    out << QStringLiteral("%1  %2  %3  %4  %5  %6\n")
               .arg(QStringLiteral("PID"), 8)
               .arg(QStringLiteral("PROCESS"), -18)
               .arg(QStringLiteral("STATE"), -6)
               .arg(QStringLiteral("OPS/S"), 9)
               .arg(QStringLiteral("RSS"), 10)
               .arg(QStringLiteral("CPU"), 7);
    for (const ProcessInfo& p : store.processes()) {
        out << QStringLiteral("%1  %2  %3  %4  %5  %6\n")
                   .arg(p.pid, 8)
                   .arg(p.name.left(18), -18)
                   .arg(stateName(p), -6)
                   .arg(p.instrumented ? QString::number(p.operationsPerSecond, 'f', 0) : QStringLiteral("-"), 9)
                   .arg(p.rssBytes >= 0 ? QStringLiteral("%1 MiB").arg(double(p.rssBytes) / 1048576.0, 0, 'f', 1)
                                        : QStringLiteral("-"),
                       10)
                   .arg(p.cpuPercent ? QStringLiteral("%1%").arg(*p.cpuPercent, 0, 'f', 1) : QStringLiteral("-"), 7);
        if (!p.reason.isEmpty() && p.state != ProcessInfo::State::Live)
            out << QStringLiteral("          %1\n").arg(p.reason);
        if (!p.instrumented)
            continue;
        QList<OperationStats> ops = store.monitor(p.key)->allStats(StatsWindow::last(10));
        std::sort(ops.begin(), ops.end(), [](const auto& a, const auto& b) { return a.count > b.count; });
        for (const OperationStats& s : ops.mid(0, 6)) {
            out << QStringLiteral("          %1 %2/10s  p50 %3  p99 %4  max %5  errors %6%\n")
                       .arg(s.operation.left(24), -24)
                       .arg(s.count, 8)
                       .arg(formatDuration(s.p50Ns), 9)
                       .arg(formatDuration(s.p99Ns), 9)
                       .arg(formatDuration(s.maxNs), 9)
                       .arg(s.errorRate * 100, 0, 'f', 1);
        }
    }
    out << Qt::endl;
}

bool wantsHeadless(int argc, char** argv)
{
    for (int i = 1; i < argc && std::strcmp(argv[i], "--") != 0; ++i) {
        if (std::strcmp(argv[i], "--headless") == 0 || std::strcmp(argv[i], "--help") == 0
            || std::strcmp(argv[i], "-h") == 0 || std::strcmp(argv[i], "--version") == 0)
            return true;
    }
    return false;
}
/// What every window of perfdash shares: its icon, and the .desktop file that names it.
void brandGuiApplication()
{
    QApplication::setWindowIcon(QIcon(QStringLiteral(":/icons/perfdash.svg")));
    QGuiApplication::setDesktopFileName(QStringLiteral("perfdash"));
}
} // namespace

int main(int argc, char** argv)
{
    if (argc > 1 && std::strcmp(argv[1], "compare") == 0) { // perfdash compare BASE NEW [...] [--gui]
        bool gui = false;
        for (int i = 2; i < argc; ++i)
            gui = gui || std::strcmp(argv[i], "--gui") == 0;
        if (!gui) {
            QCoreApplication app(argc, argv);
            QTextStream out(stdout), err(stderr);
            return compareCaptures(QCoreApplication::arguments().mid(2), out, err);
        }
        QApplication app(argc, argv);
        brandGuiApplication();
        QStringList files = QCoreApplication::arguments().mid(2);
        files.removeAll(QStringLiteral("--gui"));
        QString screenshot; // --screenshot FILE: save the window once drawn, and exit
        if (const qsizetype at = files.indexOf(QStringLiteral("--screenshot")); at >= 0 && at + 1 < files.size()) {
            screenshot = files.takeAt(at + 1);
            files.removeAt(at);
        }
        QString error;
        ComparisonWindow* window = files.size() == 2 ? ComparisonWindow::open(files[0], files[1], &error) : nullptr;
        if (!window)
            fail(files.size() == 2 ? error : QStringLiteral("usage: perfdash compare BASE NEW --gui [--screenshot FILE]"));
        window->show();
        if (!screenshot.isEmpty()) {
            QTimer::singleShot(500, &app, [&] {
                const bool saved = window->grab().save(screenshot, "PNG");
                QCoreApplication::exit(saved ? 0 : 1);
            });
        }
        return app.exec();
    }
    // The window needs a QApplication, which needs a display; headless runs need neither.
    const bool headlessRun = wantsHeadless(argc, argv);
    std::unique_ptr<QCoreApplication> application(
        headlessRun ? new QCoreApplication(argc, argv) : new QApplication(argc, argv));
    QCoreApplication& app = *application;
    QCoreApplication::setOrganizationName(QStringLiteral("perfdash"));
    QCoreApplication::setApplicationName(QStringLiteral("perfdash"));
    QCoreApplication::setApplicationVersion(QStringLiteral(PERFDASH_VERSION));
    if (!headlessRun)
        brandGuiApplication();

    QCommandLineParser parser;
    parser.setApplicationDescription(QStringLiteral(
        "Live profiling dashboard: percentiles, errors, memory and CPU of running processes.\n"
        "Usage: perfdash [options] [-- COMMAND [ARGS...]]\n"
        "       perfdash compare BASE NEW [--threshold PCT] [--percentile p95]   (captures; exit 1 on a regression)"));
    parser.addHelpOption();
    parser.addVersionOption();
    const QCommandLineOption socket(QStringLiteral("socket"),
        QStringLiteral("Ingest socket (default: $PERFDASH_SOCKET, else $XDG_RUNTIME_DIR/perfdash/perfdash.sock, "
                       "else /tmp/perfdash-<uid>/perfdash.sock)."),
        QStringLiteral("PATH"));
    const QCommandLineOption attach(QStringLiteral("attach"),
        QStringLiteral("Attach to a running process: sample its memory and CPU (repeatable)."), QStringLiteral("PID"));
    const QCommandLineOption demo(QStringLiteral("demo"), QStringLiteral("Start the demo workload (perfdash-demo)."));
    const QCommandLineOption headless(QStringLiteral("headless"), QStringLiteral("No window."));
    const QCommandLineOption duration(QStringLiteral("duration"), QStringLiteral("Stop after SECONDS."),
        QStringLiteral("SECONDS"));
    const QCommandLineOption exportCsv(QStringLiteral("export-csv"),
        QStringLiteral("Write the operation statistics as CSV to FILE when the run ends."), QStringLiteral("FILE"));
    const QCommandLineOption exportSeries(QStringLiteral("export-series"),
        QStringLiteral("Write the per-second series as CSV to FILE when the run ends."), QStringLiteral("FILE"));
    const QCommandLineOption exportMemory(QStringLiteral("export-memory"),
        QStringLiteral("Write the memory and CPU samples as CSV to FILE when the run ends."), QStringLiteral("FILE"));
    const QCommandLineOption exportTrace(QStringLiteral("export-trace"),
        QStringLiteral("Write the raw events, memory and counters as a Chrome trace (Perfetto) to FILE when the run ends."),
        QStringLiteral("FILE"));
    const QCommandLineOption record(QStringLiteral("record"),
        QStringLiteral("Record everything into the capture FILE (SQLite), written every second."), QStringLiteral("FILE"));
    const QCommandLineOption open(QStringLiteral("open"),
        QStringLiteral("Show the capture FILE (read-only); with --headless, export from it and exit."), QStringLiteral("FILE"));
    const QCommandLineOption prometheus(QStringLiteral("prometheus"),
        QStringLiteral("Serve Prometheus metrics at http://HOST:PORT/metrics (PORT alone: on 127.0.0.1)."),
        QStringLiteral("HOST:PORT"));
    const QCommandLineOption quiet(QStringLiteral("quiet"), QStringLiteral("Headless: do not print the live table."));
    const QCommandLineOption screenshot(QStringLiteral("screenshot"),
        QStringLiteral("After --duration, save the window as a PNG to FILE and exit."), QStringLiteral("FILE"));
    parser.addOptions(
        { socket, attach, demo, headless, duration, exportCsv, exportSeries, exportMemory, exportTrace, record, open,
            prometheus, quiet, screenshot });

    // Everything after "--" is the command to launch, untouched by the parser.
    QStringList arguments = QCoreApplication::arguments();
    QStringList command;
    if (const qsizetype dashes = arguments.indexOf(QStringLiteral("--")); dashes >= 0) {
        command = arguments.mid(dashes + 1);
        arguments = arguments.mid(0, dashes);
        if (command.isEmpty())
            fail(QStringLiteral("-- must be followed by a command to launch"));
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

    double seconds = 0;
    if (parser.isSet(duration)) {
        bool ok = false;
        seconds = parser.value(duration).toDouble(&ok);
        if (!ok || seconds <= 0)
            fail(QStringLiteral("--duration needs a positive number of seconds, not '%1'").arg(parser.value(duration)));
    }
    QList<std::pair<QString, QString>> exports; // (kind, path)
    for (const auto& [option, kind] : { std::pair { &exportCsv, "statistics" }, std::pair { &exportSeries, "series" },
             std::pair { &exportMemory, "memory" }, std::pair { &exportTrace, "trace" } }) {
        const QString path = parser.value(*option);
        if (path.isEmpty())
            continue;
        if (const QString error = checkWritable(path); !error.isEmpty())
            fail(error);
        exports.append({ QString::fromLatin1(kind), path });
    }
    const QString screenshotPath = parser.value(screenshot);
    if (!screenshotPath.isEmpty()) {
        if (headlessRun)
            fail(QStringLiteral("--screenshot needs the window; it cannot go with --headless"));
        if (seconds <= 0)
            fail(QStringLiteral("--screenshot needs --duration SECONDS (when to take it)"));
        if (const QString error = checkWritable(screenshotPath); !error.isEmpty())
            fail(error);
    }
    QList<qint64> pids;
    for (const QString& value : parser.values(attach)) {
        bool ok = false;
        const qint64 pid = value.toLongLong(&ok);
        if (!ok || pid <= 0)
            fail(QStringLiteral("--attach needs a process id, not '%1'").arg(value));
        pids.append(pid);
    }

    // A live run listens; an opened capture is shown as it was recorded.
    const QString capturePath = parser.value(open);
    LoadedCapture opened;
    std::unique_ptr<MetricsStore> live;
    if (!capturePath.isEmpty()) {
        if (parser.isSet(demo) || !command.isEmpty() || !pids.isEmpty() || parser.isSet(record))
            fail(QStringLiteral("--open shows a recorded capture; it does not go with --demo, --attach, --record or a command"));
        opened = openCapture(capturePath);
        if (!opened.load.ok)
            fail(opened.load.error);
        for (const QString& problem : std::as_const(opened.load.problems))
            std::fprintf(stderr, "perfdash: %s: %s (the rest is shown)\n", qUtf8Printable(capturePath), qUtf8Printable(problem));
    } else {
        live = std::make_unique<MetricsStore>();
        live->setSlowThreshold(std::chrono::milliseconds(100), std::chrono::seconds(1));
    }
    MetricsStore& store = live ? *live : *opened.store;
    IngestServer server(&store);
    const QString socketPath = parser.isSet(socket) ? parser.value(socket) : IngestServer::defaultSocketPath();
    QString error;
    if (live && !server.listen(socketPath, &error))
        fail(error);
    CaptureRecorder recorder(&store);
    if (parser.isSet(record)) {
        if (const QString unwritable = checkWritable(parser.value(record)); !unwritable.isEmpty())
            fail(unwritable);
        if (!recorder.start(parser.value(record), &error))
            fail(error);
        QObject::connect(&recorder, &CaptureRecorder::failed, &app, [](const QString& why) {
            std::fprintf(stderr, "perfdash: recording: %s\n", qUtf8Printable(why));
        });
    }
    for (qint64 pid : pids) {
        if (!store.attachPid(pid, &error))
            fail(error);
    }
    MetricsEndpoint metrics(&store);
    if (parser.isSet(prometheus)) {
        QHostAddress host;
        quint16 port = 0;
        if (!MetricsEndpoint::parseAddress(parser.value(prometheus), &host, &port, &error) || !metrics.listen(host, port, &error))
            fail(error);
    }

    // Children: the demo workload and the command, all told where the dashboard is.
    QProcessEnvironment environment = QProcessEnvironment::systemEnvironment();
    environment.insert(QStringLiteral("PERFDASH_SOCKET"), socketPath);
    std::vector<std::unique_ptr<QProcess>> children;
    QProcess* commandProcess = nullptr;
    const auto launch = [&](const QString& program, const QStringList& args, bool showOutput) {
        auto child = std::make_unique<QProcess>();
        child->setProcessEnvironment(environment);
        child->setProgram(program);
        child->setArguments(args);
        child->setProcessChannelMode(showOutput ? QProcess::ForwardedChannels : QProcess::ForwardedErrorChannel);
        if (!showOutput)
            child->setStandardOutputFile(QProcess::nullDevice());
        child->start();
        if (!child->waitForStarted())
            fail(QStringLiteral("cannot launch %1: %2").arg(program, child->errorString()));
        store.attachPid(child->processId());
        children.push_back(std::move(child));
        return children.back().get();
    };
    if (parser.isSet(demo)) {
        const QString demoProgram = QCoreApplication::applicationDirPath() + QStringLiteral("/perfdash-demo");
        launch(demoProgram,
            { QStringLiteral("--name"), QStringLiteral("orders-api"), QStringLiteral("--threads"), QStringLiteral("4"),
                QStringLiteral("--rate"), QStringLiteral("250") },
            false);
        launch(demoProgram,
            { QStringLiteral("--name"), QStringLiteral("billing-worker"), QStringLiteral("--threads"), QStringLiteral("2"),
                QStringLiteral("--rate"), QStringLiteral("100"), QStringLiteral("--seed"), QStringLiteral("2") },
            false);
    }
    if (!command.isEmpty()) {
        const QString program = command.takeFirst();
        commandProcess = launch(program, command, true);
    }

    std::signal(SIGINT, onSignal);
    std::signal(SIGTERM, onSignal);
    QObject::connect(&server, &IngestServer::connectionProblem, &app,
        [](const QString& message) { std::fprintf(stderr, "perfdash: %s\n", qUtf8Printable(message)); });
    if (live)
        store.start();

    int exitCode = 0;
    bool finished = false;
    QTimer tick;
    QTimer poll; // signal handlers may only set a flag; this turns it into a clean exit
    QTextStream out(stdout);
    const bool printing = headlessRun && !parser.isSet(quiet);
    std::unique_ptr<MainWindow> window;
    // Stops the children, drains ingest and writes the exports; runs once, however the run ends.
    const auto finish = [&] {
        if (std::exchange(finished, true))
            return;
        tick.stop();
        poll.stop();
        window.reset();
        for (auto& child : children) {
            if (child->state() != QProcess::NotRunning) {
                child->terminate(); // lets the client library send its last interval
                if (!child->waitForFinished(3000))
                    child->kill();
            }
        }
        server.close(); // applies what is still in flight
        if (live)
            store.sampleProcesses();
        store.stop();
        if (parser.isSet(record)) {
            if (QString recordError; !recorder.flush(&recordError)) {
                std::fprintf(stderr, "perfdash: %s\n", qUtf8Printable(recordError));
                exitCode = 1;
            }
            recorder.stop();
        }
        // Copies taken here; the files are written on the worker pool.
        const auto statistics = store.statistics();
        const auto series = store.series();
        const auto memory = store.memoryRecords();
        WorkerPool pool(2);
        QList<QFuture<QString>> writes;
        for (const auto& [kind, path] : std::as_const(exports)) {
            writes.append(pool.submit(QStringLiteral("export"), [&, kind = kind, path = path] {
                QString writeError;
                if (kind == QLatin1String("trace")) {
                    traceexport::writeFile(store, path, &writeError);
                    return writeError;
                }
                csvexport::writeFile(
                    path,
                    [&](CsvWriter& csv) {
                        if (kind == QLatin1String("statistics"))
                            csvexport::writeStatistics(csv, statistics);
                        else if (kind == QLatin1String("series"))
                            csvexport::writeSeries(csv, series);
                        else
                            csvexport::writeMemory(csv, memory);
                    },
                    &writeError);
                return writeError;
            }));
        }
        for (auto& w : writes) {
            if (const QString writeError = w.result(); !writeError.isEmpty()) {
                std::fprintf(stderr, "perfdash: %s\n", qUtf8Printable(writeError));
                exitCode = 1;
            }
        }
    };
    const auto quit = [&] {
        finish();
        QCoreApplication::exit(exitCode);
    };
    QObject::connect(&app, &QCoreApplication::aboutToQuit, &app, finish); // the window was closed

    if (!headlessRun) {
        window = std::make_unique<MainWindow>(&store, live ? &server : nullptr);
        if (!live)
            window->showCapture(capturePath, opened.load);
        window->show();
    }
    tick.setInterval(std::chrono::seconds(1));
    QObject::connect(&tick, &QTimer::timeout, &app, [&] {
        if (printing)
            printTable(out, store);
    });
    poll.setInterval(std::chrono::milliseconds(100));
    QObject::connect(&poll, &QTimer::timeout, &app, [&] {
        if (g_interrupted.load())
            quit();
    });
    if (seconds > 0) {
        QTimer::singleShot(std::chrono::milliseconds(qint64(seconds * 1000)), &app, [&] {
            if (window && !screenshotPath.isEmpty()) {
                if (!window->grab().save(screenshotPath, "PNG")) {
                    std::fprintf(stderr, "perfdash: cannot write the screenshot %s\n", qUtf8Printable(screenshotPath));
                    exitCode = 1;
                }
            }
            quit();
        });
    } else if (!live && headlessRun) { // a capture, headless: export and go
        QTimer::singleShot(0, &app, quit);
    } else if (commandProcess) { // the run is the command's: it ends when the command does
        QObject::connect(commandProcess, &QProcess::finished, &app, [&] { QTimer::singleShot(0, &app, quit); });
    }
    tick.start();
    poll.start();
    if (printing)
        out << QStringLiteral("perfdash: listening on %1\n").arg(socketPath) << Qt::flush;
    const int status = app.exec();
    finish();
    return status != 0 ? status : exitCode;
}
