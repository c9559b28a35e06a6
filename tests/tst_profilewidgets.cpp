// SPDX-License-Identifier: GPL-3.0-or-later
// The profile views: the flame graph (layout, zoom kept across snapshots, search, tooltips), the
// top-functions model (QAbstractItemModelTester), and the panel on a real profiled process, with
// its thread filter, time range, folded export and the refusal sentence; --profile for processes
// attached or launched from the window, a capture's profiles shown read-only, lost and throttled
// samples in the status, and the top table's columns.
#include "capture.h"
#include "captureprofiles.h"
#include "comparisonwindow.h"
#include "flamegraphwidget.h"
#include "foldedexport.h"
#include "mainwindow.h"
#include "metricsstore.h"
#include "profileaggregate.h"
#include "profilediffmodel.h"
#include "profilepanel.h"
#include "profiler.h"
#include "recordprocessor.h"
#include "topfunctionsmodel.h"

#include <QAbstractItemModelTester>
#include <QComboBox>
#include <QDir>
#include <QHeaderView>
#include <QProcess>
#include <QPushButton>
#include <QSignalSpy>
#include <QTabWidget>
#include <QTableView>
#include <QTemporaryDir>
#include <QTest>

#include <cerrno>
#include <cstring>

#include <linux/perf_event.h>

#include <unistd.h>

using namespace perfdash;

namespace {
/// main -> {work -> {parse 30, sort 10}, idle 60}: 100 samples.
ProfileSnapshotPtr sample(std::uint64_t extraParse = 0)
{
    FunctionTable functions;
    const std::uint32_t main
        = functions.intern({ QStringLiteral("main"), QStringLiteral("app"), QStringLiteral("main.cpp:3"), false });
    const std::uint32_t work = functions.intern({ QStringLiteral("work()"), QStringLiteral("app"), {}, false });
    const std::uint32_t parse
        = functions.intern({ QStringLiteral("parse(char const*)"), QStringLiteral("app"), {}, true });
    const std::uint32_t sort = functions.intern({ QStringLiteral("sort"), QStringLiteral("libc.so.6"), {}, false });
    const std::uint32_t idle = functions.intern({ QStringLiteral("idle"), QStringLiteral("app"), {}, false });
    ProfileAggregate aggregate;
    const std::uint32_t a[] = { main, work, parse };
    const std::uint32_t b[] = { main, work, sort };
    const std::uint32_t c[] = { main, idle };
    aggregate.add(1, 0, a, 30 + extraParse);
    aggregate.add(1, 0, b, 10);
    aggregate.add(2, 0, c, 60);
    auto snapshot = std::make_shared<ProfileSnapshot>(aggregate.snapshot({}, 0, functions));
    snapshot->process = QStringLiteral("app");
    snapshot->pid = 42;
    return snapshot;
}

std::uint32_t nodeNamed(const ProfileSnapshot& s, const QString& prefix)
{
    for (std::uint32_t i = 1; i < s.nodes.size(); ++i) {
        if (s.functions[s.nodes[i].function].name.startsWith(prefix))
            return i;
    }
    return 0;
}

const QString kTarget = QStringLiteral(PERFDASH_BIN_DIR "/perfdash_profile_target_nofp");

/// Starts the target and waits for its "ready".
bool startTarget(QProcess& target)
{
    target.start(kTarget);
    if (!target.waitForStarted(10000))
        return false;
    while (!target.canReadLine()) {
        if (!target.waitForReadyRead(10000))
            return false;
    }
    return target.readLine().trimmed() == "ready";
}

void feed(RecordProcessor& processor, std::uint32_t type, std::vector<std::uint64_t> fields)
{
    fields.insert(fields.begin(), 0);
    perf_event_header header {};
    header.type = type;
    header.size = std::uint16_t(fields.size() * 8);
    std::memcpy(fields.data(), &header, sizeof header);
    processor.process(header, reinterpret_cast<const std::uint8_t*>(fields.data()));
}

PerfSystem refusing()
{
    PerfSystem system = PerfSystem::real();
    system.openEvent = [](perf_event_attr*, pid_t, int) { return -EACCES; };
    system.paranoid = [] { return 3; };
    return system;
}
} // namespace

