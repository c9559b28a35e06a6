// SPDX-License-Identifier: GPL-3.0-or-later
// What a user does to find a leak, through the window: File > Launch program with "Track
// allocations" ticked, the launched program selected, its heap by call site in the Memory view
// (live bytes, growth since a mark), the preload's exact heap in the processes table, the largest sites'
// live bytes on the memory chart. The program is ours (helpers/heaptarget.cpp "sites": hold_site
// keeps 32 MiB, leak_site leaks 2 MB/s, churn_site churns small blocks).
#include "core/metricsstore.h"
#include "profiler/heapprofiler.h"
#include "widgets/attachdialog.h"
#include "widgets/chartspanel.h"
#include "widgets/mainwindow.h"
#include "widgets/memorypanel.h"
#include "widgets/profilepanel.h"

#include "tests/helpers/heapsites.h"
#include "tests/helpers/modal.h"

#include <QCheckBox>
#include <QLineEdit>
#include <QPushButton>
#include <QTemporaryDir>
#include <QTest>

using namespace perfdash;
using namespace perfdashtest;

namespace {
const QString kTarget = QStringLiteral(PERFDASH_BIN_DIR "/perfdash_heap_target");

/// A window that tracks the heaps of what it launches, wired as the application wires it (the
/// preload's exact heap reaches the store's processes).
struct TrackingWindow
{
    QTemporaryDir dir;
    MetricsStore store;
    HeapProfiler heap { dir.path() };
    MainWindow window { &store, nullptr };

    TrackingWindow()
    {
        QObject::connect(&heap, &HeapProfiler::heapChanged, &store,
            [this](qint64 pid, qint64 bytes) { store.recordHeapOfPid(pid, bytes); });
        window.setHeapProfiler(&heap);
        window.show();
    }
};
} // namespace

class TestHeapWindow : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase()
    {
        // The target waits for "go" on stdin unless told to start (the window's launches keep
        // their stdin to themselves).
        qputenv("HEAPTARGET_GO", "1");
    }

    void findTheLeakOfAProgramLaunchedFromTheWindow()
    {
        TrackingWindow tracking;
        QVERIFY(tracking.dir.isValid());
        MetricsStore& store = tracking.store;
        HeapProfiler& heap = tracking.heap;
        MainWindow& window = tracking.window;
        window.resize(1400, 900);

        bool ticked = false;
        onNextModal<LaunchDialog>([&](LaunchDialog* dialog) {
            dialog->findChild<QLineEdit*>(QStringLiteral("program"))->setText(kTarget);
            dialog->findChild<QLineEdit*>(QStringLiteral("arguments"))->setText(QStringLiteral("sites 120"));
            auto* track = dialog->findChild<QCheckBox*>(QStringLiteral("trackHeap"));
            track->setChecked(true);
            ticked = dialog->trackHeap();
            dialog->accept();
        });
        QAction* launch = actionNamed(&window, QStringLiteral("Launch program…"));
        QVERIFY(launch);
        launch->trigger();
        QVERIFY(ticked);

        // The launched program is the one shown, and its heap is tracked.
        MemoryPanel* memory = window.memoryPanel();
        QVERIFY(memory->process() > 0);
        const qint64 pid = memory->process();
        QTRY_VERIFY_WITH_TIMEOUT(!heap.totals().empty() && heap.totals().front().liveBytes > 32u << 20, 20'000);
        QCOMPARE(heap.totals().front().pid, pid);
        window.showMemory();

        // Live bytes: hold_site's 32 MiB lead.
        memory->setView(HeapView::Live);
        QTRY_COMPARE_WITH_TIMEOUT(firstSite(memory->profile()->snapshot()), QStringLiteral("hold_site"), 20'000);
        QCOMPARE(memory->profile()->snapshot()->unit, ProfileSnapshot::Unit::Bytes);

        // The heap column: the preload's exact count reaches the processes table (how close that count
        // is to what the program holds, within 5%, is checked by tst_heapprofiler against the
        // program's own numbers).
        QTRY_VERIFY_WITH_TIMEOUT(
            [&] {
                const std::vector<HeapTotals> totals = heap.totals();
                for (const ProcessInfo& p : store.processes()) {
                    if (p.pid == pid && p.heapBytes > 0 && !totals.empty())
                        return std::abs(double(p.heapBytes) - double(totals.front().liveBytes))
                            <= 0.05 * double(totals.front().liveBytes);
                }
                return false;
            }(),
            20'000);

        // A mark, then what kept growing: leak_site, not the larger but constant hold_site.
        memory->setMark();
        QCOMPARE(memory->view(), HeapView::Growth);
        QTRY_COMPARE_WITH_TIMEOUT(firstSite(memory->profile()->snapshot()), QStringLiteral("leak_site"), 30'000);
        QVERIFY(bytesOf(memory->profile()->snapshot(), QStringLiteral("hold_site"))
            < bytesOf(memory->profile()->snapshot(), QStringLiteral("leak_site")));

        // The memory chart: the heap line and the largest sites' live bytes as series.
        QTRY_VERIFY_WITH_TIMEOUT(
            window.charts()->visibleSeries(ChartsPanel::Kind::Memory).filter(QStringLiteral("hold_site")).size() == 1,
            20'000);
    }

    /// A shell that runs the program as its child: the shell's own heap is what is tracked, and the
    /// Memory view says so beside its numbers, not instead of them.
    void aShellsChildrenAreSaidBesideItsHeap()
    {
        TrackingWindow tracking;
        QVERIFY(tracking.dir.isValid());
        MainWindow& window = tracking.window;
        QString error;
        QVERIFY2(window.launch(QStringLiteral("/bin/sh"),
                     { QStringLiteral("-c"), kTarget + QStringLiteral(" sites 60; true") }, tracking.dir.path(), &error,
                     true),
            qPrintable(error));
        MemoryPanel* memory = window.memoryPanel();
        QVERIFY(memory->process() > 0);
        QTRY_VERIFY2_WITH_TIMEOUT(
            memory->totalsText().contains(QStringLiteral("child processes")), qPrintable(memory->totalsText()), 20'000);
        QVERIFY2(memory->totalsText().contains(QStringLiteral("Heap in use")), qPrintable(memory->totalsText()));
    }

    /// A program that ended keeps its last heap; the view says it ended, and Set mark (nothing can
    /// grow any more) is off with the reason in its tooltip.
    void anEndedProgramSaysSoAndCannotBeMarked()
    {
        TrackingWindow tracking;
        QVERIFY(tracking.dir.isValid());
        MainWindow& window = tracking.window;
        window.showMemory();
        QString error;
        QVERIFY2(window.launch(
                     kTarget, { QStringLiteral("aligned"), QStringLiteral("1") }, tracking.dir.path(), &error, true),
            qPrintable(error));
        MemoryPanel* memory = window.memoryPanel();
        QTRY_VERIFY2_WITH_TIMEOUT(
            memory->totalsText().contains(QStringLiteral("has ended")), qPrintable(memory->totalsText()), 20'000);
        QTRY_VERIFY_WITH_TIMEOUT(!memory->markButton()->isEnabled(), 5'000);
        QVERIFY2(memory->markButton()->toolTip().contains(QStringLiteral("has ended")),
            qPrintable(memory->markButton()->toolTip()));
        // The Memory view's own way to compare with a recorded run.
        bool comparable = false;
        for (QPushButton* button : memory->findChildren<QPushButton*>())
            comparable = comparable || button->text().startsWith(QStringLiteral("Compare with a capture"));
        QVERIFY(comparable);
    }
};

QTEST_MAIN(TestHeapWindow)
#include "tst_heapwindow.moc"
