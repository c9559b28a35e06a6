// SPDX-License-Identifier: GPL-3.0-or-later
// Soak: 16 clients stream for a while, 8 processes through the client library (binary) and 8
// NDJSON connections; at the end every count is reconciled, and the dashboard's memory must be
// flat after the warm-up. `soak --minutes 10` is the long run; the test suite runs --seconds 8.
#include "core/memorymonitor.h"
#include "core/metricsstore.h"
#include "ipc/ingestserver.h"

#include <QCoreApplication>
#include <QElapsedTimer>
#include <QLocalSocket>
#include <QProcess>
#include <QTemporaryDir>
#include <QThread>
#include <QTimer>

#include <atomic>
#include <cstdio>
#include <memory>
#include <vector>

using namespace perfdash;

int main(int argc, char** argv)
{
    QCoreApplication app(argc, argv);
    double seconds = 600;
    for (int i = 1; i + 1 < argc; ++i) {
        if (std::strcmp(argv[i], "--minutes") == 0)
            seconds = std::atof(argv[i + 1]) * 60;
        if (std::strcmp(argv[i], "--seconds") == 0)
            seconds = std::atof(argv[i + 1]);
    }
    QTemporaryDir dir;
    const QString path = dir.filePath(QStringLiteral("soak.sock"));
    MetricsStore store;
    IngestServer server(&store);
    QString error;
    if (!server.listen(path, &error)) {
        std::fprintf(stderr, "soak: %s\n", qPrintable(error));
        return 2;
    }
    store.start();

    // 8 instrumented processes.
    std::vector<std::unique_ptr<QProcess>> binaries;
    for (int i = 0; i < 8; ++i) {
        auto p = std::make_unique<QProcess>();
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.insert(QStringLiteral("PERFDASH_SOCKET"), path);
        env.insert(QStringLiteral("PERFDASH_NAME"), QStringLiteral("binary-%1").arg(i));
        p->setProcessEnvironment(env);
        p->start(QCoreApplication::applicationDirPath() + QStringLiteral("/perfdash_test_client"),
            { QStringLiteral("soak"), QString::number(seconds) });
        binaries.push_back(std::move(p));
    }
    // 8 NDJSON connections, each on a thread of its own.
    std::atomic<bool> stop { false };
    std::vector<quint64> ndjsonSent(8, 0);
    QList<QThread*> writers;
    for (int i = 0; i < 8; ++i) {
        writers.append(QThread::create([&, i] {
            QLocalSocket socket;
            socket.connectToServer(path);
            if (!socket.waitForConnected(10'000))
                return;
            socket.write(QStringLiteral("{\"type\":\"hello\",\"version\":1,\"name\":\"ndjson-%1\"}\n").arg(i).toUtf8());
            quint64 sent = 0;
            while (!stop.load()) {
                QByteArray lines;
                for (int k = 0; k < 200; ++k, ++sent)
                    lines += "{\"type\":\"op\",\"name\":\"ndjson.op" + QByteArray::number(sent % 4)
                        + "\",\"duration_us\":" + QByteArray::number(sent % 900 + 10)
                        + (sent % 50 ? "}\n" : ",\"ok\":false}\n");
                socket.write(lines);
                while (socket.bytesToWrite() > 0 && socket.waitForBytesWritten(10'000)) {
                } // all out before more: the writer's own buffer stays small
                QThread::msleep(2); // pacing, not waiting for anything
            }
            socket.disconnectFromServer();
            if (socket.state() != QLocalSocket::UnconnectedState)
                socket.waitForDisconnected(10'000);
            ndjsonSent[std::size_t(i)] = sent;
        }));
        writers.last()->start();
    }

    // The dashboard's memory, once a second, after the warm-up: a fifth of the run, and in runs
    // long enough, the 5-minute sliding window's time to fill (its ring is bounded but starts
    // empty), so that what is left to see is growth with the traffic, not the structures filling.
    const double warmUp = seconds >= 480 ? 330.0 : seconds * 0.2;
    std::vector<qint64> rss;
    QElapsedTimer clock;
    clock.start();
    QTimer sampler;
    QObject::connect(&sampler, &QTimer::timeout, &app, [&] {
        if (double(clock.elapsed()) / 1000.0 > warmUp)
            rss.push_back(MemoryMonitor::current().rssBytes);
    });
    sampler.start(1000);
    QTimer::singleShot(std::chrono::milliseconds(qint64(seconds * 1000)), &app, [&] { app.quit(); });
    app.exec();
    sampler.stop();

    stop = true;
    for (QThread* w : writers) {
        w->wait();
        delete w;
    }
    quint64 binarySent = 0;
    bool clientsOk = true;
    for (auto& p : binaries) {
        p->waitForFinished(120'000);
        clientsOk = clientsOk && p->exitCode() == 0;
        binarySent += p->readAllStandardOutput().trimmed().toULongLong();
    }
    server.close(); // everything in flight is applied
    quint64 ndjsonTotal = 0;
    for (quint64 n : ndjsonSent)
        ndjsonTotal += n;

    // What a binary client had to give up (a dashboard behind it for too long) it says, in
    // operations: counted plus given up is what was sent.
    quint64 binaryCounted = 0, binaryLost = 0, ndjsonCounted = 0;
    for (const ProcessInfo& p : store.processes()) {
        const bool binary = p.name.startsWith(QLatin1String("binary-"));
        (binary ? binaryCounted : ndjsonCounted) += p.operations;
        binaryLost += binary ? p.lostOperations : 0;
    }
    const qint64 first = rss.empty() ? 0 : rss.front(), last = rss.empty() ? 0 : rss.back();
    qint64 peak = 0;
    for (qint64 r : rss)
        peak = std::max(peak, r);
    const double growth = first ? double(last - first) / double(first) : 0.0;
    // Flat: under 10% (or 8 MiB, for short runs whose first samples are still settling).
    const bool flat = growth < 0.10 || last - first < 8 * 1024 * 1024;
    const bool reconciled = binaryCounted + binaryLost == binarySent && ndjsonCounted == ndjsonTotal && clientsOk;
    std::printf("soak: %.0f s, 16 clients (8 binary, 8 NDJSON)\n"
                "  binary: sent %llu, counted %llu, given up by the clients %llu%s\n"
                "  NDJSON: sent %llu, counted %llu%s\n"
                "  dashboard RSS after %.0f s of warm-up: first %.1f MiB, last %.1f MiB, peak %.1f MiB (%+.1f%%): %s\n",
        seconds, static_cast<unsigned long long>(binarySent), static_cast<unsigned long long>(binaryCounted),
        static_cast<unsigned long long>(binaryLost), binaryCounted + binaryLost == binarySent ? "" : "  MISMATCH",
        static_cast<unsigned long long>(ndjsonTotal), static_cast<unsigned long long>(ndjsonCounted),
        ndjsonCounted == ndjsonTotal ? "" : "  MISMATCH", warmUp, double(first) / 1048576.0, double(last) / 1048576.0,
        double(peak) / 1048576.0, growth * 100, flat ? "flat" : "GROWING");
    return reconciled && flat ? 0 : 1;
}
