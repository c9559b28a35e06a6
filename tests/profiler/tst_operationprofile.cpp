// SPDX-License-Identifier: GPL-3.0-or-later
// Per-operation profiles end to end, through the command line and the files only (they
// are the contract): `perfdash --headless --profile --slow 'op.request:8ms' --export-csv C
// --export-profile-by-operation F --export-off-cpu O -- perfdash_test_opworkload 6 SUMMARY`.
// The program (tests/helpers/opworkload.cpp) knows where its CPU goes and where it sleeps:
//   op.outer { spinOuter 0.5 ms; op.inner { spinInner 3 ms }; spinOuter 0.5 ms }, op.wait { waitForDatabase: 10 ms
//   asleep }, outsideWork 2 ms in no operation; on a second thread op.request { handleRequest 1 ms; one in ten slowPath
//   15 ms }.
// F: `PROCESS (PID);[OUTER];[INNER];outermost;...;leaf COUNT`, the active operations right after the
// process frame, outermost first, `[NAME slow]` for a slow instance. O: the same, the count being
// microseconds off CPU. C: docs/CSV.md's statistics with `cpu_us` and `cpu_share` appended.
// Then a process that is not instrumented: a plain profile, no operation frames, empty columns.
#include "tests/helpers/programrun.h"
#include <QFile>
#include <QHash>
#include <QMap>
#include <QProcess>
#include <QRegularExpression>
#include <QTemporaryDir>
#include <QTest>

#include <optional>

namespace {
const QString kBin = QStringLiteral(PERFDASH_BIN_DIR);
constexpr int kRunTimeoutMs = 120000;
constexpr int kWorkloadSeconds = 6;

using perfdash::testing::Run;

Run runPerfdash(const QStringList& arguments)
{
    QProcess process;
    return perfdash::testing::runToEnd(process, kBin + QStringLiteral("/perfdash"), arguments, kRunTimeoutMs);
}

/// One line of a folded file, split: the process frame, the operation frames (outermost first, as
/// written: `[op.request slow]`), the code frames (outermost first) and the count.
struct Stack
{
    QString process;
    QStringList operations;
    QStringList frames;
    quint64 count = 0;

    qint64 pid() const
    {
        const qsizetype open = process.lastIndexOf(QLatin1Char('('));
        return open > 0 && process.endsWith(QLatin1Char(')'))
            ? process.mid(open + 1, process.size() - open - 2).toLongLong()
            : 0;
    }
    bool calls(const QString& function) const
    {
        for (const QString& frame : frames) {
            if (frame.contains(function))
                return true;
        }
        return false;
    }
    /// The operation frames without their slow mark: "[op.outer];[op.inner]".
    QString operationPath() const
    {
        QStringList names;
        for (const QString& frame : operations)
            names << operationName(frame);
        return names.join(QLatin1Char(';'));
    }
    static QString operationName(const QString& frame)
    {
        return frame.endsWith(QLatin1String(" slow]")) ? frame.chopped(6) + QLatin1Char(']') : frame;
    }
};

/// Frames the profiler itself writes in brackets; they are code frames, not operations.
bool isOperationFrame(const QString& frame)
{
    static const QStringList profilerNames { QStringLiteral("[unknown]"), QStringLiteral("[kernel]"),
        QStringLiteral("[inlined]"), QStringLiteral("[jit]"), QStringLiteral("[vdso]") };
    return frame.size() > 2 && frame.startsWith(QLatin1Char('[')) && frame.endsWith(QLatin1Char(']'))
        && !profilerNames.contains(frame);
}

/// Parses a folded file; @p malformed counts lines that are not `STACK COUNT`.
QList<Stack> parseFolded(const QByteArray& text, int* malformed)
{
    QList<Stack> stacks;
    *malformed = 0;
    for (const QByteArray& raw : text.split('\n')) {
        const QString line = QString::fromUtf8(raw).trimmed();
        if (line.isEmpty())
            continue;
        const qsizetype space = line.lastIndexOf(QLatin1Char(' '));
        bool ok = false;
        const quint64 count = space > 0 ? line.mid(space + 1).toULongLong(&ok) : 0;
        if (!ok) {
            ++*malformed;
            continue;
        }
        const QStringList frames = line.left(space).split(QLatin1Char(';'));
        Stack stack;
        stack.process = frames.first();
        stack.count = count;
        qsizetype i = 1;
        while (i < frames.size() && isOperationFrame(frames.at(i)))
            stack.operations << frames.at(i++);
        stack.frames = frames.mid(i);
        stacks << stack;
    }
    return stacks;
}

std::optional<QList<Stack>> readFolded(const QString& path, QString* error)
{
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly)) {
        *error = QStringLiteral("cannot read %1: %2").arg(path, file.errorString());
        return std::nullopt;
    }
    int malformed = 0;
    const QList<Stack> stacks = parseFolded(file.readAll(), &malformed);
    if (malformed > 0) {
        *error = QStringLiteral("%1: %2 malformed lines").arg(path).arg(malformed);
        return std::nullopt;
    }
    return stacks;
}

