// SPDX-License-Identifier: GPL-3.0-or-later
// Off-CPU recording, the kernel side: PERF_RECORD_SWITCH parsed from bytes, the queue keeping
// switches where it refuses off-CPU samples, and a real run on a child that sleeps 20 x 10 ms in a
// known function: its switch-outs come with the user stack where it blocked and its switch-out and
// switch-in times add up to its sleeps. And what is recorded when the kernel refuses stacks (an
// unprivileged user at perf_event_paranoid 2) or context switches altogether, simulated through
// PerfSystem since the suite runs as root.

#include "profiler/perfeventsource.h"
#include "profiler/perfrecords.h"
#include "profiler/recordqueue.h"

#include <QtTest>

#include <linux/perf_event.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

using namespace perfdash;

namespace {

constexpr int kSleeps = 20;
constexpr long kSleepNs = 10'000'000;

// Where the child blocks: blockHere() is called from one place in sleepyLoop(), and the address it
// returns to is on the stack while it sleeps. The parent learns that address by calling the same
// code without sleeping; the child, a fork, has the same addresses.
volatile std::uintptr_t g_returnAddress = 0;

__attribute__((noinline)) void blockHere(long ns)
{
    g_returnAddress = reinterpret_cast<std::uintptr_t>(__builtin_return_address(0));
    timespec t { 0, ns };
    while (nanosleep(&t, &t) != 0 && errno == EINTR) { }
    asm volatile("" ::: "memory"); // no tail call: this frame stays while it sleeps
}

__attribute__((noinline)) void sleepyLoop(int count, long ns)
{
    for (int i = 0; i < count; ++i) {
        blockHere(ns);
        asm volatile("" ::: "memory");
    }
}

std::uint64_t monotonicNs()
{
    timespec t {};
    clock_gettime(CLOCK_MONOTONIC, &t);
    return std::uint64_t(t.tv_sec) * 1'000'000'000ull + std::uint64_t(t.tv_nsec);
}

/// A child that waits for a byte on a pipe, then sleeps kSleeps x kSleepNs in sleepyLoop().
struct SleepyChild
{
    pid_t pid = -1;
    int go = -1;
    SleepyChild()
    {
        int fds[2];
        if (pipe(fds) != 0)
            return;
        pid = fork();
        if (pid == 0) {
            ::close(fds[1]);
            char byte = 0;
            while (read(fds[0], &byte, 1) < 0 && errno == EINTR) { }
            sleepyLoop(kSleeps, kSleepNs);
            _exit(0);
        }
        ::close(fds[0]);
        go = fds[1];
    }
    void start()
    {
        const char byte = 1;
        QCOMPARE(write(go, &byte, 1), ssize_t(1));
    }
    bool exited()
    {
        if (pid > 0 && waitpid(pid, nullptr, WNOHANG) == pid)
            pid = -1;
        return pid <= 0;
    }
    ~SleepyChild()
    {
        if (go >= 0)
            ::close(go);
        if (pid > 0) {
            kill(pid, SIGKILL);
            waitpid(pid, nullptr, 0);
        }
    }
};

struct Switch
{
    std::uint64_t timeNs;
    bool out;
};

/// Hand-built PERF_RECORD_SWITCH: header, then the sample_id trailer of TID | TIME.
std::vector<std::uint64_t> switchRecord(std::uint16_t misc, std::uint32_t pid, std::uint32_t tid, std::uint64_t time)
{
    std::vector<std::uint64_t> words(3);
    perf_event_header header { PERF_RECORD_SWITCH, misc, 24 };
    std::memcpy(&words[0], &header, 8);
    const std::uint32_t ids[2] = { pid, tid };
    std::memcpy(&words[1], ids, 8);
    words[2] = time;
    return words;
}

/// Refuses what @p refuse says with EACCES, opens the rest for real.
PerfSystem refusing(std::function<bool(const perf_event_attr&)> refuse, int paranoid)
{
    PerfSystem system = PerfSystem::real();
    const auto open = system.openEvent;
    system.openEvent = [open, refuse](perf_event_attr* attr, pid_t tid, int cpu) {
        return refuse(*attr) ? -EACCES : open(attr, tid, cpu);
    };
    system.paranoid = [paranoid] { return paranoid; };
    return system;
}

bool isContextSwitchEvent(const perf_event_attr& attr)
{
    return attr.type == PERF_TYPE_SOFTWARE && attr.config == PERF_COUNT_SW_CONTEXT_SWITCHES;
}

} // namespace

