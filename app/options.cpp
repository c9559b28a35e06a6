// SPDX-License-Identifier: GPL-3.0-or-later
#include "app/options.h"

#include "app/cliutil.h"
#include "core/headlessgate.h"
#include "core/slowthresholds.h"

#include <QCommandLineParser>
#include <QCoreApplication>

namespace perfdash {

namespace {

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

} // namespace

Options parseOptions(bool headlessRun, const QStringList& command)
{
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
    const QCommandLineOption otlpGrpc(QStringLiteral("otlp-grpc"),
        QStringLiteral("Receive OpenTelemetry over gRPC (TraceService/Export, MetricsService/Export; gzip) on "
                       "[HOST:]PORT (PORT alone: on 127.0.0.1; the exporters' default is 4317), as --otlp."),
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
        record, open, prometheus, otlp, otlpGrpc, otlpHideInternal, budget, slow, quiet, screenshot, view, profile,
        profileHz, exportProfile, exportProfileByOperation, exportOffCpu, exportPprof, profileView, heap, exportHeap });

    if (!parser.parse(QCoreApplication::arguments()))
        fail(parser.errorText());
    if (parser.isSet(QStringLiteral("help")))
        parser.showHelp(0);
    if (parser.isSet(QStringLiteral("version")))
        parser.showVersion();
    if (!parser.positionalArguments().isEmpty())
        fail(QStringLiteral("unexpected argument '%1' (a command to launch goes after --)")
                 .arg(parser.positionalArguments().constFirst()));

    Options o;
    o.command = command;
    o.headless = headlessRun;
    if (parser.isSet(duration)) {
        QString durationError;
        const std::optional<double> parsed = HeadlessGate::parseDurationSeconds(parser.value(duration), &durationError);
        if (!parsed)
            fail(durationError);
        o.seconds = *parsed;
    }
    o.budgets = parseEach(parser.values(budget), HeadlessGate::parseBudget);
    o.slowRules = parseEach(parser.values(slow), SlowThresholds::parse);
    for (const QCommandLineOption* option : { &exportCsv, &exportSeries, &exportMemory, &exportTrace }) {
        if (const QString path = parser.value(*option); !path.isEmpty())
            failUnlessWritable(path);
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
        if (o.seconds <= 0)
            fail(QStringLiteral("--screenshot needs --duration SECONDS (when to take it)"));
        failUnlessWritable(screenshotPath);
    }
    o.profiling = parser.isSet(profile) || parser.isSet(exportProfile) || parser.isSet(profileHz)
        || parser.isSet(exportProfileByOperation) || parser.isSet(exportOffCpu) || parser.isSet(exportPprof);
    if (parser.isSet(profileHz)) {
        bool ok = false;
        const int hz = parser.value(profileHz).toInt(&ok);
        if (!ok || hz <= 0)
            fail(QStringLiteral("--profile-hz needs a positive number of samples per second, not '%1'")
                     .arg(parser.value(profileHz)));
        o.profileHz = hz;
    }
    const QString profilePath = parser.value(exportProfile);
    const QString byOperationPath = parser.value(exportProfileByOperation);
    const QString offCpuPath = parser.value(exportOffCpu);
    const QString pprofPath = parser.value(exportPprof);
    const QString heapPath = parser.value(exportHeap);
    const bool heapTracking = parser.isSet(heap) || parser.isSet(exportHeap);
    const bool launches = !command.isEmpty() || parser.isSet(demo);
    if (heapTracking && !launches && !parser.isSet(attach))
        fail(QStringLiteral("--heap tracks the programs perfdash launches (-- COMMAND, --demo): a running process "
                            "cannot be given the heap preload"));
    // An attached process runs all the same: what cannot be tracked is said, and what it has instead.
    if (heapTracking && parser.isSet(attach))
        say(QStringLiteral("--heap: the heap by call site of an attached process (--attach) is not tracked: a "
                           "running process cannot be given the heap preload, only a program perfdash launches "
                           "(-- COMMAND, --demo). Shown for it instead: its RSS, and its heap in use when it links "
                           "the client library and runs with PERFDASH_HEAP=1."));
    for (const QString& path : { profilePath, byOperationPath, offCpuPath, pprofPath, heapPath }) {
        if (!path.isEmpty())
            failUnlessWritable(path);
    }
    for (const QString& value : parser.values(attach)) {
        bool ok = false;
        const qint64 pid = value.toLongLong(&ok);
        if (!ok || pid <= 0)
            fail(QStringLiteral("--attach needs a process id, not '%1'").arg(value));
        o.attach.append(pid);
    }

    // Set but empty is not the same as absent: `--otlp "$PORT"` with PORT unset is an error.
    const auto given = [&parser](const QCommandLineOption& option) {
        return parser.isSet(option) ? std::optional<QString>(parser.value(option)) : std::nullopt;
    };
    o.socketPath = given(socket);
    o.demo = parser.isSet(demo);
    o.quiet = parser.isSet(quiet);
    o.open = parser.value(open);
    if (!o.open.isEmpty() && (o.demo || !command.isEmpty() || !o.attach.isEmpty() || parser.isSet(record)))
        fail(QStringLiteral(
            "--open shows a recorded capture; it does not go with --demo, --attach, --record or a command"));
    if (parser.isSet(otlp) && !o.open.isEmpty())
        fail(QStringLiteral("--otlp receives live telemetry; it does not go with --open"));
    if (parser.isSet(otlpGrpc) && !o.open.isEmpty())
        fail(QStringLiteral("--otlp-grpc receives live telemetry; it does not go with --open"));
    o.outputs.statisticsCsv = parser.value(exportCsv);
    o.outputs.seriesCsv = parser.value(exportSeries);
    o.outputs.memoryCsv = parser.value(exportMemory);
    o.outputs.trace = parser.value(exportTrace);
    o.outputs.profile = profilePath;
    o.outputs.profileByOperation = byOperationPath;
    o.outputs.offCpu = offCpuPath;
    o.outputs.pprof = pprofPath;
    o.outputs.heap = heapPath;
    o.outputs.capture = parser.value(record);
    o.outputs.heapTracking = heapTracking;
    if (!o.outputs.capture.isEmpty())
        failUnlessWritable(o.outputs.capture);
    o.prometheus = given(prometheus);
    o.otlp = given(otlp);
    o.otlpGrpc = given(otlpGrpc);
    o.otlpHideInternal = parser.isSet(otlpHideInternal);
    o.screenshot = screenshotPath;
    o.view = viewName;
    o.profileView = profileViewName.isEmpty() ? -1 : int(profileViews.indexOf(profileViewName));
    return o;
}

} // namespace perfdash
