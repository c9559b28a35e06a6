// SPDX-License-Identifier: GPL-3.0-or-later
// The window's table models without widgets: processes, operations and alerts, the proxies that
// filter them, the profile's top functions and the differential profile, each under
// QAbstractItemModelTester while rows come, change and go as the window feeds them (a whole
// snapshot at each refresh, alerts in batches, a profile per refresh); what a few cells say; and
// the one duration formatter's texts for ticks, typed values and axis units.
#include "models/alertsfiltermodel.h"
#include "models/alertsmodel.h"
#include "models/format.h"
#include "models/operationsfiltermodel.h"
#include "models/operationsmodel.h"
#include "models/palette.h"
#include "models/processesmodel.h"
#include "models/profilediffmodel.h"
#include "models/topfunctionsmodel.h"
#include "profiler/profileaggregate.h"

#include <QAbstractItemModelTester>
#include <QBrush>
#include <QFont>
#include <QGuiApplication>
#include <QPalette>
#include <QSignalSpy>
#include <QSortFilterProxyModel>
#include <QTest>

#include <algorithm>

using namespace perfdash;

namespace {

QString s(const char* text)
{
    return QString::fromUtf8(text);
}

ProcessInfo process(quint64 key, const char* name, ProcessInfo::State state = ProcessInfo::State::Live)
{
    ProcessInfo p;
    p.key = key;
    p.pid = qint64(1000 + key);
    p.name = s(name);
    p.instrumented = state != ProcessInfo::State::ProcOnly;
    p.state = state;
    p.operations = 40 * key;
    p.operationsPerSecond = 4.24;
    p.rssBytes = 50 * 1024 * 1024;
    return p;
}

/// An operation of process @p key with @p count instances: mean 2 ms, p99 12.5 ms.
OperationRow operation(quint64 key, const char* process, const char* name, quint64 count)
{
    OperationRow r;
    r.processKey = key;
    r.pid = qint64(1000 + key);
    r.process = s(process);
    r.stats.operation = s(name);
    r.stats.count = count;
    r.stats.errorCount = count / 10;
    r.stats.errorRate = double(r.stats.errorCount) / double(std::max<quint64>(1, count));
    r.stats.meanNs = 2e6;
    r.stats.minNs = 800;
    r.stats.p50Ns = 1'500'000;
    r.stats.p90Ns = 4'000'000;
    r.stats.p95Ns = 6'000'000;
    r.stats.p99Ns = 12'500'000;
    r.stats.p999Ns = 30'000'000;
    r.stats.maxNs = 1'250'000'000;
    return r;
}

Alert alert(Alert::Kind kind, qint64 at, const char* process, const char* operation)
{
    return Alert { kind, at, s(process), s(operation), 25'000'000, s("table=orders") };
}

/// The rows @p model shows in @p column, in its order.
QStringList column(const QAbstractItemModel& model, int column)
{
    QStringList out;
    for (int row = 0; row < model.rowCount(); ++row)
        out.append(model.index(row, column).data().toString());
    return out;
}

/**
 * 40 samples of one process:
 *   main -> parse -> std::vector<int, std::allocator<int> >::push_back(int const&)   10
 *   main -> parse                                                                    20
 *   main -> sort                                                                     10
 */
ProfileSnapshotPtr profile(std::uint64_t parseSelf = 20)
{
    FunctionTable functions;
    const auto id = [&](const char* name) { return functions.intern({ s(name), s("app"), {}, false }); };
    const std::uint32_t main = id("main"), parse = id("parse()"), sort = id("sort()"),
                        push = id("std::vector<int, std::allocator<int> >::push_back(int const&)");
    ProfileAggregate aggregate;
    const auto add = [&](std::initializer_list<std::uint32_t> stack, std::uint64_t count) {
        const std::vector<std::uint32_t> frames(stack);
        aggregate.add(1, 0, frames, count);
    };
    add({ main, parse, push }, 10);
    add({ main, parse }, parseSelf);
    add({ main, sort }, 10);
    auto snapshot = std::make_shared<ProfileSnapshot>(aggregate.snapshot({}, 0, functions));
    snapshot->process = s("orders-api");
    snapshot->pid = 7;
    return snapshot;
}

int rowOfFunction(const TopFunctionsModel& model, const QString& name)
{
    for (int row = 0; row < model.rowCount(); ++row) {
        if (model.index(row, TopFunctionsModel::Function).data(Qt::ToolTipRole).toString() == name)
            return row;
    }
    return -1;
}

ProfileShareChange change(const char* function, double base, double next)
{
    ProfileShareChange c;
    c.process = s("orders-api");
    c.function = s(function);
    c.baseSelfShare = base;
    c.nextSelfShare = next;
    c.baseTotalShare = base;
    c.nextTotalShare = 1.0;
    c.baseSamples = 100;
    c.nextSamples = 100;
    return c;
}

} // namespace

