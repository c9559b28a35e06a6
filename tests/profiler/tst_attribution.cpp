// SPDX-License-Identifier: GPL-3.0-or-later
// OperationAttribution against a scripted OperationTimeline: contexts, slow versus typical (ended,
// open and past its threshold, open and under it), waiting and its bounds, gaps by reason, wall
// time and CPU share, recursion counted once, the filters and the folded frames.
#include "core/slowthresholds.h"
#include "profiler/operationattribution.h"
#include "profiler/stackaggregate.h"
#include "profiler/symbolizer.h"

#include <QtTest>

#include <unistd.h>

using namespace perfdash;
using Gap = OperationTimeline::Gap;

namespace {
constexpr std::uint64_t ms = 1'000'000;

/// Answers from a script: per thread, instances with their times; a gap per thread if set.
class ScriptedTimeline : public OperationTimeline
{
public:
    struct Scripted
    {
        quint64 tid;
        QString name;
        qint64 startNs;
        qint64 endNs; ///< -1 open
        int depth;
    };
    std::vector<Scripted> instances;
    std::map<quint64, Gap> gaps;
    qint64 knownUntil = 0;
    bool traced = true;
    int asked = 0;

    bool traces(qint64) const override { return traced; }
    std::vector<Answer> activeOperations(qint64, const std::vector<Query>& queries) override
    {
        std::vector<Answer> out;
        for (const Query& q : queries) {
            ++asked;
            Answer a;
            if (auto g = gaps.find(q.tid); g != gaps.end()) {
                a.gap = g->second;
                out.push_back(a);
                continue;
            }
            if (q.timeNs > knownUntil) {
                a.gap = Gap::AskAgain;
                out.push_back(a);
                continue;
            }
            for (const Scripted& s : instances) {
                if (s.tid == q.tid && s.startNs <= q.timeNs && (s.endNs < 0 || s.endNs > q.timeNs)
                    && (s.endNs < 0 || s.endNs <= knownUntil || true))
                    a.stack.push_back({ s.name, quint64(&s - instances.data()) + 1, s.startNs,
                        s.endNs >= 0 && s.endNs <= knownUntil ? s.endNs : -1 });
            }
            std::sort(a.stack.begin(), a.stack.end(),
                [](const Instance& x, const Instance& y) { return x.startNs < y.startNs; });
            a.knownUntilNs = knownUntil;
            out.push_back(a);
        }
        return out;
    }
    void endedInstances(qint64, qint64 fromNs, qint64 toNs,
        const std::function<void(const QString&, qint64, qint64)>& each) const override
    {
        for (const Scripted& s : instances)
            if (s.endNs >= 0 && s.endNs >= fromNs && s.endNs < toNs && s.endNs <= knownUntil)
                each(s.name, s.startNs, s.endNs);
    }
    QString problems(qint64) const override { return {}; }
};

struct Fixture
{
    ScriptedTimeline timeline;
    SlowThresholds thresholds;
    StackAggregate cpu;
    StackAggregate offCpu;
    Symbolizer symbolizer { getpid() };
    std::vector<std::uint64_t> fresh;
    std::unique_ptr<OperationAttribution> attribution;

    Fixture(std::uint64_t startNs = 0)
    {
        thresholds.setDefault(0);
        attribution = std::make_unique<OperationAttribution>(1, &timeline, &thresholds, 2 * ms, startNs);
    }
    /// A sample at @p t on @p tid whose stack is the one address @p pc.
    void sample(quint64 tid, std::uint64_t t, std::uint64_t pc = 0x1000)
    {
        const std::uint64_t pcs[] = { pc };
        const std::uint32_t node = cpu.add({ std::uint32_t(tid), 0, 0 }, t, pcs, &fresh);
        attribution->addSample(std::uint32_t(tid), t, node);
    }
    std::uint64_t count(const QString& operation, InstanceFilter filter, bool off = false)
    {
        ProfileQuery q;
        q.operation = operation;
        q.instances = filter;
        return (off ? offCpu : cpu).snapshot(q, 0, symbolizer, attribution->filter(operation, filter)).totalSamples();
    }
    ProfileStats stats()
    {
        ProfileStats s;
        attribution->fillStats(&s);
        return s;
    }
    const OperationCpu* op(const QString& name)
    {
        static std::vector<OperationCpu> all;
        all = attribution->operations();
        for (const OperationCpu& o : all)
            if (o.operation == name)
                return &o;
        return nullptr;
    }
};
} // namespace