class TestProfileWidgets : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void topFunctionsModel();
    void flameGraphLayout();
    void flameGraphZoomSurvivesRefresh();
    void flameGraphSearch_data();
    void flameGraphSearch();
    void panelOnRealProcess();
    void panelSaysWhyNot();
    void mainWindowHasProfileTab();
    void comparisonWindowShowsDifferentialProfile();
    void savedCaptureKeepsProfiles();
    void windowProfilesEveryAttachedAndLaunchedProcess();
    void windowShowsTheOnlyProfiledProcess();
    void profileShownChoice();
    void openedCaptureShowsItsProfiles();
    void statusShowsLostAndThrottled();
    void functionColumnTakesTheWidth();
};

void TestProfileWidgets::topFunctionsModel()
{
    TopFunctionsModel model;
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    model.setSnapshot(sample());
    QCOMPARE(model.rowCount(), 5);
    QCOMPARE(model.index(0, TopFunctionsModel::Function).data().toString(), QStringLiteral("idle"));
    QCOMPARE(model.index(0, TopFunctionsModel::Self).data().toULongLong(), 60ull);
    QCOMPARE(model.index(0, TopFunctionsModel::SelfPercent).data().toString(), QStringLiteral("60.0%"));
    QCOMPARE(model.index(0, TopFunctionsModel::Callers).data().toString(), QStringLiteral("main (100%)"));
    QCOMPARE(
        model.index(1, TopFunctionsModel::Function).data().toString(), QStringLiteral("parse(char const*) (inlined)"));
    const int mainRow = 3; // self 0, total 100
    QCOMPARE(model.index(mainRow, TopFunctionsModel::Function).data().toString(), QStringLiteral("main"));
    QCOMPARE(model.index(mainRow, TopFunctionsModel::TotalPercent).data().toString(), QStringLiteral("100.0%"));
    QCOMPARE(model.index(mainRow, TopFunctionsModel::Location).data().toString(), QStringLiteral("main.cpp:3"));
    model.setSnapshot(sample(20)); // the same rows, new numbers
    QCOMPARE(model.index(1, TopFunctionsModel::Self).data().toULongLong(), 50ull);
    model.setSnapshot(nullptr);
    QCOMPARE(model.rowCount(), 0);
}

void TestProfileWidgets::flameGraphLayout()
{
    FlameGraphWidget flame;
    flame.resize(1000, 200);
    flame.setSnapshot(sample());
    const ProfileSnapshot& s = *flame.snapshot();
    const QRectF root = flame.rectOf(0);
    QCOMPARE(root.width(), 1000.0);
    QCOMPARE(root.bottom(), 200.0 - 1);
    const QRectF work = flame.rectOf(nodeNamed(s, QStringLiteral("work")));
    const QRectF idle = flame.rectOf(nodeNamed(s, QStringLiteral("idle")));
    QCOMPARE(work.width(), 400.0);
    QCOMPARE(idle.width(), 600.0);
    QVERIFY(idle.left() < work.left()); // siblings in name order: a live graph does not reshuffle
    const QRectF parse = flame.rectOf(nodeNamed(s, QStringLiteral("parse")));
    QCOMPARE(parse.top(), work.top() - FlameGraphWidget::kRowHeight); // callees above callers
    QCOMPARE(flame.nodeAt(parse.center()), qint64(nodeNamed(s, QStringLiteral("parse"))));
    QCOMPARE(flame.nodeAt(QPointF(5, 5)), qint64(-1));
    const QString tip = flame.toolTipFor(nodeNamed(s, QStringLiteral("work")));
    QVERIFY2(tip.contains(QStringLiteral("total: 40 samples (40.0%)")), qPrintable(tip));
    QVERIFY2(tip.contains(QStringLiteral("self: 0 samples (0.0%)")), qPrintable(tip));
    QVERIFY(flame.toolTipFor(nodeNamed(s, QStringLiteral("parse"))).contains(QStringLiteral("(inlined)")));
    QVERIFY(!flame.grab().isNull()); // paints
}