class TestTableModels : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void processesComeChangeAndGo();
    void operationsFollowSnapshots();
    void operationsTintOnTheirPalette();
    void operationsFilter();
    void alertsComeInBatches();
    void alertsFilter();
    void topFunctionsFollowTheProfile();
    void profileDiff();
    void durationTexts_data();
    void durationTexts();
    void axisUnits_data();
    void axisUnits();
};

void TestTableModels::processesComeChangeAndGo()
{
    ProcessesModel model;
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    QSortFilterProxyModel sorted; // the processes table sorts through a proxy on SortRole
    sorted.setSourceModel(&model);
    sorted.setSortRole(ProcessesModel::SortRole);
    sorted.sort(ProcessesModel::Rss, Qt::DescendingOrder);
    QAbstractItemModelTester proxyTester(&sorted, QAbstractItemModelTester::FailureReportingMode::QtTest);

    QSignalSpy inserted(&model, &QAbstractItemModel::rowsInserted);
    QSignalSpy reset(&model, &QAbstractItemModel::modelReset);
    model.setProcesses({ process(1, "orders-api") });
    model.setProcesses({ process(1, "orders-api"), process(2, "billing-worker") }); // one came: inserted
    QCOMPARE(inserted.size(), 2);
    QCOMPARE(reset.size(), 0);
    QCOMPARE(model.rowCount(), 2);
    QCOMPARE(model.rowOf(2), 1);
    QCOMPARE(model.processAt(1)->name, s("billing-worker"));
    QCOMPARE(model.index(0, ProcessesModel::Rate).data().toString(), s("4.2"));
    QCOMPARE(model.index(0, ProcessesModel::Operations).data().toString(), s("40"));
    QCOMPARE(model.index(0, ProcessesModel::Rss).data().toString(), s("50.0 MiB"));
    QCOMPARE(model.index(0, ProcessesModel::Heap).data().toString(), s("–"));
    QCOMPARE(model.index(0, ProcessesModel::Cpu).data().toString(), s("–"));

    // The next refresh: one exits, the other's memory and CPU move; only those cells are reported.
    ProcessInfo exited = process(1, "orders-api", ProcessInfo::State::Exited);
    ProcessInfo grown = process(2, "billing-worker");
    grown.rssBytes = 2LL * 1024 * 1024 * 1024;
    grown.cpuPercent = 12.34;
    QSignalSpy changed(&model, &QAbstractItemModel::dataChanged);
    model.setProcesses({ exited, grown });
    QVERIFY(!changed.isEmpty());
    QCOMPARE(reset.size(), 0);
    QCOMPARE(model.index(0, ProcessesModel::State).data().toString(), s("exited"));
    QCOMPARE(model.index(0, ProcessesModel::Rate).data().toString(), s("–")); // an exited process sends nothing
    QCOMPARE(model.index(1, ProcessesModel::Rss).data().toString(), s("2.00 GiB"));
    QCOMPARE(model.index(1, ProcessesModel::Cpu).data().toString(), s("12.3%"));
    QCOMPARE(sorted.index(0, ProcessesModel::Name).data().toString(), s("billing-worker")); // the largest first

    // Attached by pid (memory and CPU only), then the store forgets the oldest exited: a reset.
    model.setProcesses({ exited, grown, process(3, "python3", ProcessInfo::State::ProcOnly) });
    QCOMPARE(model.index(2, ProcessesModel::State).data().toString(), s("/proc only"));
    QCOMPARE(model.index(2, ProcessesModel::Operations).data().toString(), s("–"));
    model.setProcesses({ grown, process(3, "python3", ProcessInfo::State::ProcOnly) });
    QCOMPARE(reset.size(), 1);
    QCOMPARE(model.rowCount(), 2);
    QCOMPARE(model.rowOf(1), -1);
    QCOMPARE(model.index(0, ProcessesModel::Pid).data(ProcessesModel::KeyRole).toULongLong(), quint64(2));
    model.setProcesses({});
    QCOMPARE(model.rowCount(), 0);
    QCOMPARE(sorted.rowCount(), 0);
}