/// RFC 4180 (docs/CSV.md): quoted fields, doubled quotes, CRLF.
QList<QStringList> parseCsv(const QByteArray& bytes)
{
    const QString text = QString::fromUtf8(bytes);
    QList<QStringList> rows;
    QStringList row;
    QString field;
    bool quoted = false;
    for (qsizetype i = 0; i < text.size(); ++i) {
        const QChar c = text.at(i);
        if (quoted) {
            if (c == QLatin1Char('"') && i + 1 < text.size() && text.at(i + 1) == QLatin1Char('"')) {
                field += c;
                ++i;
            } else if (c == QLatin1Char('"')) {
                quoted = false;
            } else {
                field += c;
            }
        } else if (c == QLatin1Char('"')) {
            quoted = true;
        } else if (c == QLatin1Char(',')) {
            row << field;
            field.clear();
        } else if (c == QLatin1Char('\n')) {
            row << field;
            field.clear();
            rows << row;
            row.clear();
        } else if (c != QLatin1Char('\r')) {
            field += c;
        }
    }
    if (!field.isEmpty() || !row.isEmpty())
        rows << (row << field);
    return rows;
}

const QStringList kStatisticsColumns = QStringLiteral("pid,process,operation,count,errors,error_rate,min_us,mean_us,"
                                                      "p50_us,p90_us,p95_us,p99_us,p999_us,max_us,slow_count")
                                           .split(QLatin1Char(','));

/// The header's cpu_us and cpu_share: right after docs/CSV.md's statistics columns, in that order.
bool checkCsvHeader(const QStringList& header, QString* error)
{
    if (header.mid(0, kStatisticsColumns.size()) != kStatisticsColumns || header.value(15) != QLatin1String("cpu_us")
        || header.value(16) != QLatin1String("cpu_share")) {
        *error = QStringLiteral("header: %1").arg(header.join(QLatin1Char(',')));
        return false;
    }
    return true;
}

/// Samples of the stacks calling @p function, by their operation frames ("" for none), as written.
QMap<QString, quint64> byOperations(const QList<Stack>& stacks, const QString& function, bool keepSlowMark)
{
    QMap<QString, quint64> split;
    for (const Stack& stack : stacks) {
        if (stack.calls(function))
            split[keepSlowMark ? stack.operations.join(QLatin1Char(';')) : stack.operationPath()] += stack.count;
    }
    return split;
}

quint64 total(const QMap<QString, quint64>& split)
{
    quint64 sum = 0;
    for (quint64 n : split)
        sum += n;
    return sum;
}

QString describe(const QMap<QString, quint64>& split)
{
    QStringList parts;
    for (auto it = split.cbegin(); it != split.cend(); ++it)
        parts << QStringLiteral("%1: %2").arg(it.key().isEmpty() ? QStringLiteral("(none)") : it.key()).arg(it.value());
    return parts.join(QStringLiteral(", "));
}

/// The workload's run, made once and shared by the checks that read it.
struct WorkloadRun
{
    bool done = false;
    QString failure; ///< why the run or its files are not usable
    Run run;
    QHash<QString, qint64> summary; ///< what the program says it did (pid, rounds, sleep_us...)
    QList<Stack> cpu; ///< the by-operation folded stacks of the program's process
    QList<Stack> offCpu;
    QList<Stack> plain; ///< --export-profile of the same run: no operation frames there
    QString offCpuError, plainError; ///< why those two files are not usable
    QStringList csvHeader;
    QHash<QString, QStringList> csvRows; ///< the program's rows by operation
};
} // namespace

