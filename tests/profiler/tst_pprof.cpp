// SPDX-License-Identifier: GPL-3.0-or-later
// The pprof export, decoded with google's own profile.proto (tests/profiler/proto,
// compiled by protoc for this test only): a profile built by hand, where every value and label is
// known; a real target profiled live (tests/helpers/profiletarget.cpp: 3/4 of its CPU in
// target::hotFunction, 1/4 in target::coldFunction, target::spin inlined into both); and
// `perfdash --headless --export-pprof` on an instrumented workload (tests/helpers/opworkload.cpp),
// whose samples carry their operations as labels. Where Go is installed, `go tool pprof -top`
// reads the files too.
#include "profiler/pprofexport.h"
#include "profiler/processprofiler.h"
#include "profiler/profiler.h"
#include "tests/helpers/programrun.h"

#include "proto/profile.pb.h"

#include <QDir>
#include <QFile>
#include <QProcess>
#include <QRegularExpression>
#include <QSet>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>

#include <zlib.h>

#include <memory>

using namespace perfdash;
namespace pb = perftools::profiles;

namespace {
const QString kBin = QStringLiteral(PERFDASH_BIN_DIR);

QByteArray gunzip(const QByteArray& data)
{
    z_stream stream {};
    if (inflateInit2(&stream, 15 + 16) != Z_OK)
        return {};
    QByteArray out;
    stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.constData()));
    stream.avail_in = uInt(data.size());
    int result = Z_OK;
    char buffer[65536];
    while (result == Z_OK) {
        stream.next_out = reinterpret_cast<Bytef*>(buffer);
        stream.avail_out = sizeof buffer;
        result = inflate(&stream, Z_NO_FLUSH);
        out.append(buffer, qsizetype(sizeof buffer - stream.avail_out));
    }
    inflateEnd(&stream);
    return result == Z_STREAM_END ? out : QByteArray();
}

/// The gzipped file at @p path decoded; false (with why) when it is not a pprof profile.
bool readProfile(const QString& path, pb::Profile* profile, QString* why)
{
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly)) {
        *why = QStringLiteral("cannot open ") + path;
        return false;
    }
    const QByteArray raw = file.readAll();
    if (raw.size() < 2 || quint8(raw[0]) != 0x1f || quint8(raw[1]) != 0x8b) {
        *why = QStringLiteral("not gzip");
        return false;
    }
    const QByteArray data = gunzip(raw);
    if (data.isEmpty() || !profile->ParseFromArray(data.constData(), int(data.size()))) {
        *why = QStringLiteral("not a Profile message");
        return false;
    }
    return true;
}

/// The profile with its ids resolved, as a reader of it sees it.
struct Decoded
{
    const pb::Profile& p;
    QHash<quint64, const pb::Location*> locations;
    QHash<quint64, const pb::Function*> functions;
    QHash<quint64, const pb::Mapping*> mappings;

    explicit Decoded(const pb::Profile& profile)
        : p(profile)
    {
        for (const pb::Location& l : p.location())
            locations.insert(l.id(), &l);
        for (const pb::Function& f : p.function())
            functions.insert(f.id(), &f);
        for (const pb::Mapping& m : p.mapping())
            mappings.insert(m.id(), &m);
    }
    QString str(qint64 index) const
    {
        return index >= 0 && index < p.string_table_size() ? QString::fromStdString(p.string_table(int(index)))
                                                           : QStringLiteral("<bad string index>");
    }
    QString functionName(quint64 id) const
    {
        const pb::Function* f = functions.value(id);
        return f ? str(f->name()) : QString();
    }
    /// The function names of a sample's stack, leaf first, inlined frames expanded.
    QStringList frames(const pb::Sample& s) const
    {
        QStringList out;
        for (quint64 id : s.location_id()) {
            if (const pb::Location* l = locations.value(id)) {
                for (const pb::Line& line : l->line())
                    out << functionName(line.function_id());
            }
        }
        return out;
    }
    /// The string label @p key of @p s (empty when absent).
    QString label(const pb::Sample& s, const char* key) const
    {
        for (const pb::Label& l : s.label()) {
            if (str(l.key()) == QLatin1String(key))
                return str(l.str());
        }
        return {};
    }
    /// The number label @p key of @p s (-1 when absent).
    qint64 numLabel(const pb::Sample& s, const char* key) const
    {
        for (const pb::Label& l : s.label()) {
            if (str(l.key()) == QLatin1String(key))
                return l.num();
        }
        return -1;
    }
    QStringList sampleTypes() const
    {
        QStringList out;
        for (const pb::ValueType& t : p.sample_type())
            out << str(t.type()) + QLatin1Char('/') + str(t.unit());
        return out;
    }
};