void TestProfileWidgets::flameGraphZoomSurvivesRefresh()
{
    FlameGraphWidget flame;
    flame.resize(1000, 200);
    flame.setSnapshot(sample());
    const std::uint32_t work = nodeNamed(*flame.snapshot(), QStringLiteral("work"));
    QTest::mouseClick(&flame, Qt::LeftButton, {}, flame.rectOf(work).center().toPoint());
    QCOMPARE(flame.zoomNode(), work);
    QCOMPARE(flame.rectOf(work).width(), 1000.0);
    QCOMPARE(flame.rectOf(nodeNamed(*flame.snapshot(), QStringLiteral("parse"))).width(), 750.0);
    QVERIFY(flame.rectOf(nodeNamed(*flame.snapshot(), QStringLiteral("idle"))).isEmpty());
    // A new snapshot (more samples): still zoomed into work().
    flame.setSnapshot(sample(20));
    QCOMPARE(
        flame.snapshot()->functions[flame.snapshot()->nodes[flame.zoomNode()].function].name, QStringLiteral("work()"));
    QCOMPARE(flame.rectOf(nodeNamed(*flame.snapshot(), QStringLiteral("parse"))).width(), 1000.0 * 50 / 60);
    // Clicking the bottom bar (an ancestor) zooms out to it.
    QTest::mouseClick(&flame, Qt::LeftButton, {}, flame.rectOf(0).center().toPoint());
    QCOMPARE(flame.zoomNode(), 0u);
    QCOMPARE(flame.rectOf(nodeNamed(*flame.snapshot(), QStringLiteral("idle"))).width(), 1000.0 * 60 / 120);
}

void TestProfileWidgets::flameGraphSearch_data()
{
    QTest::addColumn<QString>("search");
    QTest::addColumn<quint64>("matched");
    QTest::newRow("leaf") << QStringLiteral("PARSE") << quint64(30);
    QTest::newRow("caller covers its callees once") << QStringLiteral("w") << quint64(40); // work(), and sort under it
    QTest::newRow("two leaves") << QStringLiteral("s") << quint64(40); // parse, sort
    QTest::newRow("everything") << QStringLiteral("main") << quint64(100);
    QTest::newRow("nothing") << QStringLiteral("zzz") << quint64(0);
}

void TestProfileWidgets::flameGraphSearch()
{
    QFETCH(QString, search);
    QFETCH(quint64, matched);
    FlameGraphWidget flame;
    flame.resize(800, 200);
    flame.setSnapshot(sample());
    QSignalSpy spy(&flame, &FlameGraphWidget::searchMatched);
    flame.setSearch(search);
    QCOMPARE(flame.matchedSamples(), matched);
    QCOMPARE(spy.last().at(0).toULongLong(), matched);
    QCOMPARE(spy.last().at(1).toULongLong(), 100ull);
    QVERIFY(!flame.grab().isNull());
}

void TestProfileWidgets::panelOnRealProcess()
{
    QProcess target;
    target.start(QStringLiteral(PERFDASH_BIN_DIR "/perfdash_profile_target_nofp"));
    QVERIFY(target.waitForStarted(10000));
    QTRY_VERIFY_WITH_TIMEOUT(target.canReadLine(), 10000);
    Profiler profiler;
    ProfilePanel panel;
    panel.resize(900, 600);
    panel.setProfiler(&profiler);
    panel.setProcess(target.processId(), QStringLiteral("target"));
    QVERIFY(panel.statusText().contains(QStringLiteral("not profiled")));
    QVERIFY(panel.startProfiling());
    QTRY_VERIFY_WITH_TIMEOUT(panel.snapshot() && panel.snapshot()->totalSamples() >= 300, 60000);
    const ProfileSnapshotPtr s = panel.snapshot();
    QVERIFY(panel.flameGraph()->rectOf(nodeNamed(*s, QStringLiteral("target::hotFunction"))).width() > 0);
    QVERIFY(panel.topFunctions()->rowCount() > 0);
    QVERIFY2(panel.statusText().contains(QStringLiteral("samples at 499 Hz")), qPrintable(panel.statusText()));
    // Threads: the main thread (blocked in read, no samples) and the worker are both offered.
    auto* threads = panel.findChildren<QComboBox*>().at(1);
    QTRY_VERIFY_WITH_TIMEOUT(threads->count() >= 3, 10000);
    qint64 worker = 0;
    for (const ProfileThread& t : s->threads)
        worker = t.samples > 0 ? t.tid : worker;
    QVERIFY(worker != 0 && worker != target.processId());
    panel.setThread(target.processId()); // the idle main thread: nothing
    QTRY_VERIFY_WITH_TIMEOUT(panel.snapshot()->query.tid == target.processId(), 10000);
    QCOMPARE(panel.snapshot()->totalSamples(), 0ull);
    panel.setThread(worker);
    QTRY_VERIFY_WITH_TIMEOUT(panel.snapshot()->query.tid == worker && panel.snapshot()->totalSamples() > 0, 10000);
    panel.setTimeRange(10);
    QTRY_VERIFY_WITH_TIMEOUT(panel.snapshot()->query.lastSeconds == 10, 10000);
    QVERIFY(panel.snapshot()->totalSamples() <= panel.snapshot()->stats.samples);

    QTemporaryDir dir;
    const QString path = dir.filePath(QStringLiteral("out.folded"));
    QCOMPARE(panel.exportFolded(path), QString());
    QFile file(path);
    QVERIFY(file.open(QIODevice::ReadOnly));
    const auto lines = foldedexport::parse(file.readAll());
    QVERIFY(!lines.empty());
    for (const auto& line : lines)
        QVERIFY2(line.stack.startsWith(QStringLiteral("perfdash_profil (%1);").arg(target.processId())),
            qPrintable(line.stack));
    target.closeWriteChannel();
    QVERIFY(target.waitForFinished(10000));
}

