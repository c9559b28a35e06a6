// SPDX-License-Identifier: GPL-3.0-or-later
// The profile's models without widgets: the symbol prettifier and its elision, the top-down and
// bottom-up trees, caller/callee counts, collapsed recursion and focus, each model under
// QAbstractItemModelTester, on a known sample tree.
#include "models/callercalleemodel.h"
#include "models/calltreemodel.h"
#include "models/profiletrees.h"
#include "models/symbolprettifier.h"
#include "profiler/profileaggregate.h"

#include <QAbstractItemModelTester>
#include <QFont>
#include <QFontMetrics>
#include <QTest>

using namespace perfdash;

namespace {

QString s(const char* text)
{
    return QString::fromUtf8(text);
}

/**
 * 50 samples:
 *   main -> a -> leaf        10
 *   main -> a -> b -> leaf    5
 *   main -> b -> leaf        20
 *   main -> b                 5 (self)
 *   main -> rec -> rec -> rec 8 (self)
 *   main -> rec -> rec -> x   2
 */
ProfileSnapshotPtr sample()
{
    FunctionTable functions;
    const auto id = [&](const char* name) { return functions.intern({ s(name), s("app"), {}, false }); };
    const std::uint32_t main = id("main"), a = id("a()"), b = id("b()"), leaf = id("leaf()"), rec = id("rec(int)"),
                        x = id("x()");
    ProfileAggregate aggregate;
    const auto add = [&](std::initializer_list<std::uint32_t> stack, std::uint64_t count) {
        const std::vector<std::uint32_t> frames(stack);
        aggregate.add(1, 0, frames, count);
    };
    add({ main, a, leaf }, 10);
    add({ main, a, b, leaf }, 5);
    add({ main, b, leaf }, 20);
    add({ main, b }, 5);
    add({ main, rec, rec, rec }, 8);
    add({ main, rec, rec, x }, 2);
    auto snapshot = std::make_shared<ProfileSnapshot>(aggregate.snapshot({}, 0, functions));
    snapshot->process = s("orders-api");
    snapshot->pid = 7;
    return snapshot;
}

std::uint32_t functionNamed(const ProfileSnapshot& snapshot, const QString& name)
{
    for (std::uint32_t f = 0; f < snapshot.functions.size(); ++f) {
        if (snapshot.functions[f].name == name)
            return f;
    }
    return std::uint32_t(-1);
}

/// The child of @p parent in @p model whose full name is @p name.
QModelIndex childNamed(const QAbstractItemModel& model, const QModelIndex& parent, const QString& name)
{
    for (int row = 0; row < model.rowCount(parent); ++row) {
        const QModelIndex index = model.index(row, 0, parent);
        if (index.data(CallTreeModel::FullNameRole).toString() == name)
            return index;
    }
    return {};
}

QModelIndex pathIn(const QAbstractItemModel& model, const QStringList& path)
{
    QModelIndex at;
    for (const QString& name : path) {
        at = childNamed(model, at, name);
        if (!at.isValid())
            return {};
    }
    return at;
}

quint64 number(const QModelIndex& index, int column)
{
    return index.siblingAtColumn(column).data(CallTreeModel::SortRole).toULongLong();
}

} // namespace

class TestProfileModels : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void prettify_data();
    void prettify();
    void methodName_data();
    void methodName();
    void elisionKeepsTheMethodName();
    void topDown();
    void bottomUp();
    void callersAndCallees();
    void collapsedRecursion();
    void focus();
    void treeModelFollowsNewTrees();
};

