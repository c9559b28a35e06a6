// SPDX-License-Identifier: GPL-3.0-or-later
// Every file perfdash writes is complete or absent: on a full disk (a small tmpfs when the test
// may mount one, as CI's root may; RLIMIT_FSIZE otherwise) each export kind, small and large,
// fails with a sentence, leaves the previous file as it was and no temporary file, and the run
// exits non-zero; what is written is created 0600 (it holds the user's command lines and data).
#include "core/csvexport.h"
#include "core/csvwriter.h"
#include "core/metricsstore.h"
#include "core/traceexport.h"
#include "profiler/foldedexport.h"

#include "tests/helpers/asroot.h"
#include "tests/helpers/fileaccess.h"
#include "tests/helpers/filesizelimit.h"
#include "tests/helpers/smalldisk.h"

#include <QCoreApplication>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QProcess>
#include <QTemporaryDir>
#include <QTest>

#include <functional>
#include <sys/resource.h>

using namespace perfdash;

namespace {

QString s(const char* text)
{
    return QString::fromUtf8(text);
}

/// One export kind: the file name and what writes it (false with a sentence, as each writer says).
struct Export
{
    QString file;
    std::function<bool(const QString& path, bool large, QString* error)> write;
};

QList<ProcessStatistics> statistics(bool large)
{
    ProcessStatistics p;
    p.pid = 42;
    p.process = s("svc");
    for (int i = 0; i < (large ? 40'000 : 2); ++i) {
        OperationStats st;
        st.operation = s("operation.%1").arg(i);
        st.count = 10 + quint64(i);
        st.p50Ns = 1000;
        st.maxNs = 9000;
        p.operations.append(st);
    }
    return { p };
}

QList<OperationSeries> series(bool large)
{
    OperationSeries one { 42, s("svc"), s("db.query"), {} };
    for (int i = 0; i < (large ? 60'000 : 2); ++i)
        one.points.push_back(SeriesPoint { 1'700'000'000'000 + i * 1000, 1, 5, 0, 1000, 2000, 3000, 4000 });
    return { one };
}

QList<MemoryRecord> memory(bool large)
{
    QList<MemoryRecord> records;
    for (int i = 0; i < (large ? 80'000 : 2); ++i)
        records.append(MemoryRecord { 1'700'000'000'000 + i * 1000, 42, s("svc"), 1 << 20, 1 << 19, 1.5 });
    return records;
}

/// The CSV export @p file: the rows @p rowsOf makes, written by @p write.
template <typename Rows>
Export csvKind(const QString& file, Rows (*rowsOf)(bool), void (*write)(CsvWriter&, const Rows&))
{
    return { file, [rowsOf, write](const QString& path, bool large, QString* error) {
                const Rows rows = rowsOf(large);
                return csvexport::writeFile(
                    path, [&](CsvWriter& csv) { write(csv, rows); }, error);
            } };
}

QByteArray folded(bool large)
{
    QByteArray text;
    for (int i = 0; i < (large ? 60'000 : 2); ++i)
        text += "svc;main;work;function_number_" + QByteArray::number(i) + " 3\n";
    return text;
}

QList<Export> exportKinds()
{
    return {
        csvKind(s("stats.csv"), statistics, csvexport::writeStatistics),
        csvKind(s("series.csv"), series, csvexport::writeSeries),
        csvKind(s("memory.csv"), memory, csvexport::writeMemory),
        { s("trace.json"),
            [](const QString& path, bool large, QString* error) {
                MetricsStore store;
                const quint64 key = store.openProcess(4242, s("svc"), { s("svc"), s("--secret-flag") });
                const QList<MemoryRecord> records = memory(large);
                for (qsizetype i = 0; i < records.size() / 2 + 1; ++i) // about 5 MB of trace when large
                    store.addMemoryRecord(key, records[i]);
                return traceexport::writeFile(store, path, error);
            } },
        { s("profile.folded"),
            [](const QString& path, bool large, QString* error) {
                return foldedexport::writeFile(path, { foldedexport::snapshotOf(42, s("svc"), folded(large)) }, error);
            } },
    };
}

QByteArray readAll(const QString& path)
{
    QFile f(path);
    return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray("(unreadable)");
}

QString perfdashBinary()
{
    return QCoreApplication::applicationDirPath() + s("/perfdash");
}

} // namespace

class TestFullDisk : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void exportOnAFullDisk_data()
    {
        QTest::addColumn<int>("kind");
        QTest::addColumn<bool>("large");
        QTest::addColumn<bool>("tmpfs");
        const QList<Export> kinds = exportKinds();
        for (int k = 0; k < kinds.size(); ++k) {
            for (bool large : { false, true }) {
                for (bool tmpfs : { true, false }) {
                    const QByteArray name
                        = kinds[k].file.toUtf8() + (large ? " large" : " small") + (tmpfs ? " tmpfs" : " RLIMIT_FSIZE");
                    QTest::newRow(name.constData()) << k << large << tmpfs;
                }
            }
        }
    }
    /// The exporters checked their own buffer's flush and QSaveFile::commit(), whose final write
    /// fails unreported in Qt 6.4: the rename happened anyway, over the previous file, with 0 bytes.
    void exportOnAFullDisk()
    {
        QFETCH(int, kind);
        QFETCH(bool, large);
        QFETCH(bool, tmpfs);
        const Export what = exportKinds().at(kind);
        SmallDisk disk(8 << 20);
        SKIP_OR_FAIL_AS_ROOT(
            !tmpfs || disk.mounted(), "mounting a tmpfs needs root; the RLIMIT_FSIZE rows cover this case here");
        QTemporaryDir plain;
        const QString dir = tmpfs ? disk.path() : plain.path();
        const QString path = dir + u'/' + what.file;
        const QByteArray previous = "the previous, good export\n";
        QVERIFY(writeBytes(path, previous));

        QString error;
        bool written = true;
        if (tmpfs) {
            // Small: not a byte of room. Large: room for part of it, then ENOSPC mid-way.
            QVERIFY(disk.fill(large ? 1 << 20 : 0));
            written = what.write(path, large, &error);
        } else {
            const FileSizeLimit limit(large ? 1 << 20 : 16);
            QVERIFY(limit.active());
            written = what.write(path, large, &error);
        }
        QVERIFY2(!written, "a write that did not fit reported success");
        QVERIFY2(error.contains(path), qPrintable(error));
        QCOMPARE(readAll(path), previous);
        // No temporary file left behind.
        QCOMPARE(tmpfs ? disk.files() : QDir(dir).entryList(QDir::Files | QDir::Hidden | QDir::System),
            QStringList { what.file });

        // With room again, the same export goes through, whole, created 0600.
        if (tmpfs)
            disk.free();
        QFile::remove(path);
        QVERIFY2(what.write(path, large, &error), qPrintable(error));
        QVERIFY(QFileInfo(path).size() > 0);
        QCOMPARE(permissionsOf(path), 0600);
    }

    /// An export over an existing file of the user's that others could read leaves it 0600 too.
    void replacedExportIsPrivate()
    {
        QTemporaryDir dir;
        const QString path = dir.filePath(s("stats.csv"));
        QVERIFY(writeBytes(path, "old\n"));
        QVERIFY(QFile::setPermissions(
            path, QFileDevice::ReadOwner | QFileDevice::WriteOwner | QFileDevice::ReadGroup | QFileDevice::ReadOther));
        const Export stats = exportKinds().constFirst();
        QString error;
        QVERIFY2(stats.write(path, false, &error), qPrintable(error));
        QCOMPARE(permissionsOf(path), 0600);
        QVERIFY(readAll(path).startsWith("pid,process,operation"));
    }

    void headlessExportsOnAFullDisk_data() { addFullDiskRows(); }
    /// A user's run: `--export-csv`, `--export-trace` and `--export-memory` onto a full disk
    /// exited 0 with three empty files where good ones were.
    void headlessExportsOnAFullDisk()
    {
        QFETCH(bool, tmpfs);
        SmallDisk disk(4 << 20);
        SKIP_OR_FAIL_AS_ROOT(
            !tmpfs || disk.mounted(), "mounting a tmpfs needs root; the RLIMIT_FSIZE row covers this case here");
        QTemporaryDir plain, sockets;
        const QString dir = tmpfs ? disk.path() : plain.path();
        const QStringList names { s("stats.csv"), s("t.json"), s("memory.csv") };
        for (const QString& name : names)
            QVERIFY(writeBytes(dir + u'/' + name, "previous " + name.toUtf8() + '\n'));
        if (tmpfs)
            QVERIFY(disk.fill(2048)); // "a few KB free"

        QProcess perfdash;
        if (!tmpfs) {
            perfdash.setChildProcessModifier([] {
                std::signal(SIGXFSZ, SIG_IGN);
                const rlimit small { 16, 16 };
                ::setrlimit(RLIMIT_FSIZE, &small);
            });
        }
        perfdash.start(perfdashBinary(),
            { s("--headless"), s("--quiet"), s("--socket"), sockets.filePath(s("p.sock")), s("--duration"), s("3"),
                s("--export-csv"), dir + s("/stats.csv"), s("--export-trace"), dir + s("/t.json"), s("--export-memory"),
                dir + s("/memory.csv"), s("--"), QCoreApplication::applicationDirPath() + s("/perfdash-demo"),
                s("--threads"), s("1"), s("--rate"), s("200") });
        QVERIFY(perfdash.waitForFinished(60'000));
        const QByteArray err = perfdash.readAllStandardError();
        QVERIFY2(perfdash.exitStatus() == QProcess::NormalExit && perfdash.exitCode() == 1,
            qPrintable(QString::number(perfdash.exitCode()) + u": "_qs + QString::fromUtf8(err)));
        for (const QString& name : names) {
            QCOMPARE(readAll(dir + u'/' + name), "previous " + name.toUtf8() + '\n');
            QVERIFY2(err.contains(name.toUtf8()), err.constData()); // each failure said
        }
        QStringList left = QDir(dir).entryList(QDir::Files | QDir::Hidden | QDir::System);
        left.removeAll(s(".filler"));
        left.sort();
        QStringList expected = names;
        expected.sort();
        QCOMPARE(left, expected); // no temporary file left behind
    }

    /// --screenshot wrote through QImageWriter onto the file itself: a full disk truncated the
    /// previous picture and the run said nothing.
    void screenshotOnAFullDisk()
    {
        SmallDisk disk(2 << 20);
        SKIP_OR_FAIL_AS_ROOT(disk.mounted(), "mounting a tmpfs needs root (CI runs as root)");
        QTemporaryDir sockets;
        const QString path = disk.filePath(s("window.png"));
        QVERIFY(writeBytes(path, "previous picture\n"));
        QVERIFY(disk.fill(0));
        QProcess perfdash;
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.insert(s("QT_QPA_PLATFORM"), s("offscreen"));
        env.insert(s("HOME"), sockets.path());
        env.insert(s("XDG_CONFIG_HOME"), sockets.path());
        perfdash.setProcessEnvironment(env);
        perfdash.start(perfdashBinary(),
            { s("--socket"), sockets.filePath(s("p.sock")), s("--duration"), s("1"), s("--screenshot"), path });
        QVERIFY(perfdash.waitForFinished(60'000));
        const QByteArray err = perfdash.readAllStandardError();
        QVERIFY2(perfdash.exitStatus() == QProcess::NormalExit && perfdash.exitCode() == 1,
            qPrintable(QString::number(perfdash.exitCode()) + u": "_qs + QString::fromUtf8(err)));
        QVERIFY2(err.contains("window.png"), err.constData());
        QCOMPARE(readAll(path), QByteArray("previous picture\n"));
        QCOMPARE(disk.files(), QStringList { s("window.png") });

        disk.free();
        perfdash.start(perfdashBinary(),
            { s("--socket"), sockets.filePath(s("p.sock")), s("--duration"), s("1"), s("--screenshot"), path });
        QVERIFY(perfdash.waitForFinished(60'000));
        QCOMPARE(perfdash.exitCode(), 0);
        QVERIFY(readAll(path).startsWith("\x89PNG"));
        QCOMPARE(permissionsOf(path), 0600);
    }
};

QTEST_GUILESS_MAIN(TestFullDisk)
#include "tst_fulldisk.moc"
