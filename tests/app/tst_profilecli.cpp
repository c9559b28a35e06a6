// SPDX-License-Identifier: GPL-3.0-or-later
// `perfdash --profile` end to end: a launched target profiled headless, its folded stacks written at
// the end and kept in the capture, `perfdash compare` showing the differential profile of two runs
// of different workloads, and the
// refusal sentence on stderr when the kernel says no (simulated: this machine allows it).
#include "capture/captureprofiles.h"
#include "profiler/foldedexport.h"
#include "tests/helpers/programrun.h"

#include <QProcess>
#include <QSet>
#include <QTemporaryDir>
#include <QTest>

#include <grp.h>
#include <unistd.h>

using namespace perfdash;

namespace {
const QString kBin = QStringLiteral(PERFDASH_BIN_DIR);

using perfdash::testing::Run;

/// "name (1234);main;..." -> 1234; 0 when the first field holds no pid.
qint64 pidOf(const QString& stack)
{
    const QString process = stack.section(QLatin1Char(';'), 0, 0);
    const qsizetype open = process.lastIndexOf(QLatin1Char('('));
    return open > 0 && process.endsWith(QLatin1Char(')'))
        ? process.mid(open + 1, process.size() - open - 2).toLongLong()
        : 0;
}

Run runPerfdash(const QStringList& arguments,
    const QProcessEnvironment& environment = QProcessEnvironment::systemEnvironment(), uid_t asUser = 0)
{
    QProcess process;
    if (asUser != 0) { // root drops to this user in the child (as tst_processsampler's sampling does)
        process.setChildProcessModifier([asUser] {
            if (::setgroups(0, nullptr) != 0 || ::setgid(asUser) != 0 || ::setuid(asUser) != 0)
                ::_exit(121);
        });
    }
    process.setProcessEnvironment(environment);
    return perfdash::testing::runToEnd(process, kBin + QStringLiteral("/perfdash"), arguments, 120000);
}
} // namespace

class TestProfileCli : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void profileLaunchedCommand();
    void refusalOnStderr();
    void anotherUsersProcessFailsTheRun();
    void foldedKeepsProcessesApart();
    void badRate();
};

