// SPDX-License-Identifier: GPL-3.0-or-later
// ScopeTimeline's rules, record by record: what is known at an instant, and why not when it is not.
#include "ipc/client/wire/scoperingformat.h"
#include "ipc/scopetimeline.h"

#include <QTest>

using namespace perfdash;
namespace rings = perfdash::rings;

namespace {
ScopeTimeline::Record enter(qint64 t, quint32 op, quint32 depth)
{
    return { t, op, quint8(rings::Enter), depth, 0, quint64(t) };
}
ScopeTimeline::Record exitOf(qint64 t, quint32 op, quint32 depth, qint64 start)
{
    return { t, op, quint8(rings::Exit), depth, quint32(quint64(start)), quint64(t) };
}

/// The ops of the stack at @p t, or the gap's number negated (-1 - gap).
QList<int> at(const ScopeTimeline& tl, qint64 t)
{
    std::vector<OperationInstance> stack;
    const AttributionGap gap = tl.stackAt(t, stack);
    if (gap != AttributionGap::None)
        return { -1 - int(gap) };
    QList<int> ops;
    for (const OperationInstance& i : stack)
        ops << int(i.op);
    return ops;
}
int gap(AttributionGap g)
{
    return -1 - int(g);
}
/// Every instance @p tl holds, from its start.
std::vector<OperationInstance> instancesOf(const ScopeTimeline& tl)
{
    std::vector<OperationInstance> all;
    tl.instancesSince(0, all);
    return all;
}
} // namespace