void TestProfileModels::prettify_data()
{
    QTest::addColumn<QString>("name");
    QTest::addColumn<QString>("pretty");
    QTest::newRow("plain C") << s("memcpy") << s("memcpy");
    QTest::newRow("not a name") << s("libfoo.so+0x1a2b") << s("libfoo.so+0x1a2b");
    QTest::newRow("template class") << s("std::vector<int, std::allocator<int> >::push_back(int const&)")
                                    << s("std::vector<...>::push_back(int const&)");
    QTest::newRow("nested templates")
        << s("std::_Hashtable<std::__cxx11::basic_string<char, std::char_traits<char>, std::allocator<char> >, "
             "std::pair<std::__cxx11::basic_string<char, std::char_traits<char>, std::allocator<char> > const, int>, "
             "std::allocator<std::pair<std::__cxx11::basic_string<char, std::char_traits<char>, std::allocator<char> > "
             "const, int> > >::_M_find_before_node(unsigned long, std::__cxx11::basic_string<char, "
             "std::char_traits<char>, std::allocator<char> > const&, unsigned long) const")
        << s("std::_Hashtable<...>::_M_find_before_node(unsigned long, std::string const&, unsigned long) const");
    QTest::newRow("template arguments in parameters")
        << s("process(std::map<int, std::vector<double, std::allocator<double> > > const&)")
        << s("process(std::map<...> const&)");
    QTest::newRow("operator<") << s("bool operator<(Key const&, Key const&)")
                               << s("bool operator<(Key const&, Key const&)");
    QTest::newRow("operator<< of a template")
        << s("std::basic_ostream<char, std::char_traits<char> >& std::operator<< <std::char_traits<char> "
             ">(std::basic_ostream<char, std::char_traits<char> >&, char const*)")
        << s("std::basic_ostream<...>& std::operator<< <...>(std::basic_ostream<...>&, char const*)");
    QTest::newRow("operator-> and operator>>")
        << s("Ptr<Node>::operator->() const") << s("Ptr<...>::operator->() const");
    QTest::newRow("operator>>") << s("Reader::operator>>(int&)") << s("Reader::operator>>(int&)");
    QTest::newRow("lambda")
        << s("main::{lambda(std::vector<int, std::allocator<int> > const&)#1}::operator()(std::vector<int, "
             "std::allocator<int> > const&) const")
        << s("main::{lambda(std::vector<...> const&)#1}::operator()(std::vector<...> const&) const");
    QTest::newRow("function pointer") << s("void call<void (*)(int)>(void (*)(int), int)")
                                      << s("void call<...>(void (*)(int), int)");
    QTest::newRow("ABI tag") << s("demo::hashSession[abi:cxx11](std::basic_string_view<char, std::char_traits<char> >)")
                             << s("demo::hashSession(std::string_view)");
    QTest::newRow("libc++ namespace") << s("std::__1::mutex::lock()") << s("std::mutex::lock()");
}

void TestProfileModels::prettify()
{
    QFETCH(QString, name);
    QFETCH(QString, pretty);
    QCOMPARE(prettifySymbol(name), pretty);
}

void TestProfileModels::methodName_data()
{
    QTest::addColumn<QString>("name");
    QTest::addColumn<QString>("method");
    QTest::newRow("method") << s("std::vector<...>::push_back(int const&)") << s("push_back(int const&)");
    QTest::newRow("free function") << s("memcpy") << s("memcpy");
    QTest::newRow("return type") << s("void call<...>(void (*)(int), int)") << s("call<...>(void (*)(int), int)");
    QTest::newRow("operator") << s("Money::operator<(Money const&) const") << s("operator<(Money const&) const");
    QTest::newRow("anonymous namespace") << s("(anonymous namespace)::Cache::find(int)") << s("find(int)");
    QTest::newRow("lambda") << s("main::{lambda(int)#1}::operator()(int) const")
                            << s("{lambda(int)#1}::operator()(int) const");
    QTest::newRow("conversion operator") << s("Value::operator bool() const") << s("operator bool() const");
}

void TestProfileModels::methodName()
{
    QFETCH(QString, name);
    QFETCH(QString, method);
    QCOMPARE(name.mid(methodNameStart(name)), method);
}

