// SPDX-License-Identifier: GPL-3.0-or-later
// The dashboard's side of heap tracking, end to end: HeapProfiler gives a program of ours
// (helpers/heaptarget.cpp, "sites": a site that holds 32 MiB, one that leaks 2 MB/s, one that
// churns small blocks) the preload and a channel, and its views name the sites by their symbols;
// and perfdash --heap --export-heap through the command line.
#include "profiler/foldedexport.h"
#include "profiler/heapprofiler.h"

#include <QFileInfo>
#include <QProcess>
#include <QProcessEnvironment>
#include <QRegularExpression>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>

using namespace perfdash;

namespace {
const QString kTarget = QStringLiteral(PERFDASH_BIN_DIR "/perfdash_heap_target");
const QString kPerfdash = QStringLiteral(PERFDASH_BIN_DIR "/perfdash");

/// The bytes under the outermost calls of the function whose name starts with @p site.
quint64 bytesOf(const ProfileSnapshotPtr& snapshot, const QString& site)
{
    if (!snapshot)
        return 0;
    for (const FunctionCost& cost : snapshot->topFunctions()) {
        if (snapshot->functions[cost.function].name.startsWith(site))
            return cost.total;
    }
    return 0;
}

/// Which of the three sites has the most bytes in @p snapshot.
QString firstSite(const ProfileSnapshotPtr& snapshot)
{
    QString best;
    quint64 most = 0;
    for (const char* site : { "hold_site", "leak_site", "churn_site" }) {
        if (const quint64 bytes = bytesOf(snapshot, QString::fromLatin1(site)); bytes > most) {
            most = bytes;
            best = QString::fromLatin1(site);
        }
    }
    return best;
}

/// Reads @p process's output until a line starting with @p prefix; that line.
QString waitForLine(QProcess& process, const QString& prefix)
{
    while (true) {
        while (process.canReadLine()) {
            const QString line = QString::fromUtf8(process.readLine()).trimmed();
            if (line.startsWith(prefix))
                return line;
        }
        if (!process.waitForReadyRead(20'000))
            return {};
    }
}
} // namespace

class TestHeapProfiler : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void sitesByCallStack();
    void aStaticProgramIsRefused();
    void exportHeapFromTheCommandLine();
};

void TestHeapProfiler::sitesByCallStack()
{
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    HeapProfiler heap(dir.path());
    QVERIFY2(!HeapProfiler::preloadLibrary().isEmpty(), "libperfdash_heap.so is built next to perfdash");
    QProcessEnvironment environment = QProcessEnvironment::systemEnvironment();
    int ticket = 0;
    QString refused;
    QVERIFY2(heap.prepare(kTarget, &environment, &ticket, &refused), qPrintable(refused));
    QVERIFY(environment.value(QStringLiteral("LD_PRELOAD")).contains(QStringLiteral("libperfdash_heap.so")));

    QProcess target;
    target.setProcessEnvironment(environment);
    target.start(kTarget, { QStringLiteral("sites"), QStringLiteral("60") });
    QVERIFY(target.waitForStarted());
    heap.started(ticket, target.processId(), QStringLiteral("heaptarget"));
    QSignalSpy changed(&heap, &HeapProfiler::heapChanged);
    QVERIFY(!waitForLine(target, QStringLiteral("ready")).isEmpty());
    target.write("go\n");
    const QString hold = waitForLine(target, QStringLiteral("hold "));
    QVERIFY(!hold.isEmpty());
    const double held = hold.section(u' ', 1).toDouble(); // usable bytes hold_site keeps

    // The heap in use is exact (the preload counts every call), and reaches the heap column.
    QTRY_VERIFY_WITH_TIMEOUT(!changed.isEmpty(), 10'000);
    QTRY_VERIFY_WITH_TIMEOUT(!heap.totals().empty() && heap.totals().front().liveBytes >= quint64(held), 10'000);
    const HeapTotals totals = heap.totals().front();
    QCOMPARE(totals.pid, target.processId());
    QVERIFY(totals.reporting);
    QVERIFY2(totals.problem.isEmpty(), qPrintable(totals.problem));
    QCOMPARE(totals.allocator, QStringLiteral("libc.so.6"));

    // Live bytes by site: hold_site's 32 MiB estimated within 15% from samples every 512 KiB.
    QTRY_VERIFY_WITH_TIMEOUT(
        bytesOf(heap.snapshot(target.processId(), HeapView::Live), QStringLiteral("hold_site")) > 0, 10'000);
    const ProfileSnapshotPtr live = heap.snapshot(target.processId(), HeapView::Live);
    QCOMPARE(live->unit, ProfileSnapshot::Unit::Bytes);
    const double estimated = double(bytesOf(live, QStringLiteral("hold_site")));
    QVERIFY2(std::abs(estimated - held) <= 0.15 * held,
        qPrintable(QStringLiteral("hold_site: %1 estimated, %2 held").arg(estimated).arg(held)));
    QCOMPARE(firstSite(live), QStringLiteral("hold_site"));
    // The churn site holds next to nothing, and allocates the most.
    QVERIFY(double(bytesOf(live, QStringLiteral("churn_site"))) < 0.05 * held);
    QTRY_COMPARE_WITH_TIMEOUT(
        firstSite(heap.snapshot(target.processId(), HeapView::AllocationRate)), QStringLiteral("churn_site"), 10'000);
    QCOMPARE(heap.snapshot(target.processId(), HeapView::AllocationRate)->unit, ProfileSnapshot::Unit::BytesPerSecond);

    // The memory chart's lines: the largest site's live bytes once a second, named by its function.
    QTRY_VERIFY_WITH_TIMEOUT(!heap.siteHistory(target.processId()).empty()
            && heap.siteHistory(target.processId()).front().site == QStringLiteral("hold_site"),
        10'000);
    const HeapSiteSeries holdSeries = heap.siteHistory(target.processId()).front();
    QVERIFY(!holdSeries.points.empty());
    QVERIFY(std::abs(holdSeries.points.back().second - held) <= 0.15 * held);

    // Since a mark, what grew is the leak (2 MB/s): the first site by growth once it sampled some.
    heap.setMark(target.processId());
    QTRY_VERIFY_WITH_TIMEOUT(
        bytesOf(heap.snapshot(target.processId(), HeapView::Growth), QStringLiteral("leak_site")) >= 2 * 524288,
        20'000);
    const ProfileSnapshotPtr growth = heap.snapshot(target.processId(), HeapView::Growth);
    QCOMPARE(firstSite(growth), QStringLiteral("leak_site"));
    QCOMPARE(bytesOf(growth, QStringLiteral("hold_site")), 0ull);

    target.closeWriteChannel(); // EOF: it exits
    QVERIFY(target.waitForFinished(20'000));
}

void TestHeapProfiler::aStaticProgramIsRefused()
{
    // Our static build of the target where the toolchain has a static libc (Debian's libc6-dev,
    // which g++ brings, has it: CI builds it); else Debian's ldconfig, which is linked statically.
#ifdef PERFDASH_HEAP_STATIC_TARGET
    const QString program = QStringLiteral(PERFDASH_HEAP_STATIC_TARGET);
#else
    const QString program = QStringLiteral("/sbin/ldconfig");
#endif
    if (!QFileInfo::exists(program))
        QSKIP("neither a static build of the target nor /sbin/ldconfig here");
    QTemporaryDir dir;
    HeapProfiler heap(dir.path());
    QProcessEnvironment environment;
    int ticket = 0;
    QString refused;
    QVERIFY(!heap.prepare(program, &environment, &ticket, &refused));
    QVERIFY2(refused.contains(QStringLiteral("static")), qPrintable(refused));
    QVERIFY(environment.value(QStringLiteral("LD_PRELOAD")).isEmpty()); // untouched
    QVERIFY(heap.totals().empty());
}

void TestHeapProfiler::exportHeapFromTheCommandLine()
{
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const QString folded = dir.filePath(QStringLiteral("heap.folded"));
    const QString memory = dir.filePath(QStringLiteral("memory.csv"));
    QProcess perfdash;
    QProcessEnvironment environment = QProcessEnvironment::systemEnvironment();
    environment.insert(QStringLiteral("HEAPTARGET_GO"), QStringLiteral("1"));
    perfdash.setProcessEnvironment(environment);
    perfdash.start(kPerfdash,
        { QStringLiteral("--headless"), QStringLiteral("--quiet"), QStringLiteral("--socket"),
            dir.filePath(QStringLiteral("s.sock")), QStringLiteral("--duration"), QStringLiteral("4"),
            QStringLiteral("--export-heap"), folded, QStringLiteral("--export-memory"), memory, QStringLiteral("--"),
            kTarget, QStringLiteral("sites"), QStringLiteral("60") });
    QVERIFY(perfdash.waitForFinished(60'000));
    QCOMPARE(perfdash.exitCode(), 0);
    QFile file(folded);
    QVERIFY(file.open(QIODevice::ReadOnly));
    int malformed = 0;
    quint64 hold = 0;
    for (const foldedexport::FoldedLine& line : foldedexport::parse(file.readAll(), &malformed)) {
        QVERIFY2(line.stack.startsWith(QStringLiteral("perfdash_heap_target (")), qPrintable(line.stack));
        if (line.stack.contains(QStringLiteral(";hold_site")))
            hold += line.count;
    }
    QCOMPARE(malformed, 0);
    QVERIFY2(hold > 28'000'000 && hold < 40'000'000, qPrintable(QString::number(hold))); // 32 MiB, sampled
    // The memory export has the exact heap column for it.
    QFile csv(memory);
    QVERIFY(csv.open(QIODevice::ReadOnly));
    const QList<QByteArray> rows = csv.readAll().split('\n');
    QVERIFY(rows.size() > 2);
    bool heapSeen = false;
    for (const QByteArray& row : rows) {
        const QList<QByteArray> cells = row.split(',');
        if (cells.size() == 6) // the launched program is named from the start (its comm), in every row
            QVERIFY2(!cells[2].isEmpty(), row.constData());
        heapSeen |= cells.size() == 6 && cells[4].toLongLong() >= 32 * 1024 * 1024;
    }
    QVERIFY(heapSeen);
}

QTEST_GUILESS_MAIN(TestHeapProfiler)
#include "tst_heapprofiler.moc"
