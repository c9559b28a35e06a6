// SPDX-License-Identifier: GPL-3.0-or-later
// The profiler's targets (DESIGN.md):
//   bench_profiler throughput SECONDS   records the test target's samples for SECONDS at 999 Hz, then
//                                       unwinds + symbolizes + aggregates them again and again on one
//                                       thread: samples per second (cold: first pass; warm: cached symbols)
//   bench_profiler slowdown HZ...       the target's fixed work, timed by its thread's CPU clock, not
//                                       profiled and profiled at each HZ (runs alternate; medians)
//   bench_profiler memory HOURS         a simulated session of HOURS at 499 Hz over 5,000 distinct
//                                       stacks of 12 frames: the aggregate's bytes and the RSS after each
//                                       simulated 10 minutes (raw samples are not kept)
#include "perfeventsource.h"
#include "processprofiler.h"
#include "profileaggregate.h"
#include "recordprocessor.h"

#include <QCoreApplication>
#include <QFile>
#include <QProcess>

#include <linux/perf_event.h>
#include <time.h>

#include <algorithm>
#include <cstring>
#include <cstdio>
#include <random>
#include <vector>

using namespace perfdash;

namespace {
double nowSeconds(clockid_t clock)
{
    timespec ts {};
    clock_gettime(clock, &ts);
    return double(ts.tv_sec) + double(ts.tv_nsec) * 1e-9;
}

QString targetPath()
{
    return QCoreApplication::applicationDirPath() + QStringLiteral("/perfdash_profile_target_nofp");
}

bool startTarget(QProcess* process, const QStringList& arguments)
{
    process->start(targetPath(), arguments);
    if (!process->waitForStarted(10000))
        return false;
    while (!process->canReadLine()) {
        if (!process->waitForReadyRead(10000))
            return false;
    }
    return process->readLine().trimmed() == "ready";
}

long rssKiB()
{
    QFile status(QStringLiteral("/proc/self/status"));
    if (!status.open(QIODevice::ReadOnly))
        return -1;
    for (const QByteArray& line : status.readAll().split('\n')) {
        if (line.startsWith("VmRSS:"))
            return line.mid(6).trimmed().split(' ').value(0).toLong();
    }
    return -1;
}

int throughput(double seconds)
{
    QProcess target;
    if (!startTarget(&target, {})) {
        std::fprintf(stderr, "cannot start %s\n", qUtf8Printable(targetPath()));
        return 1;
    }
    PerfEventSource source;
    PerfEventSource::Options options;
    options.frequencyHz = 999;
    QString error;
    if (!source.open(pid_t(target.processId()), options, &error)) {
        std::fprintf(stderr, "%s\n", qUtf8Printable(error));
        return 1;
    }
    // Raw records, 8-byte aligned, as the ring buffer holds them.
    std::vector<std::vector<std::uint64_t>> records;
    std::size_t samples = 0;
    const double end = nowSeconds(CLOCK_MONOTONIC) + seconds;
    while (nowSeconds(CLOCK_MONOTONIC) < end) {
        source.wait(50);
        source.drain([&](const perf_event_header& header, const std::uint8_t* record) {
            std::vector<std::uint64_t> copy((header.size + 7) / 8);
            std::memcpy(copy.data(), record, header.size);
            records.push_back(std::move(copy));
            samples += header.type == PERF_RECORD_SAMPLE;
        });
    }
    RecordProcessor processor(pid_t(target.processId()), source.regCount());
    const auto pass = [&] {
        const double cpu0 = nowSeconds(CLOCK_THREAD_CPUTIME_ID);
        for (const auto& record : records) {
            const auto* bytes = reinterpret_cast<const std::uint8_t*>(record.data());
            perf_event_header header;
            std::memcpy(&header, bytes, sizeof header);
            processor.process(header, bytes);
        }
        return nowSeconds(CLOCK_THREAD_CPUTIME_ID) - cpu0;
    };
    const double cold = pass();
    double warm = 0;
    int passes = 0;
    while (warm < 2.0 && passes < 200) {
        warm += pass();
        ++passes;
    }
    const ProfileSnapshot s = processor.aggregate().snapshot({}, 0, processor.functions());
    double depth = 0;
    for (std::uint32_t i = 1; i < s.nodes.size(); ++i) {
        depth += double(s.nodes[i].self) * double(s.path(i).size());
    }
    depth /= double(std::max<std::uint64_t>(1, s.totalSamples()));
    const ProfileStats stats = processor.stats();
    std::printf("throughput: %.0f samples/s warm, %.0f samples/s cold (first pass); %zu recorded samples x %d passes, "
                "%.1f frames per stack, %.0f%% CFI, one core\n",
        double(samples) * passes / warm, double(samples) / cold, samples, passes, depth,
        100.0 * double(stats.cfiStacks) / double(std::max<std::uint64_t>(1, stats.samples)));
    target.closeWriteChannel();
    target.waitForFinished(10000);
    return 0;
}

/// One run of the target's fixed work; its thread CPU seconds, or -1.
double timedRun(int hz, long rounds)
{
    QProcess target;
    if (!startTarget(&target, { QStringLiteral("--rounds"), QString::number(rounds) }))
        return -1;
    std::unique_ptr<ProcessProfiler> profiler;
    if (hz > 0) {
        ProcessProfiler::Options options;
        options.frequencyHz = hz;
        profiler = std::make_unique<ProcessProfiler>(target.processId(), options, PerfSystem::real());
        QString error;
        if (!profiler->start(&error)) {
            std::fprintf(stderr, "%s\n", qUtf8Printable(error));
            return -1;
        }
    }
    target.write("go\n");
    target.waitForBytesWritten();
    if (!target.waitForFinished(300000))
        return -1;
    const QList<QByteArray> done = target.readAll().trimmed().split(' ');
    if (done.size() != 3 || done[0] != "done")
        return -1;
    return done[1].toDouble() * 1e-9;
}

double median(std::vector<double> values)
{
    std::sort(values.begin(), values.end());
    return values[values.size() / 2];
}

int slowdown(const std::vector<int>& rates)
{
    const long rounds = 15000; // about 1.5 s of CPU
    constexpr int kRuns = 5;
    std::vector<double> base;
    std::vector<std::vector<double>> profiled(rates.size());
    for (int run = 0; run < kRuns; ++run) {
        base.push_back(timedRun(0, rounds));
        for (std::size_t i = 0; i < rates.size(); ++i)
            profiled[i].push_back(timedRun(rates[i], rounds));
    }
    const double b = median(base);
    std::printf("slowdown: not profiled %.3f s CPU", b);
    for (std::size_t i = 0; i < rates.size(); ++i)
        std::printf("; %d Hz %+.2f%%", rates[i], 100.0 * (median(profiled[i]) / b - 1.0));
    std::printf(" (median of %d runs each, alternating)\n", kRuns);
    return 0;
}

int memory(double hours)
{
    FunctionTable functions;
    std::vector<std::uint32_t> ids;
    for (int i = 0; i < 400; ++i)
        ids.push_back(functions.intern({ QStringLiteral("namespace::Class::function%1(int, char const*)").arg(i),
            QStringLiteral("libapp.so"), QStringLiteral("file%1.cpp:%2").arg(i % 40).arg(i), false }));
    std::mt19937 random(7);
    std::vector<std::vector<std::uint32_t>> stacks(5000);
    for (auto& stack : stacks) {
        for (int depth = 0; depth < 12; ++depth)
            stack.push_back(ids[depth < 3 ? std::size_t(depth) : random() % ids.size()]);
    }
    ProfileAggregate aggregate;
    const long before = rssKiB();
    const std::uint64_t periodNs = 1'000'000'000ull / 499;
    const std::uint64_t total = std::uint64_t(hours * 3600 * 499);
    std::printf("memory: ");
    for (std::uint64_t n = 0; n < total; ++n) {
        // A few hot stacks and a long tail, as real profiles have.
        const std::size_t pick = random() % 4 == 0 ? random() % stacks.size() : random() % 50;
        aggregate.add(1 + qint64(pick % 8), n * periodNs, stacks[pick]);
        if ((n + 1) % (600 * 499) == 0)
            std::printf("%.0f min %.2f MB (RSS +%.1f MB)%s", double(n + 1) / 499 / 60, double(aggregate.memoryBytes()) / 1e6,
                double(rssKiB() - before) / 1024.0, n + 1 < total ? "; " : "");
    }
    std::printf("\nmemory: %llu samples simulated, %zu stack nodes; the aggregate is flat once every stack was seen\n",
        static_cast<unsigned long long>(total), aggregate.nodeCount());
    return 0;
}
} // namespace

int main(int argc, char** argv)
{
    QCoreApplication app(argc, argv);
    const QStringList args = app.arguments().mid(1);
    if (args.value(0) == QLatin1String("throughput"))
        return throughput(args.value(1, QStringLiteral("3")).toDouble());
    if (args.value(0) == QLatin1String("slowdown")) {
        std::vector<int> rates;
        for (const QString& rate : args.mid(1))
            rates.push_back(rate.toInt());
        if (rates.empty())
            rates = { 99, 499, 999 };
        return slowdown(rates);
    }
    if (args.value(0) == QLatin1String("memory"))
        return memory(args.value(1, QStringLiteral("1")).toDouble());
    std::fprintf(stderr, "usage: bench_profiler throughput SECONDS | slowdown HZ... | memory HOURS\n");
    return 2;
}