class TestOffCpu : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void parseSwitchRecord();
    void parseSwitchRefusesTruncated();
    void queueRefusesOffCpuSamplesKeepsSwitches();
    void sleepsRecorded_data();
    void sleepsRecorded();
    void refusedContextSwitchSampling();
    void offCpuNotAskedFor();
};

void TestOffCpu::parseSwitchRecord()
{
    for (const std::uint16_t misc : { std::uint16_t(0), std::uint16_t(PERF_RECORD_MISC_SWITCH_OUT),
             std::uint16_t(PERF_RECORD_MISC_SWITCH_OUT | PERF_RECORD_MISC_SWITCH_OUT_PREEMPT) }) {
        const std::vector<std::uint64_t> words = switchRecord(misc, 4242, 4343, 123'456'789'012ull);
        std::uint32_t pid = 0, tid = 0;
        std::uint64_t time = 0;
        QVERIFY(perf::parseSwitch(reinterpret_cast<const std::uint8_t*>(words.data()), 24, &pid, &tid, &time));
        QCOMPARE(pid, 4242u);
        QCOMPARE(tid, 4343u);
        QCOMPARE(time, 123'456'789'012ull);
        QCOMPARE(perf::isSwitchOut(misc), misc != 0);
        QCOMPARE(perf::isSwitchOutPreempt(misc), (misc & PERF_RECORD_MISC_SWITCH_OUT_PREEMPT) != 0);
    }
    // A longer trailer (had sample_type ID or CPU too) still starts the same way.
    std::vector<std::uint64_t> longer = switchRecord(PERF_RECORD_MISC_SWITCH_OUT, 1, 2, 3);
    longer.push_back(77);
    std::uint32_t pid = 0, tid = 0;
    std::uint64_t time = 0;
    QVERIFY(perf::parseSwitch(reinterpret_cast<const std::uint8_t*>(longer.data()), 32, &pid, &tid, &time));
    QCOMPARE(time, 3ull);
}

void TestOffCpu::parseSwitchRefusesTruncated()
{
    const std::vector<std::uint64_t> words = switchRecord(PERF_RECORD_MISC_SWITCH_OUT, 1, 2, 3);
    for (std::size_t size = 0; size < 24; ++size) {
        // Copied to a buffer of exactly that size, so that a read past it is the sanitizers' to see.
        std::vector<std::uint8_t> bytes(reinterpret_cast<const std::uint8_t*>(words.data()),
            reinterpret_cast<const std::uint8_t*>(words.data()) + size);
        std::uint32_t pid = 0, tid = 0;
        std::uint64_t time = 0;
        QVERIFY2(!perf::parseSwitch(bytes.data(), size, &pid, &tid, &time), qPrintable(QString::number(size)));
    }
    // The other parsers refuse less than a header too (they start reading after it).
    std::uint8_t four[4] = {};
    std::uint32_t pid = 0, tid = 0;
    QVERIFY(!perf::parseTask(four, sizeof four, &pid, &tid));
    perf::Sample sample;
    QVERIFY(!perf::parseSample(four, sizeof four, 0, &sample));
}

void TestOffCpu::queueRefusesOffCpuSamplesKeepsSwitches()
{
    RecordQueue queue(4096);
    // An off-CPU sample as drain() presents it: the bytes keep the kernel's type, the header says off-CPU.
    std::vector<std::uint64_t> sample(1024 / 8, 0);
    perf_event_header kernelHeader { PERF_RECORD_SAMPLE, PERF_RECORD_MISC_KERNEL, 1024 };
    std::memcpy(sample.data(), &kernelHeader, 8);
    perf_event_header offCpuHeader = kernelHeader;
    offCpuHeader.type = perf::kOffCpuSampleType;
    const std::vector<std::uint64_t> out = switchRecord(PERF_RECORD_MISC_SWITCH_OUT, 1, 2, 3);
    const std::vector<std::uint64_t> in = switchRecord(0, 1, 2, 4);
    perf_event_header switchHeader {};
    std::memcpy(&switchHeader, out.data(), 8);
    for (int i = 0; i < 10; ++i) {
        queue.append(switchHeader, reinterpret_cast<const std::uint8_t*>(out.data()));
        queue.append(offCpuHeader, reinterpret_cast<const std::uint8_t*>(sample.data()));
        perf_event_header inHeader {};
        std::memcpy(&inHeader, in.data(), 8);
        queue.append(inHeader, reinterpret_cast<const std::uint8_t*>(in.data()));
    }
    queue.publish();
    // 3 samples of 1 KiB and the switches fit in 4 KiB; the other 7 samples are refused.
    QCOMPARE(queue.refusedOffCpu(), std::uint64_t(7));
    QCOMPARE(queue.refusedSamples(), std::uint64_t(0));
    int offCpuSamples = 0, outs = 0, ins = 0;
    queue.take([&](const perf_event_header& header, const std::uint8_t* record) {
        perf_event_header own {};
        std::memcpy(&own, record, 8);
        QCOMPARE(own.type, header.type); // the record's own header says the type it was given
        if (header.type == perf::kOffCpuSampleType)
            ++offCpuSamples;
        QVERIFY(header.type != PERF_RECORD_SAMPLE);
        if (header.type == PERF_RECORD_SWITCH)
            ++(perf::isSwitchOut(header.misc) ? outs : ins);
    });
    QCOMPARE(offCpuSamples, 3);
    QCOMPARE(outs, 10);
    QCOMPARE(ins, 10);
}

void TestOffCpu::sleepsRecorded_data()
{
    QTest::addColumn<bool>("stacksRefused");
    QTest::newRow("as the kernel allows (root: stacks)") << false;
    QTest::newRow("stacks refused (paranoid 2, no CAP_PERFMON)") << true;
}

void TestOffCpu::sleepsRecorded()
{
    QFETCH(bool, stacksRefused);
    sleepyLoop(1, 0); // learn where blockHere() returns to in sleepyLoop()
    const std::uint64_t returnAddress = g_returnAddress;
    QVERIFY(returnAddress != 0);

    SleepyChild child;
    QVERIFY(child.pid > 0);
    // Paranoid 2 without CAP_PERFMON refuses every event that samples the kernel (exclude_kernel 0).
    PerfSystem system
        = stacksRefused ? refusing([](const perf_event_attr& a) { return !a.exclude_kernel; }, 2) : PerfSystem::real();
    PerfEventSource source(system);
    PerfEventSource::Options options;
    QString error;
    const std::uint64_t begin = monotonicNs();
    QVERIFY2(source.open(child.pid, options, &error), qPrintable(error));
    QVERIFY(source.offCpuSwitchesRecorded());
    QVERIFY(source.offCpuEventCount() > 0);
    if (stacksRefused) {
        QVERIFY(!source.offCpuRecorded());
        QVERIFY(source.offCpuProblem().contains(QLatin1String("perf_event_paranoid")));
        QVERIFY(source.offCpuProblem().contains(QLatin1String("CAP_PERFMON")));
    } else if (geteuid() == 0) {
        QVERIFY2(source.offCpuRecorded(), qPrintable(source.offCpuProblem()));
        QVERIFY(source.offCpuProblem().isEmpty());
    }
    const pid_t tid = child.pid; // single-threaded: its one thread

    std::vector<Switch> switches;
    int offCpuSamples = 0, samplesBlockedInLoop = 0, foreign = 0;
    const auto handle = [&](const perf_event_header& header, const std::uint8_t* record) {
        if (header.type == PERF_RECORD_SWITCH) {
            std::uint32_t pid = 0, recordTid = 0;
            std::uint64_t time = 0;
            QVERIFY(perf::parseSwitch(record, header.size, &pid, &recordTid, &time));
            if (pid_t(recordTid) == tid)
                switches.push_back({ time, perf::isSwitchOut(header.misc) });
            else
                ++foreign;
        } else if (header.type == perf::kOffCpuSampleType) {
            perf::Sample sample;
            QVERIFY(perf::parseSample(record, header.size, source.regCount(), &sample));
            QCOMPARE(pid_t(sample.tid), tid);
            ++offCpuSamples;
            QVERIFY(sample.abi != 0); // the user registers where it entered the kernel
            QVERIFY(!sample.stack.empty());
            for (std::size_t at = 0; at + 8 <= sample.stack.size(); at += 8) {
                std::uint64_t word = 0;
                std::memcpy(&word, sample.stack.data() + at, 8);
                if (word == returnAddress) {
                    ++samplesBlockedInLoop;
                    break;
                }
            }
        }
    };

    child.start();
    QDeadlineTimer deadline(60000);
    while (!child.exited() && !deadline.hasExpired()) {
        source.wait(50);
        source.drain(handle);
    }
    QVERIFY(child.exited());
    source.drain(handle);
    const std::uint64_t end = monotonicNs();
    QCOMPARE(foreign, 0);

    // Records of different CPUs come from different buffers: put them back in time order.
    std::sort(switches.begin(), switches.end(), [](const Switch& a, const Switch& b) { return a.timeNs < b.timeNs; });
    std::uint64_t offNs = 0, pending = 0;
    int pairs = 0;
    for (const Switch& s : switches) {
        // Perf's clock is CLOCK_MONOTONIC: every switch falls between our two readings of it.
        QVERIFY2(s.timeNs >= begin && s.timeNs <= end,
            qPrintable(QStringLiteral("%1 not in [%2, %3]").arg(s.timeNs).arg(begin).arg(end)));
        if (s.out) {
            pending = s.timeNs;
        } else if (pending) {
            offNs += s.timeNs - pending;
            pending = 0;
            ++pairs;
        }
    }
    const QString seen = QStringLiteral("%1 switches, %2 out/in pairs, %3 ms off CPU, %4 off-CPU samples, "
                                        "%5 of them blocked in sleepyLoop")
                             .arg(switches.size())
                             .arg(pairs)
                             .arg(double(offNs) / 1e6)
                             .arg(offCpuSamples)
                             .arg(samplesBlockedInLoop);
    qInfo().noquote() << seen;
    QVERIFY2(pairs >= kSleeps, qPrintable(seen));
    // 200 ms asleep: generous bounds, as a loaded machine lengthens sleeps but never shortens them.
    QVERIFY2(offNs >= 100'000'000, qPrintable(seen));
    QVERIFY2(offNs <= end - begin, qPrintable(seen));

    if (stacksRefused || !source.offCpuRecorded()) {
        QCOMPARE(offCpuSamples, 0);
        if (!stacksRefused) {
            QVERIFY2(::geteuid() != 0,
                "as root (CI) this must run: "
                "off-CPU stacks need perf_event_paranoid <= 1 or CAP_PERFMON (the suite runs as root)");
            QSKIP("off-CPU stacks need perf_event_paranoid <= 1 or CAP_PERFMON (the suite runs as root)");
        }
        return;
    }
    // One sample per switch-out, with the stack where the thread blocked: in blockHere() under
    // sleepyLoop() for each of the sleeps.
    QVERIFY2(offCpuSamples >= kSleeps, qPrintable(seen));
    QVERIFY2(samplesBlockedInLoop >= kSleeps / 2, qPrintable(seen));
}

void TestOffCpu::refusedContextSwitchSampling()
{
    // Only PERF_COUNT_SW_CONTEXT_SWITCHES refused: CPU profiling goes on, the switches still come.
    {
        PerfEventSource source(refusing(isContextSwitchEvent, 2));
        QString error;
        QVERIFY2(source.open(getpid(), PerfEventSource::Options {}, &error), qPrintable(error));
        QVERIFY(source.eventCount() > 0);
        QVERIFY(!source.offCpuRecorded());
        QVERIFY(source.offCpuSwitchesRecorded());
        QVERIFY(!source.offCpuProblem().isEmpty());
        QVERIFY(source.offCpuProblem().contains(QLatin1String("cap_perfmon")));
    }
    // Context switches refused altogether (a kernel or policy that refuses context_switch).
    {
        PerfEventSource source(
            refusing([](const perf_event_attr& a) { return isContextSwitchEvent(a) || a.context_switch; }, 2));
        QString error;
        QVERIFY2(source.open(getpid(), PerfEventSource::Options {}, &error), qPrintable(error));
        QVERIFY(source.eventCount() > 0);
        QVERIFY(!source.offCpuRecorded());
        QVERIFY(!source.offCpuSwitchesRecorded());
        QCOMPARE(source.offCpuEventCount(), std::size_t(0));
        QVERIFY(source.offCpuProblem().contains(QLatin1String("on-CPU and off-CPU")));
        // Nothing off-CPU comes out of drain().
        int offCpu = 0;
        source.drain([&](const perf_event_header& header, const std::uint8_t*) {
            offCpu += header.type == PERF_RECORD_SWITCH || header.type >= perf::kOffCpuSampleType;
        });
        QCOMPARE(offCpu, 0);
    }
}

void TestOffCpu::offCpuNotAskedFor()
{
    PerfEventSource source;
    PerfEventSource::Options options;
    options.offCpu = false;
    QString error;
    QVERIFY2(source.open(getpid(), options, &error), qPrintable(error));
    QVERIFY(source.eventCount() > 0);
    QCOMPARE(source.offCpuEventCount(), std::size_t(0));
    QVERIFY(!source.offCpuRecorded());
    QVERIFY(!source.offCpuSwitchesRecorded());
    QVERIFY(source.offCpuProblem().isEmpty());
}

QTEST_GUILESS_MAIN(TestOffCpu)
#include "tst_offcpu.moc"
