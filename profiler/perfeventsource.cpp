// SPDX-License-Identifier: GPL-3.0-or-later
#include "profiler/perfeventsource.h"

#include "core/procfs.h"
#include "profiler/perfrecords.h"

#include <QFile>

#include <linux/perf_event.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cerrno>
#include <cstring>

#if defined(__x86_64__)
#include <asm/perf_regs.h>
#endif

namespace perfdash {
namespace {

/// "0-3,6" from /sys/devices/system/cpu/online.
std::vector<int> onlineCpus()
{
    std::vector<int> cpus;
    QFile file(QStringLiteral("/sys/devices/system/cpu/online"));
    if (file.open(QIODevice::ReadOnly)) {
        for (const QByteArray& range : file.readAll().trimmed().split(',')) {
            const QList<QByteArray> ends = range.split('-');
            bool ok1 = false, ok2 = true;
            const int first = ends.value(0).toInt(&ok1);
            const int last = ends.size() > 1 ? ends[1].toInt(&ok2) : first;
            for (int cpu = first; ok1 && ok2 && cpu <= last; ++cpu)
                cpus.push_back(cpu);
        }
    }
    if (cpus.empty()) {
        for (long cpu = 0; cpu < sysconf(_SC_NPROCESSORS_ONLN); ++cpu)
            cpus.push_back(int(cpu));
    }
    return cpus;
}

std::set<pid_t> threadsOf(pid_t pid)
{
    std::set<pid_t> tids;
    for (const qint64 tid : ProcFs().tasks(pid).value_or(QList<qint64>()))
        tids.insert(pid_t(tid));
    return tids;
}

QString ourExecutable()
{
    return ProcFs().selfExecutable().value_or(QString());
}
} // namespace

std::uint64_t perfUserRegisterMask()
{
#if defined(__x86_64__)
    // The 17 DWARF registers of x86-64 (rax..r15 and rip); the segment registers are not needed.
    std::uint64_t mask = 0;
    for (int reg :
        { PERF_REG_X86_AX, PERF_REG_X86_BX, PERF_REG_X86_CX, PERF_REG_X86_DX, PERF_REG_X86_SI, PERF_REG_X86_DI,
            PERF_REG_X86_BP, PERF_REG_X86_SP, PERF_REG_X86_IP, PERF_REG_X86_R8, PERF_REG_X86_R9, PERF_REG_X86_R10,
            PERF_REG_X86_R11, PERF_REG_X86_R12, PERF_REG_X86_R13, PERF_REG_X86_R14, PERF_REG_X86_R15 })
        mask |= std::uint64_t(1) << reg;
    return mask;
#elif defined(__aarch64__)
    return (std::uint64_t(1) << 33) - 1; // x0..x30, sp, pc
#else
    return 0; // no CFI unwinding: the kernel's frame-pointer chains only
#endif
}

PerfSystem PerfSystem::real()
{
    PerfSystem system;
    // The suite runs as root at paranoid 2; these let it show what a user at paranoid 3 (or
    // profiling another user's process) reads, through the real binary: PERFDASH_SIMULATE_PERF_ERRNO=13
    // makes every perf_event_open fail with EACCES, PERFDASH_SIMULATE_PERF_PARANOID=3 is the level read.
    const int simulatedErrno = qEnvironmentVariableIntValue("PERFDASH_SIMULATE_PERF_ERRNO");
    bool simulatedParanoidSet = false;
    const int simulatedParanoid
        = qEnvironmentVariableIntValue("PERFDASH_SIMULATE_PERF_PARANOID", &simulatedParanoidSet);
    if (simulatedErrno > 0)
        system.openEvent = [simulatedErrno](perf_event_attr*, pid_t, int) { return -simulatedErrno; };
    if (simulatedParanoidSet)
        system.paranoid = [simulatedParanoid] { return simulatedParanoid; };
    if (!system.openEvent) {
        system.openEvent = [](perf_event_attr* attr, pid_t tid, int cpu) {
            const long fd = syscall(SYS_perf_event_open, attr, tid, cpu, -1, PERF_FLAG_FD_CLOEXEC);
            return fd >= 0 ? int(fd) : -errno;
        };
    }
    if (!system.paranoid)
        system.paranoid = [] { return ProcFs().sysctl(QStringLiteral("kernel.perf_event_paranoid")).value_or(-100); };
    system.ownerUid = [](pid_t pid) -> qint64 {
        const std::optional<uint> uid = ProcFs().ownerUid(pid);
        return uid ? qint64(*uid) : -1;
    };
    return system;
}

QString perfOpenProblem(int error, pid_t pid, int paranoid, qint64 ownerUid, qint64 ourUid)
{
    const QString exe = ourExecutable();
    const QString fixes = QStringLiteral(
        "To allow it: `sudo sysctl kernel.perf_event_paranoid=2` (this boot; add it to /etc/sysctl.d/ to keep it), "
        "or give perfdash the capability: `sudo setcap cap_perfmon+ep %1`.")
                              .arg(exe);
    switch (error) {
    case EACCES:
    case EPERM:
        if (ownerUid >= 0 && ownerUid != ourUid) {
            // The paranoid level is not the cause here: lowering it would not help.
            return QStringLiteral(
                "cannot profile process %1: it belongs to uid %2, not to you (uid %3), and the kernel "
                "lets a user profile only their own processes. Run perfdash as uid %2%4, or give it "
                "the capabilities to profile any process: `sudo setcap cap_perfmon,cap_sys_ptrace+ep %5` "
                "(CAP_PERFMON and CAP_SYS_PTRACE).")
                .arg(pid)
                .arg(ownerUid)
                .arg(ourUid)
                .arg(paranoid > 2
                        ? QStringLiteral(" (with `sudo sysctl kernel.perf_event_paranoid=2`: it is %1)").arg(paranoid)
                        : QString())
                .arg(exe);
        }
        if (paranoid > 2)
            return QStringLiteral("cannot profile process %1: kernel.perf_event_paranoid is %2, which forbids "
                                  "perf_event_open to unprivileged users (2 allows profiling your own processes' user "
                                  "space). %3")
                .arg(pid)
                .arg(paranoid)
                .arg(fixes);
        return QStringLiteral(
            "cannot profile process %1: perf_event_open was refused (%2; kernel.perf_event_paranoid is "
            "%3; a container or seccomp policy may forbid it). %4")
            .arg(pid)
            .arg(QString::fromLocal8Bit(std::strerror(error)))
            .arg(paranoid)
            .arg(fixes);
    case ESRCH:
        return QStringLiteral("cannot profile process %1: it does not exist (any more)").arg(pid);
    case EMFILE:
    case ENFILE:
        return QStringLiteral("cannot profile process %1: out of file descriptors (one event per thread and CPU); "
                              "raise `ulimit -n`")
            .arg(pid);
    case ENOENT:
    case ENODEV:
    case EOPNOTSUPP:
        return QStringLiteral("cannot profile process %1: this kernel has no cpu-clock sampling event (%2)")
            .arg(pid)
            .arg(QString::fromLocal8Bit(std::strerror(error)));
    default:
        return QStringLiteral("cannot profile process %1: perf_event_open failed: %2")
            .arg(pid)
            .arg(QString::fromLocal8Bit(std::strerror(error)));
    }
}

PerfEventSource::PerfEventSource(PerfSystem system)
    : m_system(std::move(system))
{
}

PerfEventSource::~PerfEventSource()
{
    stopOffCpu(QString());
    for (const Buffer& b : m_buffers) {
        if (b.base)
            munmap(b.base, b.length);
    }
    for (int fd : m_fds)
        ::close(fd);
}

bool PerfEventSource::open(pid_t pid, const Options& options, QString* error)
{
    m_pid = pid;
    m_options = options;
    if (m_options.dataPages <= 0) {
        // Deeper where nothing limits it: 4x the time for the reader to come back at 999 Hz on
        // a loaded machine (about 60 ms per CPU at 516 KiB with 8 KiB stacks).
        rlimit locked {};
        const bool unlimited
            = geteuid() == 0 || (getrlimit(RLIMIT_MEMLOCK, &locked) == 0 && locked.rlim_cur == RLIM_INFINITY);
        m_options.dataPages = unlimited ? 512 : 128;
    }
    const int maxRate = ProcFs().sysctl(QStringLiteral("kernel.perf_event_max_sample_rate")).value_or(100000);
    m_frequencyHz = std::clamp(options.frequencyHz, 1, std::max(1, maxRate));
    m_regMask = perfUserRegisterMask();
    m_regCount = std::popcount(m_regMask);
    m_cpus = onlineCpus();
    m_buffers.resize(m_cpus.size());
    m_offCpu = options.offCpu ? OffCpu::Stacks : OffCpu::Off;
    m_offCpuPages = options.offCpuPages > 0 ? options.offCpuPages
                                            : int(std::bit_floor(unsigned(std::max(8, m_options.dataPages)) / 2));
    m_offCpuBuffers.resize(m_cpus.size());

    std::set<pid_t> tids = threadsOf(pid);
    if (tids.empty()) {
        *error = perfOpenProblem(ESRCH, pid, 0, -1, 0);
        return false;
    }
    for (pid_t tid : tids) {
        if (!openThread(tid, error)) {
            if (tid == pid || m_threads.empty()) // a thread that ended meanwhile is no failure
                return false;
        }
    }
    addMissingThreads();
    return true;
}

int PerfEventSource::addMissingThreads()
{
    int added = 0;
    for (pid_t tid : threadsOf(m_pid)) {
        if (m_threads.count(tid))
            continue;
        QString ignored;
        if (openThread(tid, &ignored))
            ++added;
    }
    return added;
}

void PerfEventSource::fillSampling(perf_event_attr* attr, int pages) const
{
    attr->size = sizeof(*attr);
    attr->type = PERF_TYPE_SOFTWARE;
    attr->sample_type = PERF_SAMPLE_IP | PERF_SAMPLE_TID | PERF_SAMPLE_TIME | PERF_SAMPLE_CALLCHAIN;
    if (m_regMask) {
        attr->sample_type |= PERF_SAMPLE_REGS_USER | PERF_SAMPLE_STACK_USER;
        attr->sample_regs_user = m_regMask;
        attr->sample_stack_user = m_options.stackBytes;
    }
    attr->exclude_hv = 1;
    attr->exclude_callchain_kernel = 1;
    attr->inherit = 1;
    attr->sample_id_all = 1;
    attr->use_clockid = 1;
    attr->clockid = CLOCK_MONOTONIC;
    attr->watermark = 1;
    attr->wakeup_watermark = std::uint32_t(pages) * std::uint32_t(getpagesize()) / 4;
}

int PerfEventSource::mapBuffer(int fd, int pages, Buffer* buffer)
{
    // Within perf_event_mlock_kb for an unprivileged user: halve until the kernel agrees.
    int error = EINVAL;
    for (; pages >= 4; pages /= 2) {
        const std::size_t length = std::size_t(pages + 1) * std::size_t(getpagesize());
        void* base = mmap(nullptr, length, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (base != MAP_FAILED) {
            *buffer = { fd, base, length };
            return 0;
        }
        error = errno;
    }
    return error;
}

bool PerfEventSource::openThread(pid_t tid, QString* error)
{
    for (std::size_t i = 0; i < m_cpus.size(); ++i) {
        perf_event_attr attr {};
        fillSampling(&attr, m_options.dataPages);
        attr.config = PERF_COUNT_SW_CPU_CLOCK;
        // cpu-clock counts nanoseconds: a fixed period is exact and needs no frequency steering.
        attr.sample_period = std::max<std::uint64_t>(1, 1'000'000'000ull / std::uint64_t(m_frequencyHz));
        attr.exclude_kernel = m_kernel ? 0 : 1;
        attr.mmap = 1;
        attr.mmap2 = 1;
        attr.comm = 1;
        attr.task = 1;
        int fd = m_system.openEvent(&attr, tid, m_cpus[i]);
        if (m_kernel && m_fds.empty() && (fd == -EACCES || fd == -EPERM)) {
            // Kernel samples are refused (paranoid 2, no CAP_PERFMON): user space only, as perf falls back to :u.
            m_kernel = false;
            attr.exclude_kernel = 1;
            fd = m_system.openEvent(&attr, tid, m_cpus[i]);
        }
        if (fd < 0) {
            const int err = -fd;
            *error = perfOpenProblem(err, m_pid, m_system.paranoid ? m_system.paranoid() : -100,
                m_system.ownerUid ? m_system.ownerUid(m_pid) : -1, qint64(geteuid()));
            return false;
        }
        m_fds.push_back(fd);
        Buffer& buffer = m_buffers[i];
        if (!buffer.base) {
            if (const int err = mapBuffer(fd, m_options.dataPages, &buffer)) {
                *error = QStringLiteral("cannot profile process %1: the kernel refused the sample buffer (%2); "
                                        "raise kernel.perf_event_mlock_kb or `ulimit -l`")
                             .arg(m_pid)
                             .arg(QString::fromLocal8Bit(std::strerror(err)));
                return false;
            }
        } else if (ioctl(fd, PERF_EVENT_IOC_SET_OUTPUT, buffer.fd) != 0) {
            *error = QStringLiteral("cannot profile process %1: PERF_EVENT_IOC_SET_OUTPUT: %2")
                         .arg(m_pid)
                         .arg(QString::fromLocal8Bit(std::strerror(errno)));
            return false;
        }
    }
    m_threads.insert(tid);
    // After the thread's cpu-clock buffers: where locked memory is short, CPU samples come first.
    if (m_offCpu != OffCpu::Off)
        openOffCpu(tid);
    return true;
}

void PerfEventSource::openOffCpu(pid_t tid)
{
    const auto paranoid = [this] { return m_system.paranoid ? m_system.paranoid() : -100; };
    for (std::size_t i = 0; i < m_cpus.size(); ++i) {
        perf_event_attr attr {};
        fillSampling(&attr, m_offCpuPages);
        attr.context_switch = 1; // PERF_RECORD_SWITCH at every switch-out and switch-in of the thread
        attr.sample_period = 1;
        // No mmap/comm/task here: the cpu-clock event's buffers have them, once.
        if (m_offCpu == OffCpu::Stacks) {
            // Counted while switching, in the kernel: excluding the kernel would leave no sample
            // at all. The user registers and stack are still where the thread entered the kernel.
            attr.config = PERF_COUNT_SW_CONTEXT_SWITCHES;
            attr.exclude_kernel = 0;
        } else {
            attr.config = PERF_COUNT_SW_DUMMY; // the switch records alone
            attr.exclude_kernel = 1;
        }
        int fd = m_system.openEvent(&attr, tid, m_cpus[i]);
        if (!m_offCpuSettled && m_offCpu == OffCpu::Stacks && (fd == -EACCES || fd == -EPERM)) {
            const int level = paranoid();
            m_offCpuProblem = QStringLiteral(
                "Off-CPU stacks of process %1 are not recorded: the kernel refused to sample context switches "
                "(%2; kernel.perf_event_paranoid is %3, and a stack at each switch-out needs 1 or lower, or "
                "CAP_PERFMON). The time each thread and operation spends off CPU is still measured from the "
                "switches, without the stacks where they waited. To record them: `sudo sysctl "
                "kernel.perf_event_paranoid=1`, or `sudo setcap cap_perfmon+ep %4`.")
                                  .arg(m_pid)
                                  .arg(QString::fromLocal8Bit(std::strerror(-fd)))
                                  .arg(level == -100 ? QStringLiteral("unknown") : QString::number(level))
                                  .arg(ourExecutable());
            m_offCpu = OffCpu::SwitchesOnly;
            attr.config = PERF_COUNT_SW_DUMMY;
            attr.exclude_kernel = 1;
            fd = m_system.openEvent(&attr, tid, m_cpus[i]);
        }
        if (fd < 0) {
            if (!m_offCpuSettled) {
                const int level = paranoid();
                stopOffCpu(QStringLiteral(
                    "Off-CPU time of process %1 is not recorded: the kernel refused context-switch records "
                    "(%2; kernel.perf_event_paranoid is %3). Each operation's wall time is still split into "
                    "on-CPU and off-CPU from the CPU samples alone. Context switches of your own processes "
                    "need a perf_event_paranoid of 2 or lower (`sudo sysctl kernel.perf_event_paranoid=2`), "
                    "their stacks 1 or lower, or CAP_PERFMON (`sudo setcap cap_perfmon+ep %4`).")
                               .arg(m_pid)
                               .arg(QString::fromLocal8Bit(std::strerror(-fd)))
                               .arg(level == -100 ? QStringLiteral("unknown") : QString::number(level))
                               .arg(ourExecutable()));
            }
            return; // a thread that ended meanwhile: it goes without
        }
        m_offCpuFds.push_back(fd);
        Buffer& buffer = m_offCpuBuffers[i];
        if (!buffer.base) {
            if (const int err = mapBuffer(fd, m_offCpuPages, &buffer)) {
                stopOffCpu(QStringLiteral("Off-CPU time of process %1 is not recorded: the kernel refused its buffer "
                                          "(%2); raise kernel.perf_event_mlock_kb or `ulimit -l`. Each operation's "
                                          "wall time is still split into on-CPU and off-CPU from the CPU samples.")
                               .arg(m_pid)
                               .arg(QString::fromLocal8Bit(std::strerror(err))));
                return;
            }
        } else if (ioctl(fd, PERF_EVENT_IOC_SET_OUTPUT, buffer.fd) != 0) {
            if (!m_offCpuSettled) {
                stopOffCpu(QStringLiteral("Off-CPU time of process %1 is not recorded: PERF_EVENT_IOC_SET_OUTPUT: %2")
                               .arg(m_pid)
                               .arg(QString::fromLocal8Bit(std::strerror(errno))));
                return;
            }
            ::close(fd);
            m_offCpuFds.pop_back();
        }
    }
    m_offCpuSettled = true;
}

void PerfEventSource::stopOffCpu(const QString& problem)
{
    for (const Buffer& b : m_offCpuBuffers) {
        if (b.base)
            munmap(b.base, b.length);
    }
    for (int fd : m_offCpuFds)
        ::close(fd);
    m_offCpuFds.clear();
    m_offCpuBuffers.assign(m_offCpuBuffers.size(), Buffer {});
    m_offCpu = OffCpu::Off;
    m_offCpuProblem = problem;
}

bool PerfEventSource::wait(int timeoutMs)
{
    std::vector<pollfd> fds;
    for (const Buffer& b : m_buffers)
        fds.push_back({ b.fd, POLLIN, 0 });
    for (const Buffer& b : m_offCpuBuffers) {
        if (b.base)
            fds.push_back({ b.fd, POLLIN, 0 });
    }
    if (fds.empty())
        return false;
    if (::poll(fds.data(), fds.size(), timeoutMs) <= 0)
        return true;
    // Once every task that could write into a buffer has exited, its events hang up.
    return !std::all_of(fds.begin(), fds.end(), [](const pollfd& p) { return p.revents & POLLHUP; });
}

void PerfEventSource::drain(const std::function<void(const perf_event_header&, const std::uint8_t*)>& handle)
{
    for (const Buffer& b : m_buffers)
        drainBuffer(b, false, handle);
    for (const Buffer& b : m_offCpuBuffers)
        drainBuffer(b, true, handle);
}

void PerfEventSource::drainBuffer(
    const Buffer& b, bool offCpu, const std::function<void(const perf_event_header&, const std::uint8_t*)>& handle)
{
    if (!b.base)
        return;
    auto* meta = static_cast<perf_event_mmap_page*>(b.base);
    const std::uint64_t dataSize = meta->data_size ? meta->data_size : b.length - std::size_t(getpagesize());
    const std::uint64_t dataOffset = meta->data_offset ? meta->data_offset : std::uint64_t(getpagesize());
    const auto* data = static_cast<const std::uint8_t*>(b.base) + dataOffset;
    const std::uint64_t head = __atomic_load_n(&meta->data_head, __ATOMIC_ACQUIRE);
    std::uint64_t tail = meta->data_tail;
    while (tail + sizeof(perf_event_header) <= head) {
        perf_event_header header;
        const std::uint64_t at = tail % dataSize;
        if (at + sizeof(header) <= dataSize) {
            std::memcpy(&header, data + at, sizeof(header));
        } else {
            const std::size_t first = std::size_t(dataSize - at);
            std::memcpy(&header, data + at, first);
            std::memcpy(reinterpret_cast<std::uint8_t*>(&header) + first, data, sizeof(header) - first);
        }
        if (header.size < sizeof(header) || tail + header.size > head)
            break;
        const std::uint8_t* record = data + at;
        if (at + header.size > dataSize) { // wraps: copy it whole, aligned
            m_scratch.resize((header.size + 7) & ~std::size_t(7));
            const std::size_t first = std::size_t(dataSize - at);
            std::memcpy(m_scratch.data(), data + at, first);
            std::memcpy(m_scratch.data() + first, data, header.size - first);
            record = m_scratch.data();
        }
        tail += header.size;
        if (offCpu) {
            // Told apart from the cpu-clock event's by type (perfrecords.h); the bytes keep the kernel's.
            switch (header.type) {
            case PERF_RECORD_SAMPLE:
                header.type = perf::kOffCpuSampleType;
                break;
            case PERF_RECORD_SWITCH:
                break;
            case PERF_RECORD_LOST:
                header.type = perf::kOffCpuLostType;
                break;
            case PERF_RECORD_LOST_SAMPLES:
                header.type = perf::kOffCpuLostSamplesType;
                break;
            case PERF_RECORD_THROTTLE:
                header.type = perf::kOffCpuThrottleType;
                break;
            default:
                continue; // unthrottle and the like: nothing the profile needs
            }
        }
        handle(header, record);
    }
    __atomic_store_n(&meta->data_tail, tail, __ATOMIC_RELEASE);
}

} // namespace perfdash
