// SPDX-License-Identifier: GPL-3.0-or-later
// Profiles per operation in the window: the profile panel's scope (the whole process,
// or the selected operation's instances: all, slow, typical, slow vs typical, off CPU) asks the
// profiler the matching query and shows that snapshot; the differential flame graph colours a
// frame only the slow instances have as a gain; the status says how samples were attributed; the
// operations table's CPU column; the slow thresholds of the budgets dialog, saved and merged
// with --slow's; and the window offering its charted operation to the panel.
#include "core/metricsstore.h"
#include "models/operationsfiltermodel.h"
#include "models/operationsmodel.h"
#include "models/profilediffmodel.h"
#include "models/topfunctionsmodel.h"
#include "profiler/profileaggregate.h"
#include "profiler/profiler.h"
#include "widgets/budgetsdialog.h"
#include "widgets/flamegraphwidget.h"
#include "widgets/mainwindow.h"
#include "widgets/profilepanel.h"

#include "tests/helpers/windowtests.h"

#include <QAbstractItemModelTester>
#include <QComboBox>
#include <QCoreApplication>
#include <QHeaderView>
#include <QSettings>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTableView>
#include <QTest>
#include <QThreadPool>

#include <mutex>

using namespace perfdash;

namespace {
QString s(const char* text)
{
    return QString::fromUtf8(text);
}

using Stack = std::vector<const char*>;

/// A snapshot of process "app" (pid 42) with @p stacks (names from the root's child), each @p counts.
ProfileSnapshotPtr profile(const std::vector<std::pair<Stack, std::uint64_t>>& stacks, bool offCpu = false)
{
    FunctionTable functions;
    ProfileAggregate aggregate;
    for (const auto& [names, count] : stacks) {
        std::vector<std::uint32_t> ids;
        for (const char* name : names)
            ids.push_back(functions.intern({ s(name), s("app"), {}, false }));
        aggregate.add(1, 0, ids, count);
    }
    auto snapshot = std::make_shared<ProfileSnapshot>(aggregate.snapshot({}, 0, functions));
    snapshot->process = s("app");
    snapshot->pid = 42;
    snapshot->offCpu = offCpu;
    snapshot->stats.samples = 1000;
    snapshot->stats.frequencyHz = 499;
    snapshot->stats.operationsTraced = true;
    snapshot->stats.insideOperations = 600;
    snapshot->stats.outsideOperations = 88;
    snapshot->stats.unattributed[std::size_t(OperationTimeline::Gap::BeforeTracing)] = 300;
    snapshot->stats.unattributed[std::size_t(OperationTimeline::Gap::Overrun)] = 12;
    snapshot->stats.offCpuRecorded = false;
    snapshot->stats.offCpuProblem = s("off-CPU not recorded: perf_event_paranoid 2 refuses context switches");
    return snapshot;
}

/// What the fake profiler answers, by query; records what it was asked.
struct FakeProfile
{
    /// The panel's jobs on the pool may still be asking when a test ends: they finish first.
    ~FakeProfile() { QThreadPool::globalInstance()->waitForDone(); }

    std::mutex mutex;
    std::vector<std::pair<ProfileQuery, bool>> asked;
    ProfileSnapshotPtr process = profile({ { { "main", "idle" }, 60 }, { { "main", "work", "parse" }, 40 } });
    // Slow instances spend a third of their samples in slowPath(), which typical ones never call.
    ProfileSnapshotPtr slow = profile({ { { "main", "work", "parse" }, 20 }, { { "main", "work", "slowPath" }, 10 } });
    ProfileSnapshotPtr typical = profile({ { { "main", "work", "parse" }, 50 }, { { "main", "work", "hash" }, 20 } });
    ProfileSnapshotPtr all = profile({ { { "main", "work", "parse" }, 70 }, { { "main", "work", "hash" }, 20 },
        { { "main", "work", "slowPath" }, 10 } });
    ProfileSnapshotPtr offCpu = profile({ { { "main", "work", "recv" }, 7500 } }, true); // 7.5 ms
    ProfileSnapshotPtr processOffCpu = profile({}, true); // nothing recorded