class TestScopeTimeline : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void nesting()
    {
        ScopeTimeline tl(1, 1000, 0);
        tl.add(enter(1100, 7, 1));
        tl.add(enter(1200, 8, 2));
        tl.add(exitOf(1300, 8, 2, 1200));
        tl.add(exitOf(1400, 7, 1, 1100));
        tl.setKnownUntil(2000);
        QCOMPARE(at(tl, 1050), QList<int> {}); // outside any operation
        QCOMPARE(at(tl, 1150), QList<int> { 7 });
        QCOMPARE(at(tl, 1250), (QList<int> { 7, 8 }));
        QCOMPARE(at(tl, 1350), QList<int> { 7 });
        QCOMPARE(at(tl, 1900), QList<int> {});
        QCOMPARE(at(tl, 999), QList<int> { gap(AttributionGap::BeforeTracing) });
        QCOMPARE(at(tl, 2001), QList<int> { gap(AttributionGap::Pending) });
        const std::vector<OperationInstance> all = instancesOf(tl);
        QCOMPARE(all.size(), std::size_t(2));
        QCOMPARE(all[1].startNs, 1200);
        QCOMPARE(all[1].endNs, 1300);
        QCOMPARE(all[1].depth, 1);
        QVERIFY(!all[1].open);
        QCOMPARE(tl.mismatches(), quint64(0));
    }

    // Open before the first record: a placeholder, named (with its start) when its LateEnd comes.
    void openBeforeTracing()
    {
        ScopeTimeline tl(1, 1000, 1);
        tl.add(enter(1100, 8, 2));
        tl.add(exitOf(1200, 8, 2, 1100));
        tl.setKnownUntil(1500);
        QCOMPARE(at(tl, 1150), QList<int> { gap(AttributionGap::OpenBeforeTracing) });
        std::vector<OperationInstance> inner;
        QCOMPARE(tl.stackAt(1150, inner), AttributionGap::OpenBeforeTracing);
        QVERIFY(inner.empty()); // 8 is known, what is around it not: no part of the stack passes for it
        tl.add({ 500, 7, quint8(rings::LateStart), 1, 0, 500 });
        tl.add({ 1300, 7, quint8(rings::LateEnd), 1, 0, 1300 });
        QCOMPARE(at(tl, 1150), (QList<int> { 7, 8 }));
        QCOMPARE(at(tl, 1250), QList<int> { 7 });
        QCOMPARE(at(tl, 1400), QList<int> {});
        const std::vector<OperationInstance> all = instancesOf(tl);
        QCOMPARE(all.front().startNs, 500);
        QVERIFY(all.front().late);
        QCOMPARE(tl.clockTroubles(), quint64(0)); // a LateStart before the last record is no trouble
    }

    // Records lost: the span is Overrun; what was open then is not known to be open after it
    // until its own Exit shows it is the same instance (the start bits match).
    void overrunThenConfirmed()
    {
        ScopeTimeline tl(1, 1000, 0);
        tl.add(enter(1100, 7, 1));
        tl.add(enter(1200, 8, 2));
        tl.lose(AttributionGap::Overrun, 50);
        tl.add(enter(2000, 9, 2)); // 8 ended in the lost span; 7 may or may not have
        tl.setKnownUntil(3000);
        QCOMPARE(at(tl, 1150), QList<int> { 7 }); // before the loss: known
        QCOMPARE(at(tl, 1250), QList<int> { gap(AttributionGap::Overrun) }); // the lost ones came after 1200
        QCOMPARE(at(tl, 1500), QList<int> { gap(AttributionGap::Overrun) });
        QCOMPARE(at(tl, 2100), QList<int> { gap(AttributionGap::Overrun) });
        tl.add(exitOf(2200, 9, 2, 2000));
        tl.add(exitOf(2300, 7, 1, 1100)); // the same 7: it was open all along
        QCOMPARE(at(tl, 2100), (QList<int> { 7, 9 }));
        QCOMPARE(at(tl, 2250), QList<int> { 7 });
        QCOMPARE(at(tl, 1500), QList<int> { gap(AttributionGap::Overrun) }); // what happened in it is lost
        QCOMPARE(tl.mismatches(), quint64(0));
    }

    void overrunThenAnotherInstance()
    {
        ScopeTimeline tl(1, 1000, 0);
        tl.add(enter(1100, 7, 1));
        tl.lose(AttributionGap::Overrun, 50);
        tl.add(exitOf(2300, 7, 1, 1900)); // another 7: it began in the lost span
        tl.setKnownUntil(3000);
        QCOMPARE(at(tl, 1050), QList<int> {});
        QCOMPARE(at(tl, 1200), QList<int> { gap(AttributionGap::Overrun) });
        QCOMPARE(at(tl, 2400), QList<int> {});
        const std::vector<OperationInstance> all = instancesOf(tl);
        QCOMPARE(all.size(), std::size_t(2));
        QVERIFY(all[0].endLost);
        QCOMPARE(all[1].startNs, -1); // its Enter was lost
        QCOMPARE(all[1].endNs, 2300);
    }

    // A record that cannot be placed, or runs backwards: the span around it is Clock; what
    // happened in it (an operation began) is still known.
    void clockTrouble()
    {
        ScopeTimeline tl(1, 1000, 0);
        tl.add(enter(1100, 7, 1));
        tl.add({ -1, 8, quint8(rings::Enter), 2, 0, 0 });
        tl.add(exitOf(1500, 8, 2, 0));
        tl.add(enter(1400, 9, 2)); // earlier than the last record
        tl.add(exitOf(1600, 9, 2, 1400));
        tl.setKnownUntil(2000);
        QCOMPARE(at(tl, 1150), QList<int> { gap(AttributionGap::Clock) });
        QCOMPARE(at(tl, 1550), QList<int> { gap(AttributionGap::Clock) });
        QCOMPARE(at(tl, 1700), QList<int> { 7 });
        QCOMPARE(tl.clockTroubles(), quint64(2));
        QCOMPARE(tl.mismatches(), quint64(0));
    }

    // An Exit at a depth with another operation open there (it ended on another thread, or the
    // program broke nesting): counted, and nothing wrong is claimed about the span.
    void mismatch()
    {
        ScopeTimeline tl(1, 1000, 0);
        tl.add(enter(1100, 7, 1));
        tl.add(exitOf(1200, 9, 1, 1150));
        tl.setKnownUntil(2000);
        QCOMPARE(tl.mismatches(), quint64(1));
        QCOMPARE(at(tl, 1150), QList<int> { 7 }); // 7 was entered and open then, as recorded
        QCOMPARE(at(tl, 1300), QList<int> {});
        const std::vector<OperationInstance> all = instancesOf(tl);
        QVERIFY(all[0].endLost);
    }

    void evictionAndExpiry()
    {
        ScopeTimeline tl(1, 0, 0);
        for (int i = 0; i < 1000; ++i) {
            tl.add(enter(100 * i + 10, 7, 1));
            tl.add(exitOf(100 * i + 60, 7, 1, 100 * i + 10));
        }
        tl.setKnownUntil(200'000);
        const quint64 dropped = tl.evict(50'000, 100'000);
        QVERIFY(dropped > 900 && dropped < 1100);
        QCOMPARE(at(tl, 30'030), QList<int> { gap(AttributionGap::Expired) });
        QCOMPARE(at(tl, 70'030), QList<int> { 7 });
        tl.evict(0, 64); // by count
        QCOMPARE(tl.segments(), std::size_t(64));
        const std::vector<OperationInstance> all = instancesOf(tl);
        QVERIFY(all.size() <= 64);
    }

    // Records no writer of ours makes (an Enter at depth 0, depths that jump again and again): the
    // timeline neither rebuilds from them nor grows: past its budget of operations opened unseen,
    // it stops reading and says Mismatch from there on.
    void brokenWriter()
    {
        ScopeTimeline first(1, 1000, -1);
        first.add(enter(1100, 7, 0));
        QCOMPARE(first.mismatches(), quint64(1));
        first.setKnownUntil(2000);
        QCOMPARE(at(first, 1500), QList<int> { gap(AttributionGap::NoRing) }); // still nothing known

        ScopeTimeline tl(1, 1000, 0);
        tl.add(enter(1100, 7, 1));
        tl.add(exitOf(1200, 7, 1, 1100));
        quint32 opened = 0;
        qint64 t = 1300;
        while (!tl.broken() && opened < 10 * ScopeTimeline::PlaceholderBudget) {
            tl.add(enter(t, 8, 1000)); // 999 unseen around it
            tl.add(exitOf(t + 10, 9, 1, 0)); // and all of them gone
            opened += 999;
            t += 100;
        }
        QVERIFY(tl.broken());
        QVERIFY(opened <= ScopeTimeline::PlaceholderBudget + 999);
        tl.add(enter(t + 1000, 7, 1));
        tl.setKnownUntil(t + 5000);
        QCOMPARE(at(tl, 1150), QList<int> { 7 }); // before: as it was
        QCOMPARE(at(tl, t + 2000), QList<int> { gap(AttributionGap::Mismatch) });
        const std::vector<OperationInstance> all = instancesOf(tl);
        QVERIFY(all.size() <= ScopeTimeline::PlaceholderBudget + 2 * std::size_t(t / 100));

        // The budget is per eviction round: a writer that jumps once per round goes on.
        ScopeTimeline ok(1, 1000, 0);
        for (int round = 0; round < 8; ++round) {
            ok.lose(AttributionGap::Overrun, 10);
            ok.add(enter(2000 + round * 100, 8, 3000)); // 2,999 unseen: deep recursion before the loss
            ok.add(exitOf(2010 + round * 100, 8, 3000, 2000 + round * 100));
            ok.add(exitOf(2020 + round * 100, 9, 1, 0)); // the unseen ones end unseen
            ok.evict(0, 1'000'000);
        }
        QVERIFY(!ok.broken());
    }

    // A thread with no transition yet: how deep it is is not known.
    void noTransitionYet()
    {
        ScopeTimeline tl(1, 1000, -1);
        tl.setKnownUntil(2000);
        QCOMPARE(at(tl, 1500), QList<int> { gap(AttributionGap::NoRing) });
        tl.add(exitOf(1600, 7, 1, 1000));
        QCOMPARE(at(tl, 1500), QList<int> { 7 }); // the Exit names what was open
        QCOMPARE(at(tl, 1700), QList<int> {});
        tl.finish(1800);
        QCOMPARE(at(tl, 5000), QList<int> {});
    }
};

QTEST_GUILESS_MAIN(TestScopeTimeline)
#include "tst_scopetimeline.moc"