void TestTableModels::operationsFollowSnapshots()
{
    OperationsModel model;
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    // The CPU column asks the profiler once per process at each refresh.
    int asked = 0;
    model.setCpuSource([&](qint64 pid) {
        ++asked;
        if (pid != 1001)
            return std::vector<OperationCpu> {};
        OperationCpu cpu;
        cpu.operation = s("db.query");
        cpu.cpuNs = 25'000'000;
        cpu.wallNs = 100'000'000;
        cpu.instances = 40;
        return std::vector<OperationCpu> { cpu };
    });

    model.setRows({ operation(1, "orders-api", "db.query", 30) });
    QCOMPARE(asked, 1);
    QVERIFY(model.hasCpu());
    QCOMPARE(model.index(0, OperationsModel::Cpu).data().toString(), s("25%"));
    model.setRows({ operation(1, "orders-api", "db.query", 40), operation(1, "orders-api", "http.get", 10),
        operation(2, "billing-worker", "charge", 10) });
    QCOMPARE(asked, 3);
    QCOMPARE(model.rowCount(), 3);
    QCOMPARE(model.rowOf(2, s("charge")), 2);
    QCOMPARE(model.rowOf(2, s("db.query")), -1);
    QCOMPARE(model.index(0, OperationsModel::Count).data().toString(), s("40"));
    QCOMPARE(model.index(0, OperationsModel::Errors).data().toString(), s("4"));
    QCOMPARE(model.index(0, OperationsModel::ErrorRate).data().toString(), s("10.00%"));
    QCOMPARE(model.index(0, OperationsModel::Min).data().toString(), s("800 ns"));
    QCOMPARE(model.index(0, OperationsModel::Mean).data().toString(), s("2.00 ms"));
    QCOMPARE(model.index(0, OperationsModel::P99).data().toString(), s("12.5 ms"));
    QCOMPARE(model.index(0, OperationsModel::P999).data().toString(), s("30.0 ms"));
    QCOMPARE(model.index(0, OperationsModel::Max).data().toString(), s("1.25 s"));
    // Time spent: count x mean, and its share of all the operations' time (40 of 60 instances).
    QCOMPARE(model.index(0, OperationsModel::TotalTime).data().toString(), s("80.0 ms (67%)"));
    QCOMPARE(model.index(1, OperationsModel::TotalTime).data().toString(), s("20.0 ms (17%)"));
    QCOMPARE(model.index(2, OperationsModel::Cpu).data().toString(), QString()); // not profiled
    QCOMPARE(model.index(0, OperationsModel::P99).data(OperationsModel::SortRole).toULongLong(), quint64(12'500'000));
    QCOMPARE(model.index(0, OperationsModel::Operation).data(OperationsModel::OperationRole).toString(), s("db.query"));
    QCOMPARE(model.index(2, OperationsModel::Process).data(OperationsModel::ProcessKeyRole).toULongLong(), quint64(2));
    QCOMPARE(model.headerData(OperationsModel::P999, Qt::Horizontal).toString(), s("p99.9"));

    // A refresh where only one count moved reports the cells that changed, column by column.
    QSignalSpy changed(&model, &QAbstractItemModel::dataChanged);
    model.setRows({ operation(1, "orders-api", "db.query", 40), operation(1, "orders-api", "http.get", 10),
        operation(2, "billing-worker", "charge", 11) });
    QVERIFY(!changed.isEmpty());
    for (const QList<QVariant>& args : std::as_const(changed)) {
        QVERIFY(args[0].toModelIndex().column() != OperationsModel::P99); // no percentile moved
        QCOMPARE(args[0].toModelIndex().column(), args[1].toModelIndex().column());
    }

    // A new name that sorts in between the known ones resets; an operation with no instance in the
    // window shows dashes; a group row is bold and not counted in the shares.
    OperationRow idle = operation(1, "orders-api", "cache.get", 0);
    OperationRow group = operation(1, "orders-api", "db.*", 40);
    group.group = true;
    QSignalSpy reset(&model, &QAbstractItemModel::modelReset);
    model.setRows({ idle, operation(1, "orders-api", "db.query", 40), group, operation(1, "orders-api", "http.get", 10),
        operation(2, "billing-worker", "charge", 11) });
    QCOMPARE(reset.size(), 1);
    QCOMPARE(model.rowCount(), 5);
    QCOMPARE(model.index(0, OperationsModel::P99).data().toString(), s("–"));
    QCOMPARE(model.index(0, OperationsModel::TotalTime).data().toString(), s("–"));
    QCOMPARE(model.index(1, OperationsModel::TotalTime).data().toString(), s("80.0 ms (66%)")); // of 61 instances
    QCOMPARE(model.index(2, OperationsModel::TotalTime).data().toString(), s("80.0 ms"));
    QVERIFY(model.index(2, OperationsModel::Operation).data(Qt::FontRole).value<QFont>().bold());
    QVERIFY(model.cpuAt(2) == nullptr);

    // Operations go when the user selects one process: the rows of the others are removed (a reset).
    model.setRows({ operation(2, "billing-worker", "charge", 11) });
    QCOMPARE(model.rowCount(), 1);
    QVERIFY(!model.hasCpu());
    model.setRows({});
    QCOMPARE(model.rowCount(), 0);
}

