// SPDX-License-Identifier: GPL-3.0-or-later
// The profiler's targets (DESIGN.md):
//   bench_profiler throughput SECONDS [big]
//                                       records the test target's samples (or the big target's: 20,000
//                                       functions, no DWARF, as cc1) for SECONDS at 999 Hz, then unwinds
//                                       and aggregates them again and again on one thread: samples per
//                                       second (cold: first pass), and the symbolizer's CPU to name every
//                                       distinct address once
//   bench_profiler attach PID SECONDS [HZ]
//   bench_profiler bigbinary SECONDS [HZ] [THREADS]
//                                       profiles a live process (PID, or the big target) as perfdash does:
//                                       samples kept and lost (in the first second and over the run),
//                                       and perfdash's CPU against the target's over the same window
//   bench_profiler slowdown HZ...       the target's fixed work, timed by its thread's CPU clock, not
//                                       profiled and profiled at each HZ (runs alternate; medians)
//   bench_profiler memory HOURS         a simulated session of HOURS at 499 Hz over 5,000 distinct
//                                       stacks of 12 frames: the aggregate's bytes and the RSS after each
//                                       simulated 10 minutes (raw samples are not kept)
#include "profiler/perfeventsource.h"
#include "profiler/processprofiler.h"
#include "profiler/profileaggregate.h"
#include "profiler/recordprocessor.h"

#include <QCoreApplication>
#include <QFile>
#include <QProcess>
#include <QThread>

#include <sys/resource.h>

#include <linux/perf_event.h>
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
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

QString targetPath(const char* variant = "nofp")
{
    return QCoreApplication::applicationDirPath() + QStringLiteral("/perfdash_profile_target_")
        + QLatin1String(variant);
}

bool startTarget(QProcess* process, const QStringList& arguments, const char* variant = "nofp")
{
    process->start(targetPath(variant), arguments);
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

/// CPU seconds (user + system) of a process from /proc/PID/stat; -1 when gone.
double processCpuSeconds(qint64 pid)
{
    QFile stat(QStringLiteral("/proc/%1/stat").arg(pid));
    if (!stat.open(QIODevice::ReadOnly))
        return -1;
    const QByteArray line = stat.readAll();
    const QList<QByteArray> fields = line.mid(line.lastIndexOf(')') + 2).split(' ');
    if (fields.size() < 13)
        return -1;
    return double(fields[11].toULongLong() + fields[12].toULongLong()) / double(sysconf(_SC_CLK_TCK));
}

double ownCpuSeconds()
{
    rusage usage {};
    getrusage(RUSAGE_SELF, &usage);
    return double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec)
        + double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) * 1e-6;
}

/// Profiles @p pid for @p seconds at @p hz as perfdash does (ProcessProfiler: reader, unwinder and
/// symbolizer threads), and says what it kept, lost and cost.
int attach(qint64 pid, double seconds, int hz, const char* label)
{
    ProcessProfiler::Options options;
    options.frequencyHz = hz;
    ProcessProfiler profiler(pid, options, PerfSystem::real());
    const double target0 = processCpuSeconds(pid), own0 = ownCpuSeconds(), wall0 = nowSeconds(CLOCK_MONOTONIC);
    QString error;
    if (!profiler.start(&error)) {
        std::fprintf(stderr, "%s\n", qUtf8Printable(error));
        return 1;
    }
    QThread::msleep(1000);
    const ProfileStats first = profiler.stats();
    const double firstTarget = processCpuSeconds(pid) - target0;
    while (nowSeconds(CLOCK_MONOTONIC) < wall0 + seconds && !profiler.hasExited())
        QThread::msleep(50);
    const double target1 = processCpuSeconds(pid);
    profiler.stop(); // everything read is processed and named
    const double own = ownCpuSeconds() - own0;
    const double target = (target1 >= 0 ? target1 : processCpuSeconds(pid)) - target0;
    const ProfileStats stats = profiler.stats();
    const double expected = target * hz; // the samples the target's CPU time calls for
    std::printf("%s: %.1f s, %d Hz: %llu samples kept, %llu lost (%.2f%%; first second: %llu kept, %llu lost, "
                "target CPU %.2f s); %llu distinct addresses, each named once (%llu lookups, %zu modules indexed); "
                "%.0f%% CFI; perfdash %.2f s CPU = %.1f%% of the target's %.2f s; samples/target CPU %.0f/s (%.0f%% of "
                "%d Hz)\n",
        label, nowSeconds(CLOCK_MONOTONIC) - wall0, hz, static_cast<unsigned long long>(stats.samples),
        static_cast<unsigned long long>(stats.lost),
        100.0 * double(stats.lost) / double(std::max<std::uint64_t>(1, stats.samples + stats.lost)),
        static_cast<unsigned long long>(first.samples), static_cast<unsigned long long>(first.lost), firstTarget,
        static_cast<unsigned long long>(stats.addresses), static_cast<unsigned long long>(stats.symbolLookups),
        stats.modulesIndexed, 100.0 * double(stats.cfiStacks) / double(std::max<std::uint64_t>(1, stats.samples)), own,
        100.0 * own / std::max(1e-9, target), target, double(stats.samples) / std::max(1e-9, target),
        100.0 * double(stats.samples) / std::max(1.0, expected), hz);
    return 0;
}

