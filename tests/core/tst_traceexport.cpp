// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/metricsstore.h"
#include "core/traceexport.h"

#include <QBuffer>
#include <QCoreApplication>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTemporaryDir>
#include <QTest>

using namespace perfdash;

class TestTraceExport : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void traceHoldsEventsCountersAndNames()
    {
        MetricsStore store;
        const qint64 pid = QCoreApplication::applicationPid();
        const quint64 key = store.openProcess(pid, u"svc"_qs, {});
        OperationSample sample;
        sample.operation = u"db.query"_qs;
        sample.durationNs = 2'500'000;
        sample.ok = false;
        sample.threadId = 77;
        sample.startNs = 1'700'000'000'123'456'789;
        sample.timestampMs = 1'700'000'000'126;
        sample.metadata = { { u"table"_qs, u"users"_qs } };
        store.recordEvent(key, sample);
        store.setMetric(key, u"queue.depth"_qs, true, 17);
        store.recordMemory(key, -1, 4096);
        store.sampleProcesses();

        QBuffer buffer;
        buffer.open(QIODevice::WriteOnly);
        QVERIFY(traceexport::write(store, &buffer));
        QJsonParseError error;
        const QJsonDocument doc = QJsonDocument::fromJson(buffer.data(), &error);
        QCOMPARE(error.error, QJsonParseError::NoError);
        const QJsonArray events = doc.object().value(u"traceEvents"_qs).toArray();
        QJsonObject complete, processName, threadName, memory, gauge;
        for (const QJsonValue& v : events) {
            const QJsonObject e = v.toObject();
            const QString ph = e.value(u"ph"_qs).toString(), name = e.value(u"name"_qs).toString();
            if (ph == u"X"_qs)
                complete = e;
            else if (ph == u"M"_qs && name == u"process_name"_qs)
                processName = e;
            else if (ph == u"M"_qs && name == u"thread_name"_qs)
                threadName = e;
            else if (ph == u"C"_qs && name == u"memory"_qs)
                memory = e;
            else if (ph == u"C"_qs && name == u"queue.depth"_qs)
                gauge = e;
        }
        QCOMPARE(complete.value(u"name"_qs).toString(), u"db.query"_qs);
        QCOMPARE(complete.value(u"pid"_qs).toInteger(), pid);
        QCOMPARE(complete.value(u"tid"_qs).toInteger(), 77);
        QCOMPARE(complete.value(u"dur"_qs).toDouble(), 2500.0); // microseconds
        QCOMPARE(complete.value(u"ts"_qs).toDouble(), 1'700'000'000'123'456.789);
        QCOMPARE(complete.value(u"args"_qs).toObject().value(u"table"_qs).toString(), u"users"_qs);
        QCOMPARE(complete.value(u"args"_qs).toObject().value(u"ok"_qs).toBool(), false);
        QVERIFY(processName.value(u"args"_qs).toObject().value(u"name"_qs).toString().startsWith(u"svc"_qs));
        QCOMPARE(threadName.value(u"tid"_qs).toInteger(), 77);
        QVERIFY(memory.value(u"args"_qs).toObject().value(u"rss_bytes"_qs).toDouble() > 0);
        QCOMPARE(memory.value(u"args"_qs).toObject().value(u"heap_bytes"_qs).toDouble(), 4096.0);
        QCOMPARE(gauge.value(u"args"_qs).toObject().value(u"value"_qs).toDouble(), 17.0);

        QString message;
        QVERIFY(!traceexport::writeFile(store, u"/nonexistent-dir/t.json"_qs, &message));
        QVERIFY(message.contains(u"/nonexistent-dir/t.json"_qs));
    }
};

QTEST_GUILESS_MAIN(TestTraceExport)
#include "tst_traceexport.moc"