class TestOperationProfile : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase();
    void attribution();
    void slowVersusTypical();
    void offCpu();
    void csvColumns();
    void notInstrumented();
    void byOperationImpliesProfile();

private:
    const WorkloadRun& workload();
    void checkNotInstrumented(bool profileFlag);

    QTemporaryDir m_dir;
    WorkloadRun m_workload;
};

void TestOperationProfile::initTestCase()
{
    QVERIFY(m_dir.isValid());
    QVERIFY2(QFile::exists(kBin + QStringLiteral("/perfdash")), qPrintable(kBin));
    QVERIFY(QFile::exists(kBin + QStringLiteral("/perfdash_test_opworkload")));
}

const WorkloadRun& TestOperationProfile::workload()
{
    WorkloadRun& w = m_workload;
    if (w.done)
        return w;
    w.done = true;
    const QString csv = m_dir.filePath(QStringLiteral("ops.csv"));
    const QString byOperation = m_dir.filePath(QStringLiteral("ops.folded"));
    const QString offCpu = m_dir.filePath(QStringLiteral("ops.offcpu.folded"));
    const QString plain = m_dir.filePath(QStringLiteral("plain.folded"));
    const QString summaryPath = m_dir.filePath(QStringLiteral("summary.txt"));
    // No --duration: the run ends when the program does.
    w.run = runPerfdash({ QStringLiteral("--headless"), QStringLiteral("--quiet"), QStringLiteral("--socket"),
        m_dir.filePath(QStringLiteral("w.sock")), QStringLiteral("--profile"), QStringLiteral("--slow"),
        QStringLiteral("op.request:8ms"), QStringLiteral("--export-csv"), csv, QStringLiteral("--export-profile"),
        plain, QStringLiteral("--export-profile-by-operation"), byOperation, QStringLiteral("--export-off-cpu"), offCpu,
        QStringLiteral("--"), kBin + QStringLiteral("/perfdash_test_opworkload"), QString::number(kWorkloadSeconds),
        summaryPath });
    qInfo("perfdash exit status %d; stderr: %s", w.run.status, w.run.err.constData());
    if (w.run.status != 0) {
        w.failure = QStringLiteral("perfdash exit status %1: %2").arg(w.run.status).arg(QString::fromUtf8(w.run.err));
        return w;
    }
    QFile summaryFile(summaryPath);
    if (!summaryFile.open(QIODevice::ReadOnly)) {
        w.failure = QStringLiteral("the workload wrote no summary");
        return w;
    }
    for (const QByteArray& line : summaryFile.readAll().split('\n')) {
        const QList<QByteArray> kv = line.split(' ');
        if (kv.size() == 2)
            w.summary.insert(QString::fromUtf8(kv[0]), kv[1].toLongLong());
    }
    const qint64 pid = w.summary.value(QStringLiteral("pid"));
    qInfo("workload: pid %lld, %lld rounds, %lld requests (%lld slow), %lld us asleep in waitForDatabase", pid,
        w.summary.value(QStringLiteral("rounds")), w.summary.value(QStringLiteral("requests")),
        w.summary.value(QStringLiteral("slow_requests")), w.summary.value(QStringLiteral("sleep_us")));

    if (pid <= 0) {
        w.failure = QStringLiteral("the workload's summary names no pid");
        return w;
    }
    // A file that is missing or malformed fails the checks that read it.
    const auto read = [pid](const QString& path, QList<Stack>* into, QString* error) {
        const std::optional<QList<Stack>> stacks = readFolded(path, error);
        for (const Stack& stack : stacks.value_or(QList<Stack>())) {
            if (stack.pid() == pid)
                *into << stack;
        }
    };
    read(byOperation, &w.cpu, &w.failure);
    if (!w.failure.isEmpty())
        return w;
    read(offCpu, &w.offCpu, &w.offCpuError);
    read(plain, &w.plain, &w.plainError);
    QFile csvFile(csv);
    if (!csvFile.open(QIODevice::ReadOnly)) {
        w.failure = QStringLiteral("no CSV");
        return w;
    }
    const QList<QStringList> rows = parseCsv(csvFile.readAll());
    if (rows.isEmpty()) {
        w.failure = QStringLiteral("empty CSV");
        return w;
    }
    w.csvHeader = rows.first();
    for (qsizetype i = 1; i < rows.size(); ++i) {
        if (rows[i].value(0).toLongLong() == pid)
            w.csvRows.insert(rows[i].value(2), rows[i]);
    }
    return w;
}

