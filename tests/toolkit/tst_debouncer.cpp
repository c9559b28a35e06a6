// SPDX-License-Identifier: GPL-3.0-or-later
#include "toolkit/debouncer.h"

#include <QTest>

#include <stdexcept>

using namespace perfdash;

class TestDebouncer : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void lodashSemantics_data()
    {
        QTest::addColumn<int>("wait");
        QTest::addColumn<int>("maxWait"); // -1: none
        QTest::addColumn<bool>("leading");
        QTest::addColumn<bool>("trailing");
        QTest::addColumn<QList<int>>("calls"); // times of the calls, ms
        QTest::addColumn<QStringList>("invocations"); // "time:call whose operation ran"
        QTest::addColumn<QList<int>>("results"); // per call: the call whose result it got, -1 cancelled

        QTest::newRow("trailing: a burst runs once, last call's operation")
            << 100 << -1 << false << true << QList<int> { 0, 50, 100 } << QStringList { u"200:2"_qs }
            << QList<int> { 2, 2, 2 };
        QTest::newRow("trailing: calls further apart than the wait each run")
            << 100 << -1 << false << true << QList<int> { 0, 200 } << QStringList { u"100:0"_qs, u"300:1"_qs }
            << QList<int> { 0, 1 };
        QTest::newRow("trailing: exactly the wait apart")
            << 100 << -1 << false << true << QList<int> { 0, 100 } << QStringList { u"100:0"_qs, u"200:1"_qs }
            << QList<int> { 0, 1 };
        QTest::newRow("leading: first runs at once, the burst gets its result")
            << 100 << -1 << true << false << QList<int> { 0, 50, 100, 250 } << QStringList { u"0:0"_qs, u"250:3"_qs }
            << QList<int> { 0, 0, 0, 3 };
        QTest::newRow("leading and trailing, one call: runs once")
            << 100 << -1 << true << true << QList<int> { 0 } << QStringList { u"0:0"_qs } << QList<int> { 0 };
        QTest::newRow("leading and trailing, two calls in the wait: runs twice")
            << 100 << -1 << true << true << QList<int> { 0, 50 } << QStringList { u"0:0"_qs, u"150:1"_qs }
            << QList<int> { 0, 1 };
        QTest::newRow("maxWait bounds how long a busy stream waits")
            << 100 << 250 << false << true << QList<int> { 0, 50, 100, 150, 200, 250, 300, 350, 400, 450, 500 }
            << QStringList { u"250:4"_qs, u"500:9"_qs, u"600:10"_qs }
            << QList<int> { 4, 4, 4, 4, 4, 9, 9, 9, 9, 9, 10 };
        QTest::newRow("leading with maxWait")
            << 100 << 200 << true << false << QList<int> { 0, 50, 100, 150, 200, 250, 300 }
            << QStringList { u"0:0"_qs, u"200:4"_qs } << QList<int> { 0, 0, 0, 0, 4, 4, 4 };
        QTest::newRow("neither edge: nothing runs, futures cancelled")
            << 100 << -1 << false << false << QList<int> { 0, 50 } << QStringList {} << QList<int> { -1, -1 };
    }
    void lodashSemantics()
    {
        QFETCH(int, wait);
        QFETCH(int, maxWait);
        QFETCH(bool, leading);
        QFETCH(bool, trailing);
        QFETCH(QList<int>, calls);
        QFETCH(QStringList, invocations);
        QFETCH(QList<int>, results);

        ManualScheduler scheduler;
        DebounceConfig config { wait, maxWait >= 0 ? std::optional<qint64>(maxWait) : std::nullopt, leading, trailing };
        Debouncer<int> debouncer(config, &scheduler);
        QStringList ran;
        QList<QFuture<int>> futures;
        for (int i = 0; i < calls.size(); ++i) {
            scheduler.advance(calls[i] - scheduler.nowMs());
            futures.append(debouncer.call([&, i] {
                ran.append(QStringLiteral("%1:%2").arg(scheduler.nowMs()).arg(i));
                return i;
            }));
        }
        scheduler.advance(10'000);
        QCOMPARE(ran, invocations);
        QCOMPARE(debouncer.pending(), 0);
        for (int i = 0; i < futures.size(); ++i) {
            QVERIFY(futures[i].isFinished());
            if (results[i] < 0)
                QVERIFY(futures[i].isCanceled());
            else
                QCOMPARE(futures[i].result(), results[i]);
        }
        QCOMPARE(debouncer.metrics().invocations, quint64(invocations.size()));
        QCOMPARE(debouncer.metrics().calls, quint64(calls.size()));
    }

    void pendingCancelAndFlush()
    {
        ManualScheduler scheduler;
        Debouncer<int> debouncer(DebounceConfig { 100, std::nullopt, false, true }, &scheduler);
        auto a = debouncer.call([] { return 1; });
        auto b = debouncer.call([] { return 2; });
        QCOMPARE(debouncer.pending(), 2);
        QVERIFY(debouncer.isWaiting());
        debouncer.cancel();
        QVERIFY(a.isCanceled() && b.isCanceled());
        QCOMPARE(debouncer.pending(), 0);
        scheduler.advance(1000);
        QCOMPARE(debouncer.metrics().invocations, quint64(0));

        auto c = debouncer.call([] { return 3; });
        debouncer.flush();
        QVERIFY(c.isFinished());
        QCOMPARE(c.result(), 3);
        QVERIFY(!debouncer.isWaiting());
        debouncer.flush(); // nothing pending: nothing happens
        QCOMPARE(debouncer.metrics().invocations, quint64(1));
    }

    void errorsReachEveryCoveredCaller()
    {
        ManualScheduler scheduler;
        Debouncer<void> debouncer(DebounceConfig { 10, std::nullopt, false, true }, &scheduler);
        auto a = debouncer.call([] {});
        auto b = debouncer.call([] { throw std::runtime_error("save failed"); });
        scheduler.advance(10);
        QVERIFY_THROWS_EXCEPTION(std::runtime_error, a.waitForFinished());
        QVERIFY_THROWS_EXCEPTION(std::runtime_error, b.waitForFinished());
        QCOMPARE(debouncer.metrics().invocationDuration->errorCount, quint64(1));
    }

    void realTimeOnQtScheduler()
    {
        Debouncer<int> debouncer(DebounceConfig { 20, std::nullopt, false, true });
        auto f = debouncer.call([] { return 7; });
        debouncer.call([] { return 8; });
        QTRY_VERIFY_WITH_TIMEOUT(f.isFinished(), 10'000);
        QCOMPARE(f.result(), 8);
    }
};

QTEST_GUILESS_MAIN(TestDebouncer)
#include "tst_debouncer.moc"