    ProfilePanel::Source source()
    {
        ProfilePanel::Source source;
        source.snapshot = [this](const ProfileQuery& query, bool off) {
            const std::lock_guard lock(mutex);
            asked.emplace_back(query, off);
            if (query.operation.isEmpty())
                return off ? processOffCpu : process;
            if (off)
                return offCpu;
            return query.instances == InstanceFilter::Slow   ? slow
                : query.instances == InstanceFilter::Typical ? typical
                                                             : all;
        };
        source.operations = [] {
            OperationCpu cpu;
            cpu.operation = s("http.GET /users");
            cpu.samples = 100;
            cpu.cpuNs = 30'000'000;
            cpu.wallNs = 1'000'000'000;
            cpu.instances = 40;
            return std::vector<OperationCpu> { cpu };
        };
        return source;
    }
    /// Waits for the jobs on the pool, then forgets what they asked.
    void forget()
    {
        QThreadPool::globalInstance()->waitForDone();
        const std::lock_guard lock(mutex);
        asked.clear();
    }
    /// The last query of a process-wide or of a per-operation view: a refresh of the view shown
    /// before may still be answered after the new one's (the pool is slow under sanitizers).
    std::pair<ProfileQuery, bool> last(bool ofOperation)
    {
        const std::lock_guard lock(mutex);
        for (auto it = asked.rbegin(); it != asked.rend(); ++it)
            if (it->first.operation.isEmpty() != ofOperation)
                return *it;
        return asked.back();
    }
};

std::uint32_t nodeNamed(const ProfileSnapshot& snapshot, const QString& name)
{
    for (std::uint32_t i = 1; i < snapshot.nodes.size(); ++i) {
        if (snapshot.functions[snapshot.nodes[i].function].name == name)
            return i;
    }
    return 0;
}

/// Chooses @p scope and waits until the panel shows what it asked for it.
bool showScope(ProfilePanel& panel, ProfilePanel::Scope scope)
{
    QSignalSpy refreshed(&panel, &ProfilePanel::refreshed);
    panel.setScope(scope);
    return refreshed.wait(10000);
}

/// @p panel on @p fake's process, app (pid 42), with its operation http.GET /users chosen.
void showOperation(ProfilePanel& panel, FakeProfile& fake)
{
    panel.setSource(fake.source());
    panel.setProcess(42, s("app"));
    panel.setOperation(s("http.GET /users"));
}
} // namespace

class TestOperationProfilePanel : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase()
    {
        perfdashtest::useTestSettings(s("tst_operationprofilepanel"));
        QSettings().clear();
    }
    void scopeOffersTheSelectedOperation();
    void scopeAsksTheMatchingQuery_data();
    void scopeAsksTheMatchingQuery();
    void differentialColoursGainAndLoss();
    void differentialShares();
    void statusSaysAttributionAndSplit();
    void notTracedProcess();
    void operationsModelCpuColumn();
    void dialogRoundTripsSlowRules();
    void windowOffersTheChartedOperation();
};

void TestOperationProfilePanel::scopeOffersTheSelectedOperation()
{
    FakeProfile fake;
    ProfilePanel panel;
    panel.setSource(fake.source());
    panel.setProcess(42, s("app"));
    QCOMPARE(panel.scopeBox()->count(), 2); // no operation: the whole process, CPU or off CPU
    QCOMPARE(panel.scopeBox()->itemText(0), s("Whole process"));
    QCOMPARE(panel.scopeBox()->itemText(1), s("Whole process: off-CPU"));

    panel.setOperation(s("http.GET /users"));
    const QStringList expected { s("Whole process"), s("http.GET /users: all instances"),
        s("http.GET /users: slow instances"), s("http.GET /users: typical instances"),
        s("http.GET /users: slow vs typical"), s("http.GET /users: off-CPU (where it waits)"),
        s("Whole process: off-CPU") };
    QStringList items;
    for (int i = 0; i < panel.scopeBox()->count(); ++i)
        items << panel.scopeBox()->itemText(i);
    QCOMPARE(items, expected);
    QCOMPARE(panel.scopeBox()->currentIndex(), 0); // the whole process stays the first, and the default

    // The combo box chooses (as a user's click: activated).
    QSignalSpy refreshed(&panel, &ProfilePanel::refreshed);
    panel.scopeBox()->setCurrentIndex(2);
    Q_EMIT panel.scopeBox()->activated(2);
    QCOMPARE(panel.scope(), ProfilePanel::Scope::OperationSlow);
    QTRY_VERIFY_WITH_TIMEOUT(panel.snapshot() == fake.slow, 10000);

    // Another process: its operation is not known yet, the whole process is shown meanwhile and
    // the chosen scope comes back with an operation.
    panel.setProcess(43, s("other"));
    QCOMPARE(panel.scope(), ProfilePanel::Scope::Process);
    QCOMPARE(panel.scopeBox()->count(), 2);
    panel.setOperation(s("http.GET /users"));
    QCOMPARE(panel.scope(), ProfilePanel::Scope::OperationSlow);
    QCOMPARE(panel.scopeBox()->currentText(), s("http.GET /users: slow instances"));
}