void TestOperationProfile::attribution()
{
    const WorkloadRun& w = workload();
    QVERIFY2(w.failure.isEmpty(), qPrintable(w.failure));
    quint64 samples = 0;
    for (const Stack& stack : w.cpu)
        samples += stack.count;
    qInfo("%llu samples of the workload", samples);
    QVERIFY2(samples >= 300, "too few samples to judge");

    struct Expectation
    {
        const char* function;
        QStringList operations; ///< any of these, slow marks aside
        quint64 minimum; ///< samples needed to judge
    };
    const QList<Expectation> expectations {
        { "spinInner", { QStringLiteral("[op.outer];[op.inner]") }, 50 },
        { "spinOuter", { QStringLiteral("[op.outer]") }, 15 },
        { "outsideWork", { QString() }, 30 },
        { "handleRequest", { QStringLiteral("[op.request]") }, 30 },
    };
    for (const Expectation& e : expectations) {
        const QString function = QString::fromLatin1(e.function);
        const QMap<QString, quint64> split = byOperations(w.cpu, function, false);
        const quint64 all = total(split);
        quint64 right = 0;
        for (const QString& operations : e.operations)
            right += split.value(operations);
        qInfo("%s: %llu samples, %llu (%.1f%%) under %s; by operations: %s", e.function, all, right,
            all ? 100.0 * double(right) / double(all) : 0.0,
            qPrintable(e.operations.first().isEmpty() ? QStringLiteral("no operation") : e.operations.join(u'|')),
            qPrintable(describe(split)));
        QVERIFY2(all >= e.minimum, e.function);
        QVERIFY2(double(right) >= 0.9 * double(all), e.function);
    }
    // --export-profile stays as it was: no operation frames.
    QVERIFY2(w.plainError.isEmpty(), qPrintable(w.plainError));
    quint64 plainSamples = 0;
    for (const Stack& stack : w.plain) {
        QVERIFY2(stack.operations.isEmpty(), qPrintable(stack.operations.join(u';')));
        plainSamples += stack.count;
    }
    qInfo("--export-profile: %llu samples of the workload", plainSamples);
    QVERIFY(plainSamples > 0);
}

void TestOperationProfile::slowVersusTypical()
{
    const WorkloadRun& w = workload();
    QVERIFY2(w.failure.isEmpty(), qPrintable(w.failure));
    const QString slowFrame = QStringLiteral("[op.request slow]");
    const QString typicalFrame = QStringLiteral("[op.request]");

    const QMap<QString, quint64> slowPath = byOperations(w.cpu, QStringLiteral("slowPath"), true);
    const quint64 slowPathAll = total(slowPath);
    const quint64 slowPathInSlow = slowPath.value(slowFrame);
    qInfo("slowPath: %llu samples, %llu (%.1f%%) under %s; by operations: %s", slowPathAll, slowPathInSlow,
        slowPathAll ? 100.0 * double(slowPathInSlow) / double(slowPathAll) : 0.0, qPrintable(slowFrame),
        qPrintable(describe(slowPath)));
    QVERIFY(slowPathAll >= 50);
    QVERIFY(double(slowPathInSlow) >= 0.9 * double(slowPathAll));

    // The typical instances: what their samples hold.
    quint64 typical = 0, typicalHandle = 0, typicalSlowPath = 0, slowHandle = 0;
    for (const Stack& stack : w.cpu) {
        if (stack.operations == QStringList { typicalFrame }) {
            typical += stack.count;
            typicalHandle += stack.calls(QStringLiteral("handleRequest")) ? stack.count : 0;
            typicalSlowPath += stack.calls(QStringLiteral("slowPath")) ? stack.count : 0;
        } else if (stack.operations == QStringList { slowFrame }) {
            slowHandle += stack.calls(QStringLiteral("handleRequest")) ? stack.count : 0;
        }
    }
    qInfo("typical op.request: %llu samples, handleRequest %llu, slowPath %llu; slow op.request: handleRequest %llu",
        typical, typicalHandle, typicalSlowPath, slowHandle);
    QVERIFY(typical >= 30);
    QVERIFY(double(typicalHandle) >= 0.7 * double(typical));
    QVERIFY(double(typicalSlowPath) < 0.1 * double(typical));
}

