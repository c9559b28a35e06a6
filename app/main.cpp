// SPDX-License-Identifier: GPL-3.0-or-later
// perfdash: listens for instrumented processes, samples attached ones from /proc, shows them in
// the dashboard window (or, --headless, in the terminal) and writes the CSV exports at the end.
#include "app/cliutil.h"
#include "app/comparecommand.h"
#include "app/headlesstable.h"
#include "app/options.h"
#include "capture/capture.h"
#include "core/childprocess.h"
#include "core/headlessgate.h"
#include "core/metricsstore.h"
#include "http/httpaddress.h"
#include "http/metricsendpoint.h"
#include "ipc/ingestserver.h"
#include "ipc/ringoperationtimeline.h"
#include "ipc/scoperingreader.h"
#include "otlp/otlpgrpcreceiver.h"
#include "otlp/otlpreceiver.h"
#include "profiler/debuginfod.h"
#include "profiler/heapprofiler.h"
#include "profiler/profiler.h"
#include "run/runend.h"
#include "widgets/budgetsdialog.h"
#include "widgets/mainwindow.h"
#include "widgets/otlpmenu.h"
#include "widgets/profilepanel.h"

#include <QApplication>
#include <QCommandLineParser>
#include <QCoreApplication>
#include <QDir>
#include <QFileInfo>
#include <QMenuBar>
#include <QProcess>
#include <QStatusBar>
#include <QTabWidget>
#include <QTextStream>
#include <QTimer>

#include <atomic>
#include <csignal>
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

bool wantsHeadless(int argc, char** argv)
{
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--headless") == 0 || std::strcmp(argv[i], "--help") == 0
            || std::strcmp(argv[i], "-h") == 0 || std::strcmp(argv[i], "--version") == 0)
            return true;
    }
    return false;
}
} // namespace