void TestTableModels::operationsTintOnTheirPalette()
{
    OperationsModel model;
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    OperationRow broken = operation(1, "orders-api", "db.query", 40);
    broken.violation = BudgetViolation { s("db.query"), Budget { s("db.*"), 99, 10'000'000, StatsWindow::last(60) },
        12'500'000, 1.25 };
    OperationRow slow = operation(1, "orders-api", "http.get", 10);
    slow.slow = true;
    model.setRows({ broken, slow, operation(1, "orders-api", "render", 5) });
    QCOMPARE(model.index(0, OperationsModel::P99).data(Qt::ToolTipRole).toString(),
        s("Budget broken: p99 is 12.5 ms, the budget 10.0 ms (1.25×)"));
    QCOMPARE(model.index(1, OperationsModel::P99).data(Qt::ToolTipRole).toString(),
        s("Operations over the slow threshold in this window"));
    QVERIFY(!model.index(2, OperationsModel::P99).data(Qt::BackgroundRole).isValid());

    const QPalette original = QGuiApplication::palette();
    QPalette light = original;
    light.setColor(QPalette::Base, Qt::white);
    QGuiApplication::setPalette(light);
    QVERIFY(!isDarkPalette());
    QCOMPARE(model.index(0, 0).data(Qt::BackgroundRole).value<QBrush>().color(), QColor(0xfd, 0xe2, 0xe1));
    QCOMPARE(model.index(1, 0).data(Qt::BackgroundRole).value<QBrush>().color(), QColor(0xfd, 0xf3, 0xd8));
    QPalette dark = original;
    dark.setColor(QPalette::Base, QColor(0x2a, 0x2a, 0x2a));
    QGuiApplication::setPalette(dark);
    QVERIFY(isDarkPalette());
    QCOMPARE(model.index(0, 0).data(Qt::BackgroundRole).value<QBrush>().color(), QColor(0x5c, 0x25, 0x25));
    QCOMPARE(model.index(1, 0).data(Qt::BackgroundRole).value<QBrush>().color(), QColor(0x4d, 0x40, 0x1c));
    QGuiApplication::setPalette(original);
}