void TestOperationProfile::offCpu()
{
    const WorkloadRun& w = workload();
    QVERIFY2(w.failure.isEmpty(), qPrintable(w.failure));
    const qint64 sleptUs = w.summary.value(QStringLiteral("sleep_us"));
    QVERIFY(sleptUs > 0);
    QVERIFY2(w.offCpuError.isEmpty(), qPrintable(w.offCpuError));
    QVERIFY2(!w.offCpu.isEmpty(), "--export-off-cpu has no stack of the workload");
    quint64 waitAll = 0, waitInDatabase = 0, databaseAnywhere = 0, everything = 0;
    for (const Stack& stack : w.offCpu) {
        everything += stack.count;
        const bool inWait = stack.operationPath() == QLatin1String("[op.wait]");
        const bool database = stack.calls(QStringLiteral("waitForDatabase"));
        databaseAnywhere += database ? stack.count : 0;
        if (inWait) {
            waitAll += stack.count;
            waitInDatabase += database ? stack.count : 0;
        }
    }
    qInfo("off-CPU: %llu us in all; waitForDatabase %llu us, of it under [op.wait] %llu us; the program slept %lld us "
          "there; [op.wait] holds %llu us, %.1f%% of it in waitForDatabase",
        everything, databaseAnywhere, waitInDatabase, sleptUs, waitAll,
        waitAll ? 100.0 * double(waitInDatabase) / double(waitAll) : 0.0);
    QVERIFY(double(waitInDatabase) >= 0.5 * double(sleptUs));
    QVERIFY(double(waitInDatabase) >= 0.8 * double(waitAll));
    // Microseconds, not samples or nanoseconds: no more than the program slept there (with some slack
    // for the switch back in).
    QVERIFY(double(waitInDatabase) <= 1.5 * double(sleptUs));
}

