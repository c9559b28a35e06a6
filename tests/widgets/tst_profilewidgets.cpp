// SPDX-License-Identifier: GPL-3.0-or-later
// The profile views: the flame graph (layout, zoom kept across snapshots, search, tooltips), the
// top-functions model (QAbstractItemModelTester), and the panel on a real profiled process, with
// its thread filter, time range, folded export and the refusal sentence; --profile for processes
// attached or launched from the window, a capture's profiles shown read-only, lost and throttled
// samples in the status, and the top table's columns; the live profile compared with a capture
// file's profile of the process (CPU, and the Memory view's heap).
#include "capture/capture.h"
#include "capture/captureprofiles.h"
#include "core/metricsstore.h"
#include "models/callercalleemodel.h"
#include "models/calltreemodel.h"
#include "models/profilediffmodel.h"
#include "models/symbolprettifier.h"
#include "models/topfunctionsmodel.h"
#include "profiler/foldedexport.h"
#include "profiler/heapprofiler.h"
#include "profiler/profileaggregate.h"
#include "profiler/profiler.h"
#include "profiler/recordprocessor.h"
#include "widgets/comparisonwindow.h"
#include "widgets/flamegraphwidget.h"
#include "widgets/mainwindow.h"
#include "widgets/memorypanel.h"
#include "widgets/profilepanel.h"

#include <QAbstractItemModelTester>
#include <QComboBox>
#include <QDir>
#include <QHeaderView>
#include <QLineEdit>
#include <QProcess>
#include <QPushButton>
#include <QRegularExpression>
#include <QScrollArea>
#include <QScrollBar>
#include <QSignalSpy>
#include <QSortFilterProxyModel>
#include <QStandardItemModel>
#include <QTabWidget>
#include <QTableView>
#include <QTemporaryDir>
#include <QTest>
#include <QThreadPool>
#include <QToolButton>
#include <QTreeView>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <functional>

#include <linux/perf_event.h>

#include <unistd.h>

using namespace perfdash;

