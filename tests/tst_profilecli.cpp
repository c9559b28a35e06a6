// SPDX-License-Identifier: GPL-3.0-or-later
// `perfdash --profile` end to end: a launched target profiled headless, its folded stacks written at
// the end and kept in the capture, `perfdash compare` showing the differential profile, and the
// refusal sentence on stderr when the kernel says no (simulated: this machine allows it).
#include "captureprofiles.h"
#include "foldedexport.h"

#include <QProcess>
#include <QTemporaryDir>
#include <QTest>

using namespace perfdash;

namespace {
const QString kBin = QStringLiteral(PERFDASH_BIN_DIR);

struct Run {
    int status = -1;
    QByteArray out, err;
};

Run runPerfdash(const QStringList& arguments, const QProcessEnvironment& environment = QProcessEnvironment::systemEnvironment())
{
    QProcess process;
    process.setProcessEnvironment(environment);
    process.start(kBin + QStringLiteral("/perfdash"), arguments);
    Run run;
    if (!process.waitForFinished(120000)) {
        process.kill();
        process.waitForFinished();
    }
    run.status = process.exitStatus() == QProcess::NormalExit ? process.exitCode() : -1;
    run.out = process.readAllStandardOutput();
    run.err = process.readAllStandardError();
    return run;
}
} // namespace

class TestProfileCli : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void profileLaunchedCommand();
    void refusalOnStderr();
    void badRate();
};

void TestProfileCli::profileLaunchedCommand()
{
    QTemporaryDir dir;
    const QString folded = dir.filePath(QStringLiteral("run.folded"));
    const QString capture = dir.filePath(QStringLiteral("run.perfdash"));
    const Run run = runPerfdash({ QStringLiteral("--headless"), QStringLiteral("--quiet"), QStringLiteral("--socket"),
        dir.filePath(QStringLiteral("s.sock")), QStringLiteral("--profile"), QStringLiteral("--profile-hz"),
        QStringLiteral("999"), QStringLiteral("--duration"), QStringLiteral("6"), QStringLiteral("--export-profile"), folded,
        QStringLiteral("--record"), capture, QStringLiteral("--"), kBin + QStringLiteral("/perfdash_profile_target_nofp") });
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
        QVERIFY2(line.stack.startsWith(QStringLiteral("perfdash_profil;")), qPrintable(line.stack));
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
    QVERIFY2(qAbs(double(hot) / double(hot + cold) - 0.75) < 0.05, qPrintable(QStringLiteral("%1 %2").arg(hot).arg(cold)));

    // The capture keeps the profile; compare shows where the CPU went (here: nowhere else).
    QString error;
    const QList<CapturedProfile> profiles = readCaptureProfiles(capture, &error);
    QVERIFY2(profiles.size() == 1, qPrintable(error));
    QCOMPARE(profiles[0].process, QStringLiteral("perfdash_profil"));
    QCOMPARE(profiles[0].folded, text);
    const Run compare = runPerfdash({ QStringLiteral("compare"), capture, capture });
    QVERIFY2(compare.out.contains("CPU profile:"), compare.out.constData());
    QVERIFY(compare.out.contains("perfdash_profil/target::hotFunction(unsigned long)"));
    QVERIFY(compare.out.contains("+0.0"));
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
    const Run run = runPerfdash({ QStringLiteral("--headless"), QStringLiteral("--socket"),
                                 dir.filePath(QStringLiteral("s.sock")), QStringLiteral("--profile"), QStringLiteral("--attach"),
                                 QString::number(pid), QStringLiteral("--duration"), QStringLiteral("2.5") },
        environment);
    target.closeWriteChannel();
    target.waitForFinished();
    QCOMPARE(run.status, 0); // the rest of the run goes on
    QVERIFY2(run.err.contains("kernel.perf_event_paranoid is 3"), run.err.constData());
    QVERIFY(run.err.contains("sudo sysctl kernel.perf_event_paranoid=2"));
    QVERIFY(run.err.contains("setcap cap_perfmon+ep"));
    // The live table says it too, each second, instead of an empty profile.
    QVERIFY2(run.out.contains(QStringLiteral("  profile %1: cannot profile process").arg(pid).toUtf8()),
        run.out.constData());
}

void TestProfileCli::badRate()
{
    const Run run = runPerfdash({ QStringLiteral("--headless"), QStringLiteral("--profile-hz"), QStringLiteral("fast") });
    QCOMPARE(run.status, 2);
    QVERIFY(run.err.contains("--profile-hz needs a positive number"));
}

QTEST_GUILESS_MAIN(TestProfileCli)
#include "tst_profilecli.moc"