void TestProfileModels::elisionKeepsTheMethodName()
{
    const QFontMetrics metrics { QFont() };
    const QString name = s("orders::detail::PricingEngine<...>::computeDiscounts(Order const&)");
    QCOMPARE(elideSymbol(name, metrics, metrics.horizontalAdvance(name)), name); // fits: unchanged
    const int width = metrics.horizontalAdvance(s("orders::det…computeDiscounts(Order const&)"));
    const QString elided = elideSymbol(name, metrics, width);
    QVERIFY2(elided.endsWith(s("computeDiscounts(Order const&)")), qPrintable(elided));
    QVERIFY2(elided.startsWith(s("orders::")), qPrintable(elided));
    QVERIFY(elided.contains(QChar(0x2026)));
    QVERIFY(metrics.horizontalAdvance(elided) <= width);
    // Too narrow for the method with its arguments: its name, the arguments an ellipsis.
    const QString bare = s("computeDiscounts(\u2026)");
    QCOMPARE(elideSymbol(name, metrics, metrics.horizontalAdvance(bare)), bare);
    // An operator's name keeps its own characters, '<' included.
    for (const QString& op : { s("operator<<"), s("operator<=>"), s("operator()") }) {
        const QString call = s("std::") + op + s("(std::ostream&, int const&)");
        const QString shortened = op + s("(\u2026)");
        QCOMPARE(elideSymbol(call, metrics, metrics.horizontalAdvance(shortened)), shortened);
    }
    // Too narrow for the method's whole name: its start is what is kept.
    const QString narrow = elideSymbol(name, metrics, metrics.horizontalAdvance(s("computeDisc")));
    QVERIFY2(narrow.startsWith(s("compute")), qPrintable(narrow));
    QVERIFY(elideSymbol(name, metrics, 0).isEmpty());
}

void TestProfileModels::topDown()
{
    CallTreeModel model;
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    model.setTree(topDownTree(sample()));
    QCOMPARE(model.rowCount(), 1); // main
    const QModelIndex main = pathIn(model, { s("main") });
    QCOMPARE(number(main, CallTreeModel::Total), 50ull);
    QCOMPARE(number(main, CallTreeModel::Self), 0ull);
    QCOMPARE(main.siblingAtColumn(CallTreeModel::TotalPercent).data().toString(), s("100.0%"));
    // Children by total, largest first: b (25), a (15), rec (10).
    QCOMPARE(model.rowCount(main), 3);
    QCOMPARE(model.index(0, 0, main).data(CallTreeModel::FullNameRole).toString(), s("b()"));
    QCOMPARE(model.index(1, 0, main).data(CallTreeModel::FullNameRole).toString(), s("a()"));
    QCOMPARE(model.index(2, 0, main).data(CallTreeModel::FullNameRole).toString(), s("rec(int)"));
    const QModelIndex b = pathIn(model, { s("main"), s("b()") });
    QCOMPARE(number(b, CallTreeModel::Total), 25ull);
    QCOMPARE(number(b, CallTreeModel::Self), 5ull);
    QCOMPARE(b.siblingAtColumn(CallTreeModel::SelfPercent).data().toString(), s("10.0%"));
    QCOMPARE(number(pathIn(model, { s("main"), s("a()"), s("b()"), s("leaf()") }), CallTreeModel::Self), 5ull);
    QCOMPARE(number(pathIn(model, { s("main"), s("rec(int)"), s("rec(int)") }), CallTreeModel::Total), 10ull);
    QCOMPARE(model.parent(b), main);
}