namespace {
/// A capture at @p path of what @p store holds, with @p profiles (none: a capture without any).
bool writeCapture(const QString& path, MetricsStore& store, const QList<CapturedProfile>& profiles, QString* error)
{
    {
        CaptureRecorder recorder(&store);
        if (!recorder.start(path, error) || !recorder.flush(error))
            return false;
        recorder.stop();
    }
    return profiles.isEmpty() || writeCaptureProfiles(path, profiles, error);
}

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

/// A tree model's index as the panel's view shows it (through the search's filter).
QModelIndex viewIndex(const QTreeView* view, const QModelIndex& source)
{
    return static_cast<const QSortFilterProxyModel*>(view->model())->mapFromSource(source);
}

bool isOpen(const QTreeView* view, const QModelIndex& source)
{
    return view->isExpanded(viewIndex(view, source));
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
    void openedCaptureShowsItsHeap();
    void memoryViewHasOneMarkAndFitsItsTable();
    void statusShowsLostAndThrottled();
    void functionColumnTakesTheWidth();
    void flameGraphScrollsWhenDeep();
    void flameGraphPrettifiesNames();
    void flameGraphIcicle();
    void searchBoxKeepsTheLayout();
    void processAndThreadNames();
    void treesAndCallersInThePanel();
    void topFunctionsFollowTheZoom();
    void focusCollapseAndBottomUp();
    void differentialAgainstAMark();
    void compareWithACapture();
    void compareWithACaptureWithoutTheProcess();
    void compareWithACaptureThatCannotBe();
    void compareHeapWithACapture();
    void viewsOutliveUnnamedAddresses();
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
    QVERIFY(startTarget(target));
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
    // File > Export profile as pprof: the name says the format (decoded in tst_pprof).
    const QString pprofPath = dir.filePath(QStringLiteral("out.pb.gz"));
    QCOMPARE(panel.exportProfile(pprofPath), QString());
    QFile pprof(pprofPath);
    QVERIFY(pprof.open(QIODevice::ReadOnly));
    const QByteArray gz = pprof.readAll();
    QVERIFY(gz.size() > 100 && gz.startsWith("\x1f\x8b"));
    QCOMPARE(panel.exportProfile(dir.filePath(QStringLiteral("again.folded"))), QString());
    QFile again(dir.filePath(QStringLiteral("again.folded")));
    QVERIFY(again.open(QIODevice::ReadOnly));
    QVERIFY(!foldedexport::parse(again.readAll()).empty());
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
    QVERIFY(startTarget(target));
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
    QString error;
    {
        MetricsStore store;
        QVERIFY(store.attachPid(getpid()));
        QVERIFY2(writeCapture(path, store,
                     { { getpid(), QStringLiteral("app"),
                         "app;main;work();parse 30\napp;main;work();sort 10\napp;main;idle 60\n", {}, {} } },
                     &error),
            qPrintable(error));
    }
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

void TestProfileWidgets::openedCaptureShowsItsHeap()
{
    // A capture recorded with --heap --record keeps the live heap at the end (written as
    // tst_captureprofiles writes one): the Memory view shows it, read-only, for its process.
    QTemporaryDir dir;
    const QString path = dir.filePath(QStringLiteral("heap.perfdash"));
    QString error;
    {
        MetricsStore store;
        QVERIFY(store.attachPid(getpid()));
        QVERIFY2(writeCapture(path, store,
                     { { getpid(), QStringLiteral("app"), {}, {}, {},
                         "app;main;cache;hold_site 33554432\napp;main;parse 1048576\n" } },
                     &error),
            qPrintable(error));
    }
    std::unique_ptr<MainWindow> window(MainWindow::openCaptureWindow(path, &error));
    QVERIFY2(window, qPrintable(error));
    MemoryPanel* memory = window->memoryPanel();
    memory->setProcess(getpid(), QStringLiteral("app"));
    QTRY_VERIFY_WITH_TIMEOUT(memory->showsRecorded(), 10000); // read on the worker pool
    QVERIFY2(memory->totalsText().contains(QStringLiteral("from the capture")), qPrintable(memory->totalsText()));
    QVERIFY(!memory->totalsText().contains(QStringLiteral("not tracked")));
    ProfilePanel* panel = memory->profile();
    QTRY_VERIFY_WITH_TIMEOUT(panel->snapshot() && panel->snapshot()->totalSamples() == 33554432ull + 1048576ull, 10000);
    QCOMPARE(panel->snapshot()->unit, ProfileSnapshot::Unit::Bytes);
    QCOMPARE(
        panel->topFunctions()->index(0, TopFunctionsModel::Function).data().toString(), QStringLiteral("hold_site"));
    // Live bytes only: the rate and the growth need what a capture does not keep, and say so.
    QCOMPARE(memory->view(), HeapView::Live);
    for (HeapView other : { HeapView::AllocationRate, HeapView::Growth }) {
        QString why;
        QVERIFY(!memory->canShow(other, &why));
        QVERIFY2(why.contains(QStringLiteral("capture")), qPrintable(why));
        const int row = memory->viewBox()->findData(int(other));
        auto* items = qobject_cast<QStandardItemModel*>(memory->viewBox()->model());
        QVERIFY(items && !items->item(row)->isEnabled());
        QCOMPARE(items->item(row)->toolTip(), why);
        memory->setView(other);
        QCOMPARE(memory->view(), HeapView::Live);
    }
    QVERIFY(!memory->markButton()->isEnabled());
    QVERIFY2(memory->markButton()->toolTip().contains(QStringLiteral("from the capture")),
        qPrintable(memory->markButton()->toolTip()));
    // A process the capture holds no heap of says so, not that a running process cannot be tracked.
    memory->setProcess(getpid() + 100000, QStringLiteral("other"));
    QVERIFY(!memory->showsRecorded());
    QVERIFY2(memory->totalsText().contains(QStringLiteral("holds no heap profile of other")),
        qPrintable(memory->totalsText()));
}

void TestProfileWidgets::memoryViewHasOneMarkAndFitsItsTable()
{
    QTemporaryDir dir;
    HeapProfiler heap(dir.path());
    MemoryPanel memory;
    memory.setHeapProfiler(&heap);
    memory.resize(1000, 700);
    memory.show();
    QVERIFY(QTest::qWaitForWindowExposed(&memory));
    // One way to mark: the heap's. The CPU profile's mark and its comparison are not shown here.
    ProfilePanel* panel = memory.profile();
    for (QAction* action : panel->findChildren<QAction*>()) {
        QVERIFY2(action->text() != QStringLiteral("Compare with mark") || !action->isVisible(),
            "the CPU profile's Compare with mark in the Memory view");
        // The flame graph's icicle toggle is not named as the Bottom-up tab is.
        QVERIFY(action->text() != QStringLiteral("Bottom-up"));
    }
    for (QToolButton* button : panel->findChildren<QToolButton*>())
        QVERIFY2(!button->text().startsWith(QStringLiteral("Mark")) || !button->isVisible(),
            "the CPU profile's Mark in the Memory view");
    ProfilePanel cpu; // the CPU profile keeps its mark
    cpu.show();
    bool cpuCompare = false;
    for (QAction* action : cpu.findChildren<QAction*>())
        cpuCompare |= action->text() == QStringLiteral("Compare with mark") && action->isVisible();
    QVERIFY(cpuCompare);

    // A process whose heap is not tracked: nothing to mark, and why.
    memory.setProcess(getpid(), QStringLiteral("app"));
    QVERIFY(!memory.markButton()->isEnabled());
    QVERIFY2(memory.markButton()->toolTip().contains(QStringLiteral("not tracked")),
        qPrintable(memory.markButton()->toolTip()));
    memory.setMark(); // refused: nothing changes
    QVERIFY(!memory.hasMark());
    // No mark set: the growth says it counts from the start.
    const int growth = memory.viewBox()->findData(int(HeapView::Growth));
    QVERIFY2(memory.viewBox()->itemText(growth).contains(QStringLiteral("since the start (no mark set)")),
        qPrintable(memory.viewBox()->itemText(growth)));

    // The functions table fits: the function's name stretches, a long location is cut in the middle
    // (in full in its tooltip), no horizontal scroll bar hides it.
    QByteArray folded;
    for (int i = 0; i < 6; ++i)
        folded += "app;main;std::vector<std::pair<std::string, std::map<int, std::string>>>::_M_realloc_insert_"
            + QByteArray::number(i) + " " + QByteArray::number((i + 1) * 4096) + "\n";
    auto recorded
        = std::make_shared<ProfileSnapshot>(*foldedexport::snapshotOf(getpid(), QStringLiteral("app"), folded));
    recorded->unit = ProfileSnapshot::Unit::Bytes;
    for (ProfileFunction& f : recorded->functions) {
        f.module = QStringLiteral("libsomething-with-a-long-name.so.1");
        f.location = QStringLiteral("/home/build/src/project/library/module/deeply/nested/file_%1.cpp:1234")
                         .arg(f.name.size());
    }
    memory.setRecordedHeaps({ recorded });
    QTRY_VERIFY_WITH_TIMEOUT(panel->topFunctions()->rowCount() > 0, 10000);
    QTableView* table = panel->functionsView();
    QTRY_VERIFY_WITH_TIMEOUT(table->horizontalHeader()->length() > 0, 10000);
    QCoreApplication::processEvents();
    QVERIFY2(table->horizontalScrollBar()->maximum() == 0,
        qPrintable(QStringLiteral("header %1 px in a viewport of %2 px")
                       .arg(table->horizontalHeader()->length())
                       .arg(table->viewport()->width())));
    QCOMPARE(table->textElideMode(), Qt::ElideMiddle);
    const QModelIndex location = table->model()->index(0, TopFunctionsModel::Location);
    QVERIFY(location.data(Qt::ToolTipRole).toString().endsWith(QStringLiteral(".cpp:1234")));
    QVERIFY(table->horizontalHeader()->sectionSize(TopFunctionsModel::Function)
        > table->horizontalHeader()->sectionSize(TopFunctionsModel::Location));
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
    // Shown prettified (template arguments as <...>), whole in the tooltip.
    const QString shown = prettifySymbol(function);
    QVERIFY2(functionWidth >= view->fontMetrics().horizontalAdvance(shown),
        qPrintable(QStringLiteral("function %1 px for %2 px of name")
                       .arg(functionWidth)
                       .arg(view->fontMetrics().horizontalAdvance(shown))));
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

namespace {

/// A chain of @p depth distinct functions, all 100 samples in the innermost.
ProfileSnapshotPtr deepSample(int depth)
{
    FunctionTable functions;
    std::vector<std::uint32_t> stack;
    for (int i = 0; i < depth; ++i)
        stack.push_back(functions.intern({ QStringLiteral("level%1()").arg(i), QStringLiteral("app"), {}, false }));
    ProfileAggregate aggregate;
    aggregate.add(1, 0, stack, 100);
    auto snapshot = std::make_shared<ProfileSnapshot>(aggregate.snapshot({}, 0, functions));
    snapshot->process = QStringLiteral("app");
    snapshot->pid = 42;
    return snapshot;
}

/// A profile the test changes while the panel shows it (read on the pool).
struct LiveFake
{
    std::atomic<int> extraParse { 0 };
    std::atomic<int> calls { 0 };
    std::function<ProfileSnapshotPtr()> make;
    ~LiveFake() { QThreadPool::globalInstance()->waitForDone(); }
    ProfilePanel::Source source()
    {
        ProfilePanel::Source source;
        source.snapshot = [this](const ProfileQuery& query, bool) {
            ++calls;
            auto s = std::make_shared<ProfileSnapshot>(make ? *make() : *sample(std::uint64_t(extraParse.load())));
            s->query = query;
            return ProfileSnapshotPtr(s);
        };
        return source;
    }
};

/// @p panel on @p fake's process, app (pid 42), until it shows a snapshot (10 s at most).
bool showApp(ProfilePanel& panel, LiveFake& fake)
{
    panel.setSource(fake.source());
    panel.setProcess(42, QStringLiteral("app"));
    return QTest::qWaitFor([&] { return bool(panel.snapshot()); }, 10000);
}

} // namespace

void TestProfileWidgets::flameGraphScrollsWhenDeep()
{
    // Deeper than the room it has (the hottest leaf at the top was cut off at 1.5x): it scrolls,
    // starting at its root, and its deepest frame can be scrolled to.
    LiveFake fake;
    fake.make = [] { return deepSample(60); };
    ProfilePanel panel;
    panel.resize(900, 500);
    panel.setSource(fake.source());
    panel.setProcess(42, QStringLiteral("app"));
    panel.show();
    QVERIFY(QTest::qWaitForWindowExposed(&panel));
    QTRY_VERIFY_WITH_TIMEOUT(panel.snapshot() && panel.snapshot()->totalSamples() == 100, 10000);
    FlameGraphWidget* flame = panel.flameGraph();
    QScrollArea* area = panel.flameScrollArea();
    QCOMPARE(flame->depth(), 61);
    QTRY_VERIFY_WITH_TIMEOUT(flame->height() >= 61 * FlameGraphWidget::kRowHeight, 10000);
    QScrollBar* bar = area->verticalScrollBar();
    QVERIFY(area->viewport()->height() < flame->height());
    QVERIFY(bar->maximum() > 0);
    QTRY_COMPARE_WITH_TIMEOUT(bar->value(), bar->maximum(), 10000); // the root in sight
    const std::uint32_t deepest = nodeNamed(*panel.snapshot(), QStringLiteral("level59()"));
    const QRectF leaf = flame->rectOf(deepest);
    QVERIFY(!leaf.isEmpty());
    QVERIFY2(leaf.top() >= 0, qPrintable(QString::number(leaf.top()))); // drawn inside the widget
    area->ensureVisible(int(leaf.center().x()), int(leaf.center().y()));
    QVERIFY(bar->value() < bar->maximum());
    // A refresh keeps where the user scrolled to.
    const int value = bar->value();
    panel.refresh();
    QSignalSpy refreshed(&panel, &ProfilePanel::refreshed);
    QVERIFY(refreshed.wait(10000));
    QCOMPARE(bar->value(), value);
    // A shallow profile fits: nothing to scroll.
    fake.make = nullptr;
    panel.refresh();
    QTRY_VERIFY_WITH_TIMEOUT(panel.snapshot()->totalSamples() == 100 && flame->depth() == 4, 10000);
    QTRY_COMPARE_WITH_TIMEOUT(bar->maximum(), 0, 10000);
}

void TestProfileWidgets::flameGraphPrettifiesNames()
{
    FunctionTable functions;
    const QString full = QStringLiteral("std::vector<int, std::allocator<int> >::push_back(int const&)");
    const std::uint32_t main = functions.intern({ QStringLiteral("main"), QStringLiteral("app"), {}, false });
    const std::uint32_t push = functions.intern({ full, QStringLiteral("app"), {}, false });
    ProfileAggregate aggregate;
    const std::uint32_t stack[] = { main, push };
    aggregate.add(1, 0, stack, 10);
    auto snapshot = std::make_shared<ProfileSnapshot>(aggregate.snapshot({}, 0, functions));
    snapshot->process = QStringLiteral("perfdash-demo");
    FlameGraphWidget flame;
    flame.resize(800, 200);
    flame.setProcessName(QStringLiteral("orders-api"));
    flame.setSnapshot(snapshot);
    const std::uint32_t node = nodeNamed(*snapshot, QStringLiteral("std::vector"));
    QCOMPARE(flame.displayName(node), QStringLiteral("std::vector<...>::push_back(int const&)"));
    QVERIFY(flame.toolTipFor(node).contains(full.toHtmlEscaped())); // whole in the tooltip
    QCOMPARE(flame.displayName(0), QStringLiteral("orders-api"));
    QVERIFY(flame.toolTipFor(0).contains(QStringLiteral("orders-api")));
    QVERIFY(!flame.grab().isNull());
}

void TestProfileWidgets::flameGraphIcicle()
{
    FlameGraphWidget flame;
    flame.resize(1000, 200);
    flame.setSnapshot(sample());
    flame.setInverted(true);
    const ProfileSnapshot& s = *flame.snapshot();
    QCOMPARE(flame.rectOf(0).top(), 0.0); // the root at the top
    const QRectF work = flame.rectOf(nodeNamed(s, QStringLiteral("work")));
    const QRectF parse = flame.rectOf(nodeNamed(s, QStringLiteral("parse")));
    QCOMPARE(parse.top(), work.top() + FlameGraphWidget::kRowHeight); // callees below callers
    // Backspace zooms out one level.
    flame.zoomTo(nodeNamed(s, QStringLiteral("parse")));
    QTest::keyClick(&flame, Qt::Key_Backspace);
    QCOMPARE(flame.zoomNode(), nodeNamed(s, QStringLiteral("work")));
    QTest::keyClick(&flame, Qt::Key_Escape);
    QCOMPARE(flame.zoomNode(), 0u);
}

void TestProfileWidgets::searchBoxKeepsTheLayout()
{
    // Typing in the search box moved the window's splitter (the match label grew): what the panel
    // asks of its parent stays the same, and the box keeps a usable width however narrow.
    LiveFake fake;
    ProfilePanel panel;
    panel.resize(420, 500);
    panel.setSource(fake.source());
    panel.setProcess(42, QStringLiteral("app"));
    panel.show();
    QVERIFY(QTest::qWaitForWindowExposed(&panel));
    QTRY_VERIFY_WITH_TIMEOUT(panel.snapshot(), 10000);
    const QSize minimum = panel.minimumSizeHint();
    const QSize hint = panel.sizeHint();
    QLineEdit* search = panel.searchBox();
    QVERIFY(search->width() >= search->fontMetrics().averageCharWidth() * 14);
    QTest::keyClicks(search, QStringLiteral("parse"));
    QCOMPARE(panel.flameGraph()->matchedSamples(), 30ull);
    QCOMPARE(panel.minimumSizeHint(), minimum);
    QCOMPARE(panel.sizeHint(), hint);
    QVERIFY(search->width() >= search->fontMetrics().averageCharWidth() * 14);
}

void TestProfileWidgets::processAndThreadNames()
{
    // The profiler knows the program (perfdash-demo); the tables know the process (orders-api).
    LiveFake fake;
    fake.make = [] {
        auto s = std::make_shared<ProfileSnapshot>(*sample());
        s->process = QStringLiteral("perfdash-demo");
        s->threads = { { 42, QStringLiteral("perfdash-demo"), 10 }, { 43, QStringLiteral("perfdash-demo"), 20 },
            { 44, QStringLiteral("db-pool"), 70 } };
        return ProfileSnapshotPtr(s);
    };
    ProfilePanel panel;
    panel.setSource(fake.source());
    panel.setProcess(42, QStringLiteral("orders-api"));
    QTRY_VERIFY_WITH_TIMEOUT(panel.snapshot() && panel.threadBox()->count() == 4, 10000);
    QComboBox* threads = panel.threadBox();
    QCOMPARE(threads->itemText(1), QStringLiteral("orders-api main (tid 42)"));
    QCOMPARE(threads->itemText(2), QStringLiteral("orders-api thread (tid 43)"));
    QCOMPARE(threads->itemText(3), QStringLiteral("db-pool (tid 44)"));
    QVERIFY2(panel.statusText().startsWith(QStringLiteral("orders-api (pid 42)")), qPrintable(panel.statusText()));
    QVERIFY(!panel.statusText().contains(QStringLiteral("perfdash-demo")));
    QCOMPARE(panel.flameGraph()->displayName(0), QStringLiteral("orders-api"));
    // The name may come after the process (a client's hello): it is taken then.
    ProfilePanel later;
    later.setSource(fake.source());
    later.setProcess(42);
    QTRY_VERIFY_WITH_TIMEOUT(later.snapshot() && later.threadBox()->count() == 4, 10000);
    QCOMPARE(later.flameGraph()->displayName(0), QStringLiteral("perfdash-demo"));
    later.setProcess(42, QStringLiteral("orders-api"));
    QCOMPARE(later.flameGraph()->displayName(0), QStringLiteral("orders-api"));
    QCOMPARE(later.threadBox()->itemText(1), QStringLiteral("orders-api main (tid 42)"));
}

void TestProfileWidgets::treesAndCallersInThePanel()
{
    LiveFake fake;
    ProfilePanel panel;
    QVERIFY(showApp(panel, fake));
    QCOMPARE(panel.topDownModel()->rowCount(), 0); // built when its tab is shown
    panel.setTab(ProfilePanel::Tab::TopDown);
    QTRY_COMPARE_WITH_TIMEOUT(panel.topDownModel()->rowCount(), 1, 10000);
    CallTreeModel* topDown = panel.topDownModel();
    const QModelIndex main = topDown->index(0, 0);
    QCOMPARE(main.data(CallTreeModel::FullNameRole).toString(), QStringLiteral("main"));
    QVERIFY(isOpen(panel.topDownView(), main)); // the hot path open
    const QModelIndex idle = topDown->index(0, 0, main);
    QCOMPARE(idle.data(CallTreeModel::FullNameRole).toString(), QStringLiteral("idle"));
    QCOMPARE(idle.siblingAtColumn(CallTreeModel::Total).data(CallTreeModel::SortRole).toULongLong(), 60ull);
    // Expanded nodes stay expanded across refreshes.
    const QModelIndex work = topDown->index(1, 0, main);
    panel.topDownView()->expand(viewIndex(panel.topDownView(), work));
    fake.extraParse = 20;
    QTRY_VERIFY_WITH_TIMEOUT(panel.snapshot()->totalSamples() == 120, 10000);
    QTRY_COMPARE_WITH_TIMEOUT(topDown->tree()->totalSamples(), 120ull, 10000);
    const QModelIndex workAgain
        = topDown->indexOf(topDown->tree()->find({ QStringLiteral("main"), QStringLiteral("work()") }));
    QVERIFY(isOpen(panel.topDownView(), workAgain));

    // The search keeps the paths to what matches, open; cleared, what the user had open is back.
    QTest::keyClicks(panel.searchBox(), QStringLiteral("PARSE"));
    QTreeView* view = panel.topDownView();
    const QAbstractItemModel* shown = view->model();
    QCOMPARE(shown->rowCount(), 1);
    const QModelIndex shownMain = shown->index(0, 0);
    QCOMPARE(shown->rowCount(shownMain), 1); // work(), the one caller of parse; idle is gone
    const QModelIndex shownWork = shown->index(0, 0, shownMain);
    QCOMPARE(shownWork.data(CallTreeModel::FullNameRole).toString(), QStringLiteral("work()"));
    QVERIFY(view->isExpanded(shownWork));
    QCOMPARE(shown->rowCount(shownWork), 1);
    QCOMPARE(shown->index(0, 0, shownWork).data(CallTreeModel::FullNameRole).toString(),
        QStringLiteral("parse(char const*)"));
    fake.extraParse = 25; // a refresh while searching keeps the filter and opens the matches
    QTRY_COMPARE_WITH_TIMEOUT(topDown->tree()->totalSamples(), 125ull, 10000);
    QCOMPARE(shown->rowCount(shown->index(0, 0)), 1);
    QVERIFY(view->isExpanded(shown->index(0, 0, shown->index(0, 0))));
    panel.searchBox()->clear();
    QCOMPARE(shown->rowCount(shown->index(0, 0)), 2);
    QVERIFY(
        isOpen(view, topDown->indexOf(topDown->tree()->find({ QStringLiteral("main"), QStringLiteral("work()") }))));
    QCOMPARE(shown->rowCount(viewIndex(
                 view, topDown->indexOf(topDown->tree()->find({ QStringLiteral("main"), QStringLiteral("work()") })))),
        2);
    fake.extraParse = 20;
    QTRY_COMPARE_WITH_TIMEOUT(topDown->tree()->totalSamples(), 120ull, 10000);

    panel.setTab(ProfilePanel::Tab::BottomUp);
    QTRY_COMPARE_WITH_TIMEOUT(panel.bottomUpModel()->rowCount(), 3, 10000); // idle, parse, sort

    // Caller/callee opens on the function with the most samples of its own.
    panel.setTab(ProfilePanel::Tab::CallerCallee);
    QTRY_COMPARE_WITH_TIMEOUT(panel.callerCalleeFunction(), QStringLiteral("idle"), 10000);
    QTRY_COMPARE_WITH_TIMEOUT(panel.callersModel()->rowCount(), 1, 10000);
    QCOMPARE(panel.callersModel()->index(0, CallerCalleeModel::Samples).data().toULongLong(), 60ull);
    panel.refresh(); // and stays there
    QSignalSpy again(&panel, &ProfilePanel::refreshed);
    QVERIFY(again.wait(10000));
    QCOMPARE(panel.callerCalleeFunction(), QStringLiteral("idle"));
    QCOMPARE(panel.callersModel()->rowCount(), 1);
    // "Show callers" (the context menus): the caller/callee tab with the function's callers.
    panel.showCallers(QStringLiteral("work()"));
    QCOMPARE(panel.tab(), ProfilePanel::Tab::CallerCallee);
    QTRY_VERIFY_WITH_TIMEOUT(panel.callersModel()->rowCount() == 1, 10000);
    QCOMPARE(panel.callersModel()->index(0, CallerCalleeModel::Function).data().toString(), QStringLiteral("main"));
    QCOMPARE(panel.callersModel()->index(0, CallerCalleeModel::Samples).data().toULongLong(), 60ull);
    QCOMPARE(panel.calleesModel()->rowCount(), 2);
    Q_EMIT panel.flameGraph()->callersRequested(QStringLiteral("sort"));
    QCOMPARE(panel.callerCalleeFunction(), QStringLiteral("sort"));
    QTRY_COMPARE_WITH_TIMEOUT(
        panel.callersModel()->index(0, CallerCalleeModel::Function).data().toString(), QStringLiteral("work()"), 10000);
}

void TestProfileWidgets::topFunctionsFollowTheZoom()
{
    LiveFake fake;
    ProfilePanel panel;
    panel.setSource(fake.source());
    panel.setProcess(42, QStringLiteral("app"));
    QTRY_VERIFY_WITH_TIMEOUT(panel.snapshot() && panel.topFunctions()->rowCount() == 5, 10000);
    panel.flameGraph()->zoomTo(nodeNamed(*panel.snapshot(), QStringLiteral("work")));
    QCOMPARE(panel.topFunctions()->rowCount(), 3); // work(), parse, sort
    QCOMPARE(panel.topFunctions()->index(0, TopFunctionsModel::Function).data().toString(),
        QStringLiteral("parse(char const*) (inlined)"));
    // Still after a refresh: the zoom is kept, and so are the functions.
    fake.extraParse = 10;
    QTRY_VERIFY_WITH_TIMEOUT(panel.snapshot()->totalSamples() == 110, 10000);
    QCOMPARE(panel.topFunctions()->rowCount(), 3);
    QCOMPARE(panel.topFunctions()->index(0, TopFunctionsModel::Self).data().toULongLong(), 40ull);
    panel.flameGraph()->resetZoom();
    QCOMPARE(panel.topFunctions()->rowCount(), 5);
}

void TestProfileWidgets::focusCollapseAndBottomUp()
{
    LiveFake fake;
    ProfilePanel panel;
    QVERIFY(showApp(panel, fake));
    // Focus from the flame graph's context menu.
    Q_EMIT panel.flameGraph()->focusRequested(QStringLiteral("work()"));
    QCOMPARE(panel.focusFunction(), QStringLiteral("work()"));
    QTRY_VERIFY_WITH_TIMEOUT(panel.snapshot()->totalSamples() == 40, 10000);
    QVERIFY(panel.statusText().contains(QStringLiteral("focused on work()")));
    panel.setFocusFunction({});
    QTRY_VERIFY_WITH_TIMEOUT(panel.snapshot()->totalSamples() == 100, 10000);
    // Bottom-up: the functions sampled under the root, hanging from the top.
    panel.setBottomUpFlameGraph(true);
    QVERIFY(panel.flameGraph()->isInverted());
    QTRY_VERIFY_WITH_TIMEOUT(panel.flameGraph()->snapshot() != panel.snapshot(), 10000);
    const ProfileSnapshotPtr callers = panel.flameGraph()->snapshot();
    QCOMPARE(callers->nodes[0].children.size(), std::size_t(3));
    QCOMPARE(callers->totalSamples(), 100ull);
    const std::uint32_t idleTop = nodeNamed(*callers, QStringLiteral("idle"));
    QCOMPARE(callers->nodes[idleTop].parent, 0u);
    QCOMPARE(callers->functions[callers->nodes[callers->nodes[idleTop].children.at(0)].function].name,
        QStringLiteral("main")); // idle's caller above it
    panel.setBottomUpFlameGraph(false);
    QTRY_VERIFY_WITH_TIMEOUT(panel.flameGraph()->snapshot() == panel.snapshot(), 10000);
    // Collapse recursion: a recursive profile loses its repeated frames.
    fake.make = [] {
        FunctionTable functions;
        const std::uint32_t main = functions.intern({ QStringLiteral("main"), {}, {}, false });
        const std::uint32_t rec = functions.intern({ QStringLiteral("rec"), {}, {}, false });
        ProfileAggregate aggregate;
        const std::uint32_t stack[] = { main, rec, rec, rec };
        aggregate.add(1, 0, stack, 10);
        auto s = std::make_shared<ProfileSnapshot>(aggregate.snapshot({}, 0, functions));
        s->process = QStringLiteral("app");
        return ProfileSnapshotPtr(s);
    };
    panel.setCollapseRecursion(true);
    QTRY_VERIFY_WITH_TIMEOUT(panel.snapshot()->nodes.size() == 3, 10000); // root, main, rec
    QCOMPARE(panel.snapshot()->totalSamples(), 10ull);
    panel.setCollapseRecursion(false);
    QTRY_VERIFY_WITH_TIMEOUT(panel.snapshot()->nodes.size() == 5, 10000);
}

void TestProfileWidgets::differentialAgainstAMark()
{
    LiveFake fake;
    ProfilePanel panel;
    QVERIFY(showApp(panel, fake));
    panel.setCompareWithMark(true); // no mark yet: nothing to compare with
    panel.setMark();
    const ProfileSnapshotPtr mark = panel.mark();
    QVERIFY(mark);
    QCOMPARE(mark->totalSamples(), 100ull);
    // 20 more samples in parse since: with the session range, what came since the mark against it.
    fake.extraParse = 20;
    panel.setCompareWithMark(true);
    QTRY_VERIFY_WITH_TIMEOUT(panel.flameGraph()->isDifferential() && panel.snapshot()->totalSamples() == 20, 10000);
    QCOMPARE(panel.flameGraph()->baseline(), mark);
    const ProfileSnapshotPtr since = panel.snapshot();
    const std::uint32_t parse = nodeNamed(*since, QStringLiteral("parse"));
    QCOMPARE(since->nodes[parse].total, 20ull);
    QVERIFY(panel.flameGraph()->shareDelta(parse) > 0.5); // 100% since, 30% before: gained
    QVERIFY(panel.flameGraph()->frameColor(parse).red() > panel.flameGraph()->frameColor(parse).blue());
    QCOMPARE(panel.functionsView()->model()->columnCount(), int(ProfileDiffModel::ColumnCount));
    QVERIFY2(panel.statusText().contains(QStringLiteral("20 samples since the mark set at")),
        qPrintable(panel.statusText()));
    // Another range: the range now against the same range at the mark (shares only).
    panel.setTimeRange(10);
    QTRY_VERIFY_WITH_TIMEOUT(
        panel.snapshot()->query.lastSeconds == 10 && panel.snapshot()->totalSamples() == 120, 10000);
    QVERIFY(panel.flameGraph()->isDifferential());
    QVERIFY(panel.statusText().contains(QStringLiteral("this range now (120 samples)")));
    panel.clearMark();
    QTRY_VERIFY_WITH_TIMEOUT(!panel.flameGraph()->isDifferential(), 10000);
    QCOMPARE(panel.functionsView()->model()->columnCount(), int(TopFunctionsModel::ColumnCount));
}

namespace {
/// A capture at @p path of orders-api (pid 4242) and billing (4343), both run by the program
/// perfdash-demo, with @p profiles.
bool writeProfiledCapture(const QString& path, const QList<CapturedProfile>& profiles, QString* error)
{
    MetricsStore store;
    store.openProcess(4242, QStringLiteral("orders-api"), {});
    store.openProcess(4343, QStringLiteral("billing"), {});
    return writeCapture(path, store, profiles, error);
}

/// orders-api spent half its samples in legacy(), which the live profile no longer calls; billing
/// has more samples than it, under the same program.
const QList<CapturedProfile> kOrdersAndBilling = {
    { 4242, QStringLiteral("perfdash-demo"),
        "perfdash-demo;main;work();parse(char const*) 50\nperfdash-demo;main;legacy() 50\n", {}, {} },
    { 4343, QStringLiteral("perfdash-demo"), "perfdash-demo;main;bill() 300\n", {}, {} },
};

const ProfileShareChange* changeOf(const ProfilePanel& panel, const QString& function)
{
    for (const ProfileShareChange& c : panel.differentialFunctions()->changes()) {
        if (c.function == function)
            return &c;
    }
    return nullptr;
}

/// compareWithCapture(@p path) until the panel has read it; whether its mark was set.
bool compareAndWait(ProfilePanel& panel, const QString& path)
{
    QSignalSpy read(&panel, &ProfilePanel::captureRead);
    panel.compareWithCapture(path);
    if ((read.isEmpty() && !read.wait(10000)) || read.size() != 1) // said at once when no process is shown
        return false;
    return read.at(0).at(0).toBool();
}
} // namespace

void TestProfileWidgets::compareWithACapture()
{
    QTemporaryDir dir;
    const QString path = dir.filePath(QStringLiteral("run.perfdash"));
    QString error;
    QVERIFY2(writeProfiledCapture(path, kOrdersAndBilling, &error), qPrintable(error));

    // Live: orders-api (as the tables name it) runs parse 30, sort 10, idle 60 (sample()).
    LiveFake fake;
    ProfilePanel panel;
    // The Mark menu's action, for a process shown; the mark line's Clear mark, with a mark.
    QAction* compare = nullptr;
    for (QAction* action : panel.findChildren<QAction*>()) {
        if (action->text() == QStringLiteral("Compare with a capture\u2026"))
            compare = action;
    }
    QVERIFY(compare && !compare->isEnabled());
    QToolButton* clear = nullptr;
    for (QToolButton* button : panel.findChildren<QToolButton*>()) {
        if (button->text() == QStringLiteral("Clear mark"))
            clear = button;
    }
    QVERIFY(clear && clear->isHidden());
    panel.setSource(fake.source());
    panel.setProcess(42, QStringLiteral("orders-api"));
    QTRY_VERIFY_WITH_TIMEOUT(panel.snapshot(), 10000);
    QVERIFY(compare->isEnabled());
    QVERIFY(panel.markText().isEmpty());
    QVERIFY(compareAndWait(panel, path));
    QVERIFY(!clear->isHidden());
    // The capture's orders-api, not billing (more samples, same program).
    QVERIFY(panel.mark());
    QCOMPARE(panel.mark()->totalSamples(), 100ull);
    QTRY_VERIFY_WITH_TIMEOUT(panel.flameGraph()->isDifferential(), 10000);
    QCOMPARE(panel.flameGraph()->baseline(), panel.mark());
    QCOMPARE(panel.snapshot()->totalSamples(), 100ull); // shares only: nothing subtracted
    // sort() only runs now: a gain, red; legacy() only ran in the capture: a loss in the table.
    const ProfileSnapshotPtr now = panel.snapshot();
    const std::uint32_t sort = nodeNamed(*now, QStringLiteral("sort"));
    QVERIFY(sort);
    QVERIFY(panel.flameGraph()->shareDelta(sort) > 0.09);
    QVERIFY(panel.flameGraph()->frameColor(sort).red() > panel.flameGraph()->frameColor(sort).blue());
    const ProfileShareChange* gained = changeOf(panel, QStringLiteral("sort"));
    QVERIFY(gained);
    QCOMPARE(gained->baseSelfShare, 0.0);
    QCOMPARE(gained->nextSelfShare, 0.1);
    const ProfileShareChange* lost = changeOf(panel, QStringLiteral("legacy()"));
    QVERIFY(lost);
    QCOMPARE(lost->baseSelfShare, 0.5);
    QCOMPARE(lost->nextSelfShare, 0.0);
    QVERIFY(lost->delta() < 0);
    const ProfileShareChange* parse = changeOf(panel, QStringLiteral("parse(char const*)"));
    QVERIFY(parse);
    QCOMPARE(parse->baseSelfShare, 0.5);
    QCOMPARE(parse->nextSelfShare, 0.3);
    QCOMPARE(panel.functionsView()->model()->columnCount(), int(ProfileDiffModel::ColumnCount));
    // What the mark is, and the way back.
    const QString mark = panel.markText();
    QVERIFY2(mark.startsWith(QStringLiteral("Mark: capture run.perfdash, orders-api, 100 samples, recorded ")),
        qPrintable(mark));
    QVERIFY2(mark.contains(QRegularExpression(QStringLiteral("recorded (\\d{4}-\\d\\d-\\d\\d )?\\d\\d:\\d\\d$"))),
        qPrintable(mark));
    QVERIFY2(panel.statusText().contains(QStringLiteral("against the capture run.perfdash (100 samples")),
        qPrintable(panel.statusText()));
    clear->click();
    QVERIFY(!panel.mark());
    QVERIFY(panel.markText().isEmpty());
    QVERIFY(clear->isHidden());
    QTRY_VERIFY_WITH_TIMEOUT(!panel.flameGraph()->isDifferential(), 10000);

    // Matched by the program when the tables name it otherwise (attached, not instrumented).
    ProfilePanel attached;
    LiveFake program;
    program.make = [] {
        auto s = std::make_shared<ProfileSnapshot>(*sample());
        s->process = QStringLiteral("perfdash-demo");
        return ProfileSnapshotPtr(s);
    };
    attached.setSource(program.source());
    attached.setProcess(42, QStringLiteral("perfdash-demo (pid 42)"));
    QTRY_VERIFY_WITH_TIMEOUT(attached.snapshot(), 10000);
    QVERIFY(compareAndWait(attached, path));
    QCOMPARE(attached.mark()->totalSamples(), 300ull); // billing: the most samples of that program
    QVERIFY2(attached.markText().startsWith(QStringLiteral("Mark: capture run.perfdash, billing, 300 samples")),
        qPrintable(attached.markText()));
}

void TestProfileWidgets::compareWithACaptureWithoutTheProcess()
{
    QTemporaryDir dir;
    const QString path = dir.filePath(QStringLiteral("run.perfdash"));
    QString error;
    QVERIFY2(writeProfiledCapture(path, kOrdersAndBilling, &error), qPrintable(error));
    LiveFake fake;
    ProfilePanel panel;
    panel.setSource(fake.source());
    panel.setProcess(42, QStringLiteral("inventory"));
    QTRY_VERIFY_WITH_TIMEOUT(panel.snapshot(), 10000);
    // Two processes, neither of them this one: said, and offered.
    QVERIFY(!compareAndWait(panel, path));
    QVERIFY(!panel.mark());
    QCOMPARE(panel.markText(),
        QStringLiteral("run.perfdash has no CPU profile of inventory: choose one of its processes (orders-api, "
                       "billing) to compare with."));
    QCOMPARE(panel.captureChoices(), QStringList({ QStringLiteral("orders-api"), QStringLiteral("billing") }));
    QVERIFY(!panel.compareWithCaptureProcess(2, &error));
    QVERIFY(!error.isEmpty());
    QVERIFY(panel.compareWithCaptureProcess(0, &error));
    QCOMPARE(panel.mark()->totalSamples(), 100ull);
    QVERIFY(panel.captureChoices().isEmpty());
    QVERIFY2(
        panel.markText().startsWith(QStringLiteral("Mark: capture run.perfdash, orders-api (chosen), 100 samples")),
        qPrintable(panel.markText()));
    QTRY_VERIFY_WITH_TIMEOUT(panel.flameGraph()->isDifferential(), 10000);

    // A capture of one process: that one, saying so.
    const QString one = dir.filePath(QStringLiteral("one.perfdash"));
    QVERIFY2(writeProfiledCapture(one, { kOrdersAndBilling.front() }, &error), qPrintable(error));
    ProfilePanel single;
    single.setSource(fake.source());
    single.setProcess(42, QStringLiteral("inventory"));
    QTRY_VERIFY_WITH_TIMEOUT(single.snapshot(), 10000);
    QVERIFY(compareAndWait(single, one));
    QVERIFY2(single.markText().startsWith(QStringLiteral("Mark: capture one.perfdash, orders-api (its only process; "
                                                         "it has no CPU profile of inventory), 100 samples")),
        qPrintable(single.markText()));
}

void TestProfileWidgets::compareWithACaptureThatCannotBe()
{
    QTemporaryDir dir;
    LiveFake fake;
    ProfilePanel panel;
    // No process shown: nothing to compare.
    QVERIFY(!compareAndWait(panel, dir.filePath(QStringLiteral("run.perfdash"))));
    QCOMPARE(panel.markText(), QStringLiteral("Select a process to compare with a capture."));
    panel.setSource(fake.source());
    panel.setProcess(42, QStringLiteral("orders-api"));
    QTRY_VERIFY_WITH_TIMEOUT(panel.snapshot(), 10000);

    // No file there: said, and none made.
    const QString missing = dir.filePath(QStringLiteral("missing.perfdash"));
    QVERIFY(!compareAndWait(panel, missing));
    QCOMPARE(panel.markText(), QStringLiteral("Cannot compare with the capture: no capture at %1.").arg(missing));
    QVERIFY(!QFile::exists(missing));
    QVERIFY(!panel.mark());

    // Not a capture.
    const QString text = dir.filePath(QStringLiteral("notes.perfdash"));
    {
        QFile file(text);
        QVERIFY(file.open(QIODevice::WriteOnly));
        file.write(QByteArray("not a capture at all, just some text that is long enough to be a header\n").repeated(4));
    }
    QVERIFY(!compareAndWait(panel, text));
    QVERIFY2(panel.markText().startsWith(
                 QStringLiteral("Cannot compare with the capture: %1 is not a perfdash capture").arg(text)),
        qPrintable(panel.markText()));

    // A capture recorded without profiles.
    const QString plain = dir.filePath(QStringLiteral("plain.perfdash"));
    QString error;
    QVERIFY2(writeProfiledCapture(plain, {}, &error), qPrintable(error));
    QVERIFY(!compareAndWait(panel, plain));
    QCOMPARE(panel.markText(),
        QStringLiteral("plain.perfdash holds no CPU profile: it was recorded without --profile, or by a perfdash "
                       "that kept none."));
    QVERIFY(!panel.mark());
    QVERIFY(!panel.flameGraph()->isDifferential());
    // Another process shown: what was said of the capture was said for the other one.
    panel.setProcess(43, QStringLiteral("billing"));
    QVERIFY(panel.markText().isEmpty());
}

void TestProfileWidgets::compareHeapWithACapture()
{
    // The Memory view's panel reads a capture's heaps (live bytes by call site).
    MemoryPanel memory;
    QCOMPARE(memory.profile()->captureKind(), ProfilePanel::CaptureKind::Heap);

    QTemporaryDir dir;
    const QString path = dir.filePath(QStringLiteral("heap.perfdash"));
    QString error;
    QVERIFY2(writeProfiledCapture(path,
                 { { 4242, QStringLiteral("perfdash-demo"), "perfdash-demo;main;bill() 300\n", {}, {},
                     "perfdash-demo;main;cache() 3072\nperfdash-demo;main;parse(char const*) 1024\n" } },
                 &error),
        qPrintable(error));
    LiveFake fake;
    fake.make = [] {
        auto s = std::make_shared<ProfileSnapshot>(*sample());
        s->unit = ProfileSnapshot::Unit::Bytes;
        return ProfileSnapshotPtr(s);
    };
    ProfilePanel panel;
    panel.setCaptureKind(ProfilePanel::CaptureKind::Heap);
    panel.setSource(fake.source());
    panel.setProcess(42, QStringLiteral("orders-api"));
    QTRY_VERIFY_WITH_TIMEOUT(panel.snapshot(), 10000);
    QVERIFY(compareAndWait(panel, path));
    QCOMPARE(panel.mark()->totalSamples(), 4096ull); // the heap, not the CPU profile
    QCOMPARE(panel.mark()->unit, ProfileSnapshot::Unit::Bytes);
    QVERIFY2(panel.markText().startsWith(QStringLiteral("Mark: capture heap.perfdash, orders-api, 4 KiB")),
        qPrintable(panel.markText()));
    QTRY_VERIFY_WITH_TIMEOUT(panel.flameGraph()->isDifferential(), 10000);
    const ProfileShareChange* cache = changeOf(panel, QStringLiteral("cache()"));
    QVERIFY(cache);
    QCOMPARE(cache->baseSelfShare, 0.75);
    QCOMPARE(cache->nextSelfShare, 0.0);

    // A capture without heaps says so.
    const QString cpu = dir.filePath(QStringLiteral("cpu.perfdash"));
    QVERIFY2(writeProfiledCapture(cpu, kOrdersAndBilling, &error), qPrintable(error));
    QVERIFY(!compareAndWait(panel, cpu));
    QVERIFY2(
        panel.markText().contains(QStringLiteral("cpu.perfdash holds no heap profile")), qPrintable(panel.markText()));
}

void TestProfileWidgets::viewsOutliveUnnamedAddresses()
{
    // Seen live: the first snapshots name addresses "module+0x..." until symbols load; the
    // function picked then was never found again, and callers and callees stayed empty; the
    // top-down tree kept the paths opened then, and showed everything closed.
    LiveFake fake;
    std::atomic<bool> named { false };
    fake.make = [&named] {
        auto s = std::make_shared<ProfileSnapshot>(*sample());
        if (!named.load()) {
            for (ProfileFunction& f : s->functions) {
                if (f.name == QStringLiteral("idle"))
                    f.name = QStringLiteral("app+0x1a2b");
                else if (f.name == QStringLiteral("main"))
                    f.name = QStringLiteral("app+0x10");
            }
        }
        return ProfileSnapshotPtr(s);
    };
    ProfilePanel panel;
    panel.setSource(fake.source());
    panel.setProcess(42, QStringLiteral("app"));
    panel.setTab(ProfilePanel::Tab::CallerCallee);
    QTRY_COMPARE_WITH_TIMEOUT(panel.callerCalleeFunction(), QStringLiteral("app+0x1a2b"), 10000);
    named = true;
    QTRY_COMPARE_WITH_TIMEOUT(panel.callerCalleeFunction(), QStringLiteral("idle"), 10000);
    QCOMPARE(panel.callersModel()->rowCount(), 1);
    // One the user chose stays, even while it is not in the profile.
    panel.showCallers(QStringLiteral("sort"));
    named = false;
    panel.refresh();
    QSignalSpy refreshed(&panel, &ProfilePanel::refreshed);
    QVERIFY(refreshed.wait(10000));
    QCOMPARE(panel.callerCalleeFunction(), QStringLiteral("sort"));

    named = false;
    ProfilePanel tree;
    tree.setSource(fake.source());
    tree.setProcess(42, QStringLiteral("app"));
    tree.setTab(ProfilePanel::Tab::TopDown);
    CallTreeModel* model = tree.topDownModel();
    QTRY_VERIFY_WITH_TIMEOUT(
        model->tree() && model->tree()->find({ QStringLiteral("app+0x10"), QStringLiteral("app+0x1a2b") }), 10000);
    QTRY_VERIFY_WITH_TIMEOUT(isOpen(tree.topDownView(), model->index(0, 0)), 10000);
    named = true;
    QTRY_VERIFY_WITH_TIMEOUT(model->tree()->find({ QStringLiteral("main"), QStringLiteral("idle") }) != 0, 10000);
    QVERIFY(isOpen(tree.topDownView(), model->index(0, 0))); // main, open again
}

QTEST_MAIN(TestProfileWidgets)
#include "tst_profilewidgets.moc"