void TestOperationProfilePanel::scopeAsksTheMatchingQuery_data()
{
    QTest::addColumn<int>("scope");
    QTest::addColumn<QString>("operation");
    QTest::addColumn<int>("instances");
    QTest::addColumn<bool>("offCpu");
    QTest::addColumn<quint64>("rootTotal");
    QTest::newRow("whole process") << int(ProfilePanel::Scope::Process) << QString() << int(InstanceFilter::All)
                                   << false << 100ull;
    QTest::newRow("all instances") << int(ProfilePanel::Scope::OperationAll) << s("http.GET /users")
                                   << int(InstanceFilter::All) << false << 100ull;
    QTest::newRow("slow instances") << int(ProfilePanel::Scope::OperationSlow) << s("http.GET /users")
                                    << int(InstanceFilter::Slow) << false << 30ull;
    QTest::newRow("typical instances") << int(ProfilePanel::Scope::OperationTypical) << s("http.GET /users")
                                       << int(InstanceFilter::Typical) << false << 70ull;
    // The differential asks for the slow instances last... and the typical ones: checked below.
    QTest::newRow("slow vs typical") << int(ProfilePanel::Scope::OperationDiff) << s("http.GET /users")
                                     << int(InstanceFilter::Typical) << false << 30ull;
    QTest::newRow("operation off CPU") << int(ProfilePanel::Scope::OperationOffCpu) << s("http.GET /users")
                                       << int(InstanceFilter::All) << true << 7500ull;
    QTest::newRow("process off CPU") << int(ProfilePanel::Scope::ProcessOffCpu) << QString() << int(InstanceFilter::All)
                                     << true << 0ull;
}

void TestOperationProfilePanel::scopeAsksTheMatchingQuery()
{
    QFETCH(int, scope);
    QFETCH(QString, operation);
    QFETCH(int, instances);
    QFETCH(bool, offCpu);
    QFETCH(quint64, rootTotal);
    FakeProfile fake;
    ProfilePanel panel;
    showOperation(panel, fake);
    panel.setTimeRange(60);
    fake.forget(); // what was asked before the range was set (jobs still on the pool) is not this test's
    if (ProfilePanel::Scope(scope) == ProfilePanel::Scope::Process) {
        QSignalSpy refreshed(&panel, &ProfilePanel::refreshed);
        panel.refresh();
        QVERIFY(refreshed.wait(10000));
    } else {
        QVERIFY(showScope(panel, ProfilePanel::Scope(scope)));
    }
    const auto [query, off] = fake.last(!operation.isEmpty());
    QCOMPARE(query.operation, operation);
    QCOMPARE(int(query.instances), instances);
    QCOMPARE(query.lastSeconds, 60);
    QCOMPARE(off, offCpu);
    QVERIFY(panel.flameGraph()->snapshot());
    QCOMPARE(panel.flameGraph()->snapshot()->totalSamples(), rootTotal);
    QCOMPARE(panel.snapshot()->totalSamples(), rootTotal);
    if (offCpu) {
        // Microseconds, said as time off CPU, never as samples.
        QVERIFY2(
            panel.statusText().contains(s("%1 ms off CPU in this view").arg(double(rootTotal) / 1000.0, 0, 'f', 1)),
            qPrintable(panel.statusText()));
        QCOMPARE(
            panel.topFunctions()->headerData(TopFunctionsModel::Self, Qt::Horizontal).toString(), s("Self off CPU"));
        if (rootTotal) {
            QCOMPARE(panel.topFunctions()->index(0, TopFunctionsModel::Self).data().toString(), s("7.5 ms"));
            QVERIFY(panel.flameGraph()->toolTipFor(0).contains(s("7.5 ms off CPU")));
        } else {
            QVERIFY2(panel.statusText().contains(s("no off-CPU time recorded")), qPrintable(panel.statusText()));
        }
    } else {
        QVERIFY2(
            panel.statusText().contains(s("%1 samples in this view").arg(rootTotal)), qPrintable(panel.statusText()));
    }
    const bool diff = ProfilePanel::Scope(scope) == ProfilePanel::Scope::OperationDiff;
    QCOMPARE(panel.flameGraph()->isDifferential(), diff);
    QCOMPARE(panel.functionsView()->model()->columnCount() == ProfileDiffModel::ColumnCount, diff);
    if (diff) {
        QCOMPARE(panel.typicalSnapshot(), fake.typical);
        QCOMPARE(panel.flameGraph()->baseline(), fake.typical);
        QCOMPARE(panel.snapshot(), fake.slow);
    }
}