void TestProfileModels::bottomUp()
{
    CallTreeModel model;
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    model.setTree(bottomUpTree(sample()));
    // The functions samples were taken in: leaf 35, rec 8, b 5, x 2.
    QCOMPARE(model.rowCount(), 4);
    QCOMPARE(model.index(0, 0).data(CallTreeModel::FullNameRole).toString(), s("leaf()"));
    QCOMPARE(number(model.index(0, 0), CallTreeModel::Total), 35ull);
    QCOMPARE(number(model.index(0, 0), CallTreeModel::Self), 35ull);
    QCOMPARE(model.index(0, CallTreeModel::TotalPercent).data().toString(), s("70.0%"));
    // leaf's callers: b 25 (20 from main, 5 from a), a 10.
    const QModelIndex leaf = model.index(0, 0);
    QCOMPARE(model.rowCount(leaf), 2);
    QCOMPARE(number(pathIn(model, { s("leaf()"), s("b()") }), CallTreeModel::Total), 25ull);
    QCOMPARE(number(pathIn(model, { s("leaf()"), s("b()") }), CallTreeModel::Self), 0ull);
    QCOMPARE(number(pathIn(model, { s("leaf()"), s("b()"), s("main") }), CallTreeModel::Total), 20ull);
    QCOMPARE(number(pathIn(model, { s("leaf()"), s("b()"), s("a()"), s("main") }), CallTreeModel::Total), 5ull);
    QCOMPARE(number(pathIn(model, { s("leaf()"), s("a()"), s("main") }), CallTreeModel::Total), 10ull);
    QCOMPARE(
        number(pathIn(model, { s("rec(int)"), s("rec(int)"), s("rec(int)"), s("main") }), CallTreeModel::Total), 8ull);
    QCOMPARE(number(pathIn(model, { s("x()"), s("rec(int)"), s("rec(int)"), s("main") }), CallTreeModel::Total), 2ull);
    QCOMPARE(model.headerData(CallTreeModel::Total, Qt::Horizontal).toString(), s("Samples"));
}

void TestProfileModels::callersAndCallees()
{
    const ProfileSnapshotPtr snapshot = sample();
    const CallerCalleePtr data = callerCallee(snapshot);
    const FunctionCallers& b = data->functions[functionNamed(*snapshot, s("b()"))];
    QCOMPARE(b.self, 5ull);
    QCOMPARE(b.total, 30ull);
    QCOMPARE(b.callers.at(functionNamed(*snapshot, s("main"))), 25ull);
    QCOMPARE(b.callers.at(functionNamed(*snapshot, s("a()"))), 5ull);
    QCOMPARE(b.callees.size(), std::size_t(1));
    QCOMPARE(b.callees.at(functionNamed(*snapshot, s("leaf()"))), 25ull);
    QCOMPARE(data->functions[functionNamed(*snapshot, s("main"))].callers.at(FunctionCallers::kRoot), 50ull);
    // Recursion: each sample once, at the outermost call.
    const FunctionCallers& rec = data->functions[functionNamed(*snapshot, s("rec(int)"))];
    QCOMPARE(rec.total, 10ull);
    QCOMPARE(rec.self, 8ull);
    QCOMPARE(rec.callers.size(), std::size_t(1));

    CallerCalleeModel functions(CallerCalleeModel::Kind::Functions);
    CallerCalleeModel callers(CallerCalleeModel::Kind::Callers);
    CallerCalleeModel callees(CallerCalleeModel::Kind::Callees);
    QAbstractItemModelTester t1(&functions, QAbstractItemModelTester::FailureReportingMode::QtTest);
    QAbstractItemModelTester t2(&callers, QAbstractItemModelTester::FailureReportingMode::QtTest);
    QAbstractItemModelTester t3(&callees, QAbstractItemModelTester::FailureReportingMode::QtTest);
    for (CallerCalleeModel* model : { &functions, &callers, &callees }) {
        model->setCallerCallee(data);
        model->setFunction(s("b()"));
    }
    QCOMPARE(functions.rowCount(), 6);
    QCOMPARE(functions.index(0, CallerCalleeModel::Function).data().toString(), s("main"));
    const int bRow = functions.rowOf(s("b()"));
    QCOMPARE(functions.index(bRow, CallerCalleeModel::Samples).data().toULongLong(), 30ull);
    QCOMPARE(functions.index(bRow, CallerCalleeModel::Self).data().toULongLong(), 5ull);
    QCOMPARE(functions.index(bRow, CallerCalleeModel::Share).data().toString(), s("60.0%"));
    QCOMPARE(callers.rowCount(), 2);
    QCOMPARE(callers.index(0, CallerCalleeModel::Function).data().toString(), s("main"));
    QCOMPARE(callers.index(0, CallerCalleeModel::Samples).data().toULongLong(), 25ull);
    QCOMPARE(callers.index(0, CallerCalleeModel::Share).data().toString(), s("83.3%"));
    QCOMPARE(callers.index(1, CallerCalleeModel::Function).data().toString(), s("a()"));
    QCOMPARE(callers.index(1, CallerCalleeModel::Samples).data().toULongLong(), 5ull);
    QCOMPARE(callees.rowCount(), 1);
    QCOMPARE(callees.index(0, CallerCalleeModel::Function).data().toString(), s("leaf()"));
    QCOMPARE(callees.index(0, CallerCalleeModel::Samples).data().toULongLong(), 25ull);
    callers.setFunction(s("main"));
    QCOMPARE(callers.rowCount(), 1);
    QCOMPARE(callers.index(0, CallerCalleeModel::Function).data().toString(), s("[orders-api: the process]"));
    callers.setFunction(s("nothing"));
    QCOMPARE(callers.rowCount(), 0);
}

