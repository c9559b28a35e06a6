// SPDX-License-Identifier: GPL-3.0-or-later
// perfdash: listens for instrumented processes, samples attached ones from /proc, shows them in
// the dashboard window (or, --headless, in the terminal) and writes the CSV exports at the end.
#include "app/cliutil.h"
#include "app/comparecommand.h"
#include "app/headlesstable.h"
#include "capture/capture.h"
#include "capture/captureprofiles.h"
#include "core/childprocess.h"
#include "core/csvexport.h"
#include "core/headlessgate.h"
#include "core/metricsstore.h"
#include "core/traceexport.h"
#include "http/httpaddress.h"
#include "http/metricsendpoint.h"
#include "http/refusalsummary.h"
#include "ipc/ingestserver.h"
#include "ipc/ringoperationtimeline.h"
#include "ipc/scoperingreader.h"
#include "otlp/otlpreceiver.h"
#include "profiler/debuginfod.h"
#include "profiler/foldedexport.h"
#include "profiler/heapprofiler.h"
#include "profiler/profiler.h"
#include "toolkit/workerpool.h"
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

/// Each of @p texts parsed by @p parse (optional<T> parse(text, &error)); the first error ends the run.
template <typename Parse> auto parseEach(const QStringList& texts, Parse parse)
{
    QList<typename decltype(parse(QString(), nullptr))::value_type> parsed;
    for (const QString& text : texts) {
        QString error;
        const auto one = parse(text, &error);
        if (!one)
            fail(error);
        parsed.append(*one);
    }
    return parsed;
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

    QCommandLineParser parser;
    parser.setApplicationDescription(QStringLiteral(
        "Live profiling dashboard: percentiles, errors, memory and CPU of running processes.\n"
        "Two captures: perfdash compare BASE NEW [--threshold PCT] [--error-threshold PP] [--min-count N]\n"
        "  [--percentile p95] [--profile-threshold PP] [--min-samples N] [--format text|json|markdown]\n"
        "  [--gui [--screenshot FILE]] (exit 1 on a regression of an operation or of a CPU profile; --gui opens\n"
        "  the comparison window, with the same verdicts)\n"
        "Exit status: 0 success; 1 an export or the recording failed (or is incomplete); 2 bad arguments or the run\n"
        "could not start; 3 a budget (--budget, or saved from the window) was broken at the end; 4 a profile asked\n"
        "for (--profile) was refused; with -- COMMAND, 64 + its exit status when it failed (192 + the signal that\n"
        "killed it), capped at 255; that comes before 1, 4 and 3."));
    parser.addHelpOption();
    parser.addVersionOption();
    // Named here so that the one Usage line Qt prints shows it (the description has none of its own).
    parser.addPositionalArgument(QStringLiteral("-- COMMAND"),
        QStringLiteral("Launch COMMAND with PERFDASH_SOCKET set and attach to it (everything after --)."),
        QStringLiteral("[-- COMMAND [ARGS...]]"));
    const QCommandLineOption socket(QStringLiteral("socket"),
        QStringLiteral("Ingest socket (default: $PERFDASH_SOCKET, else $XDG_RUNTIME_DIR/perfdash/perfdash.sock, "
                       "else /tmp/perfdash-<uid>/perfdash.sock)."),
        QStringLiteral("PATH"));
    const QCommandLineOption attach(QStringLiteral("attach"),
        QStringLiteral("Attach to a running process: sample its memory and CPU (repeatable)."), QStringLiteral("PID"));
    const QCommandLineOption demo(QStringLiteral("demo"), QStringLiteral("Start the demo workload (perfdash-demo)."));
    const QCommandLineOption headless(QStringLiteral("headless"), QStringLiteral("No window."));
    const QCommandLineOption duration(
        QStringLiteral("duration"), QStringLiteral("Stop after SECONDS."), QStringLiteral("SECONDS"));
    const QCommandLineOption exportCsv(QStringLiteral("export-csv"),
        QStringLiteral("Write the operation statistics as CSV to FILE when the run ends."), QStringLiteral("FILE"));
    const QCommandLineOption exportSeries(QStringLiteral("export-series"),
        QStringLiteral("Write the per-second series as CSV to FILE when the run ends."), QStringLiteral("FILE"));
    const QCommandLineOption exportMemory(QStringLiteral("export-memory"),
        QStringLiteral("Write the memory and CPU samples as CSV to FILE when the run ends."), QStringLiteral("FILE"));
    const QCommandLineOption exportTrace(QStringLiteral("export-trace"),
        QStringLiteral(
            "Write the raw events, memory and counters as a Chrome trace (Perfetto) to FILE when the run ends."),
        QStringLiteral("FILE"));
    const QCommandLineOption record(QStringLiteral("record"),
        QStringLiteral("Record everything into the capture FILE (SQLite), written every second."),
        QStringLiteral("FILE"));
    const QCommandLineOption open(QStringLiteral("open"),
        QStringLiteral("Show the capture FILE (read-only); with --headless, export from it and exit."),
        QStringLiteral("FILE"));
    const QCommandLineOption prometheus(QStringLiteral("prometheus"),
        QStringLiteral("Serve Prometheus metrics at http://HOST:PORT/metrics (PORT alone: on 127.0.0.1)."),
        QStringLiteral("HOST:PORT"));
    const QCommandLineOption otlp(QStringLiteral("otlp"),
        QStringLiteral("Receive OpenTelemetry: OTLP/HTTP (/v1/traces, /v1/metrics; JSON or protobuf; gzip) on "
                       "[HOST:]PORT (PORT alone: on 127.0.0.1). Each span is an operation."),
        QStringLiteral("[HOST:]PORT"));
    const QCommandLineOption otlpHideInternal(QStringLiteral("otlp-hide-internal"),
        QStringLiteral("OTLP: leave spans of kind INTERNAL out of the operations (still counted)."));
    const QCommandLineOption budget(QStringLiteral("budget"),
        QStringLiteral(
            "Budget over the whole run, 'PATTERN:pNN<=DURATION' (e.g. 'db.*:p99<=5ms'; repeatable). With the "
            "budgets saved from the window, checked at the end: exit status 3 when one is broken."),
        QStringLiteral("BUDGET"));
    const QCommandLineOption quiet(QStringLiteral("quiet"), QStringLiteral("Headless: do not print the live table."));
    const QCommandLineOption screenshot(QStringLiteral("screenshot"),
        QStringLiteral("After --duration, save the window as a PNG to FILE and exit."), QStringLiteral("FILE"));
    const QCommandLineOption view(QStringLiteral("view"),
        QStringLiteral("The view shown beside the tables at start: charts (the default), profile (the CPU profile) "
                       "both (charts and CPU profile side by side) or memory (the heap by call site, with --heap)."),
        QStringLiteral("VIEW"));
    const QCommandLineOption profileView(QStringLiteral("profile-view"),
        QStringLiteral("The CPU profile's view at start: flame (the default), top-down, bottom-up or caller-callee; "
                       "shows the profile (--view profile)."),
        QStringLiteral("VIEW"));
    const QCommandLineOption profile(QStringLiteral("profile"),
        QStringLiteral("Sample the CPU of every attached or launched process (perf_event_open, whole stacks)."));
    const QCommandLineOption profileHz(QStringLiteral("profile-hz"),
        QStringLiteral("Profiling rate (default 499; capped by kernel.perf_event_max_sample_rate)."),
        QStringLiteral("N"));
    const QCommandLineOption exportProfile(QStringLiteral("export-profile"),
        QStringLiteral(
            "Write the profiles as folded stacks (process;outermost;...;leaf COUNT) to FILE when the run ends."),
        QStringLiteral("FILE"));
    const QCommandLineOption slow(QStringLiteral("slow"),
        QStringLiteral("Slow threshold 'PATTERN:DURATION' (the patterns of --budget, e.g. 'http.GET /users:50ms'; "
                       "repeatable): an instance at or over it is slow (alerts, slow_count, slow profiles)."),
        QStringLiteral("THRESHOLD"));
    const QCommandLineOption exportProfileByOperation(QStringLiteral("export-profile-by-operation"),
        QStringLiteral("Write the profiles as folded stacks with the operations each sample ran in after the "
                       "process frame, outermost first ([NAME], or [NAME slow]), to FILE when the run ends."),
        QStringLiteral("FILE"));
    const QCommandLineOption exportOffCpu(QStringLiteral("export-off-cpu"),
        QStringLiteral("Write the time off CPU as folded stacks (the count: microseconds), with the operation frames "
                       "of --export-profile-by-operation, to FILE when the run ends."),
        QStringLiteral("FILE"));
    const QCommandLineOption exportPprof(QStringLiteral("export-pprof"),
        QStringLiteral("Write the profiles (CPU, off CPU where recorded, operations as labels) as gzipped pprof "
                       "profile.proto to FILE when the run ends (go tool pprof, pprof -http, Pyroscope)."),
        QStringLiteral("FILE"));
    const QCommandLineOption heap(QStringLiteral("heap"),
        QStringLiteral("Track the heap of the programs perfdash launches (-- COMMAND, --demo) with the heap preload: "
                       "exact heap in use, live bytes and allocation rate by call site (docs/HEAP.md)."));
    const QCommandLineOption exportHeap(QStringLiteral("export-heap"),
        QStringLiteral("Write the live heap of the launched programs as folded stacks "
                       "(process;outermost;...;leaf BYTES) to FILE when the run ends (implies --heap)."),
        QStringLiteral("FILE"));
    parser.addOptions({ socket, attach, demo, headless, duration, exportCsv, exportSeries, exportMemory, exportTrace,
        record, open, prometheus, otlp, otlpHideInternal, budget, slow, quiet, screenshot, view, profile, profileHz,
        exportProfile, exportProfileByOperation, exportOffCpu, exportPprof, profileView, heap, exportHeap });

    if (!parser.parse(QCoreApplication::arguments()))
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
        QString durationError;
        const std::optional<double> parsed = HeadlessGate::parseDurationSeconds(parser.value(duration), &durationError);
        if (!parsed)
            fail(durationError);
        seconds = *parsed;
    }
    const QList<Budget> commandLineBudgets = parseEach(parser.values(budget), HeadlessGate::parseBudget);
    const QList<SlowRule> slowRules = parseEach(parser.values(slow), SlowThresholds::parse);
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
    const QString viewName = parser.value(view);
    if (!viewName.isEmpty() && viewName != QLatin1String("charts") && viewName != QLatin1String("profile")
        && viewName != QLatin1String("both") && viewName != QLatin1String("memory"))
        fail(QStringLiteral("--view is charts, profile, both or memory, not '%1'").arg(viewName));
    const QStringList profileViews { QStringLiteral("flame"), QStringLiteral("top-down"), QStringLiteral("bottom-up"),
        QStringLiteral("caller-callee") };
    const QString profileViewName = parser.value(profileView);
    if (!profileViewName.isEmpty() && !profileViews.contains(profileViewName))
        fail(QStringLiteral("--profile-view is flame, top-down, bottom-up or caller-callee, not '%1'")
                 .arg(profileViewName));
    if (!profileViewName.isEmpty() && headlessRun)
        fail(QStringLiteral("--profile-view needs the window; it cannot go with --headless"));
    if (!viewName.isEmpty() && headlessRun)
        fail(QStringLiteral("--view needs the window; it cannot go with --headless"));
    const QString screenshotPath = parser.value(screenshot);
    if (!screenshotPath.isEmpty()) {
        if (headlessRun)
            fail(QStringLiteral("--screenshot needs the window; it cannot go with --headless"));
        if (seconds <= 0)
            fail(QStringLiteral("--screenshot needs --duration SECONDS (when to take it)"));
        if (const QString error = checkWritable(screenshotPath); !error.isEmpty())
            fail(error);
    }
    ScopeRingReader ringReader; // before the profiler, which asks it until its last sample is counted
    RingOperationTimeline operationTimeline(&ringReader);
    Profiler profiler;
    const bool profiling = parser.isSet(profile) || parser.isSet(exportProfile) || parser.isSet(profileHz)
        || parser.isSet(exportProfileByOperation) || parser.isSet(exportOffCpu) || parser.isSet(exportPprof);
    if (parser.isSet(profileHz)) {
        bool ok = false;
        const int hz = parser.value(profileHz).toInt(&ok);
        if (!ok || hz <= 0)
            fail(QStringLiteral("--profile-hz needs a positive number of samples per second, not '%1'")
                     .arg(parser.value(profileHz)));
        profiler.setFrequency(hz);
    }
    const QString profilePath = parser.value(exportProfile);
    const QString byOperationPath = parser.value(exportProfileByOperation);
    const QString offCpuPath = parser.value(exportOffCpu);
    const QString pprofPath = parser.value(exportPprof);
    const QString heapPath = parser.value(exportHeap);
    const bool heapTracking = parser.isSet(heap) || parser.isSet(exportHeap);
    if (heapTracking && command.isEmpty() && !parser.isSet(demo))
        fail(QStringLiteral("--heap tracks the programs perfdash launches (-- COMMAND, --demo): a running process "
                            "cannot be given the heap preload"));
    for (const QString& path : { profilePath, byOperationPath, offCpuPath, pprofPath, heapPath }) {
        if (const QString error = path.isEmpty() ? QString() : checkWritable(path); !error.isEmpty())
            fail(error);
    }
    QObject::connect(&profiler, &Profiler::problem, &app, [](qint64, const QString& message) { say(message); });
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
            fail(QStringLiteral(
                "--open shows a recorded capture; it does not go with --demo, --attach, --record or a command"));
        opened = openCapture(capturePath);
        if (!opened.load.ok)
            fail(opened.load.error);
        for (const QString& note : std::as_const(opened.load.notes))
            say(note);
        for (const QString& problem : std::as_const(opened.load.problems))
            std::fprintf(
                stderr, "perfdash: %s: %s (the rest is shown)\n", qUtf8Printable(capturePath), qUtf8Printable(problem));
    } else {
        live = std::make_unique<MetricsStore>();
        live->setSlowThreshold(std::chrono::milliseconds(100), std::chrono::seconds(1));
        live->setBudgets(loadBudgets() + commandLineBudgets); // the window's own, and these; headless too
        live->setSlowRules(mergeSlowRules(loadSlowRules(), slowRules)); // the window's own, under these
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
        const auto recording = [](const QString& what) { say(QStringLiteral("recording: ") + what); };
        QObject::connect(&recorder, &CaptureRecorder::failed, &app, recording);
        QObject::connect(&recorder, &CaptureRecorder::resumed, &app, recording);
    }
    for (qint64 pid : pids) {
        if (!store.attachPid(pid, &error))
            fail(error);
        if (profiling)
            profiler.profile(pid); // a refusal is said on stderr and in the window; the rest goes on
    }
    MetricsEndpoint metrics(&store);
    metrics.setIngestServer(&server);
    QObject::connect(&metrics, &MetricsEndpoint::problem, &app, [](const QString& message) { say(message); });
    // In the window too: MainWindow::setHttpEndpoints().
    if (parser.isSet(prometheus)) {
        QHostAddress host;
        quint16 port = 0;
        if (!parseHttpAddress(parser.value(prometheus), QStringLiteral("--prometheus"),
                QStringLiteral("HOST:PORT or PORT"), &host, &port, &error)
            || !metrics.listen(host, port, &error))
            fail(error);
    }
    OtlpReceiver otlpReceiver(&store);
    metrics.addListener([&otlpReceiver] { return otlpReceiver.refusals(); }); // its refusals in /metrics
    otlpReceiver.setHideInternalSpans(parser.isSet(otlpHideInternal));
    QObject::connect(&otlpReceiver, &OtlpReceiver::problem, &app, [](const QString& message) { say(message); });
    if (parser.isSet(otlp)) {
        if (!live)
            fail(QStringLiteral("--otlp receives live telemetry; it does not go with --open"));
        QHostAddress host;
        quint16 port = 0;
        if (!parseHttpAddress(
                parser.value(otlp), QStringLiteral("--otlp"), QStringLiteral("[HOST:]PORT"), &host, &port, &error)
            || !otlpReceiver.listen(host, port, &error))
            fail(error);
    }

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
    const auto launch = [&](const QString& program, const QStringList& args, bool showOutput) {
        auto child = std::make_unique<QProcess>();
        QProcessEnvironment childEnvironment = environment;
        int heapTicket = 0;
        if (heapTracking) {
            if (const QString refused = heapProfiler.prepare(program, &childEnvironment, &heapTicket);
                !refused.isEmpty())
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
        store.attachPid(child->processId());
        if (heapTicket)
            heapProfiler.started(heapTicket, child->processId(), QFileInfo(program).fileName());
        if (profiling)
            profiler.profile(child->processId());
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
            { QStringLiteral("--name"), QStringLiteral("billing-worker"), QStringLiteral("--threads"),
                QStringLiteral("2"), QStringLiteral("--rate"), QStringLiteral("100"), QStringLiteral("--seed"),
                QStringLiteral("2") },
            false);
    }
    if (!command.isEmpty()) {
        const QString program = command.takeFirst();
        commandProcess = launch(program, command, true);
    }

    std::signal(SIGINT, onSignal);
    std::signal(SIGTERM, onSignal);
    if (live)
        store.start();

    int exitCode = 0;
    int commandStatus = HeadlessGate::Ok; // set when the command ends on its own, not stopped by us
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
        otlpReceiver.close(); // what it accepted is in the store; nothing arrives during the exports
        window.reset();
        if (commandProcess && commandProcess->state() == QProcess::NotRunning && commandStatus == HeadlessGate::Ok)
            commandStatus = HeadlessGate::commandStatus(
                commandProcess->exitStatus() == QProcess::CrashExit, commandProcess->exitCode());
        // The live heap at the end: of a program still running, what it holds before it is stopped
        // (its exit frees it); of one that ended by itself, what it never freed.
        heapProfiler.poll();
        std::vector<ProfileSnapshotPtr> heaps; // for --export-heap and the capture
        if (heapTracking) {
            for (const ProfileSnapshotPtr& h : heapProfiler.snapshots(HeapView::Live)) {
                // A client's hello names it as the tables do ("orders-api"); else the program's file
                // name stays (/proc's comm is cut at 15 characters).
                auto named = std::make_shared<ProfileSnapshot>(*h);
                for (const ProcessInfo& p : store.processes()) {
                    if (p.pid == h->pid && p.state == ProcessInfo::State::Live && !p.name.isEmpty())
                        named->process = p.name;
                }
                heaps.push_back(std::move(named));
            }
        }
        for (auto& child : children) {
            if (child->state() != QProcess::NotRunning) {
                child->terminate(); // lets the client library send its last interval
                if (!child->waitForFinished(3000))
                    child->kill();
            }
        }
        profiler.stopAll(); // the children are gone: what their buffers still hold is read now
        heapProfiler.poll(); // and what their heap channels still hold (the heap column's last value)
        const QString refusals = live
            ? refusalSummary(store, server.stats(), metrics.httpStats(), { otlpReceiver.refusals() })
            : QString(); // before close() resets the counts
        server.close(); // applies what is still in flight
        if (live) {
            const QStringList broken = HeadlessGate::brokenBudgets(store);
            for (const QString& line : broken)
                say(line);
            if (!broken.isEmpty() && exitCode == 0)
                exitCode = HeadlessGate::BudgetBroken;
            if (profiler.refusedCount() > 0 && (exitCode == 0 || exitCode == HeadlessGate::BudgetBroken))
                exitCode = HeadlessGate::ProfileRefused; // said on stderr when it happened
            if (!refusals.isEmpty())
                say(refusals);
        }
        if (live)
            store.sampleProcesses();
        store.stop();
        if (parser.isSet(record)) {
            if (QString incomplete; !recorder.finish(&incomplete)) { // what the capture misses, if anything
                say(incomplete);
                exitCode = 1;
            }
            // The capture keeps the profiles too (a table of their own): every one taken, by
            // --profile or started from the window's Profile button.
            QList<CapturedProfile> captured = capturedProfiles(profiler.profilers());
            for (const ProfileSnapshotPtr& h : heaps) { // and the heaps, the CPU profile's or alone
                const auto same = std::find_if(
                    captured.begin(), captured.end(), [&h](const CapturedProfile& c) { return c.pid == h->pid; });
                if (same != captured.end())
                    same->heap = h->folded();
                else
                    captured.append({ h->pid, h->process, {}, {}, {}, h->folded() });
            }
            if (!captured.isEmpty()) {
                if (QString profileError; !writeCaptureProfiles(parser.value(record), captured, &profileError)) {
                    say(profileError);
                    exitCode = 1;
                }
            }
        }
        // Copies taken here; the files are written on the worker pool.
        auto statistics = store.statistics();
        for (ProcessStatistics& p : statistics) { // cpu_us and cpu_share, where its operations were profiled
            const ProcessProfiler* profiled = profiler.profilerFor(p.pid);
            p.profiled = profiled && profiled->stats().operationsTraced;
            for (const OperationCpu& op : p.profiled ? profiled->operations() : std::vector<OperationCpu> {})
                p.cpu.insert(op.operation, { double(op.cpuNs) / 1000.0, op.cpuShare() });
        }
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
        for (const auto& [path, kind] : { std::pair { profilePath, 0 }, std::pair { byOperationPath, 1 },
                 std::pair { offCpuPath, 2 }, std::pair { pprofPath, 3 } }) {
            if (path.isEmpty())
                continue;
            if (profiler.profilers().empty()) {
                say(QStringLiteral("%1 not written: no process was profiled").arg(path));
                continue;
            }
            writes.append(pool.submit(QStringLiteral("export"), [&, path = path, kind = kind] {
                QString writeError;
                if (kind == 3) {
                    profiler.writePprof(path, &writeError);
                    return writeError;
                }
                foldedexport::writeFile(path,
                    kind == 0 ? profiler.sessionSnapshots() : profiler.operationSnapshots(kind == 2), &writeError);
                return writeError;
            }));
        }
        if (!heapPath.isEmpty()) {
            if (heaps.empty()) {
                say(QStringLiteral("%1 not written: no program's heap was tracked").arg(heapPath));
            } else {
                writes.append(pool.submit(QStringLiteral("export"), [heaps = std::move(heaps), &heapPath] {
                    QString writeError;
                    foldedexport::writeFile(heapPath, heaps, &writeError);
                    return writeError;
                }));
            }
        }
        for (auto& w : writes) {
            if (const QString writeError = w.result(); !writeError.isEmpty()) {
                say(writeError);
                exitCode = 1;
            }
        }
        exitCode = HeadlessGate::exitStatus(exitCode, commandStatus); // the command's own failure comes first
    };
    const auto quit = [&] {
        finish();
        QCoreApplication::exit(exitCode);
    };
    QObject::connect(&app, &QCoreApplication::aboutToQuit, &app, finish); // the window was closed

    if (!headlessRun) {
        window = std::make_unique<MainWindow>(&store, live ? &server : nullptr);
        if (live) { // a capture's profiles are shown read-only (showCapture)
            window->setProfiler(&profiler);
            window->setProfileEveryProcess(profiling); // what is attached or launched later too
            window->setHeapProfiler(&heapProfiler);
            auto* otlpMenu
                = new OtlpMenu(&otlpReceiver, parser.isSet(otlp) || parser.isSet(otlpHideInternal), window.get());
            window->menuBar()->addMenu(otlpMenu);
            QObject::connect(otlpMenu, &OtlpMenu::message, window.get(),
                [w = window.get()](const QString& text) { w->statusBar()->showMessage(text, 8000); });
        }
        if (!live)
            window->showCapture(capturePath, opened.load);
        if (parser.isSet(record)) {
            window->setRecording(parser.value(record));
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
        if (!viewName.isEmpty()) // else as the user left it last time
            window->setProfileBeside(viewName == QLatin1String("both"));
        if (viewName == QLatin1String("profile") || !profileViewName.isEmpty())
            window->showProfile();
        if (viewName == QLatin1String("memory"))
            window->showMemory();
        if (!profileViewName.isEmpty())
            window->profilePanel()->setTab(ProfilePanel::Tab(profileViews.indexOf(profileViewName)));
        window->show();
    }
    tick.setInterval(std::chrono::seconds(1));
    QObject::connect(&tick, &QTimer::timeout, &app, [&] {
        if (printing)
            printTable(out, store, server, metrics, otlpReceiver);
        if (printing && profiling)
            out << profiler.summary() << Qt::flush;
    });
    poll.setInterval(std::chrono::milliseconds(100));
    QObject::connect(&poll, &QTimer::timeout, &app, [&] {
        if (g_interrupted.load())
            quit();
    });
    if (seconds > 0) {
        QTimer::singleShot(std::chrono::milliseconds(qint64(seconds * 1000)), &app, [&] {
            if (window && !screenshotPath.isEmpty()) {
                if (QString saveError; !savePng(window->grab(), screenshotPath, &saveError)) {
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
            if (!finished)
                commandStatus = HeadlessGate::commandStatus(status == QProcess::CrashExit, code);
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