int bigBinary(double seconds, int hz, int threads)
{
    QProcess target;
    if (!startTarget(&target, { QStringLiteral("--threads"), QString::number(threads) }, "big")) {
        std::fprintf(stderr, "cannot start %s\n", qUtf8Printable(targetPath("big")));
        return 1;
    }
    const int status = attach(target.processId(), seconds, hz, "big binary (20,000 functions)");
    target.closeWriteChannel();
    target.waitForFinished(10000);
    return status;
}

int throughput(double seconds, bool big)
{
    QProcess target;
    if (!startTarget(&target, {}, big ? "big" : "nofp")) {
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
    // The symbolizer names each distinct address once, on its own thread: its CPU is the process's
    // beyond this thread's while it works.
    const double naming0 = ownCpuSeconds(), wallNaming0 = nowSeconds(CLOCK_MONOTONIC);
    processor.waitNamed(600000);
    const double naming = ownCpuSeconds() - naming0;
    const double namingWall = nowSeconds(CLOCK_MONOTONIC) - wallNaming0;
    double warm = 0;
    int passes = 0;
    while (warm < 2.0 && passes < 200) {
        warm += pass();
        ++passes;
    }
    const ProfileSnapshot s = processor.snapshot({}, 0);
    double depth = 0;
    for (std::uint32_t i = 1; i < s.nodes.size(); ++i) {
        depth += double(s.nodes[i].self) * double(s.path(i).size());
    }
    depth /= double(std::max<std::uint64_t>(1, s.totalSamples()));
    const ProfileStats stats = processor.stats();
    std::printf(
        "throughput%s: %.0f samples/s warm, %.0f samples/s cold (first pass); %zu recorded samples x %d passes, "
        "%.1f frames per stack, %.0f%% CFI, one core; naming %llu distinct addresses once: %.2f s CPU "
        "(%.1f us each, %.2f s after the first pass)\n",
        big ? " (big binary)" : "", double(samples) * passes / warm, double(samples) / cold, samples, passes, depth,
        100.0 * double(stats.cfiStacks) / double(std::max<std::uint64_t>(1, stats.samples)),
        static_cast<unsigned long long>(stats.namedAddresses), naming,
        1e6 * naming / double(std::max<std::uint64_t>(1, stats.namedAddresses)), namingWall);
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
            std::printf("%.0f min %.2f MB (RSS +%.1f MB)%s", double(n + 1) / 499 / 60,
                double(aggregate.memoryBytes()) / 1e6, double(rssKiB() - before) / 1024.0, n + 1 < total ? "; " : "");
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
        return throughput(args.value(1, QStringLiteral("3")).toDouble(), args.value(2) == QLatin1String("big"));
    if (args.value(0) == QLatin1String("bigbinary"))
        return bigBinary(args.value(1, QStringLiteral("20")).toDouble(), args.value(2, QStringLiteral("499")).toInt(),
            args.value(3, QStringLiteral("4")).toInt());
    if (args.value(0) == QLatin1String("attach") && args.size() >= 2)
        return attach(args.value(1).toLongLong(), args.value(2, QStringLiteral("20")).toDouble(),
            args.value(3, QStringLiteral("499")).toInt(), "attached process");
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
    std::fprintf(stderr,
        "usage: bench_profiler throughput SECONDS [big] | bigbinary SECONDS [HZ] [THREADS] | "
        "attach PID SECONDS [HZ] | slowdown HZ... | memory HOURS\n");
    return 2;
}