void TestOperationProfilePanel::differentialColoursGainAndLoss()
{
    FakeProfile fake;
    ProfilePanel panel;
    showOperation(panel, fake);
    QVERIFY(showScope(panel, ProfilePanel::Scope::OperationDiff));
    FlameGraphWidget* flame = panel.flameGraph();
    const ProfileSnapshot& slow = *flame->snapshot();
    const std::uint32_t slowPath = nodeNamed(slow, s("slowPath"));
    const std::uint32_t parse = nodeNamed(slow, s("parse"));
    QVERIFY(slowPath && parse);
    // slowPath: 10 of 30 when slow, absent when typical: +33 points, a gain, red.
    QVERIFY(qAbs(flame->shareDelta(slowPath) - 1.0 / 3.0) < 1e-9);
    const QColor gain = flame->frameColor(slowPath);
    QVERIFY2(gain.red() > gain.blue() + 100, qPrintable(gain.name()));
    // parse: 20 of 30 when slow, 50 of 70 typical: a loss, blue.
    QVERIFY(flame->shareDelta(parse) < 0);
    const QColor loss = flame->frameColor(parse);
    QVERIFY2(loss.blue() > loss.red(), qPrintable(loss.name()));
    // work: all of both: unchanged, white.
    QCOMPARE(flame->frameColor(nodeNamed(slow, s("work"))), QColor(255, 255, 255));
    QVERIFY(flame->toolTipFor(slowPath).contains(s("33.3% slow, 0.0% typical (+33.3 pts)")));

    // The functions' shares in slow and typical, and the difference.
    ProfileDiffModel* model = panel.differentialFunctions();
    QAbstractItemModelTester tester(model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    QCOMPARE(model->headerData(ProfileDiffModel::SelfNew, Qt::Horizontal).toString(), s("Self slow"));
    QCOMPARE(model->headerData(ProfileDiffModel::SelfBase, Qt::Horizontal).toString(), s("Self typical"));
    int row = -1;
    for (int r = 0; r < model->rowCount(); ++r)
        row = model->index(r, ProfileDiffModel::Function).data().toString() == s("slowPath") ? r : row;
    QVERIFY(row >= 0);
    QCOMPARE(model->index(row, ProfileDiffModel::SelfNew).data().toString(), s("33.3%"));
    QCOMPARE(model->index(row, ProfileDiffModel::SelfBase).data().toString(), s("0.0%"));
    QCOMPARE(model->index(row, ProfileDiffModel::SelfChange).data().toString(), s("+33.3 pts"));

    // Back to the whole process: one click, plain colours, the usual table.
    QVERIFY(showScope(panel, ProfilePanel::Scope::Process));
    QVERIFY(!flame->isDifferential());
    QCOMPARE(panel.functionsView()->model()->columnCount(), int(TopFunctionsModel::ColumnCount));
}

void TestOperationProfilePanel::differentialShares()
{
    // Matched by the names along the path, not by function ids (each snapshot has its own).
    const ProfileSnapshotPtr a = profile({ { { "main", "b", "x" }, 50 }, { { "main", "a" }, 50 } });
    const ProfileSnapshotPtr b = profile({ { { "main", "a" }, 25 }, { { "main", "b", "y" }, 75 } });
    const std::vector<double> d = perfdash::differentialShares(*a, *b);
    QCOMPARE(d.size(), a->nodes.size());
    QCOMPARE(d[0], 0.0);
    QVERIFY(qAbs(d[nodeNamed(*a, s("a"))] - 0.25) < 1e-9);
    QVERIFY(qAbs(d[nodeNamed(*a, s("b"))] + 0.25) < 1e-9);
    QVERIFY(qAbs(d[nodeNamed(*a, s("x"))] - 0.5) < 1e-9);
    QVERIFY(qAbs(d[nodeNamed(*a, s("main"))]) < 1e-9);
    // Against an empty baseline everything gains its whole share.
    const std::vector<double> e = perfdash::differentialShares(*a, ProfileSnapshot {});
    QVERIFY(qAbs(e[nodeNamed(*a, s("main"))] - 1.0) < 1e-9);
}

void TestOperationProfilePanel::statusSaysAttributionAndSplit()
{
    FakeProfile fake;
    ProfilePanel panel;
    showOperation(panel, fake);
    QVERIFY(showScope(panel, ProfilePanel::Scope::OperationAll));
    const QString status = panel.statusText();
    QVERIFY2(status.contains(s("600 samples inside, 88 outside")), qPrintable(status));
    QVERIFY2(status.contains(s("312 not attributed (300 before tracing, 12 ring overrun)")), qPrintable(status));
    // 30 ms of CPU in 1 s of wall time: 3%, waiting; off-CPU refused: said, with what the split rests on.
    QVERIFY2(status.contains(s("http.GET /users: 3% on CPU")), qPrintable(status));
    QVERIFY2(status.contains(s("over 40 instances")), qPrintable(status));
    QVERIFY2(status.contains(s("perf_event_paranoid 2 refuses context switches")), qPrintable(status));
    QVERIFY2(status.contains(s("on/off-CPU split from CPU samples only")), qPrintable(status));
}

void TestOperationProfilePanel::notTracedProcess()
{
    // A process that is not a client of ours: a plain profile, and the status says so.
    FakeProfile fake;
    auto plain = std::make_shared<ProfileSnapshot>(*fake.process);
    plain->stats = ProfileStats {};
    plain->stats.samples = 100;
    ProfilePanel::Source source;
    source.snapshot = [plain](const ProfileQuery&, bool) { return ProfileSnapshotPtr(plain); };
    ProfilePanel panel;
    panel.setSource(source);
    QSignalSpy refreshed(&panel, &ProfilePanel::refreshed);
    panel.setProcess(42, s("app"));
    QVERIFY(refreshed.wait(10000));
    QVERIFY2(panel.statusText().contains(s("operations: not traced (not a perfdash client")),
        qPrintable(panel.statusText()));
}

void TestOperationProfilePanel::operationsModelCpuColumn()
{
    OperationsModel model;
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    const auto row = [](const char* name, qint64 pid) {
        OperationRow r;
        r.processKey = quint64(pid);
        r.pid = pid;
        r.process = s("app");
        r.stats.operation = s(name);
        r.stats.count = 10;
        r.stats.meanNs = 1e6;
        return r;
    };
    const QList<OperationRow> rows { row("compute", 42), row("sleep", 42), row("untraced", 43) };
    model.setRows(rows);
    QCOMPARE(model.headerData(OperationsModel::Cpu, Qt::Horizontal).toString(), s("CPU"));
    for (int r = 0; r < 3; ++r) // no profiler: empty
        QCOMPARE(model.index(r, OperationsModel::Cpu).data().toString(), QString());

    int asked = 0;
    model.setCpuSource([&asked](qint64 pid) {
        ++asked;
        std::vector<OperationCpu> out;
        if (pid != 42)
            return out; // not profiled
        OperationCpu compute;
        compute.operation = s("compute");
        compute.cpuNs = 95'000'000;
        compute.wallNs = 100'000'000;
        compute.instances = 10;
        OperationCpu sleep;
        sleep.operation = s("sleep");
        sleep.cpuNs = 3'000'000;
        sleep.offCpuNs = 96'000'000;
        sleep.wallNs = 100'000'000;
        sleep.instances = 10;
        return std::vector<OperationCpu> { compute, sleep };
    });
    model.setRows(rows);
    QCOMPARE(asked, 2); // once per process, not per cell
    QCOMPARE(model.index(0, OperationsModel::Cpu).data().toString(), s("95%"));
    QCOMPARE(model.index(1, OperationsModel::Cpu).data().toString(), s("3.0%"));
    QCOMPARE(model.index(2, OperationsModel::Cpu).data().toString(), QString());
    QVERIFY(qAbs(model.index(0, OperationsModel::Cpu).data(OperationsModel::SortRole).toDouble() - 0.95) < 1e-9);
    const QString tip = model.index(1, OperationsModel::Cpu).data(Qt::ToolTipRole).toString();
    QVERIFY2(tip.contains(s("3.00 ms on CPU")) && tip.contains(s("96.0 ms off CPU")) && tip.contains(s("10 instances")),
        qPrintable(tip));

    // Sorting on it: the computing operation above the sleeping one, the unknown last.
    OperationsFilterModel proxy;
    proxy.setSourceModel(&model);
    proxy.sort(OperationsModel::Cpu, Qt::DescendingOrder);
    QCOMPARE(proxy.index(0, OperationsModel::Operation).data().toString(), s("compute"));
    QCOMPARE(proxy.index(1, OperationsModel::Operation).data().toString(), s("sleep"));
    QCOMPARE(proxy.index(2, OperationsModel::Operation).data().toString(), s("untraced"));
}

void TestOperationProfilePanel::dialogRoundTripsSlowRules()
{
    const QList<SlowRule> rules { { s("http.GET /users"), 50'000'000 }, { s("db.*"), 5'000'000 } };
    BudgetsDialog dialog({}, Thresholds { 100'000'000, 1'000'000'000 });
    dialog.setSlowRules(rules);
    QCOMPARE(dialog.slowRules(), rules);
    dialog.addSlowRule({ s("   "), 1'000'000 }); // no pattern: not a rule
    dialog.addSlowRule({ s("cache.*"), 0 }); // "off": not a rule
    QCOMPARE(dialog.slowRules(), rules);

    saveSlowRules(rules);
    QCOMPARE(loadSlowRules(), rules);
    saveSlowRules({ rules.first() }); // fewer: the old second row is gone
    QCOMPARE(loadSlowRules(), QList<SlowRule> { rules.first() });

    // --slow's rules win for a pattern both name; the saved ones are added.
    const QList<SlowRule> commandLine { { s("http.GET /users"), 20'000'000 } };
    QCOMPARE(mergeSlowRules(rules, commandLine), (QList<SlowRule> { commandLine.first(), rules[1] }));
    QCOMPARE(mergeSlowRules(rules, mergeSlowRules(rules, commandLine)), mergeSlowRules(rules, commandLine));

    // A window starts with the saved ones in its store.
    saveSlowRules(rules);
    MetricsStore store;
    store.setSlowRules(commandLine);
    {
        MainWindow window(&store, nullptr);
        QCOMPARE(store.slowThresholds().rules(), mergeSlowRules(rules, commandLine));
        QCOMPARE(store.slowThresholds().thresholdFor(s("db.query")), 5'000'000ull);
        QCOMPARE(store.slowThresholds().thresholdFor(s("http.GET /users")), 20'000'000ull);
    }
    saveSlowRules({});
}

void TestOperationProfilePanel::windowOffersTheChartedOperation()
{
    MetricsStore store;
    const qint64 pid = QCoreApplication::applicationPid();
    const quint64 key = store.openProcess(pid, s("svc"), {});
    for (int i = 0; i < 20; ++i)
        store.recordOperation(key, s("cheap"), 1'000'000, true, {});
    for (int i = 0; i < 20; ++i)
        store.recordOperation(key, s("http.GET /users"), 70'000'000, true, {});
    Profiler profiler;
    MainWindow window(&store, nullptr);
    window.setProfiler(&profiler);
    window.show();
    // Nothing chosen: the window charts the costliest operation, and the panel offers it.
    QTRY_COMPARE_WITH_TIMEOUT(window.profilePanel()->process(), pid, 10000);
    QTRY_COMPARE_WITH_TIMEOUT(window.profilePanel()->operation(), s("http.GET /users"), 10000);
    QVERIFY(window.profilePanel()->scopeBox()->findText(s("http.GET /users: slow vs typical")) >= 0);
    window.selectOperation(key, s("cheap"));
    QTRY_COMPARE_WITH_TIMEOUT(window.profilePanel()->operation(), s("cheap"), 10000);
    // Not profiled: the CPU column is empty, and hidden until some operation has a value.
    QVERIFY(window.operationView()->horizontalHeader()->isSectionHidden(OperationsModel::Cpu));
    const int row = window.operationsModel()->rowOf(key, s("cheap"));
    QVERIFY(row >= 0);
    QCOMPARE(window.operationsModel()->index(row, OperationsModel::Cpu).data().toString(), QString());
}

QTEST_MAIN(TestOperationProfilePanel)
#include "tst_operationprofilepanel.moc"
