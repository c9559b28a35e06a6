// SPDX-License-Identifier: GPL-3.0-or-later
// Headless runs as CI gates: checked arguments and exit statuses.
#include "core/headlessgate.h"

#include <QCoreApplication>
#include <QDir>
#include <QFile>
#include <QProcess>
#include <QTemporaryDir>
#include <QTest>

using namespace perfdash;

class TestHeadlessGate : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void durations_data()
    {
        QTest::addColumn<QString>("text");
        QTest::addColumn<bool>("ok");
        QTest::newRow("seconds") << u"2.5"_qs << true;
        QTest::newRow("nan ran forever") << u"nan"_qs << false;
        QTest::newRow("inf exited at once") << u"inf"_qs << false;
        QTest::newRow("zero") << u"0"_qs << false;
        QTest::newRow("negative") << u"-1"_qs << false;
        QTest::newRow("past what a timer waits") << u"1e12"_qs << false;
        QTest::newRow("not a number") << u"ten"_qs << false;
    }
    void durations()
    {
        QFETCH(QString, text);
        QFETCH(bool, ok);
        QString error;
        QCOMPARE(HeadlessGate::parseDurationSeconds(text, &error).has_value(), ok);
        QCOMPARE(error.isEmpty(), ok);
    }

    void budgets_data()
    {
        QTest::addColumn<QString>("text");
        QTest::addColumn<bool>("ok");
        QTest::addColumn<QString>("pattern");
        QTest::addColumn<double>("percentile");
        QTest::addColumn<quint64>("limitNs");
        QTest::newRow("ms") << u"db.*:p99<=5ms"_qs << true << u"db.*"_qs << 99.0 << quint64(5'000'000);
        QTest::newRow("us, spaces") << u"http.GET /users:p95 <= 800us"_qs << true << u"http.GET /users"_qs << 95.0
                                    << quint64(800'000);
        QTest::newRow("µs") << u"a:p50<=1.5µs"_qs << true << u"a"_qs << 50.0 << quint64(1'500);
        QTest::newRow("s") << u"*:p99.9<=1.5s"_qs << true << u"*"_qs << 99.9 << quint64(1'500'000'000);
        QTest::newRow("no unit") << u"a:p99<=5"_qs << false << QString() << 0.0 << quint64(0);
        QTest::newRow("p0") << u"a:p0<=5ms"_qs << false << QString() << 0.0 << quint64(0);
        QTest::newRow("p101") << u"a:p101<=5ms"_qs << false << QString() << 0.0 << quint64(0);
        QTest::newRow("no pattern") << u":p99<=5ms"_qs << false << QString() << 0.0 << quint64(0);
        QTest::newRow("nan") << u"a:p99<=nanms"_qs << false << QString() << 0.0 << quint64(0);
    }
    void budgets()
    {
        QFETCH(QString, text);
        QFETCH(bool, ok);
        QString error;
        const std::optional<Budget> b = HeadlessGate::parseBudget(text, &error);
        QCOMPARE(b.has_value(), ok);
        if (!ok) {
            QVERIFY(error.contains(text));
            return;
        }
        QFETCH(QString, pattern);
        QFETCH(double, percentile);
        QFETCH(quint64, limitNs);
        QCOMPARE(b->pattern, pattern);
        QCOMPARE(b->percentile, percentile);
        QCOMPARE(b->limitNs, limitNs);
        QVERIFY(b->window.isSession());
    }

    void commandStatuses()
    {
        QCOMPARE(HeadlessGate::commandStatus(false, 0), int(HeadlessGate::Ok));
        QCOMPARE(HeadlessGate::commandStatus(false, 7), 71);
        QCOMPARE(HeadlessGate::commandStatus(true, 9), 201);
        QCOMPARE(HeadlessGate::commandStatus(false, 250), 255);
    }

    /// Which failure the exit status says when several happened (README, --help).
    void precedence_data()
    {
        QTest::addColumn<int>("perfdash");
        QTest::addColumn<int>("command");
        QTest::addColumn<int>("status");
        QTest::newRow("all well") << int(HeadlessGate::Ok) << int(HeadlessGate::Ok) << 0;
        QTest::newRow("write failed") << int(HeadlessGate::WriteFailed) << int(HeadlessGate::Ok) << 1;
        QTest::newRow("budget broken") << int(HeadlessGate::BudgetBroken) << int(HeadlessGate::Ok) << 3;
        QTest::newRow("command failed") << int(HeadlessGate::Ok) << 71 << 71;
        QTest::newRow("command failed, budget broken") << int(HeadlessGate::BudgetBroken) << 71 << 71;
        QTest::newRow("command failed, write failed") << int(HeadlessGate::WriteFailed) << 71 << 71;
        QTest::newRow("command killed, write failed") << int(HeadlessGate::WriteFailed) << 201 << 201;
    }
    void precedence()
    {
        QFETCH(int, perfdash);
        QFETCH(int, command);
        QFETCH(int, status);
        QCOMPARE(HeadlessGate::exitStatus(perfdash, command), status);
    }

    /// --help shows perfdash compare's options as comparison.cpp parses them, and the precedence.
    void helpShowsTheCurrentUsage()
    {
        QProcess perfdash;
        perfdash.start(QCoreApplication::applicationDirPath() + u"/perfdash"_qs, { u"--help"_qs });
        QVERIFY(perfdash.waitForFinished(30'000));
        const QByteArray help = perfdash.readAllStandardOutput();
        for (const char* option : { "--error-threshold PP", "--min-count N", "--format text|json|markdown",
                 "--profile-threshold PP", "--min-samples N", "4 a profile asked", "that comes before 1, 4 and 3" })
            QVERIFY2(help.contains(option), help.constData());
    }

    /// One "Usage:" line (Qt's), naming the command to launch; compare's form said otherwise.
    void helpHasOneUsageLine()
    {
        QProcess perfdash;
        perfdash.start(QCoreApplication::applicationDirPath() + u"/perfdash"_qs, { u"--help"_qs });
        QVERIFY(perfdash.waitForFinished(30'000));
        const QByteArray help = perfdash.readAllStandardOutput();
        QCOMPARE(help.count("Usage:"), 1);
        QVERIFY2(help.startsWith("Usage: "), help.constData());
        QVERIFY2(help.left(help.indexOf('\n')).contains("[-- COMMAND [ARGS...]]"), help.constData());
        QVERIFY2(help.contains("perfdash compare BASE NEW"), help.constData());
    }

    /// The statuses as the README documents them, from the real binary. "@DIR@" in an argument is
    /// the run's temporary directory; @p settings, when not empty, is the perfdash.conf the window
    /// saved (budgets saved from the window apply headless too).
    void exitStatuses_data()
    {
        QTest::addColumn<QStringList>("arguments");
        QTest::addColumn<int>("status");
        QTest::addColumn<QByteArray>("settings");
        const QString send
            = u"printf "
              u"'{\"type\":\"hello\",\"version\":1,\"name\":\"gate\"}\\n{\"type\":\"op\",\"name\":\"db.query\","
              u"\"duration_us\":5000}\\n'"
              u" | python3 -c 'import os,socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(os.environ[\"PERFDASH_SOCKET\"]); s.sendall(sys.stdin.buffer.read()); s.close()'"_qs;
        // As BudgetsDialog's saveBudgets() writes it (QSettings, organisation and application "perfdash").
        const QByteArray saved = "[budgets]\n1\\pattern=db.*\n1\\percentile=99\n1\\limitNs=1000000\n"
                                 "1\\windowSeconds=60\nsize=1\n";
        QTest::newRow("duration nan") << QStringList { u"--duration"_qs, u"nan"_qs } << 2 << QByteArray();
        // A listener asked for with an empty address (`--otlp "$PORT"`, PORT unset) is refused, not left out.
        for (const QString& listener : { u"--otlp"_qs, u"--otlp-grpc"_qs, u"--prometheus"_qs })
            QTest::newRow(qPrintable(listener + u" empty"_qs))
                << QStringList { listener, QString(), u"--duration"_qs, u"5"_qs } << 2 << QByteArray();
        QTest::newRow("budget met") << QStringList { u"--budget"_qs, u"db.*:p99<=1s"_qs, u"--"_qs, u"sh"_qs, u"-c"_qs,
            send } << 0 << QByteArray();
        QTest::newRow("budget broken") << QStringList { u"--budget"_qs, u"db.*:p99<=1ms"_qs, u"--"_qs, u"sh"_qs,
            u"-c"_qs, send } << 3 << QByteArray();
        QTest::newRow("saved budget broken") << QStringList { u"--"_qs, u"sh"_qs, u"-c"_qs, send } << 3 << saved;
        QTest::newRow("saved budget, none broken")
            << QStringList { u"--"_qs, u"sh"_qs, u"-c"_qs, u"true"_qs } << 0 << saved;
        QTest::newRow("command failed") << QStringList { u"--"_qs, u"sh"_qs, u"-c"_qs, send + u"; exit 7"_qs } << 71
                                        << QByteArray();
        QTest::newRow("command failed and budget broken")
            << QStringList { u"--budget"_qs, u"db.*:p99<=1ms"_qs, u"--"_qs, u"sh"_qs, u"-c"_qs, send + u"; exit 7"_qs }
            << 71 << QByteArray();
        // The export's directory is there at the start (checked) and gone at the end: the write fails
        // after the command did, and the command's status must survive it.
        QTest::newRow("command failed and export failed") << QStringList { u"--export-csv"_qs,
            u"@DIR@/out/stats.csv"_qs, u"--"_qs, u"sh"_qs, u"-c"_qs, send + u"; rm -r '@DIR@/out'; exit 7"_qs }
                                                          << 71 << QByteArray();
        // --heap with a process attached: the run goes on (its RSS is what it has), saying what is not
        // tracked; the heap export asked for cannot be written, which is an export failed.
        QTest::newRow("attach and heap") << QStringList { u"--attach"_qs, u"@PID@"_qs, u"--heap"_qs, u"--duration"_qs,
            u"1"_qs } << 0 << QByteArray();
        QTest::newRow("attach and export-heap") << QStringList { u"--attach"_qs, u"@PID@"_qs, u"--export-heap"_qs,
            u"@DIR@/out/heap.folded"_qs, u"--duration"_qs, u"1"_qs }
                                                << 1 << QByteArray();
        QTest::newRow("heap with nothing launched or attached")
            << QStringList { u"--heap"_qs, u"--duration"_qs, u"1"_qs } << 2 << QByteArray();
        QTest::newRow("export failed") << QStringList { u"--export-csv"_qs, u"@DIR@/out/stats.csv"_qs, u"--"_qs,
            u"sh"_qs, u"-c"_qs, send + u"; rm -r '@DIR@/out'"_qs }
                                       << 1 << QByteArray();
    }
    void exitStatuses()
    {
        QFETCH(QStringList, arguments);
        QFETCH(int, status);
        QFETCH(QByteArray, settings);
        QTemporaryDir dir;
        QVERIFY(QDir(dir.path()).mkpath(u"out"_qs));
        for (QString& argument : arguments) {
            argument.replace(u"@DIR@"_qs, dir.path());
            argument.replace(u"@PID@"_qs, QString::number(QCoreApplication::applicationPid()));
        }
        if (!settings.isEmpty()) {
            QVERIFY(QDir(dir.path()).mkpath(u"perfdash"_qs));
            QFile conf(dir.filePath(u"perfdash/perfdash.conf"_qs));
            QVERIFY(conf.open(QIODevice::WriteOnly));
            conf.write(settings);
        }
        QProcess perfdash;
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.insert(u"HOME"_qs, dir.path()); // no budgets saved from a window of the user's
        env.insert(u"XDG_CONFIG_HOME"_qs, dir.path());
        perfdash.setProcessEnvironment(env);
        perfdash.start(QCoreApplication::applicationDirPath() + u"/perfdash"_qs,
            QStringList { u"--headless"_qs, u"--quiet"_qs, u"--socket"_qs, dir.filePath(u"gate.sock"_qs) } + arguments);
        QVERIFY(perfdash.waitForStarted(30'000));
        QVERIFY(perfdash.waitForFinished(60'000));
        const QByteArray err = perfdash.readAllStandardError();
        QVERIFY2(perfdash.exitStatus() == QProcess::NormalExit && perfdash.exitCode() == status,
            qPrintable(QString::number(perfdash.exitCode()) + u": "_qs + QString::fromUtf8(err)));
        if (status == 3)
            QVERIFY2(err.contains("budget broken: db.query"), err.constData());
        if (arguments.contains(u"--attach"_qs)
            && (arguments.contains(u"--heap"_qs) || arguments.contains(u"--export-heap"_qs))) {
            // What is not possible for the attached process, and what it has instead.
            QVERIFY2(err.contains("attached process") && err.contains("RSS") && err.contains("PERFDASH_HEAP=1"),
                err.constData());
        }
        if (arguments.contains(u"--export-heap"_qs))
            QVERIFY2(err.contains("heap.folded not written"), err.constData());
        if (arguments.contains(u"--export-csv"_qs)) // the failed write is said, whatever the status says
            QVERIFY2(err.contains("stats.csv"), err.constData());
    }
};

QTEST_GUILESS_MAIN(TestHeadlessGate)
#include "tst_headlessgate.moc"