void TestProfileCli::profileLaunchedCommand()
{
    QTemporaryDir dir;
    const QString folded = dir.filePath(QStringLiteral("run.folded"));
    const QString capture = dir.filePath(QStringLiteral("run.perfdash"));
    const Run run = runPerfdash({ QStringLiteral("--headless"), QStringLiteral("--quiet"), QStringLiteral("--socket"),
        dir.filePath(QStringLiteral("s.sock")), QStringLiteral("--profile"), QStringLiteral("--profile-hz"),
        QStringLiteral("999"), QStringLiteral("--duration"), QStringLiteral("6"), QStringLiteral("--export-profile"),
        folded, QStringLiteral("--record"), capture, QStringLiteral("--"),
        kBin + QStringLiteral("/perfdash_profile_target_nofp") });
    QVERIFY2(run.status == 0, run.err.constData());
    QFile file(folded);
    QVERIFY(file.open(QIODevice::ReadOnly));
    const QByteArray text = file.readAll();
    int malformed = -1;
    const auto lines = foldedexport::parse(text, &malformed);
    QCOMPARE(malformed, 0);
    QVERIFY(!lines.empty());
    quint64 hot = 0, cold = 0;
    for (const auto& line : lines) {
        QVERIFY2(line.stack.startsWith(QStringLiteral("perfdash_profil (%1);").arg(pidOf(line.stack))),
            qPrintable(line.stack));
        const QStringList frames = line.stack.split(QLatin1Char(';'));
        const qsizetype hotAt = frames.indexOf(QStringLiteral("target::hotFunction(unsigned long)"));
        const qsizetype coldAt = frames.indexOf(QStringLiteral("target::coldFunction(unsigned long)"));
        for (qsizetype at : { hotAt, coldAt }) {
            if (at > 0)
                QCOMPARE(frames.at(at - 1), QStringLiteral("target::workerLoop(std::atomic<bool> const*)"));
        }
        hot += hotAt > 0 ? line.count : 0;
        cold += coldAt > 0 ? line.count : 0;
    }
    QVERIFY2(hot + cold >= 500, text.constData()); // a busy CI machine gives the target less than a core
    QVERIFY2(
        qAbs(double(hot) / double(hot + cold) - 0.75) < 0.05, qPrintable(QStringLiteral("%1 %2").arg(hot).arg(cold)));

    // The capture keeps the profile.
    QString error;
    const QList<CapturedProfile> profiles = readCaptureProfiles(capture, &error);
    QVERIFY2(profiles.size() == 1, qPrintable(error));
    QCOMPARE(profiles[0].process, QStringLiteral("perfdash_profil"));
    QCOMPARE(profiles[0].folded, text);

    // A second run where hotFunction does a third of the work (3 units to 1): an even split. The
    // differential profile says where the CPU went: hotFunction went from 3/4 of the samples to
    // 1/2, coldFunction from 1/4 to 1/2 (their total shares: the leaf is the inlined spin() in both).
    const QString evenCapture = dir.filePath(QStringLiteral("even.perfdash"));
    const Run even = runPerfdash({ QStringLiteral("--headless"), QStringLiteral("--quiet"), QStringLiteral("--socket"),
        dir.filePath(QStringLiteral("s2.sock")), QStringLiteral("--profile"), QStringLiteral("--profile-hz"),
        QStringLiteral("999"), QStringLiteral("--duration"), QStringLiteral("5"), QStringLiteral("--record"),
        evenCapture, QStringLiteral("--"), kBin + QStringLiteral("/perfdash_profile_target_nofp"),
        QStringLiteral("--hot-units"), QStringLiteral("1") });
    QVERIFY2(even.status == 0, even.err.constData());
    const Run compare = runPerfdash({ QStringLiteral("compare"), capture, evenCapture });
    QVERIFY2(compare.out.contains("CPU profile:"), compare.out.constData());
    // "perfdash_profil/target::hotFunction(unsigned long)  0.3%→0.4%  +0.1  75.1%→50.2%"
    const auto row = [&](const QString& function) -> QStringList {
        for (const QByteArray& line : compare.out.split('\n')) {
            if (line.startsWith(QStringLiteral("perfdash_profil/%1 ").arg(function).toUtf8()))
                return QString::fromUtf8(line).split(QLatin1Char(' '), Qt::SkipEmptyParts);
        }
        return {};
    };
    const auto totals = [](const QStringList& cells, double* base, double* next) {
        const QStringList shares = cells.value(cells.size() - 1).remove(QLatin1Char('%')).split(QStringLiteral("→"));
        bool ok1 = false, ok2 = false;
        *base = shares.value(0).toDouble(&ok1);
        *next = shares.value(1).toDouble(&ok2);
        return ok1 && ok2;
    };
    const QStringList hotRow = row(QStringLiteral("target::hotFunction(unsigned long)"));
    const QStringList coldRow = row(QStringLiteral("target::coldFunction(unsigned long)"));
    double hotBase = 0, hotNext = 0, coldBase = 0, coldNext = 0;
    QVERIFY2(totals(hotRow, &hotBase, &hotNext) && totals(coldRow, &coldBase, &coldNext), compare.out.constData());
    QVERIFY2(qAbs(hotBase - 75) < 6 && qAbs(hotNext - 50) < 6, compare.out.constData());
    QVERIFY2(qAbs(coldBase - 25) < 6 && qAbs(coldNext - 50) < 6, compare.out.constData());
}

void TestProfileCli::refusalOnStderr()
{
    QProcess target;
    target.start(kBin + QStringLiteral("/perfdash_profile_target_fp"));
    QVERIFY(target.waitForStarted());
    const qint64 pid = target.processId();
    QTemporaryDir dir;
    QProcessEnvironment environment = QProcessEnvironment::systemEnvironment();
    environment.insert(QStringLiteral("PERFDASH_SIMULATE_PERF_ERRNO"), QStringLiteral("13")); // EACCES
    environment.insert(QStringLiteral("PERFDASH_SIMULATE_PERF_PARANOID"), QStringLiteral("3"));
    const Run run = runPerfdash(
        { QStringLiteral("--headless"), QStringLiteral("--socket"), dir.filePath(QStringLiteral("s.sock")),
            QStringLiteral("--profile"), QStringLiteral("--attach"), QString::number(pid), QStringLiteral("--duration"),
            QStringLiteral("2.5") },
        environment);
    target.closeWriteChannel();
    target.waitForFinished();
    QCOMPARE(run.status, 4); // the rest of the run went on; the profile asked for was refused
    QVERIFY2(run.err.contains("kernel.perf_event_paranoid is 3"), run.err.constData());
    QVERIFY(run.err.contains("sudo sysctl kernel.perf_event_paranoid=2"));
    QVERIFY(run.err.contains("setcap cap_perfmon+ep"));
    // The live table says it too, each second, instead of an empty profile.
    QVERIFY2(run.out.contains(QStringLiteral("  profile %1: cannot profile process").arg(pid).toUtf8()),
        run.out.constData());
}