class TestAttribution : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void nestedContexts()
    {
        Fixture f;
        // outer 0-100 ms contains inner 20-30 ms (a short one between others) and inner 50-60 ms.
        f.timeline.instances = { { 7, QStringLiteral("outer"), 0, 100 * ms, 0 },
            { 7, QStringLiteral("inner"), 20 * ms, 30 * ms, 1 }, { 7, QStringLiteral("inner"), 50 * ms, 60 * ms, 1 } };
        f.timeline.knownUntil = 200 * ms;
        for (std::uint64_t t = 1; t < 100; t += 2)
            f.sample(7, t * ms);
        f.sample(7, 150 * ms); // outside any operation
        f.attribution->resolve(f.cpu, f.offCpu, 1000 * ms); // the wall time is read 300 ms behind
        QCOMPARE(f.count(QStringLiteral("outer"), InstanceFilter::All), 50u);
        QCOMPARE(f.count(QStringLiteral("inner"), InstanceFilter::All), 10u); // 21..29 and 51..59: 5 + 5
        const ProfileStats s = f.stats();
        QCOMPARE(s.insideOperations, 50u);
        QCOMPARE(s.outsideOperations, 1u);
        QCOMPARE(s.attributionPending, 0u);
        QCOMPARE(s.unattributedTotal(), 0u);
        // The folded frames: outermost first.
        QStringList frames;
        for (std::uint32_t c : f.cpu.contexts(0, 0))
            frames << f.attribution->foldedFrames(c);
        frames.sort();
        QCOMPARE(frames, QStringList({ QString(), QStringLiteral("[outer]"), QStringLiteral("[outer];[inner]") }));
        // CPU per operation: samples x period, inclusive; wall from the ended instances.
        QCOMPARE(f.op(QStringLiteral("outer"))->samples, 50u);
        QCOMPARE(f.op(QStringLiteral("outer"))->cpuNs, 100 * ms);
        QCOMPARE(f.op(QStringLiteral("inner"))->wallNs, 20 * ms);
        QCOMPARE(f.op(QStringLiteral("inner"))->instances, 2u);
        QCOMPARE(f.op(QStringLiteral("outer"))->cpuShare(), 1.0);
    }

    void slowAndTypical()
    {
        Fixture f;
        f.thresholds.setRules({ { QStringLiteral("req"), 8 * ms } });
        f.timeline.instances = { { 3, QStringLiteral("req"), 0, 5 * ms, 0 },
            { 3, QStringLiteral("req"), 10 * ms, 30 * ms, 0 }, { 3, QStringLiteral("other"), 40 * ms, 100 * ms, 0 } };
        f.timeline.knownUntil = 200 * ms;
        for (std::uint64_t t = 1; t < 30; ++t)
            f.sample(3, t * ms);
        f.sample(3, 50 * ms);
        f.attribution->resolve(f.cpu, f.offCpu, 1000 * ms); // the wall time is read 300 ms behind
        QCOMPARE(f.count(QStringLiteral("req"), InstanceFilter::Slow), 20u); // 10..29
        QCOMPARE(f.count(QStringLiteral("req"), InstanceFilter::Typical), 4u); // 1..4
        QCOMPARE(f.count(QStringLiteral("req"), InstanceFilter::All), 24u);
        QCOMPARE(
            f.count(QStringLiteral("other"), InstanceFilter::Slow), 0u); // no rule: the default (0) makes nothing slow
        QCOMPARE(f.count(QStringLiteral("other"), InstanceFilter::Typical), 1u);
        QCOMPARE(f.count(QStringLiteral("missing"), InstanceFilter::All), 0u);
        QCOMPARE(f.op(QStringLiteral("req"))->slowSamples, 20u);
        QStringList frames;
        for (std::uint32_t c : f.cpu.contexts(0, 0))
            frames << f.attribution->foldedFrames(c);
        QVERIFY(frames.contains(QStringLiteral("[req slow]")));
        QVERIFY(frames.contains(QStringLiteral("[req]")));
    }

    void openInstancesWaitForTheirEnd()
    {
        Fixture f;
        f.thresholds.setRules({ { QStringLiteral("long"), 50 * ms }, { QStringLiteral("short"), 50 * ms } });
        // "long" began at 0 and is open; "short" began at 100 ms and is open; known until 120 ms.
        f.timeline.instances
            = { { 1, QStringLiteral("long"), 0, -1, 0 }, { 2, QStringLiteral("short"), 100 * ms, -1, 0 } };
        f.timeline.knownUntil = 120 * ms;
        f.sample(1, 10 * ms);
        f.sample(2, 110 * ms);
        f.attribution->resolve(f.cpu, f.offCpu, 130 * ms);
        // "long" ran past its threshold already: slow, counted; "short" waits for its end.
        QCOMPARE(f.count(QStringLiteral("long"), InstanceFilter::Slow), 1u);
        QCOMPARE(f.count(QStringLiteral("short"), InstanceFilter::All), 0u);
        QCOMPARE(f.stats().attributionPending, 1u);
        // It ends at 130 ms, under its threshold: typical.
        f.timeline.instances[1].endNs = 130 * ms;
        f.timeline.knownUntil = 140 * ms;
        f.attribution->resolve(f.cpu, f.offCpu, 150 * ms);
        QCOMPARE(f.count(QStringLiteral("short"), InstanceFilter::Typical), 1u);
        QCOMPARE(f.stats().attributionPending, 0u);
    }

    void unknownIsCountedNotGuessed()
    {
        Fixture f;
        f.timeline.gaps[5] = Gap::Overrun;
        f.timeline.gaps[6] = Gap::ThreadUntraced;
        f.timeline.knownUntil = 10 * ms;
        f.sample(5, 1 * ms);
        f.sample(5, 2 * ms);
        f.sample(6, 3 * ms);
        f.sample(8, 50 * ms); // not read yet: waits
        f.attribution->resolve(f.cpu, f.offCpu, 60 * ms);
        ProfileStats s = f.stats();
        QCOMPARE(s.unattributed[std::size_t(Gap::Overrun)], 2u);
        QCOMPARE(s.unattributed[std::size_t(Gap::ThreadUntraced)], 1u);
        QCOMPARE(s.attributionPending, 1u);
        QCOMPARE(s.insideOperations + s.outsideOperations, 0u);
        // Still unread after the patience: counted as such, not put anywhere.
        f.attribution->resolve(f.cpu, f.offCpu, 50 * ms + OperationAttribution::kPatienceNs + 1);
        s = f.stats();
        QCOMPARE(s.attributionPending, 0u);
        QCOMPARE(s.unattributed[std::size_t(Gap::AskAgain)], 1u);
        QCOMPARE(s.unattributedTotal(), 4u);
        QVERIFY(f.cpu.contexts(0, 0).empty());
    }

    void finalResolvesEverything()
    {
        Fixture f;
        f.thresholds.setRules({ { QStringLiteral("op"), 50 * ms } });
        f.timeline.instances = { { 1, QStringLiteral("op"), 0, -1, 0 } };
        f.timeline.knownUntil = 10 * ms;
        f.sample(1, 5 * ms); // open, under its threshold so far
        f.sample(1, 20 * ms); // not read yet
        f.attribution->resolve(f.cpu, f.offCpu, 30 * ms);
        QCOMPARE(f.stats().attributionPending, 2u);
        f.attribution->resolve(f.cpu, f.offCpu, 31 * ms, true);
        const ProfileStats s = f.stats();
        QCOMPARE(s.attributionPending, 0u);
        QCOMPARE(
            f.count(QStringLiteral("op"), InstanceFilter::Typical), 1u); // under its threshold when the profile ended
        QCOMPARE(s.unattributed[std::size_t(Gap::AskAgain)], 1u);
    }

    void recursionCountedOnce()
    {
        Fixture f;
        f.timeline.instances = { { 1, QStringLiteral("walk"), 0, 100 * ms, 0 },
            { 1, QStringLiteral("walk"), 10 * ms, 90 * ms, 1 }, { 1, QStringLiteral("walk"), 20 * ms, 80 * ms, 2 } };
        f.timeline.knownUntil = 200 * ms;
        f.sample(1, 50 * ms);
        f.attribution->resolve(f.cpu, f.offCpu, 1000 * ms); // the wall time is read 300 ms behind
        QCOMPARE(f.op(QStringLiteral("walk"))->samples, 1u);
        QCOMPARE(f.count(QStringLiteral("walk"), InstanceFilter::All), 1u);
        QCOMPARE(f.op(QStringLiteral("walk"))->instances, 3u);
    }

    void instancesBeforeProfilingLeftOutOfTheShare()
    {
        Fixture f(50 * ms); // profiling began at 50 ms
        f.timeline.instances
            = { { 1, QStringLiteral("op"), 0, 100 * ms, 0 }, { 1, QStringLiteral("op"), 200 * ms, 210 * ms, 0 } };
        f.timeline.knownUntil = 300 * ms;
        f.sample(1, 60 * ms); // inside the instance that began before profiling
        f.sample(1, 205 * ms);
        f.attribution->resolve(f.cpu, f.offCpu, 1000 * ms);
        QCOMPARE(f.count(QStringLiteral("op"), InstanceFilter::All), 2u); // both in its profile
        QCOMPARE(f.op(QStringLiteral("op"))->samples, 1u); // one against the wall time of the instance seen whole
        QCOMPARE(f.op(QStringLiteral("op"))->wallNs, 10 * ms);
        QCOMPARE(f.op(QStringLiteral("op"))->instances, 1u);
    }

    void offCpuIntervals()
    {
        Fixture f;
        f.timeline.instances = { { 4, QStringLiteral("wait"), 0, 100 * ms, 0 } };
        f.timeline.knownUntil = 200 * ms;
        const std::uint64_t pcs[] = { 0x2000 };
        const std::uint32_t node = f.offCpu.intern(pcs, &f.fresh);
        f.offCpu.count({ 4, 0, node }, 10 * ms, 10'000);
        f.attribution->addOffCpu(4, 10 * ms, node, 10'000, 10 * ms);
        f.attribution->resolve(f.cpu, f.offCpu, 1000 * ms); // the wall time is read 300 ms behind
        QCOMPARE(f.count(QStringLiteral("wait"), InstanceFilter::All, true), 10'000u);
        QCOMPARE(f.op(QStringLiteral("wait"))->offCpuNs, 10 * ms);
        QCOMPARE(f.op(QStringLiteral("wait"))->samples, 0u);
        QCOMPARE(f.stats().insideOperations, 0u); // off-CPU intervals are not samples
    }

    void notTracedProcess()
    {
        Fixture f;
        f.timeline.traced = false;
        f.timeline.gaps[1] = Gap::NotTraced;
        f.sample(1, 1 * ms);
        f.attribution->resolve(f.cpu, f.offCpu, 10 * ms);
        const ProfileStats s = f.stats();
        QVERIFY(!s.operationsTraced);
        QCOMPARE(s.unattributed[std::size_t(Gap::NotTraced)], 1u);
        QCOMPARE(f.cpu.samples(), 1u); // the process's own profile has it
    }

    void slowRuleParsing()
    {
        QString error;
        const auto rule = SlowThresholds::parse(QStringLiteral("http.GET /users:50ms"), &error);
        QVERIFY(rule);
        QCOMPARE(rule->pattern, QStringLiteral("http.GET /users"));
        QCOMPARE(rule->slowNs, 50 * ms);
        const auto colons = SlowThresholds::parse(QStringLiteral("redis:GET:1.5ms"), &error);
        QVERIFY(colons);
        QCOMPARE(colons->pattern, QStringLiteral("redis:GET"));
        QCOMPARE(colons->slowNs, 1'500'000u);
        QVERIFY(!SlowThresholds::parse(QStringLiteral("nopattern"), &error));
        QVERIFY(error.contains(QStringLiteral("PATTERN:DURATION")));
        QVERIFY(!SlowThresholds::parse(QStringLiteral("x:fast"), &error));
        QVERIFY(!SlowThresholds::parse(QStringLiteral(":5ms"), &error));
        QVERIFY(!SlowThresholds::parse(QStringLiteral("x:0ms"), &error));
        SlowThresholds t;
        t.setDefault(100 * ms);
        t.setRules({ { QStringLiteral("db.*"), 5 * ms }, { QStringLiteral("db.query"), 7 * ms },
            { QStringLiteral("db.q*"), 6 * ms } });
        QCOMPARE(t.thresholdFor(QStringLiteral("db.query")), 7 * ms); // exact first
        QCOMPARE(t.thresholdFor(QStringLiteral("db.qx")), 6 * ms); // then the longest pattern
        QCOMPARE(t.thresholdFor(QStringLiteral("db.open")), 5 * ms);
        QCOMPARE(t.thresholdFor(QStringLiteral("http.GET")), 100 * ms);
    }
};

QTEST_GUILESS_MAIN(TestAttribution)
#include "tst_attribution.moc"
