// SPDX-License-Identifier: GPL-3.0-or-later
// End-to-end ingest benchmarks with a real socket and an in-process dashboard.
//   bench_ingest threads [SECONDS]  8 threads record as fast as they can; the dashboard's count must
//                                   equal the recorded count
//   bench_ingest ndjson [LINES]     NDJSON lines per second: the decoder alone on one core, then
//                                   end to end through the socket into the store
//   bench_ingest memory [MILLIONS]  the dashboard's RSS after 10 million events and after MILLIONS
//                                   (default 100): it must not grow with the count
#include "core/memorymonitor.h"
#include "core/metricsstore.h"
#include "ipc/framedecoder.h"
#include "ipc/ingestserver.h"

#include <perfdash/perfdash.hpp>

#include <QCoreApplication>
#include <QElapsedTimer>
#include <QLocalSocket>
#include <QTemporaryDir>
#include <QThread>

#include <atomic>
#include <cstdio>
#include <vector>

using namespace perfdash;

namespace {
quint64 storeCount(const MetricsStore& store, const QString& operation)
{
    quint64 total = 0;
    for (const ProcessInfo& p : store.processes()) {
        if (auto s = store.sharedMonitor(p.key)->stats(operation))
            total += s->count;
    }
    return total;
}

bool waitFor(const std::function<bool()>& done, int timeoutMs)
{
    QElapsedTimer timer;
    timer.start();
    while (!done()) {
        if (timer.elapsed() > timeoutMs)
            return false;
        QCoreApplication::processEvents(QEventLoop::AllEvents, 50);
        QThread::msleep(5); // polling the store takes its lock: not in a tight loop
    }
    return true;
}

int threads(double seconds, MetricsStore& store)
{
    constexpr int Threads = 8;
    std::atomic<bool> stop { false };
    std::vector<quint64> recorded(Threads);
    const perfdash::OpId op = perfdash::operation("bench.flat_out");
    QList<QThread*> workers;
    for (int t = 0; t < Threads; ++t) {
        workers.append(QThread::create([&, t] {
            quint64 n = 0;
            while (!stop.load(std::memory_order_relaxed)) {
                for (int i = 0; i < 1000; ++i) {
                    perfdash::Scope scope(op);
                }
                n += 1000;
            }
            recorded[std::size_t(t)] = n;
        }));
        workers.last()->start();
    }
    QElapsedTimer timer;
    timer.start();
    waitFor([&] { return timer.elapsed() >= qint64(seconds * 1000); }, int(seconds * 1000) + 1000);
    stop = true;
    for (QThread* w : workers) {
        w->wait();
        delete w;
    }
    const double elapsed = double(timer.elapsed()) / 1000.0;
    quint64 total = 0;
    for (quint64 n : recorded)
        total += n;
    perfdash::flush(30'000);
    const bool equal = waitFor([&] { return storeCount(store, QStringLiteral("bench.flat_out")) == total; }, 60'000);
    const quint64 counted = storeCount(store, QStringLiteral("bench.flat_out"));
    const auto stats = perfdash::stats();
    std::printf(
        "threads: %d for %.1f s: recorded %llu (%.1f M/s), dashboard counted %llu: %s; raw events dropped %llu\n",
        Threads, elapsed, static_cast<unsigned long long>(total), double(total) / elapsed / 1e6,
        static_cast<unsigned long long>(counted), equal ? "equal" : "DIFFERENT",
        static_cast<unsigned long long>(stats.droppedEvents));
    return equal ? 0 : 1;
}

int memory(double millions, MetricsStore& store)
{
    // 20 operations recorded flat out by 4 threads; RSS read once ingest has caught up.
    std::vector<perfdash::OpId> ops;
    for (int i = 0; i < 20; ++i)
        ops.push_back(perfdash::operation(QStringLiteral("mem.op%1").arg(i).toUtf8().constData()));
    const auto recordUpTo = [&](quint64 total) {
        QList<QThread*> workers;
        const quint64 perThread = total / 4;
        for (int t = 0; t < 4; ++t) {
            workers.append(QThread::create([&, t, perThread] {
                for (quint64 i = 0; i < perThread; ++i)
                    perfdash::record(ops[(i + quint64(t)) % ops.size()], 1000 + (i % 100'000) * 10, i % 100 != 0);
            }));
            workers.last()->start();
        }
        for (QThread* w : workers) {
            w->wait();
            delete w;
        }
    };
    const auto counted = [&] {
        quint64 n = 0;
        for (const ProcessInfo& p : store.processes())
            n += p.operations;
        return n;
    };
    const auto settle = [&](quint64 expected) {
        perfdash::flush(30'000);
        return waitFor([&] { return counted() >= expected; }, 120'000);
    };
    recordUpTo(10'000'000);
    settle(10'000'000);
    const qint64 at10 = MemoryMonitor::current().rssBytes;
    const auto total = quint64(millions * 1e6);
    recordUpTo(total - 10'000'000);
    settle(total);
    const qint64 atAll = MemoryMonitor::current().rssBytes;
    // Keeping events would cost at least 8 bytes each; the histories grow with time (bounded, about
    // 0.5 MB an operation at most), not with the count. So: under 0.1 byte per added event is flat.
    const double perEvent = double(atAll - at10) / double(total - 10'000'000);
    const bool flat = perEvent < 0.1;
    std::printf(
        "memory: RSS after 10 M events %.1f MiB, after %.0f M events %.1f MiB: %+.3f bytes per added event: %s\n",
        double(at10) / 1048576.0, millions, double(atAll) / 1048576.0, perEvent, flat ? "flat" : "GROWS");
    return flat ? 0 : 1;
}

int ndjson(int lines, MetricsStore& store, const QString& path)
{
    QByteArray data;
    data.reserve(qsizetype(lines) * 90);
    data += "{\"type\":\"hello\",\"version\":1,\"name\":\"ndjson-bench\"}\n";
    const char* names[] = { "db.query", "cache.get", "http.GET /users", "render.page" };
    for (int i = 0; i < lines; ++i) {
        data += "{\"type\":\"op\",\"name\":\"";
        data += names[i % 4];
        data += "\",\"duration_us\":";
        data += QByteArray::number(100 + (i * 7919) % 5000);
        data += i % 50 == 0 ? ",\"ok\":false}\n" : ",\"ok\":true}\n";
    }

    { // The decoder alone, on this thread.
        protocol::FrameDecoder decoder;
        std::vector<protocol::Message> out;
        out.reserve(70'000);
        QElapsedTimer timer;
        timer.start();
        qsizetype decoded = 0;
        for (qsizetype i = 0; i < data.size(); i += 64 * 1024) {
            decoder.feed(QByteArrayView(data).sliced(i, std::min<qsizetype>(64 * 1024, data.size() - i)), out);
            decoded += qsizetype(out.size());
            out.clear();
        }
        const double s = double(timer.nsecsElapsed()) / 1e9;
        std::printf("ndjson decoder: %lld lines in %.3f s: %.2f M lines/s (%.0f MB/s)\n",
            static_cast<long long>(decoded), s, double(decoded) / s / 1e6, double(data.size()) / s / 1e6);
    }

    // End to end: a writer thread, the ingest thread, the store on this thread.
    std::atomic<bool> written { false };
    QThread* writer = QThread::create([&] {
        QLocalSocket socket;
        socket.connectToServer(path);
        if (!socket.waitForConnected(10'000))
            return;
        for (qsizetype i = 0; i < data.size(); i += 1 << 20) {
            socket.write(data.mid(i, 1 << 20));
            socket.waitForBytesWritten(-1);
        }
        written = true;
        socket.waitForDisconnected(600'000);
    });
    QElapsedTimer timer;
    timer.start();
    writer->start();
    const bool all = waitFor(
        [&] {
            return storeCount(store, QStringLiteral("db.query")) + storeCount(store, QStringLiteral("cache.get"))
                + storeCount(store, QStringLiteral("http.GET /users"))
                + storeCount(store, QStringLiteral("render.page"))
                >= quint64(lines);
        },
        600'000);
    const double s = double(timer.nsecsElapsed()) / 1e9;
    std::printf("ndjson end to end: %d lines in %.3f s: %.2f M lines/s%s\n", lines, s, double(lines) / s / 1e6,
        all ? "" : " (NOT ALL ARRIVED)");
    writer->quit();
    writer->terminate();
    writer->wait();
    delete writer;
    return all ? 0 : 1;
}
} // namespace

int main(int argc, char** argv)
{
    QTemporaryDir dir;
    const QString path = dir.filePath(QStringLiteral("bench.sock"));
    qputenv("PERFDASH_SOCKET", path.toLocal8Bit());
    qputenv("PERFDASH_SAMPLE_RATE", "0");
    QCoreApplication app(argc, argv);
    MetricsStore store;
    IngestServer server(&store);
    QString error;
    if (!server.listen(path, &error)) {
        std::fprintf(stderr, "bench_ingest: %s\n", qPrintable(error));
        return 2;
    }
    const QString mode = argc > 1 ? QString::fromLocal8Bit(argv[1]) : QStringLiteral("threads");
    if (mode == QLatin1String("threads"))
        return threads(argc > 2 ? std::atof(argv[2]) : 10.0, store);
    if (mode == QLatin1String("ndjson"))
        return ndjson(argc > 2 ? std::atoi(argv[2]) : 2'000'000, store, path);
    if (mode == QLatin1String("memory"))
        return memory(argc > 2 ? std::atof(argv[2]) : 100.0, store);
    std::fprintf(stderr, "usage: bench_ingest threads [SECONDS] | ndjson [LINES] | memory [MILLIONS]\n");
    return 2;
}