/// What every pprof file must hold whatever it profiled; empty when it does.
QString checkWellFormed(const Decoded& d)
{
    if (d.p.string_table_size() == 0 || !d.p.string_table(0).empty())
        return QStringLiteral("string_table[0] is not \"\"");
    for (const pb::Sample& s : d.p.sample()) {
        if (s.value_size() != d.p.sample_type_size())
            return QStringLiteral("a sample with %1 values for %2 types")
                .arg(s.value_size())
                .arg(d.p.sample_type_size());
        for (quint64 id : s.location_id()) {
            if (!d.locations.contains(id))
                return QStringLiteral("a sample's location %1 does not exist").arg(id);
        }
    }
    for (const pb::Location& l : d.p.location()) {
        if (l.mapping_id() != 0 && !d.mappings.contains(l.mapping_id()))
            return QStringLiteral("location %1's mapping %2 does not exist").arg(l.id()).arg(l.mapping_id());
        if (const pb::Mapping* m = d.mappings.value(l.mapping_id());
            m && (l.address() < m->memory_start() || l.address() >= m->memory_limit()))
            return QStringLiteral("location %1 is outside its mapping").arg(l.id());
        for (const pb::Line& line : l.line()) {
            if (!d.functions.contains(line.function_id()))
                return QStringLiteral("location %1's function %2 does not exist").arg(l.id()).arg(line.function_id());
        }
    }
    return {};
}

/// `go tool pprof -top FILE` exits 0; skipped (true, @p skipped set) where Go is not installed.
bool goPprofReads(const QString& path, QString* output, bool* skipped)
{
    const QString go = QStandardPaths::findExecutable(QStringLiteral("go"));
    *skipped = go.isEmpty();
    if (go.isEmpty())
        return true;
    QProcess process;
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    env.insert(QStringLiteral("HOME"), QDir::tempPath()); // go wants a cache directory
    process.setProcessEnvironment(env);
    process.start(go, { QStringLiteral("tool"), QStringLiteral("pprof"), QStringLiteral("-top"), path });
    if (!process.waitForFinished(120000)) {
        process.kill();
        process.waitForFinished();
        *output = QStringLiteral("go tool pprof did not finish");
        return false;
    }
    *output = QString::fromUtf8(process.readAllStandardOutput() + process.readAllStandardError());
    return process.exitStatus() == QProcess::NormalExit && process.exitCode() == 0;
}

/// Starts the profile target and waits for its "ready".
std::unique_ptr<QProcess> startTarget(const QString& program)
{
    return perfdash::testing::startReady(program);
}

/// The GNU build id of @p path as readelf prints it; empty when unknown.
QString readelfBuildId(const QString& path)
{
    QProcess readelf;
    readelf.start(QStringLiteral("readelf"), { QStringLiteral("-n"), path });
    if (!readelf.waitForFinished(30000))
        return {};
    const QRegularExpression id(QStringLiteral("Build ID: ([0-9a-f]+)"));
    const QRegularExpressionMatch match = id.match(QString::fromUtf8(readelf.readAllStandardOutput()));
    return match.hasMatch() ? match.captured(1) : QString();
}
} // namespace

class TestPprof : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase();
    void encodedByHand();
    void liveTargetProfile();
    void operationsAsLabels();

private:
    QTemporaryDir m_dir;
};