void TestOperationProfile::csvColumns()
{
    const WorkloadRun& w = workload();
    QVERIFY2(w.failure.isEmpty(), qPrintable(w.failure));
    QString error;
    QVERIFY2(checkCsvHeader(w.csvHeader, &error), qPrintable(error));
    QHash<QString, double> cpuUs, share;
    for (const char* name : { "op.outer", "op.inner", "op.wait", "op.request" }) {
        const QString operation = QString::fromLatin1(name);
        QVERIFY2(w.csvRows.contains(operation), name);
        const QStringList& row = w.csvRows[operation];
        bool ok1 = false, ok2 = false;
        cpuUs[operation] = row.value(15).toDouble(&ok1);
        share[operation] = row.value(16).toDouble(&ok2);
        qInfo("%s: count %s, mean_us %s, cpu_us '%s', cpu_share '%s'", name, qPrintable(row.value(3)),
            qPrintable(row.value(7)), qPrintable(row.value(15)), qPrintable(row.value(16)));
        QVERIFY2(ok1 && ok2, name);
        QVERIFY2(share[operation] >= 0 && share[operation] <= 1, name);
        QVERIFY2(cpuUs[operation] >= 0, name);
    }
    const QString outer = QStringLiteral("op.outer"), inner = QStringLiteral("op.inner");
    const QString wait = QStringLiteral("op.wait");
    QVERIFY(cpuUs[inner] > 0);
    QVERIFY(cpuUs[outer] >= cpuUs[inner]); // inclusive of the nested operation

    // What the program measured of the same instances (its thread's CPU clock inside each scope).
    // On an idle machine op.inner computes (share ~1) and op.wait waits (~0); on a busy one a
    // computing thread also waits for a core, and the true share of op.inner drops with it: the
    // dashboard's figure is judged against the truth, and against 0.7 when the machine let the
    // program run.
    for (const auto& [operation, key] : { std::pair { outer, QStringLiteral("outer") },
             std::pair { inner, QStringLiteral("inner") }, std::pair { wait, QStringLiteral("wait") } }) {
        const double trueCpuUs = double(w.summary.value(key + QStringLiteral("_cpu_us")));
        const double trueWallUs = double(w.summary.value(key + QStringLiteral("_wall_us")));
        QVERIFY2(trueWallUs > 0, qPrintable(key));
        const double trueShare = trueCpuUs / trueWallUs;
        qInfo("%s: cpu_us %.0f (the program measured %.0f), cpu_share %.3f (the program measured %.3f)",
            qPrintable(operation), cpuUs[operation], trueCpuUs, share[operation], trueShare);
        QVERIFY2(qAbs(share[operation] - trueShare) <= 0.15, qPrintable(operation));
        if (trueCpuUs >= 100'000) // enough samples for an estimate within 40%
            QVERIFY2(cpuUs[operation] >= 0.6 * trueCpuUs && cpuUs[operation] <= 1.4 * trueCpuUs, qPrintable(operation));
        if (operation == inner && trueShare >= 0.85)
            QVERIFY(share[inner] >= 0.7);
    }
    QVERIFY(share[wait] <= 0.2);
}

void TestOperationProfile::checkNotInstrumented(bool profileFlag)
{
    // dash's loop is all builtins: one process, on CPU for about a second, that never connects.
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const QString folded = dir.filePath(QStringLiteral("sh.folded"));
    const QString csv = dir.filePath(QStringLiteral("sh.csv"));
    QStringList arguments { QStringLiteral("--headless"), QStringLiteral("--quiet"), QStringLiteral("--socket"),
        dir.filePath(QStringLiteral("s.sock")) };
    if (profileFlag)
        arguments << QStringLiteral("--profile");
    arguments << QStringLiteral("--export-csv") << csv << QStringLiteral("--export-profile-by-operation") << folded
              << QStringLiteral("--") << QStringLiteral("/bin/sh") << QStringLiteral("-c")
              << QStringLiteral("i=0; while [ $i -lt 1000000 ]; do i=$((i+1)); done");
    const Run run = runPerfdash(arguments);
    qInfo("perfdash exit status %d; stderr: %s", run.status, run.err.constData());
    QVERIFY2(run.status == 0, run.err.constData());

    QString error;
    const std::optional<QList<Stack>> stacks = readFolded(folded, &error);
    QVERIFY2(stacks, qPrintable(error));
    quint64 samples = 0, withOperations = 0;
    for (const Stack& stack : *stacks) {
        samples += stack.count;
        if (!stack.operations.isEmpty()) {
            withOperations += stack.count;
            qInfo("operation frames in: %s", qPrintable(stack.operations.join(u';')));
        }
    }
    qInfo("not instrumented: %llu samples, %llu with operation frames", samples, withOperations);
    QVERIFY(samples >= 20);
    QCOMPARE(withOperations, quint64(0));

    QFile csvFile(csv);
    QVERIFY(csvFile.open(QIODevice::ReadOnly));
    const QList<QStringList> rows = parseCsv(csvFile.readAll());
    QVERIFY(!rows.isEmpty());
    QVERIFY2(checkCsvHeader(rows.first(), &error), qPrintable(error));
    qInfo("not instrumented: %lld CSV rows", qlonglong(rows.size() - 1));
    for (qsizetype i = 1; i < rows.size(); ++i) {
        QVERIFY2(rows[i].value(15).isEmpty() && rows[i].value(16).isEmpty(), qPrintable(rows[i].join(u',')));
    }
}

void TestOperationProfile::notInstrumented()
{
    checkNotInstrumented(true);
}

void TestOperationProfile::byOperationImpliesProfile()
{
    checkNotInstrumented(false);
}

QTEST_GUILESS_MAIN(TestOperationProfile)
#include "tst_operationprofile.moc"