void TestTableModels::operationsFilter()
{
    OperationsModel model;
    OperationsFilterModel filter;
    filter.setSourceModel(&model);
    QAbstractItemModelTester tester(&filter, QAbstractItemModelTester::FailureReportingMode::QtTest);
    filter.sort(OperationsModel::P99, Qt::DescendingOrder);
    OperationRow slowest = operation(2, "billing-worker", "charge", 5);
    slowest.stats.p99Ns = 90'000'000;
    model.setRows({ operation(1, "orders-api", "db.query", 40), operation(1, "orders-api", "db.insert", 4) });
    model.setRows({ operation(1, "orders-api", "db.query", 40), operation(1, "orders-api", "db.insert", 4), slowest });
    QCOMPARE(filter.rowCount(), 3);
    QCOMPARE(filter.index(0, OperationsModel::Operation).data().toString(), s("charge")); // sorted on the number

    filter.setNameFilter(s("DB")); // a substring, any case
    QCOMPARE(column(filter, OperationsModel::Operation), (QStringList { s("db.query"), s("db.insert") }));
    filter.setNameFilter(s("db.q*")); // a glob
    QCOMPARE(column(filter, OperationsModel::Operation), QStringList { s("db.query") });
    filter.setNameFilter({});
    filter.hide(1, s("db.insert"));
    filter.hide(2, s("db.query")); // no such row: nothing else goes
    QCOMPARE(filter.hiddenCount(), 2);
    QCOMPARE(column(filter, OperationsModel::Operation), (QStringList { s("charge"), s("db.query") }));
    // The hidden operation stays hidden across refreshes, also after a reset.
    model.setRows({ operation(1, "orders-api", "a.first", 1), operation(1, "orders-api", "db.query", 41),
        operation(1, "orders-api", "db.insert", 5), slowest });
    QCOMPARE(filter.rowCount(), 3);
    QVERIFY(!column(filter, OperationsModel::Operation).contains(s("db.insert")));
    filter.showAll();
    QCOMPARE(filter.rowCount(), 4);
    QCOMPARE(filter.hiddenCount(), 0);
}