void TestPprof::initTestCase()
{
    QVERIFY(m_dir.isValid());
    QVERIFY2(QFile::exists(kBin + QStringLiteral("/perfdash")), qPrintable(kBin));
}

void TestPprof::encodedByHand()
{
    // One process: a module, two addresses (one with an inlined frame), a CPU sample inside
    // [op.outer];[op.inner slow], one whose operations could not be known, and an off-CPU interval.
    PprofProcess p;
    p.pid = 4242;
    p.name = QStringLiteral("svc");
    p.frequencyHz = 1000; // 1 ms a sample
    p.durationNs = 5'000'000'000ull;
    p.functions = { { QStringLiteral("main"), QStringLiteral("svc"), QStringLiteral("main.cpp:10"), false },
        { QStringLiteral("work(int)"), QStringLiteral("svc"), QStringLiteral("work.cpp:20"), false },
        { QStringLiteral("inner()"), QStringLiteral("svc"), QStringLiteral("work.h:5"), true } };
    p.frames[0x1100] = { { 0, 12 } };
    p.frames[0x1200] = { { 2, 6 }, { 1, 22 } }; // innermost first: inner() inlined into work()
    p.modules = { { QStringLiteral("/usr/bin/svc"), 0x1000, 0x2000, 0, QByteArray("abcdef0123") } };
    p.stacks = { { 0x1200, 0x1100 }, { 0x1100 } };
    p.operations = { {}, { { QStringLiteral("op.outer"), false }, { QStringLiteral("op.inner"), true } } };
    p.threadNames = { { 7, QStringLiteral("worker") } };
    p.offCpuRecorded = true;
    p.samples = { { 0, 7, 1, 30, 0, false }, { 1, 8, 0, 10, 0, true }, { 1, 7, 0, 0, 2'500'000, false } };

    const QByteArray data = pprofexport::encode({ p }, 1'700'000'000'000'000'000ll);
    pb::Profile profile;
    QVERIFY(profile.ParseFromArray(data.constData(), int(data.size())));
    const Decoded d(profile);
    QCOMPARE(checkWellFormed(d), QString());
    QCOMPARE(d.sampleTypes(),
        QStringList({ QStringLiteral("samples/count"), QStringLiteral("cpu/nanoseconds"),
            QStringLiteral("off_cpu/nanoseconds") }));
    QCOMPARE(d.str(profile.period_type().type()), QStringLiteral("cpu"));
    QCOMPARE(profile.period(), 1'000'000);
    QCOMPARE(profile.time_nanos(), 1'700'000'000'000'000'000ll);
    QCOMPARE(profile.duration_nanos(), 5'000'000'000ll);
    QCOMPARE(d.str(profile.default_sample_type()), QStringLiteral("cpu"));
    QCOMPARE(profile.mapping_size(), 1);
    QCOMPARE(d.str(profile.mapping(0).filename()), QStringLiteral("/usr/bin/svc"));
    QCOMPARE(d.str(profile.mapping(0).build_id()), QStringLiteral("abcdef0123"));
    QCOMPARE(profile.location_size(), 2);
    QCOMPARE(profile.sample_size(), 3);

    const pb::Sample& inside = profile.sample(0);
    QCOMPARE(d.frames(inside),
        QStringList({ QStringLiteral("inner()"), QStringLiteral("work(int)"), QStringLiteral("main") })); // leaf first
    const pb::Location* leaf = d.locations.value(inside.location_id(0));
    QVERIFY(leaf);
    QCOMPARE(leaf->address(), quint64(0x1200));
    QCOMPARE(leaf->mapping_id(), profile.mapping(0).id());
    QCOMPARE(leaf->line(0).line(), 6);
    QCOMPARE(leaf->line(1).line(), 22);
    QCOMPARE(d.str(d.functions.value(leaf->line(1).function_id())->filename()), QStringLiteral("work.cpp"));
    QCOMPARE(inside.value(0), 30);
    QCOMPARE(inside.value(1), 30'000'000);
    QCOMPARE(inside.value(2), 0);
    QCOMPARE(d.numLabel(inside, "pid"), 4242);
    QCOMPARE(d.label(inside, "process"), QStringLiteral("svc"));
    QCOMPARE(d.numLabel(inside, "thread_id"), 7);
    QCOMPARE(d.label(inside, "thread_name"), QStringLiteral("worker"));
    QCOMPARE(d.label(inside, "operation"), QStringLiteral("op.inner"));
    QCOMPARE(d.label(inside, "operation_stack"), QStringLiteral("[op.outer];[op.inner slow]"));
    QCOMPARE(d.label(inside, "slow"), QStringLiteral("true"));

    const pb::Sample& outside = profile.sample(1);
    QCOMPARE(d.label(inside, "unattributed"), QString());
    QCOMPARE(d.numLabel(outside, "thread_id"), 8);
    QCOMPARE(d.label(outside, "thread_name"), QString()); // not known: no label
    QCOMPARE(d.label(outside, "operation"), QString());
    QCOMPARE(d.label(outside, "slow"), QString());
    QCOMPARE(d.label(outside, "unattributed"), QStringLiteral("true"));
    QCOMPARE(outside.value(1), 10'000'000);

    const pb::Sample& off = profile.sample(2);
    QCOMPARE(off.value(0), 0);
    QCOMPARE(off.value(1), 0);
    QCOMPARE(off.value(2), 2'500'000);

    // gzip round trip, and what is written is a file pprof reads.
    QCOMPARE(gunzip(pprofexport::gzip(data)), data);
    const QString path = m_dir.filePath(QStringLiteral("byhand.pb.gz"));
    QString error;
    QVERIFY2(pprofexport::writeFile(path, { p }, 1, &error), qPrintable(error));
    QCOMPARE(QFile::permissions(path) & (QFileDevice::ReadGroup | QFileDevice::ReadOther), QFileDevice::Permissions());
    pb::Profile reread;
    QVERIFY2(readProfile(path, &reread, &error), qPrintable(error));
    QCOMPARE(reread.sample_size(), 3);
    bool skipped = false;
    QString output;
    QVERIFY2(goPprofReads(path, &output, &skipped), qPrintable(output));

    // Without off-CPU recorded, two sample types only.
    p.offCpuRecorded = false;
    p.samples.pop_back();
    const QByteArray cpuOnly = pprofexport::encode({ p }, 0);
    pb::Profile two;
    QVERIFY(two.ParseFromArray(cpuOnly.constData(), int(cpuOnly.size())));
    QCOMPARE(two.sample_type_size(), 2);
    QCOMPARE(two.sample(0).value_size(), 2);
}

void TestPprof::liveTargetProfile()
{
    const QString program = kBin + QStringLiteral("/perfdash_profile_target_fp");
    auto target = startTarget(program);
    QVERIFY(target);
    const qint64 pid = target->processId();
    Profiler profiler;
    profiler.setFrequency(999);
    QString error;
    ProcessProfiler* profiled = profiler.profile(pid, &error);
    QVERIFY2(profiled, qPrintable(error));
    QTRY_VERIFY_WITH_TIMEOUT(profiled->samples() >= 2000, 60000);
    profiler.stopAll();
    target->closeWriteChannel();
    if (!target->waitForFinished(10000))
        target->kill();

    const QString path = m_dir.filePath(QStringLiteral("target.pb.gz"));
    QVERIFY2(profiler.writePprof(path, &error), qPrintable(error));
    pb::Profile profile;
    QVERIFY2(readProfile(path, &profile, &error), qPrintable(error));
    const Decoded d(profile);
    QCOMPARE(checkWellFormed(d), QString());
    QVERIFY(d.sampleTypes().size() >= 2);
    QCOMPARE(
        d.sampleTypes().mid(0, 2), QStringList({ QStringLiteral("samples/count"), QStringLiteral("cpu/nanoseconds") }));
    QCOMPARE(d.str(profile.period_type().type()) + QLatin1Char('/') + d.str(profile.period_type().unit()),
        QStringLiteral("cpu/nanoseconds"));
    const qint64 period = 1'000'000'000ll / profiled->frequencyHz();
    QCOMPARE(profile.period(), period);
    QVERIFY(profile.time_nanos() > 0);

    // The target's functions, named, with their file and line (a -g build).
    QSet<QString> named;
    for (const pb::Function& f : profile.function()) {
        const QString name = d.str(f.name());
        if (name.startsWith(QLatin1String("target::"))) {
            QCOMPARE(d.str(f.filename()), QStringLiteral("profiletarget.cpp"));
            named.insert(name.section(QLatin1Char('('), 0, 0));
        }
    }
    for (const char* expected : { "target::hotFunction", "target::coldFunction", "target::workerLoop", "target::spin" })
        QVERIFY2(named.contains(QLatin1String(expected)), expected);

    // Its addresses: in the target's mapping, with its build id; target::spin is an inlined line
    // above hotFunction or coldFunction in one location.
    const QString buildId = readelfBuildId(program);
    bool inlinedSeen = false;
    int targetLocations = 0;
    for (const pb::Location& l : profile.location()) {
        if (l.line_size() == 0
            || !d.functionName(l.line(l.line_size() - 1).function_id()).startsWith(QLatin1String("target::")))
            continue;
        ++targetLocations;
        const pb::Mapping* m = d.mappings.value(l.mapping_id());
        QVERIFY2(m, "a location of the target has no mapping");
        QCOMPARE(d.str(m->filename()), program);
        QVERIFY(QRegularExpression(QStringLiteral("^[0-9a-f]{40}$")).match(d.str(m->build_id())).hasMatch());
        if (!buildId.isEmpty())
            QCOMPARE(d.str(m->build_id()), buildId);
        for (const pb::Line& line : l.line())
            QVERIFY2(line.line() > 0, qPrintable(d.functionName(line.function_id())));
        if (l.line_size() >= 2 && d.functionName(l.line(0).function_id()).startsWith(QLatin1String("target::spin")))
            inlinedSeen = inlinedSeen
                || d.functionName(l.line(1).function_id()).contains(QLatin1String("Function(unsigned long)"));
    }
    QVERIFY(targetLocations > 0);
    QVERIFY2(inlinedSeen, "no location with target::spin inlined into its caller");

    // Values: cpu = samples x period; the 3/4-1/4 split; pid and thread labels.
    quint64 hot = 0, cold = 0, total = 0;
    for (const pb::Sample& s : profile.sample()) {
        QCOMPARE(s.value(1), s.value(0) * period);
        QCOMPARE(d.numLabel(s, "pid"), pid);
        QVERIFY(d.numLabel(s, "thread_id") > 0);
        QVERIFY(!d.label(s, "process").isEmpty());
        QCOMPARE(d.label(s, "operation"), QString()); // not instrumented: no operation
        total += quint64(s.value(0));
        const QString frames = d.frames(s).join(QLatin1Char(';'));
        if (frames.contains(QLatin1String("target::hotFunction")))
            hot += quint64(s.value(1));
        else if (frames.contains(QLatin1String("target::coldFunction")))
            cold += quint64(s.value(1));
    }
    QCOMPARE(total, profiled->stats().samples);
    QVERIFY2(hot + cold >= 1500 * quint64(period), qPrintable(QStringLiteral("hot %1 cold %2").arg(hot).arg(cold)));
    const double share = double(hot) / double(hot + cold);
    QVERIFY2(qAbs(share - 0.75) < 0.05, qPrintable(QStringLiteral("hot share %1").arg(share)));

    bool skipped = false;
    QString output;
    QVERIFY2(goPprofReads(path, &output, &skipped), qPrintable(output));
    if (!skipped)
        QVERIFY2(output.contains(QLatin1String("target::hotFunction")), qPrintable(output));
}

void TestPprof::operationsAsLabels()
{
    const QString path = m_dir.filePath(QStringLiteral("ops.pb.gz"));
    QProcess perfdash;
    perfdash.start(kBin + QStringLiteral("/perfdash"),
        { QStringLiteral("--headless"), QStringLiteral("--quiet"), QStringLiteral("--socket"),
            m_dir.filePath(QStringLiteral("ops.sock")), QStringLiteral("--slow"), QStringLiteral("op.request:8ms"),
            QStringLiteral("--export-pprof"), path, QStringLiteral("--"),
            kBin + QStringLiteral("/perfdash_test_opworkload"), QStringLiteral("3") });
    QVERIFY(perfdash.waitForFinished(180000));
    QVERIFY2(perfdash.exitStatus() == QProcess::NormalExit && perfdash.exitCode() == 0,
        perfdash.readAllStandardError().constData());

    pb::Profile profile;
    QString error;
    QVERIFY2(readProfile(path, &profile, &error), qPrintable(error));
    const Decoded d(profile);
    QCOMPARE(checkWellFormed(d), QString());
    // The workload sleeps in waitForDatabase: where context switches are recorded (the profiler's
    // off-CPU records), its time off CPU is a third sample type; else there are two.
    const QStringList types = d.sampleTypes();
    const bool offCpu = types.size() == 3;
    QCOMPARE(types.mid(0, 2), QStringList({ QStringLiteral("samples/count"), QStringLiteral("cpu/nanoseconds") }));
    if (offCpu)
        QCOMPARE(types.at(2), QStringLiteral("off_cpu/nanoseconds"));
    else
        QCOMPARE(types.size(), 2);

    QSet<QString> operations;
    quint64 innerCpu = 0, slowRequests = 0, waitOffCpu = 0;
    for (const pb::Sample& s : profile.sample()) {
        QVERIFY(d.numLabel(s, "pid") > 0);
        QVERIFY(d.numLabel(s, "thread_id") > 0);
        QVERIFY2(!offCpu || s.value(2) == 0 || (s.value(0) == 0 && s.value(1) == 0), "a sample both on and off CPU");
        const QString operation = d.label(s, "operation");
        if (operation.isEmpty()) {
            QCOMPARE(d.label(s, "operation_stack"), QString());
            continue;
        }
        operations.insert(operation);
        const QString stack = d.label(s, "operation_stack");
        QVERIFY2(stack.endsWith(QLatin1Char('[') + operation + QLatin1Char(']'))
                || stack.endsWith(QLatin1Char('[') + operation + QStringLiteral(" slow]")),
            qPrintable(stack));
        const QString frames = d.frames(s).join(QLatin1Char(';'));
        if (operation == QLatin1String("op.inner")) {
            QCOMPARE(stack, QStringLiteral("[op.outer];[op.inner]"));
            if (frames.contains(QLatin1String("spinInner")))
                innerCpu += quint64(s.value(1));
        }
        if (operation == QLatin1String("op.request") && d.label(s, "slow") == QLatin1String("true"))
            slowRequests += quint64(s.value(0));
        if (offCpu && operation == QLatin1String("op.wait") && frames.contains(QLatin1String("waitForDatabase")))
            waitOffCpu += quint64(s.value(2));
    }
    QVERIFY2(operations.contains(QStringLiteral("op.inner")),
        qPrintable(QStringList(operations.values()).join(QLatin1Char(' '))));
    QVERIFY(operations.contains(QStringLiteral("op.outer")));
    QVERIFY(operations.contains(QStringLiteral("op.request")));
    QVERIFY2(innerCpu > 0, "no CPU in spinInner under op.inner");
    QVERIFY2(slowRequests > 0, "no sample of a slow op.request labelled slow");
    if (offCpu)
        QVERIFY2(waitOffCpu > 0, "no time off CPU in waitForDatabase under op.wait");
    else
        qInfo("no context switch recorded: the off-CPU values are checked by encodedByHand only");

    bool skipped = false;
    QString output;
    QVERIFY2(goPprofReads(path, &output, &skipped), qPrintable(output));
    if (skipped)
        qInfo("go is not installed: go tool pprof -top not run");
}

QTEST_GUILESS_MAIN(TestPprof)
#include "tst_pprof.moc"
