// SPDX-License-Identifier: GPL-3.0-or-later
// Scope rings end to end: a real instrumented process (tests/helpers/scopetarget.cpp) is asked to
// record its scope transitions (PROFILE), answers with its rings (RINGS), and ScopeRingReader
// rebuilds its operation instances on CLOCK_MONOTONIC and attributes instants to them, against
// the process's own clock readings around each scope.
#include "core/metricsstore.h"
#include "ipc/ingestserver.h"
#include "ipc/scoperingreader.h"

#include <QCoreApplication>
#include <QProcess>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>

#include <map>

using namespace perfdash;

namespace {
QString s(const char* text)
{
    return QString::fromUtf8(text);
}

/// What the helper printed for one timed scope.
struct Truth
{
    QString name;
    quint64 tid = 0;
    qint64 t0 = 0, t1 = 0, t2 = 0, t3 = 0;
};

// The helper's readings and the scope's own are a few hundred nanoseconds apart; the conversion
// of counter ticks to CLOCK_MONOTONIC adds well under a microsecond. Slack for a loaded machine's
// preemption between a reading and the scope is not needed: those widen [t0, t1] themselves.
constexpr qint64 ToleranceNs = 5'000;

class Target
{
public:
    Target(IngestServer& server, const QString& socket, const QStringList& args, quint32 ringEntries = 0)
    {
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.insert(s("PERFDASH_SOCKET"), socket);
        env.insert(s("PERFDASH_SAMPLE_RATE"), s("0"));
        m_process.setProcessEnvironment(env);
        m_process.setProcessChannelMode(QProcess::ForwardedErrorChannel);
        m_process.start(QCoreApplication::applicationDirPath() + s("/perfdash_test_scopetarget"), args);
        m_process.waitForStarted(10'000);
        server.setProfiled(pid(), true, ringEntries); // before it connects: asked with the welcome
    }
    ~Target()
    {
        if (m_process.state() != QProcess::NotRunning) {
            m_process.write("quit\n");
            m_process.closeWriteChannel();
            if (!m_process.waitForFinished(10'000))
                m_process.kill();
            m_process.waitForFinished(10'000);
        }
    }
    qint64 pid() const { return m_process.processId(); }
    void send(const char* line) { m_process.write(line); }
    /// Reads lines until one equals @p line; the "op" lines on the way are kept.
    bool waitFor(const QString& line, int timeoutMs = 60'000)
    {
        QElapsedTimer timer;
        timer.start();
        while (timer.elapsed() < timeoutMs) {
            while (m_process.canReadLine()) {
                const QString l = QString::fromUtf8(m_process.readLine()).trimmed();
                const QStringList f = l.split(QLatin1Char(' '));
                if (f.size() == 7 && f[0] == s("op"))
                    truths.push_back({ f[1], f[2].toULongLong(), f[3].toLongLong(), f[4].toLongLong(),
                        f[5].toLongLong(), f[6].toLongLong() });
                else if (f.size() == 3 && f[0] == s("tiny"))
                    tiny = { f[1].toLongLong(), f[2].toLongLong() };
                if (l == line)
                    return true;
            }
            if (m_process.state() == QProcess::NotRunning)
                return false;
            m_process.waitForReadyRead(100);
        }
        return false;
    }
    std::vector<Truth> truths;
    std::pair<qint64, qint64> tiny { 0, 0 };

private:
    QProcess m_process;
};

QStringList names(const Attribution& a)
{
    QStringList list;
    for (const Attribution::Frame& f : a.stack)
        list << f.name;
    return list;
}
} // namespace

class TestScopeRings : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void init()
    {
        QVERIFY(m_dir.isValid());
        m_socket = m_dir.filePath(s("perfdash.sock"));
        m_store = std::make_unique<MetricsStore>();
        m_server = std::make_unique<IngestServer>(m_store.get());
        QString error;
        QVERIFY2(m_server->listen(m_socket, &error), qPrintable(error));
        m_reader = std::make_unique<ScopeRingReader>();
        connect(
            m_server.get(), &IngestServer::scopeRingsOffered, m_reader.get(),
            [reader = m_reader.get()](qint64 pid, const protocol::Rings& rings) { reader->offer(pid, rings); },
            Qt::DirectConnection);
    }

    void cleanup()
    {
        m_reader.reset();
        m_server.reset();
        m_store.reset();
    }

    // Nested operations, a 150 us one between two others, work outside them, and an operation
    // that began before tracing: instances to the microsecond, instants attributed exactly.
    void instancesAndAttribution()
    {
        m_reader->start(5);
        Target target(*m_server, m_socket, { s("scenario") });
        QVERIFY(target.waitFor(s("ready")));
        QTRY_VERIFY_WITH_TIMEOUT(m_reader->hasProcess(target.pid()), 20'000);
        const ScopeRingReader::Stats started = m_reader->stats(target.pid());
        QVERIFY2(started.error.isEmpty(), qPrintable(started.error));
        target.send("go\n");
        QVERIFY(target.waitFor(s("scenario")));
        QCOMPARE(target.truths.size(), std::size_t(20 * 5));
        const quint64 tid = target.truths.front().tid;

        // The instances, each within the helper's readings around its scope. The reader's thread
        // polls on its own; poll() here as well, so that a busy machine only makes this slower.
        std::map<QString, std::vector<Attribution::Frame>> byName;
        const auto collect = [&] {
            m_reader->poll();
            byName.clear();
            for (const ThreadInstances& t : m_reader->instances(target.pid())) {
                if (t.tid != tid)
                    return false;
                for (const auto& f : t.instances)
                    if (f.instance.identified)
                        byName[f.name].push_back(f);
            }
            for (const char* name : { "test.outer", "test.inner", "test.before", "test.short", "test.after" })
                if (byName[s(name)].size() != 20)
                    return false;
            return true;
        };
        QTRY_VERIFY_WITH_TIMEOUT(collect(), 20'000);
        QCOMPARE(byName.size(), std::size_t(5)); // every identified instance named
        std::map<QString, int> seen;
        for (const Truth& t : target.truths) {
            const Attribution::Frame& f = byName[t.name][std::size_t(seen[t.name]++)];
            QVERIFY2(f.instance.startNs >= t.t0 - ToleranceNs && f.instance.startNs <= t.t1 + ToleranceNs,
                qPrintable(
                    s("%1 started at %2, between %3 and %4").arg(t.name).arg(f.instance.startNs).arg(t.t0).arg(t.t1)));
            QVERIFY2(f.instance.endNs >= t.t2 - ToleranceNs && f.instance.endNs <= t.t3 + ToleranceNs,
                qPrintable(
                    s("%1 ended at %2, between %3 and %4").arg(t.name).arg(f.instance.endNs).arg(t.t2).arg(t.t3)));
            QVERIFY(!f.instance.open && !f.instance.late && !f.instance.clockTrouble);
            QCOMPARE(f.instance.depth, t.name == s("test.inner") ? 2 : 1); // inside test.session (depth 0)
        }

        // Instants: inside test.inner, inside the 150 us operation, and between rounds. The
        // session began before tracing: until it ends, the operation around them is not known.
        std::vector<AttributionQuery> queries;
        std::vector<QStringList> expected;
        for (const Truth& t : target.truths) {
            if (t.name == s("test.inner") || t.name == s("test.short")) {
                queries.push_back({ tid, (t.t1 + t.t2) / 2 });
                expected.push_back(t.name == s("test.inner")
                        ? QStringList { s("test.session"), s("test.outer"), t.name }
                        : QStringList { s("test.session"), t.name });
            } else if (t.name == s("test.outer")) {
                queries.push_back({ tid, t.t3 + 100'000 }); // in the 200 us outside any operation
                expected.push_back({ s("test.session") });
            }
        }
        for (const Attribution& a : m_reader->attribute(target.pid(), queries)) {
            QCOMPARE(a.gap, AttributionGap::OpenBeforeTracing);
            QVERIFY(a.stack.empty()); // the inner operations are known, the stack is not
        }

        target.send("end\n");
        QVERIFY(target.waitFor(s("done")));
        QTRY_VERIFY_WITH_TIMEOUT(
            m_reader->attribute(target.pid(), queries).front().gap == AttributionGap::None, 20'000);
        const std::vector<Attribution> answers = m_reader->attribute(target.pid(), queries);
        for (std::size_t i = 0; i < answers.size(); ++i) {
            QCOMPARE(answers[i].gap, AttributionGap::None);
            QCOMPARE(names(answers[i]), expected[i]);
        }
        const Truth& session = target.truths.back();
        QCOMPARE(session.name, s("test.session"));
        const Attribution::Frame& outer = answers.front().stack.front();
        QVERIFY(outer.instance.late);
        QVERIFY(
            outer.instance.startNs >= session.t0 - ToleranceNs && outer.instance.startNs <= session.t1 + ToleranceNs);
        QVERIFY(outer.instance.endNs >= session.t2 - ToleranceNs && outer.instance.endNs <= session.t3 + ToleranceNs);

        // Before tracing; a thread that never recorded; a process that is not instrumented.
        const std::vector<Attribution> other = m_reader->attribute(
            target.pid(), { { tid, started.sessionStartNs - 1'000'000 }, { tid + 100'000, target.truths.front().t1 } });
        QCOMPARE(other[0].gap, AttributionGap::BeforeTracing);
        QCOMPARE(other[1].gap, AttributionGap::NoRing);
        QCOMPARE(
            m_reader->attribute(1, { { 1, target.truths.front().t1 } }).front().gap, AttributionGap::NotInstrumented);
        const ScopeRingReader::Stats st = m_reader->stats(target.pid());
        QCOMPARE(st.overruns, quint64(0));
        QCOMPARE(st.mismatches, quint64(0));
        QCOMPARE(st.clockTroubles, quint64(0));
    }

    // A ring of 256 records and a thread that writes 20,000 before anyone reads: the lost span is
    // counted and answered as such, what follows is known again.
    void overrun()
    {
        Target target(*m_server, m_socket, { s("overrun"), s("10000") }, 256); // the reader polls by hand
        QVERIFY(target.waitFor(s("ready")));
        QTRY_VERIFY_WITH_TIMEOUT(m_reader->hasProcess(target.pid()), 20'000);
        target.send("go\n");
        QVERIFY(target.waitFor(s("done")));
        m_reader->poll();
        const ScopeRingReader::Stats st = m_reader->stats(target.pid());
        QCOMPARE(st.overrunRecords, quint64(20'000 + 2 - 256)); // 10,000 scopes and test.last, less one ring
        QVERIFY(st.overruns >= 1);
        const Truth& last = target.truths.back();
        QCOMPARE(last.name, s("test.last"));
        const auto [tinyStart, tinyEnd] = target.tiny;
        // Names come with the client's next interval (this reader polls only when asked).
        QTRY_VERIFY_WITH_TIMEOUT(
            (m_reader->poll(), m_reader->operationName(target.pid(), 1) == s("test.last")), 20'000);
        // Right after the first scope (which claimed the ring), in what the others overwrote.
        QVERIFY(tinyEnd > tinyStart);
        const std::vector<Attribution> a = m_reader->attribute(target.pid(),
            { { last.tid, tinyStart }, { last.tid, (last.t1 + last.t2) / 2 }, { last.tid, last.t3 + 10'000 } });
        QCOMPARE(a[0].gap, AttributionGap::Overrun);
        QCOMPARE(a[1].gap, AttributionGap::None);
        QCOMPARE(names(a[1]), QStringList { s("test.last") });
        QCOMPARE(a[2].gap, AttributionGap::None);
        QVERIFY(a[2].stack.empty());
    }

    // Threads that start and end, more of them at once than the client has rings (1024): those
    // that find none are counted and answered NoRing, their operations still counted; a second
    // wave gets the rings the first gave back.
    void threadsAndRings()
    {
        m_reader->start(5);
        Target target(*m_server, m_socket, { s("threads"), s("1030") });
        QVERIFY(target.waitFor(s("ready")));
        QTRY_VERIFY_WITH_TIMEOUT(m_reader->hasProcess(target.pid()), 20'000);
        target.send("go\n");
        QVERIFY(target.waitFor(s("done"), 120'000));
        QCOMPARE(target.truths.size(), std::size_t(2 * 1030));
        std::vector<AttributionQuery> queries;
        for (const Truth& t : target.truths)
            queries.push_back({ t.tid, (t.t1 + t.t2) / 2 });
        QTRY_VERIFY_WITH_TIMEOUT((m_reader->poll(), !m_reader->operationName(target.pid(), 0).isEmpty()), 20'000);
        int known = 0, ringless = 0;
        for (const Attribution& a : m_reader->attribute(target.pid(), queries)) {
            if (a.gap == AttributionGap::None) {
                QCOMPARE(names(a), QStringList { s("test.thread") });
                ++known;
            } else {
                QCOMPARE(a.gap, AttributionGap::NoRing);
                ++ringless;
            }
        }
        const ScopeRingReader::Stats st = m_reader->stats(target.pid());
        QCOMPARE(known, 2 * 1024);
        QCOMPARE(ringless, 2 * 6);
        QCOMPARE(st.ringless, quint64(2 * 6));
        QCOMPARE(st.untracedScopes, quint64(2 * 6));
        QCOMPARE(st.overruns, quint64(0));
        QCOMPARE(st.mismatches, quint64(0));
        // Untraced or not, every operation is in the histograms.
        QTRY_COMPARE_WITH_TIMEOUT(
            [&] {
                for (const ProcessInfo& p : m_store->processes())
                    if (p.pid == target.pid())
                        if (const auto stats = m_store->sharedMonitor(p.key)->stats(s("test.thread")))
                            return stats->count;
                return quint64(0);
            }(),
            quint64(2 * 1030), 20'000);
    }

private:
    QTemporaryDir m_dir;
    QString m_socket;
    std::unique_ptr<MetricsStore> m_store;
    std::unique_ptr<IngestServer> m_server;
    std::unique_ptr<ScopeRingReader> m_reader;
};

QTEST_GUILESS_MAIN(TestScopeRings)
#include "tst_scoperings.moc"
