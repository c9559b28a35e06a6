// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/csvexport.h"
#include "core/csvwriter.h"
#include "core/performancemonitor.h"

#include <QBuffer>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QTemporaryDir>
#include <QTest>

#include "tests/helpers/fileaccess.h"
#include "tests/helpers/filesizelimit.h"

using namespace perfdash;
using namespace std::chrono_literals;

namespace {
QString s(const char* text)
{
    return QString::fromUtf8(text);
}

// A minimal RFC 4180 reader, to check that what we write reads back as what we meant.
QList<QStringList> parseCsv(const QByteArray& data)
{
    QList<QStringList> rows;
    QStringList row;
    QByteArray field;
    bool quoted = false;
    for (qsizetype i = 0; i < data.size(); ++i) {
        const char c = data[i];
        if (quoted) {
            if (c == '"' && i + 1 < data.size() && data[i + 1] == '"') {
                field += '"';
                ++i;
            } else if (c == '"') {
                quoted = false;
            } else {
                field += c;
            }
        } else if (c == '"') {
            quoted = true;
        } else if (c == ',') {
            row << QString::fromUtf8(field);
            field.clear();
        } else if (c == '\r' && i + 1 < data.size() && data[i + 1] == '\n') {
            row << QString::fromUtf8(field);
            field.clear();
            rows << row;
            row.clear();
            ++i;
        } else {
            field += c;
        }
    }
    return rows;
}
} // namespace