void TestProfileCli::anotherUsersProcessFailsTheRun()
{
    // A profile asked for and refused fails the run with its own status, writes no empty folded
    // file, and the advice fits the cause: another user's process at paranoid 2 is not about the
    // sysctl. As root (CI) perfdash runs as nobody against our target; as a user, against pid 1.
    QProcess target;
    qint64 pid = 1;
    uid_t asUser = 0;
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    if (geteuid() == 0) {
        target.start(kBin + QStringLiteral("/perfdash_profile_target_fp"));
        QVERIFY(target.waitForStarted());
        pid = target.processId();
        asUser = 65534;
        QVERIFY(::chown(QFile::encodeName(dir.path()).constData(), asUser, asUser) == 0);
    }
    const QString folded = dir.filePath(QStringLiteral("refused.folded"));
    const Run run = runPerfdash({ QStringLiteral("--headless"), QStringLiteral("--quiet"), QStringLiteral("--socket"),
                                    dir.filePath(QStringLiteral("s.sock")), QStringLiteral("--profile"),
                                    QStringLiteral("--attach"), QString::number(pid), QStringLiteral("--duration"),
                                    QStringLiteral("1.5"), QStringLiteral("--export-profile"), folded },
        QProcessEnvironment::systemEnvironment(), asUser);
    if (target.state() != QProcess::NotRunning) {
        target.closeWriteChannel();
        target.waitForFinished();
    }
    QVERIFY2(
        run.status == 4, qPrintable(QStringLiteral("status %1: %2").arg(run.status).arg(QString::fromUtf8(run.err))));
    QVERIFY2(run.err.contains(QStringLiteral("belongs to uid %1").arg(geteuid() == 0 ? 0 : 0).toUtf8()),
        run.err.constData());
    QVERIFY2(run.err.contains("CAP_PERFMON") && run.err.contains("CAP_SYS_PTRACE"), run.err.constData());
    QVERIFY2(!run.err.contains("sysctl kernel.perf_event_paranoid"), run.err.constData()); // it is 2 here: no help
    QVERIFY(!QFile::exists(folded));
}

void TestProfileCli::foldedKeepsProcessesApart()
{
    // The demo's two services are both perfdash-demo: in the folded file each is "name (pid)", so
    // other tools do not merge their stacks; symbol versions (@@GLIBC_2.34) are left out, as perf does.
    QTemporaryDir dir;
    const QString folded = dir.filePath(QStringLiteral("demo.folded"));
    const Run run = runPerfdash({ QStringLiteral("--headless"), QStringLiteral("--quiet"), QStringLiteral("--socket"),
        dir.filePath(QStringLiteral("s.sock")), QStringLiteral("--demo"), QStringLiteral("--profile"),
        QStringLiteral("--duration"), QStringLiteral("4"), QStringLiteral("--export-profile"), folded });
    QVERIFY2(run.status == 0, run.err.constData());
    QFile file(folded);
    QVERIFY(file.open(QIODevice::ReadOnly));
    const QByteArray text = file.readAll();
    QSet<qint64> pids;
    for (const auto& line : foldedexport::parse(text)) {
        const qint64 pid = pidOf(line.stack);
        QVERIFY2(
            line.stack.startsWith(QStringLiteral("perfdash-demo (%1);").arg(pid)) && pid > 0, qPrintable(line.stack));
        pids.insert(pid);
        for (const QString& frame : line.stack.split(QLatin1Char(';')))
            QVERIFY2(!frame.contains(QLatin1Char('@')), qPrintable(frame));
    }
    QCOMPARE(pids.size(), 2);
}

void TestProfileCli::badRate()
{
    const Run run
        = runPerfdash({ QStringLiteral("--headless"), QStringLiteral("--profile-hz"), QStringLiteral("fast") });
    QCOMPARE(run.status, 2);
    QVERIFY(run.err.contains("--profile-hz needs a positive number"));
}

QTEST_GUILESS_MAIN(TestProfileCli)
#include "tst_profilecli.moc"