void TestTableModels::alertsComeInBatches()
{
    AlertsModel model;
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    model.add({ alert(Alert::Kind::Slow, 1'000, "orders-api", "db.query"),
        alert(Alert::Kind::BudgetBroken, 2'000, "orders-api", "http.get") });
    model.add({});
    QCOMPARE(model.rowCount(), 2);
    QCOMPARE(model.index(0, AlertsModel::Operation).data().toString(), s("http.get")); // newest first
    QCOMPARE(model.index(0, AlertsModel::Severity).data().toString(), s("budget broken"));
    QCOMPARE(model.index(1, AlertsModel::Severity).data().toString(), s("slow"));
    QCOMPARE(model.index(0, AlertsModel::Duration).data().toString(), s("25.0 ms"));
    QCOMPARE(model.index(0, AlertsModel::Duration).data(AlertsModel::SortRole).toULongLong(), quint64(25'000'000));
    QCOMPARE(model.index(0, AlertsModel::Details).data(Qt::ToolTipRole).toString(), s("table=orders"));
    QCOMPARE(model.alertAt(1)->timestampMs, qint64(1'000));

    // Slow ones over the bound with only slow ones beyond it: the oldest rows are removed.
    QSignalSpy removed(&model, &QAbstractItemModel::rowsRemoved);
    QList<Alert> storm;
    for (int i = 0; i < AlertsModel::MaxAlerts - 1; ++i)
        storm.append(alert(Alert::Kind::VerySlow, 3'000 + i, "billing-worker", "charge"));
    model.add(storm);
    QCOMPARE(removed.size(), 1);
    QCOMPARE(model.rowCount(), AlertsModel::MaxAlerts);
    QCOMPARE(model.alertAt(AlertsModel::MaxAlerts - 1)->kind, Alert::Kind::BudgetBroken);
    // Then the budget alert is the oldest: the oldest slow one goes instead, the budget alert stays.
    QSignalSpy reset(&model, &QAbstractItemModel::modelReset);
    model.add({ alert(Alert::Kind::VerySlow, 5'000, "billing-worker", "charge") });
    QCOMPARE(reset.size(), 1);
    QCOMPARE(model.rowCount(), AlertsModel::MaxAlerts);
    QCOMPARE(model.total(), quint64(AlertsModel::MaxAlerts + 2));
    QCOMPARE(model.dropped(), quint64(2));
    QCOMPARE(model.alertAt(AlertsModel::MaxAlerts - 1)->kind, Alert::Kind::BudgetBroken);
    model.add({ alert(Alert::Kind::BudgetRecovered, 9'000, "orders-api", "http.get") });
    QCOMPARE(model.rowCount(), AlertsModel::MaxAlerts);
    QCOMPARE(model.index(0, AlertsModel::Severity).data().toString(), s("budget met again"));
    QCOMPARE(model.alertAt(AlertsModel::MaxAlerts - 1)->kind, Alert::Kind::BudgetBroken);
    model.addDropped(5); // a storm between two refreshes that never reached the model
    QCOMPARE(model.total(), quint64(AlertsModel::MaxAlerts + 3 + 5));
    model.clear();
    QCOMPARE(model.rowCount(), 0);
    QCOMPARE(model.total(), quint64(0));
}

void TestTableModels::alertsFilter()
{
    AlertsModel model;
    AlertsFilterModel filter;
    filter.setSourceModel(&model);
    QAbstractItemModelTester tester(&filter, QAbstractItemModelTester::FailureReportingMode::QtTest);
    filter.sort(AlertsModel::Time, Qt::DescendingOrder);
    QVERIFY(!filter.isFiltering());
    model.add({ alert(Alert::Kind::Slow, 1'000, "orders-api", "db.query"),
        alert(Alert::Kind::VerySlow, 2'000, "billing-worker", "charge") });
    model.add({ alert(Alert::Kind::BudgetBroken, 3'000, "orders-api", "http.get"),
        alert(Alert::Kind::BudgetRecovered, 4'000, "orders-api", "http.get") });
    QCOMPARE(filter.rowCount(), 4);

    filter.setKinds(AlertsFilterModel::Kinds::Slow);
    QVERIFY(filter.isFiltering());
    QCOMPARE(column(filter, AlertsModel::Operation), (QStringList { s("charge"), s("db.query") }));
    filter.setKinds(AlertsFilterModel::Kinds::VerySlow);
    QCOMPARE(column(filter, AlertsModel::Operation), QStringList { s("charge") });
    filter.setKinds(AlertsFilterModel::Kinds::Budgets);
    QCOMPARE(column(filter, AlertsModel::Severity), (QStringList { s("budget met again"), s("budget broken") }));
    filter.setKinds(AlertsFilterModel::Kinds::All);
    filter.setProcess(s("orders-api"));
    QCOMPARE(filter.rowCount(), 3);
    filter.setOperation(s("QUERY")); // a substring, any case
    QCOMPARE(column(filter, AlertsModel::Operation), QStringList { s("db.query") });
    filter.setOperation(s("http.*"));
    QCOMPARE(filter.rowCount(), 2);
    // Alerts that come while filtering are filtered too.
    model.add({ alert(Alert::Kind::Slow, 5'000, "orders-api", "http.post"),
        alert(Alert::Kind::Slow, 6'000, "billing-worker", "http.post") });
    QCOMPARE(column(filter, AlertsModel::Time).size(), 3);
    filter.setProcess({});
    filter.setOperation({});
    QVERIFY(!filter.isFiltering());
    QCOMPARE(filter.rowCount(), 6);
    model.clear();
    QCOMPARE(filter.rowCount(), 0);
}

void TestTableModels::topFunctionsFollowTheProfile()
{
    TopFunctionsModel model;
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    const QString push = s("std::vector<int, std::allocator<int> >::push_back(int const&)");
    model.setSnapshot(profile());
    QCOMPARE(model.rowCount(), 4);
    const int parse = rowOfFunction(model, s("parse()"));
    QVERIFY(parse >= 0);
    QCOMPARE(model.index(parse, TopFunctionsModel::Self).data().toString(), s("20"));
    QCOMPARE(model.index(parse, TopFunctionsModel::SelfPercent).data().toString(), s("50.0%"));
    QCOMPARE(model.index(parse, TopFunctionsModel::Total).data().toString(), s("30"));
    QCOMPARE(model.index(parse, TopFunctionsModel::TotalPercent).data().toString(), s("75.0%"));
    QCOMPARE(model.index(parse, TopFunctionsModel::Callers).data().toString(), s("main (100%)"));
    const int vector = rowOfFunction(model, push);
    QVERIFY(vector >= 0);
    QCOMPARE(model.index(vector, TopFunctionsModel::Function).data().toString(),
        s("std::vector<...>::push_back(int const&)"));

    // The next refresh counts more samples of the same functions: the numbers change in place.
    QSignalSpy reset(&model, &QAbstractItemModel::modelReset);
    QSignalSpy changed(&model, &QAbstractItemModel::dataChanged);
    model.setSnapshot(profile(60));
    QCOMPARE(reset.size(), 0);
    QCOMPARE(changed.size(), 1);
    QCOMPARE(
        model.index(rowOfFunction(model, s("parse()")), TopFunctionsModel::SelfPercent).data().toString(), s("75.0%"));

    // The flame graph's zoom on parse(): its callees alone; then no profile at all.
    const ProfileSnapshotPtr snapshot = profile(60);
    std::uint32_t parseNode = 0;
    for (std::uint32_t node = 0; node < snapshot->nodes.size(); ++node) {
        if (snapshot->functions[snapshot->nodes[node].function].name == s("parse()"))
            parseNode = node;
    }
    QVERIFY(parseNode != 0);
    model.setSnapshot(snapshot, parseNode);
    QCOMPARE(model.root(), parseNode);
    QVERIFY(rowOfFunction(model, s("sort()")) < 0);
    QVERIFY(rowOfFunction(model, push) >= 0);
    model.setSnapshot({});
    QCOMPARE(model.rowCount(), 0);
    QCOMPARE(model.root(), 0u);
}

void TestTableModels::profileDiff()
{
    ProfileDiffModel model;
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    QSortFilterProxyModel sorted;
    sorted.setSourceModel(&model);
    sorted.setSortRole(ProfileDiffModel::SortRole);
    QAbstractItemModelTester proxyTester(&sorted, QAbstractItemModelTester::FailureReportingMode::QtTest);
    model.setChanges({ change("parse", 0.2, 0.5), change("sort", 0.5, 0.2), change("main", 0.0, 0.001) });
    QCOMPARE(model.rowCount(), 3);
    QCOMPARE(model.index(0, ProfileDiffModel::SelfBase).data().toString(), s("20.0%"));
    QCOMPARE(model.index(0, ProfileDiffModel::SelfNew).data().toString(), s("50.0%"));
    QCOMPARE(model.index(0, ProfileDiffModel::SelfChange).data().toString(), s("+30.0 pts"));
    QCOMPARE(model.index(1, ProfileDiffModel::SelfChange).data().toString(), s("-30.0 pts"));
    QCOMPARE(model.index(2, ProfileDiffModel::TotalNew).data().toString(), s("100.0%"));
    // Gained CPU reads red, lost green; a change under half a point is not coloured.
    QCOMPARE(model.index(0, ProfileDiffModel::SelfChange).data(Qt::ForegroundRole).value<QBrush>().color(),
        QColor(0xb0, 0x00, 0x20));
    QCOMPARE(model.index(1, ProfileDiffModel::SelfChange).data(Qt::ForegroundRole).value<QBrush>().color(),
        QColor(0x1b, 0x7a, 0x2e));
    QVERIFY(!model.index(2, ProfileDiffModel::SelfChange).data(Qt::ForegroundRole).isValid());
    sorted.sort(ProfileDiffModel::SelfChange, Qt::AscendingOrder);
    QCOMPARE(column(sorted, ProfileDiffModel::Function), (QStringList { s("sort"), s("main"), s("parse") }));

    QCOMPARE(model.headerData(ProfileDiffModel::SelfBase, Qt::Horizontal).toString(), s("Self base"));
    QSignalSpy headers(&model, &QAbstractItemModel::headerDataChanged);
    model.setLabels(s("typical"), s("slow"));
    QCOMPARE(headers.size(), 1);
    QCOMPARE(model.headerData(ProfileDiffModel::SelfNew, Qt::Horizontal).toString(), s("Self slow"));
    QCOMPARE(model.headerData(ProfileDiffModel::TotalBase, Qt::Horizontal).toString(), s("Total typical"));
    model.setChanges({ change("sort", 0.5, 0.2) });
    QCOMPARE(sorted.rowCount(), 1);
    model.setChanges({});
    QCOMPARE(model.rowCount(), 0);
}

void TestTableModels::durationTexts_data()
{
    QTest::addColumn<quint64>("ns");
    QTest::addColumn<QString>("table"); // formatDuration: the tables, tooltips, alerts
    QTest::addColumn<QString>("tick"); // formatDurationTick: the charts' and the heatmap's ticks
    QTest::addColumn<QString>("exact"); // formatDurationExact: the budgets dialog's typed limits
    QTest::newRow("0") << quint64(0) << s("0 ns") << s("0 ns") << s("0 ns");
    QTest::newRow("812 ns") << quint64(812) << s("812 ns") << s("812 ns") << s("812 ns");
    QTest::newRow("1 µs") << quint64(1'000) << s("1.00 µs") << s("1 µs") << s("1 µs");
    QTest::newRow("3.4 µs") << quint64(3'400) << s("3.40 µs") << s("3.4 µs") << s("3.4 µs");
    QTest::newRow("500 µs") << quint64(500'000) << s("500.0 µs") << s("500 µs") << s("500 µs");
    QTest::newRow("999.999 µs") << quint64(999'999) << s("1000.0 µs") << s("1000 µs") << s("999.999 µs");
    QTest::newRow("2 ms") << quint64(2'000'000) << s("2.00 ms") << s("2 ms") << s("2 ms");
    QTest::newRow("12.345 ms") << quint64(12'345'000) << s("12.3 ms") << s("12.3 ms") << s("12.345 ms");
    QTest::newRow("30 ms") << quint64(30'000'000) << s("30.0 ms") << s("30 ms") << s("30 ms");
    QTest::newRow("1 s") << quint64(1'000'000'000) << s("1.00 s") << s("1 s") << s("1 s");
    QTest::newRow("1.5 s") << quint64(1'500'000'000) << s("1.50 s") << s("1.5 s") << s("1.5 s");
    QTest::newRow("100 s") << quint64(100'000'000'000) << s("100.00 s") << s("100 s") << s("100 s");
    QTest::newRow("2^45 ns") << quint64(35'184'372'088'831) << s("35184.37 s") << s("35184.37 s") << s("35184.372 s");
}

void TestTableModels::durationTexts()
{
    QFETCH(quint64, ns);
    QFETCH(QString, table);
    QFETCH(QString, tick);
    QFETCH(QString, exact);
    QCOMPARE(formatDuration(ns), table);
    QCOMPARE(formatDurationTick(ns), tick);
    QCOMPARE(formatDurationExact(ns), exact);
}

void TestTableModels::axisUnits_data()
{
    QTest::addColumn<double>("maxNs");
    QTest::addColumn<double>("scale");
    QTest::addColumn<QString>("unit");
    QTest::newRow("no data") << 0.0 << 1.0 << s("ns");
    QTest::newRow("1.9 µs") << 1'900.0 << 1.0 << s("ns");
    QTest::newRow("2 µs") << 2'000.0 << 1e3 << s("µs");
    QTest::newRow("1.5 ms") << 1.5e6 << 1e3 << s("µs");
    QTest::newRow("2 ms") << 2e6 << 1e6 << s("ms");
    QTest::newRow("1.999 s") << 1.999e9 << 1e6 << s("ms");
    QTest::newRow("2 s") << 2e9 << 1e9 << s("s");
    QTest::newRow("an hour") << 3.6e12 << 1e9 << s("s");
}

void TestTableModels::axisUnits()
{
    QFETCH(double, maxNs);
    QFETCH(double, scale);
    QFETCH(QString, unit);
    const DurationUnit axis = axisDurationUnit(maxNs);
    QCOMPARE(axis.ns, scale);
    QCOMPARE(axis.name, unit);
}

QTEST_MAIN(TestTableModels)
#include "tst_tablemodels.moc"