class TestCsv : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void escaping_data()
    {
        QTest::addColumn<QString>("cell");
        QTest::addColumn<QByteArray>("written");
        QTest::addColumn<QString>("readBack");
        QTest::newRow("plain") << s("db.query") << QByteArray("db.query") << s("db.query");
        QTest::newRow("comma") << s("a,b") << QByteArray("\"a,b\"") << s("a,b");
        QTest::newRow("quote") << s("say \"hi\"") << QByteArray("\"say \"\"hi\"\"\"") << s("say \"hi\"");
        QTest::newRow("newline") << s("two\nlines") << QByteArray("\"two\nlines\"") << s("two\nlines");
        QTest::newRow("crlf") << s("a\r\nb") << QByteArray("\"a\r\nb\"") << s("a\r\nb");
        QTest::newRow("formula =") << s("=1+2") << QByteArray("'=1+2") << s("'=1+2");
        QTest::newRow("formula +") << s("+cmd") << QByteArray("'+cmd") << s("'+cmd");
        QTest::newRow("formula -") << s("-bash") << QByteArray("'-bash") << s("'-bash");
        QTest::newRow("formula @") << s("@SUM(A1)") << QByteArray("'@SUM(A1)") << s("'@SUM(A1)");
        QTest::newRow("formula tab") << s("\tx") << QByteArray("'\tx") << s("'\tx");
        QTest::newRow("formula CR") << s("\rx") << QByteArray("\"'\rx\"") << s("'\rx");
        QTest::newRow("injection with comma")
            << s("=HYPERLINK(\"http://x\",\"y\")") << QByteArray("\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\"")
            << s("'=HYPERLINK(\"http://x\",\"y\")");
        QTest::newRow("unicode") << s("grüße ✓") << QString(s("grüße ✓")).toUtf8() << s("grüße ✓");
        QTest::newRow("empty") << QString() << QByteArray() << QString();
        QTest::newRow("inner minus is fine") << s("a-b") << QByteArray("a-b") << s("a-b");
    }
    void escaping()
    {
        QFETCH(QString, cell);
        QFETCH(QByteArray, written);
        QFETCH(QString, readBack);
        QCOMPARE(CsvWriter::escape(cell), written);
        QBuffer buffer;
        buffer.open(QIODevice::WriteOnly);
        {
            CsvWriter csv(&buffer);
            csv.text(cell).number(qint64(-5)).endRow();
        }
        const auto rows = parseCsv(buffer.data());
        QCOMPARE(rows.size(), 1);
        QCOMPARE(rows.constFirst(), QStringList({ readBack, s("-5") })); // numbers are not neutralised
    }

    void numbers()
    {
        QBuffer buffer;
        buffer.open(QIODevice::WriteOnly);
        {
            CsvWriter csv(&buffer);
            csv.microseconds(0).microseconds(5).microseconds(1234567).microseconds(1000);
            csv.number(0.1234567, 3).number(qQNaN(), 2).empty().number(quint64(18446744073709551615ull));
            csv.endRow();
        }
        QCOMPARE(buffer.data(), QByteArray("0.000,0.005,1234.567,1.000,0.123,,,18446744073709551615\r\n"));
    }

    void statisticsFromMonitor()
    {
        ManualClock clock;
        PerformanceMonitor monitor(&clock);
        monitor.setSlowThreshold(5ms);
        for (int i = 1; i <= 100; ++i)
            monitor.record(s("db.query"), std::chrono::microseconds(i * 100), i % 10 != 0);
        monitor.record(s("=evil,op"), 1ms);

        QTemporaryDir dir;
        const QString path = dir.filePath(s("stats.csv"));
        QString error;
        const ProcessStatistics stats = csvexport::statisticsOf(monitor, 4242, s("orders-api"));
        QVERIFY(csvexport::writeFile(
            path, [&](CsvWriter& csv) { csvexport::writeStatistics(csv, { stats }); }, &error));
        QVERIFY(error.isEmpty());
        QFile file(path);
        QVERIFY(file.open(QIODevice::ReadOnly));
        const auto rows = parseCsv(file.readAll());
        QCOMPARE(rows.size(), 3);
        QCOMPARE(rows[0], csvexport::statisticsColumns());
        QCOMPARE(rows[0].join(u','),
            s("pid,process,operation,count,errors,error_rate,min_us,mean_us,p50_us,p90_us,p95_us,p99_us,p999_us,max_us,"
              "slow_count,cpu_us,cpu_share,total_us")); // total_us appended last: readers by position keep working
        QCOMPARE(rows[1][2], s("'=evil,op"));
        QCOMPARE(rows[1][17], s("1000.000"));
        const QStringList& db = rows[2];
        QCOMPARE(db[0], s("4242"));
        QCOMPARE(db[1], s("orders-api"));
        QCOMPARE(db[2], s("db.query"));
        QCOMPARE(db[3], s("100"));
        QCOMPARE(db[4], s("10"));
        QCOMPARE(db[5], s("0.100000"));
        QCOMPARE(db[6], s("100.000"));
        QCOMPARE(db[7], s("5050.000"));
        QVERIFY(std::abs(db[8].toDouble() - 5000.0) / 5000.0 < 0.01);
        QVERIFY(std::abs(db[12].toDouble() - 10000.0) / 10000.0 < 0.01);
        QCOMPARE(db[13], s("10000.000"));
        QCOMPARE(db[14], s("51")); // 5.0 ms .. 10.0 ms are slow
        QCOMPARE(db[15], QString()); // not profiled: the CPU columns are empty
        QCOMPARE(db[16], QString());
        QCOMPARE(db[17], s("505000.000")); // 100 µs + 200 µs + ... + 10 ms, exact
        QCOMPARE(db.size(), 18);

        // Profiled: cpu_us for every operation (0 when none of its samples), cpu_share where known.
        ProcessStatistics profiled = stats;
        profiled.profiled = true;
        profiled.cpu.insert(s("db.query"), { 1234.5, 0.25 });
        QVERIFY(csvexport::writeFile(
            path, [&](CsvWriter& csv) { csvexport::writeStatistics(csv, { profiled }); }, &error));
        QFile again(path);
        QVERIFY(again.open(QIODevice::ReadOnly));
        const auto cpuRows = parseCsv(again.readAll());
        QCOMPARE(cpuRows[2][15], s("1234.5"));
        QCOMPARE(cpuRows[2][16], s("0.2500"));
        QCOMPARE(cpuRows[1][15], s("0.0"));
        QCOMPARE(cpuRows[1][16], QString());
        QCOMPARE(cpuRows[2][17], s("505000.000"));
    }

    void seriesAndMemory()
    {
        ManualClock clock(1'700'000'000'000);
        PerformanceMonitor monitor(&clock);
        for (int second = 0; second < 3; ++second) {
            for (int i = 0; i < 10; ++i)
                monitor.record(s("op"), 2ms, i != 0);
            clock.advanceMs(1000);
        }
        QBuffer buffer;
        buffer.open(QIODevice::WriteOnly);
        {
            CsvWriter csv(&buffer);
            csvexport::writeSeries(csv, csvexport::seriesOf(monitor, 7, s("svc")));
        }
        const auto rows = parseCsv(buffer.data());
        QCOMPARE(rows.size(), 4);
        QCOMPARE(rows[0].join(u','), s("timestamp_ms,pid,process,operation,count,errors,p50_us,p95_us,p99_us,max_us"));
        QCOMPARE(rows[1],
            QStringList({ s("1700000000000"), s("7"), s("svc"), s("op"), s("10"), s("1"), s("2000.000"), s("2000.000"),
                s("2000.000"), s("2000.000") }));
        QCOMPARE(rows[3][0], s("1700000002000"));

        QBuffer mem;
        mem.open(QIODevice::WriteOnly);
        {
            CsvWriter csv(&mem);
            csvexport::writeMemory(csv,
                { MemoryRecord { 1000, 7, s("svc"), 1048576, 524288, 12.5 },
                    MemoryRecord { 2000, 7, s("svc"), 2097152, -1, {} } });
        }
        QCOMPARE(mem.data(),
            QByteArray("timestamp_ms,pid,process,rss_bytes,heap_bytes,cpu_percent\r\n"
                       "1000,7,svc,1048576,524288,12.50\r\n"
                       "2000,7,svc,2097152,,\r\n"));
    }

    void fullDiskLeavesOldFileAndNoPartialOne()
    {
        QTemporaryDir dir;
        const QString path = dir.filePath(s("out.csv"));
        QVERIFY(writeBytes(path, "previous\r\n"));
        QFile old(path);

        QString error;
        bool ok = true;
        {
            const FileSizeLimit limit(256 * 1024);
            QVERIFY(limit.active());
            ok = csvexport::writeFile(
                path,
                [](CsvWriter& csv) {
                    for (int i = 0; i < 100'000; ++i)
                        csv.text(u"a row that is long enough to fill the limit quickly").number(qint64(i)).endRow();
                },
                &error);
        }

        QVERIFY(!ok);
        QVERIFY2(error.contains(path), qPrintable(error));
        QVERIFY(old.open(QIODevice::ReadOnly));
        QCOMPARE(old.readAll(), QByteArray("previous\r\n"));
        QCOMPARE(QDir(dir.path()).entryList(QDir::Files), QStringList({ s("out.csv") })); // no temp file left
    }

    void unwritablePathIsAnError()
    {
        QString error;
        QVERIFY(!csvexport::writeFile(
            s("/nonexistent-dir/x.csv"), [](CsvWriter& csv) { csv.text(u"x").endRow(); }, &error));
        QVERIFY2(error.contains(s("/nonexistent-dir/x.csv")), qPrintable(error));
        QVERIFY(!QFile::exists(s("/nonexistent-dir/x.csv")));
    }

    /// An export through a planted symlink wrote to its target.
    void plantedSymlinkIsRefused()
    {
        QTemporaryDir dir;
        const QString victim = dir.filePath(s("victim.txt"));
        QVERIFY(writeBytes(victim, "precious\n"));
        QFile v(victim);
        const QString link = dir.filePath(s("export.csv"));
        QVERIFY(QFile::link(victim, link));
        QString error;
        QVERIFY(!csvexport::writeFile(
            link, [](CsvWriter& csv) { csv.text(u"x").endRow(); }, &error));
        QVERIFY2(error.contains(s("symbolic link")) && error.contains(link), qPrintable(error));
        QVERIFY(v.open(QIODevice::ReadOnly));
        QCOMPARE(v.readAll(), QByteArray("precious\n"));
        QVERIFY(QFileInfo(link).isSymLink()); // left as it was
        QCOMPARE(QDir(dir.path()).entryList(QDir::Files | QDir::System).size(), 2); // no temp file left
    }
};

QTEST_GUILESS_MAIN(TestCsv)
#include "tst_csv.moc"