void TestProfileWidgets::panelSaysWhyNot()
{
    Profiler profiler;
    profiler.setSystem(refusing());
    ProfilePanel panel;
    panel.setProfiler(&profiler);
    panel.setProcess(getpid());
    QVERIFY(!panel.startProfiling());
    QVERIFY2(panel.statusText().contains(QStringLiteral("sysctl kernel.perf_event_paranoid=2")),
        qPrintable(panel.statusText()));
    QVERIFY(panel.statusText().contains(QStringLiteral("setcap cap_perfmon+ep")));
}

void TestProfileWidgets::mainWindowHasProfileTab()
{
    MetricsStore store;
    Profiler profiler;
    MainWindow window(&store, nullptr);
    window.setProfiler(&profiler);
    QVERIFY(window.profilePanel());
    auto* tabs = window.findChild<QTabWidget*>();
    QVERIFY(tabs);
    QVERIFY(tabs->indexOf(window.profilePanel()) >= 0);
    QVERIFY(tabs->indexOf(reinterpret_cast<QWidget*>(window.charts())) >= 0);
}

void TestProfileWidgets::comparisonWindowShowsDifferentialProfile()
{
    QTemporaryDir dir;
    const QString base = dir.filePath(QStringLiteral("base.perfdash"));
    const QString next = dir.filePath(QStringLiteral("new.perfdash"));
    for (const QString& path : { base, next }) {
        MetricsStore store;
        CaptureRecorder recorder(&store);
        QString error;
        QVERIFY2(recorder.start(path, &error), qPrintable(error));
        QVERIFY(recorder.flush(&error));
        recorder.stop();
    }
    QString error;
    // Between the runs, parse() went from 20% to 50% of the CPU and sort() from 60% to 30%.
    QVERIFY(writeCaptureProfiles(
        base, { { 11, QStringLiteral("app"), "app;main;parse 20\napp;main;sort 60\napp;main 20\n", {}, {} } }, &error));
    QVERIFY(writeCaptureProfiles(next,
        { { 12, QStringLiteral("app"), "app;main;parse 100\napp;main;sort 60\napp;main 40\n", {}, {} } }, &error));
    ComparisonWindow* window = ComparisonWindow::open(base, next, &error);
    QVERIFY2(window, qPrintable(error));
    auto* model = window->findChild<ProfileDiffModel*>();
    QVERIFY(model);
    QAbstractItemModelTester tester(model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    QCOMPARE(model->rowCount(), 3); // main, parse, sort
    const auto cell = [&](int row, int column) { return model->index(row, column).data().toString(); };
    QCOMPARE(cell(0, ProfileDiffModel::Function), QStringLiteral("parse"));
    QCOMPARE(cell(0, ProfileDiffModel::SelfBase), QStringLiteral("20.0%"));
    QCOMPARE(cell(0, ProfileDiffModel::SelfNew), QStringLiteral("50.0%"));
    QCOMPARE(cell(0, ProfileDiffModel::SelfChange), QStringLiteral("+30.0 pts"));
    QCOMPARE(cell(1, ProfileDiffModel::Function), QStringLiteral("sort"));
    QCOMPARE(cell(1, ProfileDiffModel::SelfChange), QStringLiteral("-30.0 pts"));
    QCOMPARE(cell(2, ProfileDiffModel::TotalNew), QStringLiteral("100.0%"));
    delete window;

    // Captures without profiles (older ones, or recorded without --profile): no such view.
    const QString plain = dir.filePath(QStringLiteral("plain.perfdash"));
    {
        MetricsStore store;
        CaptureRecorder recorder(&store);
        QVERIFY(recorder.start(plain, &error));
        recorder.stop();
    }
    window = ComparisonWindow::open(plain, plain, &error);
    QVERIFY(window);
    QVERIFY(!window->findChild<ProfileDiffModel*>());
    delete window;
}

void TestProfileWidgets::savedCaptureKeepsProfiles()
{
    QProcess target;
    target.start(QStringLiteral(PERFDASH_BIN_DIR "/perfdash_profile_target_nofp"));
    QVERIFY(target.waitForStarted(10000));
    QTRY_VERIFY_WITH_TIMEOUT(target.canReadLine(), 10000);
    MetricsStore store;
    Profiler profiler;
    MainWindow window(&store, nullptr);
    window.setProfiler(&profiler);
    ProcessProfiler* profile = profiler.profile(target.processId());
    QVERIFY(profile);
    QTRY_VERIFY_WITH_TIMEOUT(profile->samples() >= 100, 60000);
    QTemporaryDir dir;
    const QString path = dir.filePath(QStringLiteral("saved.perfdash"));
    QCOMPARE(window.saveCapture(path).result(), QString()); // File > Save capture
    const QList<CapturedProfile> profiles = readCaptureProfiles(path);
    QCOMPARE(profiles.size(), 1);
    QCOMPARE(profiles[0].pid, target.processId());
    QVERIFY(profiles[0].folded.contains("target::hotFunction(unsigned long)"));
    target.closeWriteChannel();
    QVERIFY(target.waitForFinished(10000));
}

void TestProfileWidgets::windowProfilesEveryAttachedAndLaunchedProcess()
{
    MetricsStore store;
    Profiler profiler;
    MainWindow window(&store, nullptr);
    window.setProfiler(&profiler);
    QProcess attached;
    QVERIFY(startTarget(attached));
    QString error;
    // Without --profile, attaching samples /proc only.
    QVERIFY2(window.attach(attached.processId(), &error), qPrintable(error));
    QVERIFY(!profiler.profilerFor(attached.processId()));

    // With it, what is attached or launched from the window (the dialogs call these) is profiled.
    window.setProfileEveryProcess(true);
    QSignalSpy started(&profiler, &Profiler::profilingStarted);
    QVERIFY2(window.attach(attached.processId(), &error), qPrintable(error));
    QVERIFY(started.size() == 1 || started.wait(10000));
    QCOMPARE(started.at(0).at(0).toLongLong(), attached.processId());
    ProcessProfiler* first = profiler.profilerFor(attached.processId());
    QVERIFY(first);
    QVERIFY2(window.launch(kTarget, {}, QDir::tempPath(), &error), qPrintable(error));
    QVERIFY(started.size() == 2 || started.wait(10000));
    const qint64 launched = started.at(1).at(0).toLongLong();
    QVERIFY(launched > 0 && launched != attached.processId());
    ProcessProfiler* second = profiler.profilerFor(launched);
    QVERIFY(second);
    QTRY_VERIFY_WITH_TIMEOUT(first->samples() >= 100 && second->samples() >= 100, 60000);
    // The launched process is selected: its profile is the one shown.
    QTRY_VERIFY_WITH_TIMEOUT(window.profilePanel()->snapshot() && window.profilePanel()->snapshot()->pid == launched
            && window.profilePanel()->snapshot()->totalSamples() > 0,
        30000);
    attached.closeWriteChannel();
    QVERIFY(attached.waitForFinished(10000));
}

void TestProfileWidgets::windowShowsTheOnlyProfiledProcess()
{
    // perfdash --profile --attach PID --view profile: the process is not instrumented, so no
    // operation is charted and nothing is selected; the one process profiled is the one shown.
    QProcess target;
    QVERIFY(startTarget(target));
    MetricsStore store;
    QVERIFY(store.attachPid(target.processId()));
    Profiler profiler;
    QVERIFY(profiler.profile(target.processId())); // as main() does, before the window exists
    MainWindow window(&store, nullptr);
    window.setProfiler(&profiler);
    window.show();
    QTRY_VERIFY_WITH_TIMEOUT(window.profilePanel()->snapshot()
            && window.profilePanel()->snapshot()->pid == target.processId()
            && window.profilePanel()->snapshot()->totalSamples() > 0,
        30000);
    QVERIFY2(!window.profilePanel()->statusText().contains(QStringLiteral("Select a process")),
        qPrintable(window.profilePanel()->statusText()));
    target.closeWriteChannel();
    QVERIFY(target.waitForFinished(10000));
}

void TestProfileWidgets::profileShownChoice()
{
    // Selected, else charted, else the first process asked to be profiled (refused ones too:
    // their panel says why), else none.
    QCOMPARE(profileToShow(11, 22, { 33, 44 }), 11);
    QCOMPARE(profileToShow(0, 22, { 33, 44 }), 22);
    QCOMPARE(profileToShow(0, 0, { 33, 44 }), 33);
    QCOMPARE(profileToShow(0, 0, {}), 0);
}

void TestProfileWidgets::openedCaptureShowsItsProfiles()
{
    QTemporaryDir dir;
    const QString path = dir.filePath(QStringLiteral("profiled.perfdash"));
    {
        MetricsStore store;
        QVERIFY(store.attachPid(getpid()));
        CaptureRecorder recorder(&store);
        QString error;
        QVERIFY2(recorder.start(path, &error), qPrintable(error));
        QVERIFY(recorder.flush(&error));
        recorder.stop();
        QVERIFY(writeCaptureProfiles(path,
            { { getpid(), QStringLiteral("app"),
                "app;main;work();parse 30\napp;main;work();sort 10\napp;main;idle 60\n", {}, {} } },
            &error));
    }
    QString error;
    std::unique_ptr<MainWindow> window(MainWindow::openCaptureWindow(path, &error));
    QVERIFY2(window, qPrintable(error));
    ProfilePanel* panel = window->profilePanel();
    QSignalSpy refreshed(panel, &ProfilePanel::refreshed);
    panel->setProcess(getpid(), QStringLiteral("app"));
    QTRY_VERIFY_WITH_TIMEOUT(panel->showsRecorded(), 10000); // read on the worker pool
    const ProfileSnapshotPtr s = panel->snapshot();
    QCOMPARE(s->totalSamples(), 100ull);
    const QByteArray process = QStringLiteral("app (%1)").arg(getpid()).toUtf8();
    QCOMPARE(s->folded(),
        process + ";main;idle 60\n" + process + ";main;work();parse 30\n" + process + ";main;work();sort 10\n");
    QCOMPARE(panel->topFunctions()->rowCount(), 5);
    QCOMPARE(panel->topFunctions()->index(0, TopFunctionsModel::Function).data().toString(), QStringLiteral("idle"));
    QVERIFY(panel->flameGraph()->rectOf(nodeNamed(*s, QStringLiteral("parse"))).width() > 0);
    QVERIFY2(panel->statusText().contains(QStringLiteral("read-only")), qPrintable(panel->statusText()));
    QVERIFY(panel->statusText().contains(QStringLiteral("100 samples")));
    // Nothing to start: it is a recording.
    auto* start = panel->findChild<QPushButton*>();
    QVERIFY(start && start->text() == QStringLiteral("Profile"));
    QVERIFY(!start->isEnabled());
    // A process the capture has no profile of says so.
    panel->setProcess(getpid() + 100000);
    QTRY_VERIFY_WITH_TIMEOUT(!panel->snapshot(), 10000);
    QVERIFY(panel->statusText().contains(QStringLiteral("not profiled")));
}

void TestProfileWidgets::statusShowsLostAndThrottled()
{
    // What the kernel says it dropped reaches the status line, as the records are counted.
    RecordProcessor processor(getpid(), 0);
    feed(processor, PERF_RECORD_LOST, { 1, 40 });
    feed(processor, PERF_RECORD_LOST_SAMPLES, { 2 });
    feed(processor, PERF_RECORD_THROTTLE, { 1'000, 1, 1 });
    feed(processor, PERF_RECORD_THROTTLE, { 2'000, 1, 1 });
    feed(processor, PERF_RECORD_THROTTLE, { 3'000, 1, 1 });
    auto snapshot = std::make_shared<ProfileSnapshot>(processor.snapshot({}, 0));
    snapshot->pid = getpid();
    snapshot->process = QStringLiteral("app");
    QCOMPARE(snapshot->stats.lost, 42ull);
    QCOMPARE(snapshot->stats.throttled, 3ull);
    ProfilePanel panel;
    panel.setRecordedProfiles({ snapshot });
    QSignalSpy refreshed(&panel, &ProfilePanel::refreshed);
    panel.setProcess(getpid());
    QTRY_VERIFY_WITH_TIMEOUT(panel.snapshot() == snapshot, 10000);
    QVERIFY2(panel.statusText().contains(QStringLiteral("lost 42, throttled 3 times")), qPrintable(panel.statusText()));
}

void TestProfileWidgets::functionColumnTakesTheWidth()
{
    // Long C++ names and longer "called from" lists (docs/screenshot-profile.png): the function's
    // name is what the table is read for, so it takes the room; the callers are cut (tooltip).
    const QString function = QStringLiteral("std::_Hashtable<std::string, int>::_M_find_before_node(unsigned long)");
    const QString caller = QStringLiteral("std::unordered_map<std::__cxx11::basic_string<char>, "
                                          "int>::operator[](std::__cxx11::basic_string<char> const&)");
    const QByteArray folded = QStringLiteral("app;main;%1;%2 70\napp;main;idle 30\n").arg(caller, function).toUtf8();
    ProfilePanel panel;
    panel.resize(1200, 600);
    panel.setRecordedProfiles({ foldedexport::snapshotOf(42, QStringLiteral("app"), folded) });
    panel.show();
    QVERIFY(QTest::qWaitForWindowExposed(&panel));
    panel.setProcess(42);
    QTRY_VERIFY_WITH_TIMEOUT(panel.snapshot() && panel.topFunctions()->rowCount() == 4, 10000);
    QTableView* view = panel.functionsView(); // not the slow-vs-typical table beside it
    QVERIFY(view);
    QHeaderView* header = view->horizontalHeader();
    const int functionWidth = header->sectionSize(TopFunctionsModel::Function);
    const int callersWidth = header->sectionSize(TopFunctionsModel::Callers);
    QVERIFY2(functionWidth > callersWidth,
        qPrintable(QStringLiteral("function %1 px, callers %2 px").arg(functionWidth).arg(callersWidth)));
    QVERIFY2(functionWidth >= view->fontMetrics().horizontalAdvance(function),
        qPrintable(QStringLiteral("function %1 px for %2 px of name")
                       .arg(functionWidth)
                       .arg(view->fontMetrics().horizontalAdvance(function))));
    // Everything fits: no horizontal scrolling for this.
    QVERIFY2(header->length() <= view->viewport()->width(),
        qPrintable(QStringLiteral("%1 px of columns in %2 px").arg(header->length()).arg(view->viewport()->width())));

    // As narrow as the profile tab beside the tables (the screenshot): the rest scrolls, but the
    // function keeps the most room, and 40 characters of its name at least.
    panel.resize(500, 600);
    const int least = view->fontMetrics().averageCharWidth() * 40;
    QTRY_VERIFY_WITH_TIMEOUT(header->sectionSize(TopFunctionsModel::Function) >= least, 10000);
    for (int column = 0; column < TopFunctionsModel::ColumnCount; ++column) {
        if (column != TopFunctionsModel::Function)
            QVERIFY2(header->sectionSize(TopFunctionsModel::Function) > header->sectionSize(column),
                qPrintable(QString::number(column)));
    }
}

QTEST_MAIN(TestProfileWidgets)
#include "tst_profilewidgets.moc"