int main(int argc, char** argv)
{
    perfdash::Debuginfod::takeEnvironment(); // before any thread: libdw must never fetch on its own
    if (argc > 1 && std::strcmp(argv[1], "compare") == 0) // perfdash compare BASE NEW [...] [--gui]
        return runCompare(argc, argv);
    // Everything after "--" is the command to launch: cut off before Qt sees argv, since QApplication
    // takes its own options (-style, -geometry, -reverse, --title...) from wherever they stand.
    QStringList command;
    int qtArgc = argc;
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--") == 0) {
            qtArgc = i;
            for (int j = i + 1; j < argc; ++j)
                command << QString::fromLocal8Bit(argv[j]);
            if (command.isEmpty())
                fail(QStringLiteral("-- must be followed by a command to launch"));
            break;
        }
    }
    // The window needs a QApplication, which needs a display; headless runs need neither.
    const bool headlessRun = wantsHeadless(qtArgc, argv);
    std::unique_ptr<QCoreApplication> application(
        headlessRun ? new QCoreApplication(qtArgc, argv) : new QApplication(qtArgc, argv));
    QCoreApplication& app = *application;
    QCoreApplication::setOrganizationName(QStringLiteral("perfdash"));
    QCoreApplication::setApplicationName(QStringLiteral("perfdash"));
    QCoreApplication::setApplicationVersion(QStringLiteral(PERFDASH_VERSION));
    if (!headlessRun)
        brandGuiApplication();

    const Options options = parseOptions(headlessRun, command);
    ScopeRingReader ringReader; // before the profiler, which asks it until its last sample is counted
    RingOperationTimeline operationTimeline(&ringReader);
    Profiler profiler;
    if (options.profileHz > 0)
        profiler.setFrequency(options.profileHz);
    QObject::connect(&profiler, &Profiler::problem, &app, [](qint64, const QString& message) { say(message); });
    // A live run listens; an opened capture is shown as it was recorded.
    const QString& capturePath = options.open;
    LoadedCapture opened;
    std::unique_ptr<MetricsStore> live;
    if (!capturePath.isEmpty()) {
        QString unreadable;
        std::optional<LoadedCapture> loaded = openCapture(capturePath, &unreadable);
        if (!loaded)
            fail(unreadable);
        opened = std::move(*loaded);
        for (const QString& note : std::as_const(opened.load.notes))
            say(note);
        for (const QString& problem : std::as_const(opened.load.problems))
            say(QStringLiteral("%1: %2 (the rest is shown)").arg(capturePath, problem));
    } else {
        live = std::make_unique<MetricsStore>();
        live->setSlowThreshold(std::chrono::milliseconds(100), std::chrono::seconds(1));
        live->setBudgets(loadBudgets() + options.budgets); // the window's own, and these; headless too
        live->setSlowRules(mergeSlowRules(loadSlowRules(), options.slowRules)); // the window's own, under these
    }
    MetricsStore& store = live ? *live : *opened.store;
    IngestServer server(&store);
    // Profiles per operation: a profiled client is asked to record its operations (PROFILE), its
    // scope rings are read here, and the profiler attributes each sample through them.
    profiler.setTimeline(&operationTimeline);
    profiler.setSlowThresholds(&store.slowThresholds());
    QObject::connect(
        &server, &IngestServer::scopeRingsOffered, &ringReader,
        [&ringReader](qint64 pid, const protocol::Rings& rings) { ringReader.offer(pid, rings); },
        Qt::DirectConnection);
    QObject::connect(&profiler, &Profiler::profilingStarted, &app, [&](qint64 pid) {
        server.setProfiled(pid, true);
        // Once its last samples are attributed, the exited process's rings are let go.
        if (ProcessProfiler* profiled = profiler.profilerFor(pid))
            QObject::connect(
                profiled, &ProcessProfiler::exited, &ringReader, [&ringReader, pid] { ringReader.removeProcess(pid); });
    });
    if (live)
        ringReader.start();
    // Connected before it listens: a refusal in the first instant is said too (its only voice).
    QObject::connect(&server, &IngestServer::connectionProblem, &app, [](const QString& message) { say(message); });
    const QString socketPath = options.socketPath.value_or(IngestServer::defaultSocketPath());
    QString error;
    if (live && !server.listen(socketPath, &error))
        fail(error);
    CaptureRecorder recorder(&store);
    if (!options.outputs.capture.isEmpty()) {
        if (!recorder.start(options.outputs.capture, &error))
            fail(error);
        const auto recording = [](const QString& what) { say(QStringLiteral("recording: ") + what); };
        QObject::connect(&recorder, &CaptureRecorder::failed, &app, recording);
        QObject::connect(&recorder, &CaptureRecorder::resumed, &app, recording);
    }
    for (qint64 pid : options.attach) {
        if (!store.attachPid(pid, &error))
            fail(error);
        if (options.profiling)
            profiler.profile(pid); // a refusal is said on stderr and in the window; the rest goes on
    }
    MetricsEndpoint metrics(&store);
    metrics.setIngestServer(&server);
    QObject::connect(&metrics, &MetricsEndpoint::problem, &app, [](const QString& message) { say(message); });
    // A listener asked for on the command line listens, or the run does not start.
    const auto listenOn = [&error](const std::optional<QString>& address, const QString& option, const QString& form,
                              const auto& listen) {
        QHostAddress host;
        quint16 port = 0;
        if (address && (!parseHttpAddress(*address, option, form, &host, &port, &error) || !listen(host, port, &error)))
            fail(error);
    };
    // In the window too: MainWindow::setHttpEndpoints().
    listenOn(options.prometheus, QStringLiteral("--prometheus"), QStringLiteral("HOST:PORT or PORT"),
        [&metrics](const QHostAddress& host, quint16 port, QString* why) { return metrics.listen(host, port, why); });
    OtlpReceiver otlpReceiver(&store);
    metrics.addListener([&otlpReceiver] { return otlpReceiver.refusals(); }); // its refusals in /metrics
    otlpReceiver.setHideInternalSpans(options.otlpHideInternal);
    QObject::connect(&otlpReceiver, &OtlpReceiver::problem, &app, [](const QString& message) { say(message); });
    listenOn(options.otlp, QStringLiteral("--otlp"), QStringLiteral("[HOST:]PORT"),
        [&otlpReceiver](
            const QHostAddress& host, quint16 port, QString* why) { return otlpReceiver.listen(host, port, why); });
    // OTLP/gRPC: the OTLP/HTTP receiver's ingest and thread (one process per service over both).
    OtlpGrpcReceiver otlpGrpcReceiver(&otlpReceiver);
    QObject::connect(&otlpGrpcReceiver, &OtlpGrpcReceiver::problem, &app, [](const QString& message) { say(message); });
    const auto grpcRefusals = [&otlpGrpcReceiver] { return otlpGrpcReceiver.refusals(); };
    if (options.otlpGrpc)
        metrics.addListener(grpcRefusals);
    listenOn(options.otlpGrpc, QStringLiteral("--otlp-grpc"), QStringLiteral("[HOST:]PORT"),
        [&otlpGrpcReceiver](
            const QHostAddress& host, quint16 port, QString* why) { return otlpGrpcReceiver.listen(host, port, why); });

    // Children: the demo workload and the command, all told where the dashboard is.
    QProcessEnvironment environment = QProcessEnvironment::systemEnvironment();
    environment.insert(QStringLiteral("PERFDASH_SOCKET"), socketPath);
    std::vector<std::unique_ptr<QProcess>> children;
    QProcess* commandProcess = nullptr;
    HeapProfiler heapProfiler(QFileInfo(socketPath).absolutePath()); // the socket's directory: the user's own
    if (live) {
        QObject::connect(&heapProfiler, &HeapProfiler::heapChanged, &app,
            [&store](qint64 pid, qint64 bytes) { store.recordHeapOfPid(pid, bytes); });
        QObject::connect(
            &heapProfiler, &HeapProfiler::problem, &app, [](qint64, const QString& message) { say(message); });
    }
    quint64 launchedKey = 0; // the store's key of the last program launched
    const auto launch = [&](const QString& program, const QStringList& args, bool showOutput) {
        auto child = std::make_unique<QProcess>();
        QProcessEnvironment childEnvironment = environment;
        int heapTicket = 0;
        if (options.outputs.heapTracking) {
            if (QString refused; !heapProfiler.prepare(program, &childEnvironment, &heapTicket, &refused))
                say(QStringLiteral("the heap of %1 is not tracked: %2").arg(program, refused));
        }
        child->setProcessEnvironment(childEnvironment);
        child->setProgram(program);
        child->setArguments(args);
        childprocess::endWithParent(*child); // also when perfdash is killed and cannot stop it
        child->setProcessChannelMode(showOutput ? QProcess::ForwardedChannels : QProcess::ForwardedErrorChannel);
        if (!showOutput)
            child->setStandardOutputFile(QProcess::nullDevice());
        child->start();
        if (!child->waitForStarted()) {
            heapProfiler.abandon(heapTicket);
            fail(QStringLiteral("cannot launch %1: %2").arg(program, child->errorString()));
        }
        launchedKey = store.attachPid(child->processId());
        if (heapTicket)
            heapProfiler.started(heapTicket, child->processId(), QFileInfo(program).fileName());
        if (options.profiling)
            profiler.profile(child->processId());
        children.push_back(std::move(child));
        return children.back().get();
    };
    if (options.demo) {
        const QString demoProgram = QCoreApplication::applicationDirPath() + QStringLiteral("/perfdash-demo");
        launch(demoProgram,
            { QStringLiteral("--name"), QStringLiteral("orders-api"), QStringLiteral("--threads"), QStringLiteral("4"),
                QStringLiteral("--rate"), QStringLiteral("250") },
            false);
        launch(demoProgram,
            { QStringLiteral("--name"), QStringLiteral("billing-worker"), QStringLiteral("--threads"),
                QStringLiteral("2"), QStringLiteral("--rate"), QStringLiteral("100"), QStringLiteral("--seed"),
                QStringLiteral("2") },
            false);
    }
    quint64 commandKey = 0;
    if (!command.isEmpty()) {
        const QString program = command.takeFirst();
        commandProcess = launch(program, command, true);
        commandKey = launchedKey;
    }

    std::signal(SIGINT, onSignal);
    std::signal(SIGTERM, onSignal);
    if (live)
        store.start();

    int exitCode = 0;
    QTimer tick;
    QTimer poll; // signal handlers may only set a flag; this turns it into a clean exit
    QTextStream out(stdout);
    const bool printing = headlessRun && !options.quiet;
    std::unique_ptr<MainWindow> window;
    RunParts parts { &store, bool(live), &server, &metrics, &otlpReceiver, &profiler, &heapProfiler, &recorder, {} };
    QList<std::function<ListenerRefusals()>> otherListeners; // besides OTLP/HTTP: the table's, the window's
    if (otlpGrpcReceiver.isListening()) {
        parts.listeners.push_back({ [&otlpGrpcReceiver] { otlpGrpcReceiver.close(); }, grpcRefusals });
        otherListeners.append(grpcRefusals);
    }
    RunEnd runEnd(parts, options.outputs, [](const QString& message) { say(message); });
    for (const auto& child : children)
        runEnd.addChild(child.get(), child.get() == commandProcess);
    // However the run ends: the timers and the window first, then RunEnd (once).
    const auto finish = [&] {
        if (runEnd.finished())
            return;
        tick.stop();
        poll.stop();
        window.reset();
        exitCode = runEnd.finish(exitCode);
    };
    // Every event loop unwinds before the window goes: a dialog's or a menu's own loop (Launch
    // program, the quit prompt) runs in a handler of the window, its object on that handler's
    // stack with the window as its parent. aboutToQuit comes once the main loop has returned.
    const auto quit = [] { QCoreApplication::exit(0); };
    QObject::connect(&app, &QCoreApplication::aboutToQuit, &app, finish);

    if (!headlessRun) {
        window = std::make_unique<MainWindow>(&store, live ? &server : nullptr);
        if (live) { // a capture's profiles are shown read-only (showCapture)
            window->setProfiler(&profiler);
            window->setProfileEveryProcess(options.profiling); // what is attached or launched later too
            window->setHeapProfiler(&heapProfiler);
            auto* otlpMenu
                = new OtlpMenu(&otlpReceiver, options.otlp.has_value() || options.otlpHideInternal, window.get());
            window->menuBar()->addMenu(otlpMenu);
            QObject::connect(otlpMenu, &OtlpMenu::message, window.get(),
                [w = window.get()](const QString& text) { w->statusBar()->showMessage(text, 8000); });
        }
        if (!live)
            window->showCapture(capturePath, opened.load);
        if (!options.outputs.capture.isEmpty()) {
            window->setRecording(options.outputs.capture);
            // What the capture misses is said in the window too: until writes resume, then for a while.
            QObject::connect(&recorder, &CaptureRecorder::failed, window.get(), [w = window.get()](const QString& why) {
                w->statusBar()->showMessage(QStringLiteral("Recording: ") + why);
            });
            QObject::connect(
                &recorder, &CaptureRecorder::resumed, window.get(), [w = window.get()](const QString& what) {
                    w->statusBar()->showMessage(QStringLiteral("Recording: ") + what, 30'000);
                });
        }
        window->setHttpEndpoints(&metrics, live ? &otlpReceiver : nullptr); // their refusals in the status bar
        for (const auto& refusals : std::as_const(otherListeners))
            window->addListener(refusals);
        // The OTLP menu restarts OTLP/HTTP only; OTLP/gRPC is the command line's.
        QObject::connect(&otlpGrpcReceiver, &OtlpGrpcReceiver::problem, window.get(),
            [w = window.get()](const QString& message) { w->statusBar()->showMessage(message, 10'000); });
        if (!options.view.isEmpty()) // else as the user left it last time
            window->setProfileBeside(options.view == QLatin1String("both"));
        if (options.view == QLatin1String("profile") || options.profileView >= 0)
            window->showProfile();
        // The command is what the run is about: its process selected from the start, as a launch
        // from the window selects it (its operations, memory, profile and heap are shown).
        if (commandKey)
            window->selectProcess(commandKey);
        if (options.view == QLatin1String("memory"))
            window->showMemory();
        if (options.profileView >= 0)
            window->profilePanel()->setTab(ProfilePanel::Tab(options.profileView));
        window->show();
    }
    tick.setInterval(std::chrono::seconds(1));
    QObject::connect(&tick, &QTimer::timeout, &app, [&] {
        if (printing) {
            QList<ListenerRefusals> others;
            for (const auto& refusals : std::as_const(otherListeners))
                others.append(refusals());
            printTable(out, store, server, metrics, otlpReceiver, others);
        }
        if (printing && options.profiling)
            out << profiler.summary() << Qt::flush;
    });
    poll.setInterval(std::chrono::milliseconds(100));
    QObject::connect(&poll, &QTimer::timeout, &app, [&] {
        if (g_interrupted.load())
            quit();
    });
    if (options.seconds > 0) {
        QTimer::singleShot(std::chrono::milliseconds(qint64(options.seconds * 1000)), &app, [&] {
            if (window && !options.screenshot.isEmpty()) {
                if (QString saveError; !savePng(window->grab(), options.screenshot, &saveError)) {
                    say(saveError);
                    exitCode = 1;
                }
            }
            quit();
        });
    } else if (!live && headlessRun) { // a capture, headless: export and go
        QTimer::singleShot(0, &app, quit);
    } else if (commandProcess) { // the run is the command's: it ends when the command does
        QObject::connect(commandProcess, &QProcess::finished, &app, [&](int code, QProcess::ExitStatus status) {
            runEnd.commandEnded(status == QProcess::CrashExit, code);
            QTimer::singleShot(0, &app, quit);
        });
    }
    tick.start();
    poll.start();
    if (printing && live) // an opened capture is shown, not served
        out << QStringLiteral("perfdash: listening on %1\n").arg(socketPath) << Qt::flush;
    const int status = app.exec();
    finish();
    return status != 0 ? status : exitCode;
}
