// SPDX-License-Identifier: GPL-3.0-or-later
// The dashboard's side of heap tracking, end to end: HeapProfiler gives a program of ours
// (helpers/heaptarget.cpp, "sites": a site that holds 32 MiB, one that leaks 2 MB/s, one that
// churns small blocks) the preload and a channel, and its views name the sites by their symbols;
// and perfdash --heap --export-heap through the command line. Also: leak_site's live bytes and the
// heap column against what the target knows, the allocation rate's arithmetic, programs that ended
// released (and at most HeapProfiler::MaxEnded kept), and wrappers (env, a shell) said.
#include "profiler/foldedexport.h"
#include "profiler/heapprofiler.h"

#include "tests/helpers/heapsites.h"

#include <QDir>
#include <QFileInfo>
#include <QProcess>
#include <QProcessEnvironment>
#include <QRegularExpression>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>

#include <map>

using namespace perfdash;
using namespace perfdashtest;

namespace {
const QString kTarget = QStringLiteral(PERFDASH_BIN_DIR "/perfdash_heap_target");
const QString kPerfdash = QStringLiteral(PERFDASH_BIN_DIR "/perfdash");

/// Whether the first program of @p heap says its child processes are not tracked (and, with
/// @p started, that it started that many).
bool saysChildren(const HeapProfiler& heap, int started = 0)
{
    const std::vector<HeapTotals> totals = heap.totals();
    if (totals.empty() || !totals.front().problem.contains(QStringLiteral("child processes are not tracked")))
        return false;
    return started == 0 || totals.front().problem.contains(QStringLiteral("(%1 started)").arg(started));
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

/// The lines of /proc/self/maps that name a file in @p directory.
int mappingsIn(const QString& directory)
{
    QFile maps(QStringLiteral("/proc/self/maps"));
    if (!maps.open(QIODevice::ReadOnly))
        return -1;
    return int(maps.readAll().count(QFile::encodeName(directory)));
}

/// A program of @p heap's launched with @p environment (LD_PRELOAD and the channel added), started.
bool launch(HeapProfiler& heap, QProcess& process, const QString& program, const QStringList& arguments,
    QProcessEnvironment environment, const QString& name)
{
    int ticket = 0;
    QString refused;
    if (!heap.prepare(program, &environment, &ticket, &refused)) {
        qWarning("%s", qPrintable(refused));
        return false;
    }
    process.setProcessEnvironment(environment);
    process.start(program, arguments);
    if (!process.waitForStarted()) {
        heap.abandon(ticket);
        return false;
    }
    heap.started(ticket, process.processId(), name);
    return true;
}

/// Whether @p snapshot has bytes under a function whose name contains @p part.
bool hasBytesIn(const ProfileSnapshotPtr& snapshot, const QString& part)
{
    if (!snapshot)
        return false;
    for (const FunctionCost& cost : snapshot->topFunctions()) {
        if (cost.total > 0 && snapshot->functions[cost.function].name.contains(part))
            return true;
    }
    return false;
}

/// Whether one of the messages @p spy caught contains @p part.
bool said(const QSignalSpy& spy, const QString& part)
{
    for (const QList<QVariant>& arguments : spy) {
        if (arguments.at(1).toString().contains(part))
            return true;
    }
    return false;
}
} // namespace

class TestHeapProfiler : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void sitesByCallStack();
    void leakSiteWithinFifteenPercent();
    void allocationRateOverWholeSecondsCovered();
    void endedProgramsAreReleased();
    void aWrapperThatDropsThePreloadIsSaid();
    void aShellsChildProcessesAreSaid();
    void aVforkChildIsCountedOnce();
    void aStaticProgramIsRefused();
    void exportHeapFromTheCommandLine();
    void aWrapperIsSaidInAHeadlessRun();
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

void TestHeapProfiler::leakSiteWithinFifteenPercent()
{
    // leak_site leaks blocks of 20 KiB (20,488 usable bytes) at 2 MB/s. A block of s bytes is
    // sampled with p = 1 - exp(-s / mean), and the estimate of n such blocks has a relative standard
    // error of sqrt((1 - p) / (n p)) (docs/HEAP.md). At the default mean (512 KiB) p = 0.038: 15% at
    // four standard errors would take 17,900 blocks (366 MB, three minutes of the leak). With a mean
    // of 32 KiB (PERFDASH_HEAP_SAMPLE in the program's environment, which wins) p = 0.465, and 16 MiB
    // (819 blocks, 8 s of the leak) give 3.75%: 15% is four standard errors, missed about once in
    // 16,000 runs.
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    HeapProfiler heap(dir.path());
    QProcessEnvironment environment = QProcessEnvironment::systemEnvironment();
    environment.insert(QStringLiteral("PERFDASH_HEAP_SAMPLE"), QStringLiteral("32768"));
    QProcess target;
    QVERIFY(launch(heap, target, kTarget, { QStringLiteral("sites"), QStringLiteral("120") }, environment,
        QStringLiteral("heaptarget")));
    QVERIFY(!waitForLine(target, QStringLiteral("ready")).isEmpty());
    target.write("go\n");
    double leaked = 0; // what the target says leak_site holds
    const auto leakedNow = [&] {
        target.write("leaked\n");
        leaked = waitForLine(target, QStringLiteral("leaked ")).section(u' ', 1).toDouble();
        return leaked;
    };
    QTRY_VERIFY_WITH_TIMEOUT(leakedNow() >= 16.0 * 1024 * 1024, 60'000);
    heap.poll(); // the records of the blocks "leaked" counted are in the ring by then: drained now
    const double estimated
        = double(bytesOf(heap.snapshot(target.processId(), HeapView::Live), QStringLiteral("leak_site")));
    QVERIFY2(std::abs(estimated - leaked) <= 0.15 * leaked,
        qPrintable(QStringLiteral("leak_site: %1 estimated, %2 leaked").arg(estimated).arg(leaked)));
    target.closeWriteChannel();
    QVERIFY(target.waitForFinished(20'000));
}

void TestHeapProfiler::allocationRateOverWholeSecondsCovered()
{
    constexpr std::uint64_t s = 1'000'000'000;
    // Tracked since 100.5 s, now 103.2 s: 100 and 103 are partial; 101 and 102 count, over 2 s.
    HeapRateWindow young;
    young.add(100 * s + 700'000'000, 7000);
    young.add(101 * s + 100, 1000);
    young.add(102 * s + 900'000'000, 3000);
    young.add(103 * s + 100'000'000, 5000);
    QCOMPARE(young.rate(100 * s + 500'000'000, 103 * s + 200'000'000), 2000.0);
    // No whole second covered yet.
    QCOMPARE(young.rate(102 * s + 500'000'000, 103 * s + 200'000'000), 0.0);
    // Tracked for long: the last 10 whole seconds (93 to 102); the second being counted (103) takes
    // the slot of 92, not of 93.
    HeapRateWindow steady;
    for (std::uint64_t second = 90; second <= 102; ++second)
        steady.add(second * s + 10, 1100);
    steady.add(103 * s + 10, 1e6);
    QCOMPARE(steady.rate(50 * s, 103 * s + 200'000'000), 1100.0);
    // A record older than the ring holds does not overwrite a newer second.
    steady.add(80 * s, 1e9);
    QCOMPARE(steady.rate(50 * s, 103 * s + 200'000'000), 1100.0);
}

void TestHeapProfiler::endedProgramsAreReleased()
{
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    HeapProfiler heap(dir.path());
    QProcessEnvironment environment = QProcessEnvironment::systemEnvironment();
    environment.insert(QStringLiteral("HEAPTARGET_GO"), QStringLiteral("1"));
    QSignalSpy problems(&heap, &HeapProfiler::problem);
    const int runs = int(HeapProfiler::MaxEnded) + 4;
    qint64 firstPid = 0, lastPid = 0;
    for (int i = 0; i < runs; ++i) {
        QProcess target;
        QVERIFY(launch(heap, target, kTarget, { QStringLiteral("exact"), QStringLiteral("60") }, environment,
            QStringLiteral("heaptarget")));
        lastPid = target.processId();
        firstPid = firstPid ? firstPid : lastPid;
        QVERIFY(!waitForLine(target, QStringLiteral("done")).isEmpty());
        // Named while it runs (its maps are read then).
        QTRY_VERIFY_WITH_TIMEOUT(
            hasBytesIn(heap.snapshot(lastPid, HeapView::Live), QStringLiteral("exactMode")), 10'000);
        target.closeWriteChannel();
        QVERIFY(target.waitForFinished(20'000));
        heap.poll(); // gone: drained one last time, then released
    }
    // No channel left mapped or on disk (each is 4 MiB of tmpfs), the ended programs capped.
    QCOMPARE(mappingsIn(dir.path()), 0);
    QCOMPARE(QDir(dir.path()).entryList(QDir::Files), QStringList());
    const std::vector<HeapTotals> totals = heap.totals();
    QCOMPARE(totals.size(), HeapProfiler::MaxEnded);
    for (const HeapTotals& t : totals)
        QVERIFY(t.ended && t.reporting);
    QCOMPARE(heap.endedDropped(), std::size_t(runs) - HeapProfiler::MaxEnded);
    QVERIFY(said(problems, QStringLiteral("no longer shown")));
    QCOMPARE(heap.snapshot(firstPid, HeapView::Live), ProfileSnapshotPtr());
    // The last one's final snapshot: its sites by name, for the views and the export.
    const ProfileSnapshotPtr last = heap.snapshot(lastPid, HeapView::Live);
    QVERIFY(last);
    QCOMPARE(last->pid, lastPid);
    QVERIFY(hasBytesIn(last, QStringLiteral("exactMode")));
    const QString folded = dir.filePath(QStringLiteral("last.folded"));
    QString error;
    QVERIFY2(foldedexport::writeFile(folded, heap.snapshots(HeapView::Live), &error), qPrintable(error));
    QFile file(folded);
    QVERIFY(file.open(QIODevice::ReadOnly));
    QVERIFY(file.readAll().contains(QStringLiteral("heaptarget (%1);").arg(lastPid).toUtf8()));
    QCOMPARE(heap.snapshot(lastPid, HeapView::AllocationRate)->unit, ProfileSnapshot::Unit::BytesPerSecond);
}

void TestHeapProfiler::aWrapperThatDropsThePreloadIsSaid()
{
    // env execs the program with LD_PRELOAD cleared: the program's heap is not tracked, and the
    // channel holds env's few KiB. Said, naming the program.
    const QString env = QStandardPaths::findExecutable(QStringLiteral("env"));
    QVERIFY(!env.isEmpty());
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    HeapProfiler heap(dir.path());
    QSignalSpy problems(&heap, &HeapProfiler::problem);
    QProcessEnvironment environment = QProcessEnvironment::systemEnvironment();
    environment.insert(QStringLiteral("HEAPTARGET_GO"), QStringLiteral("1"));
    QProcess wrapper;
    QVERIFY(launch(heap, wrapper, env,
        { QStringLiteral("-u"), QStringLiteral("LD_PRELOAD"), kTarget, QStringLiteral("exact"), QStringLiteral("60") },
        environment, QStringLiteral("env")));
    QVERIFY(!waitForLine(wrapper, QStringLiteral("done")).isEmpty());
    QTRY_VERIFY_WITH_TIMEOUT(said(problems, QStringLiteral("without the heap preload")), 10'000);
    QVERIFY(said(problems, kTarget));
    QTRY_VERIFY_WITH_TIMEOUT(!heap.totals().empty() && !heap.totals().front().problem.isEmpty(), 10'000);
    QVERIFY2(heap.totals().front().problem.contains(QStringLiteral("without the heap preload")),
        qPrintable(heap.totals().front().problem));
    wrapper.closeWriteChannel();
    QVERIFY(wrapper.waitForFinished(20'000));
}

void TestHeapProfiler::aShellsChildProcessesAreSaid()
{
    // A shell that runs the program as a child (dash with vfork, bash with fork): the child finds
    // the channel taken and is not tracked; the shell's own heap is. Said. A shell that execs the
    // program in its place is taken over by it, and nothing is said.
    for (const QString& shell : { QStringLiteral("/bin/sh"), QStringLiteral("/bin/bash") }) {
        if (!QFileInfo::exists(shell))
            continue;
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        HeapProfiler heap(dir.path());
        QSignalSpy problems(&heap, &HeapProfiler::problem);
        QProcessEnvironment environment = QProcessEnvironment::systemEnvironment();
        environment.insert(QStringLiteral("HEAPTARGET_GO"), QStringLiteral("1"));
        QProcess child;
        // Found in PATH's third entry: one child, however the shell looks for it.
        const QFileInfo target(kTarget);
        const QString command = QStringLiteral("PATH=/nonexistent-a:/nonexistent-b:%1 %2 exact 60; echo shell-done")
                                    .arg(target.absolutePath(), target.fileName());
        QVERIFY(launch(heap, child, shell, { QStringLiteral("-c"), command }, environment, QStringLiteral("sh")));
        QVERIFY(!waitForLine(child, QStringLiteral("done")).isEmpty());
        QTRY_VERIFY2_WITH_TIMEOUT(said(problems, QStringLiteral("started child processes")), qPrintable(shell), 10'000);
        QTRY_VERIFY_WITH_TIMEOUT(saysChildren(heap), 10'000);
        QVERIFY2(saysChildren(heap, 1), qPrintable(shell + QStringLiteral(": ") + heap.totals().front().problem));
        child.closeWriteChannel();
        QVERIFY(!waitForLine(child, QStringLiteral("shell-done")).isEmpty());
        QVERIFY(child.waitForFinished(20'000));

        QSignalSpy none(&heap, &HeapProfiler::problem);
        QProcess replaced;
        QVERIFY(launch(heap, replaced, shell,
            { QStringLiteral("-c"), QStringLiteral("exec ") + kTarget + QStringLiteral(" exact 60") }, environment,
            QStringLiteral("sh")));
        const qint64 pid = replaced.processId();
        QVERIFY(!waitForLine(replaced, QStringLiteral("done")).isEmpty());
        heap.poll();
        const std::vector<HeapTotals> totals = heap.totals();
        const auto it = std::find_if(totals.begin(), totals.end(), [pid](const HeapTotals& t) { return t.pid == pid; });
        QVERIFY(it != totals.end());
        QVERIFY2(it->problem.isEmpty(), qPrintable(it->problem));
        QVERIFY(it->liveBytes > 1024 * 1024); // the program's heap (exact mode holds megabytes), not the shell's
        replaced.closeWriteChannel();
        QVERIFY(replaced.waitForFinished(20'000));
        QCOMPARE(none.size(), 0);
    }
}

void TestHeapProfiler::aVforkChildIsCountedOnce()
{
    // A vfork child shares its parent's memory (no fork handler runs in it): it is counted at its
    // exec, once however many execs it tries along a search path.
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    HeapProfiler heap(dir.path());
    QProcessEnvironment environment = QProcessEnvironment::systemEnvironment();
    environment.insert(QStringLiteral("HEAPTARGET_GO"), QStringLiteral("1"));
    QProcess target;
    QVERIFY(launch(heap, target, kTarget, { QStringLiteral("vfork"), QStringLiteral("60") }, environment,
        QStringLiteral("heaptarget")));
    QCOMPARE(waitForLine(target, QStringLiteral("vforked")), QStringLiteral("vforked 0"));
    QVERIFY(!waitForLine(target, QStringLiteral("done")).isEmpty());
    QTRY_VERIFY_WITH_TIMEOUT(saysChildren(heap), 10'000);
    QVERIFY2(saysChildren(heap, 1), qPrintable(heap.totals().front().problem));
    target.closeWriteChannel();
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
    environment.insert(QStringLiteral("HEAPTARGET_REPORT_MS"), QStringLiteral("100")); // "live MS BYTES" lines
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

    // The heap column is the preload's exact count: within 5% of what the target holds at that
    // time (its "live" lines, every 100 ms, on perfdash's standard output; the C library's own few
    // KiB and 100 ms of the 2 MB/s leak are well inside).
    qint64 pid = 0;
    std::map<qint64, double> truth; // wall-clock ms -> bytes held
    for (const QByteArray& line : perfdash.readAllStandardOutput().split('\n')) {
        const QList<QByteArray> words = line.trimmed().split(' ');
        if (words.size() == 2 && words[0] == "pid")
            pid = words[1].toLongLong();
        else if (words.size() == 3 && words[0] == "live")
            truth[words[1].toLongLong()] = words[2].toDouble();
    }
    QVERIFY(pid > 0 && truth.size() > 10);
    int compared = 0;
    for (const QByteArray& row : rows) {
        const QList<QByteArray> cells = row.split(',');
        if (cells.size() != 6 || cells[1].toLongLong() != pid || cells[4].isEmpty())
            continue;
        const qint64 at = cells[0].toLongLong();
        auto nearest = truth.lower_bound(at);
        if (nearest == truth.end()
            || (nearest != truth.begin() && at - std::prev(nearest)->first < nearest->first - at))
            nearest = std::prev(nearest);
        if (std::abs(nearest->first - at) > 150)
            continue; // before the target's first line, or after its last
        const double heap = cells[4].toDouble();
        QVERIFY2(std::abs(heap - nearest->second) <= 0.05 * nearest->second,
            qPrintable(
                QStringLiteral("heap_bytes %1 at %2, the target held %3").arg(heap).arg(at).arg(nearest->second)));
        ++compared;
    }
    QVERIFY2(compared >= 2, qPrintable(QString::number(compared)));
}

void TestHeapProfiler::aWrapperIsSaidInAHeadlessRun()
{
    // perfdash --heap -- env -u LD_PRELOAD PROGRAM: said on stderr, and with the export.
    const QString env = QStandardPaths::findExecutable(QStringLiteral("env"));
    QVERIFY(!env.isEmpty());
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const QString folded = dir.filePath(QStringLiteral("heap.folded"));
    QProcess perfdash;
    QProcessEnvironment environment = QProcessEnvironment::systemEnvironment();
    environment.insert(QStringLiteral("HEAPTARGET_GO"), QStringLiteral("1"));
    perfdash.setProcessEnvironment(environment);
    perfdash.start(kPerfdash,
        { QStringLiteral("--headless"), QStringLiteral("--quiet"), QStringLiteral("--socket"),
            dir.filePath(QStringLiteral("s.sock")), QStringLiteral("--duration"), QStringLiteral("3"),
            QStringLiteral("--export-heap"), folded, QStringLiteral("--"), env, QStringLiteral("-u"),
            QStringLiteral("LD_PRELOAD"), kTarget, QStringLiteral("sites"), QStringLiteral("60") });
    QVERIFY(perfdash.waitForFinished(60'000));
    const QString errors = QString::fromUtf8(perfdash.readAllStandardError());
    QVERIFY2(errors.contains(QStringLiteral("exec'd %1 without the heap preload").arg(kTarget)), qPrintable(errors));
    QVERIFY2(errors.contains(QStringLiteral("%1: the heap of env").arg(folded)), qPrintable(errors));
}

QTEST_GUILESS_MAIN(TestHeapProfiler)
#include "tst_heapprofiler.moc"