void TestProfileModels::collapsedRecursion()
{
    const ProfileSnapshotPtr snapshot = std::make_shared<ProfileSnapshot>(collapseRecursion(*sample()));
    QCOMPARE(snapshot->totalSamples(), 50ull);
    CallTreeModel model;
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    model.setTree(topDownTree(snapshot));
    const QModelIndex rec = pathIn(model, { s("main"), s("rec(int)") });
    QVERIFY(rec.isValid());
    QCOMPARE(number(rec, CallTreeModel::Total), 10ull);
    QCOMPARE(number(rec, CallTreeModel::Self), 8ull); // the two inner calls' self, folded in
    QCOMPARE(model.rowCount(rec), 1); // x(), no rec(int) below rec(int)
    QCOMPARE(number(pathIn(model, { s("main"), s("rec(int)"), s("x()") }), CallTreeModel::Total), 2ull);
    // Not recursive: unchanged.
    QCOMPARE(number(pathIn(model, { s("main"), s("a()"), s("b()"), s("leaf()") }), CallTreeModel::Total), 5ull);
    // Every node's total is its self plus its children's.
    for (const CallNode& node : snapshot->nodes) {
        std::uint64_t sum = node.self;
        for (std::uint32_t child : node.children)
            sum += snapshot->nodes[child].total;
        QCOMPARE(sum, node.total);
    }
}

void TestProfileModels::focus()
{
    const ProfileSnapshotPtr snapshot = std::make_shared<ProfileSnapshot>(focusOn(*sample(), s("b()")));
    QCOMPARE(snapshot->totalSamples(), 30ull);
    CallTreeModel model;
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    model.setTree(topDownTree(snapshot));
    QCOMPARE(model.rowCount(), 1);
    const QModelIndex b = pathIn(model, { s("b()") });
    QCOMPARE(number(b, CallTreeModel::Total), 30ull);
    QCOMPARE(number(b, CallTreeModel::Self), 5ull);
    QCOMPARE(number(pathIn(model, { s("b()"), s("leaf()") }), CallTreeModel::Total), 25ull);
    QCOMPARE(focusOn(*sample(), s("absent")).totalSamples(), 0ull);
}

void TestProfileModels::treeModelFollowsNewTrees()
{
    CallTreeModel model;
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    const ProfileTreePtr tree = topDownTree(sample());
    model.setTree(tree);
    const std::uint32_t node = tree->find({ s("main"), s("a()"), s("b()") });
    QVERIFY(node != 0);
    QCOMPARE(tree->path(node), QStringList({ s("main"), s("a()"), s("b()") }));
    QCOMPARE(model.nodeOf(model.indexOf(node)), node);
    model.setTree(bottomUpTree(sample()));
    QCOMPARE(model.rowCount(), 4);
    model.setTree(nullptr);
    QCOMPARE(model.rowCount(), 0);
    model.setTree(topDownTree(nullptr));
    QCOMPARE(model.rowCount(), 0);
}

QTEST_MAIN(TestProfileModels)
#include "tst_profilemodels.moc"
