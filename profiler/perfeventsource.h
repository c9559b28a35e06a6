// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <QString>

#include <cstdint>
#include <functional>
#include <set>
#include <vector>

#include <sys/types.h>

struct perf_event_attr;
struct perf_event_header;

namespace perfdash {

/// Where the profiler meets the kernel; tests replace these to simulate what this machine cannot
/// show (a paranoid level of 3, a process of another user).
struct PerfSystem
{
    /// perf_event_open(2): a file descriptor, or -errno.
    std::function<int(perf_event_attr* attr, pid_t tid, int cpu)> openEvent;
    /// /proc/sys/kernel/perf_event_paranoid; -100 when unreadable.
    std::function<int()> paranoid;
    /// The uid that owns the process, -1 if it is gone.
    std::function<qint64(pid_t pid)> ownerUid;
    static PerfSystem real();
};

/// The sentence a user reads when perf_event_open fails with @p error: what happened, why, and
/// what fixes it (for permissions: `sysctl kernel.perf_event_paranoid=2`, `setcap cap_perfmon+ep`).
QString perfOpenProblem(int error, pid_t pid, int paranoid, qint64 ownerUid, qint64 ourUid);

/**
 * The kernel side of profiling one process: a software cpu-clock sampling event per thread and
 * CPU, kernel time included where the kernel allows it (else user space only), with `inherit` so that threads created
 * later are sampled too, all of one CPU writing into that CPU's ring buffer (PERF_EVENT_IOC_SET_OUTPUT), as `perf
 * record -p` does.
 *
 * Off-CPU (Options::offCpu), as `perf record -e cs --call-graph dwarf` and Hotspot's off-CPU view:
 * a second event per thread and CPU, PERF_COUNT_SW_CONTEXT_SWITCHES with sample_period 1 and
 * `context_switch = 1`, writing into buffers of its own (one per CPU). It gives one sample per
 * switch-out with the user stack where the thread blocked, and a PERF_RECORD_SWITCH at every
 * switch-out and switch-in (perfrecords.h says how drain() presents them). The kernel counts a
 * context switch in kernel mode: with exclude_kernel the event opens but never samples, so it
 * needs kernel samples (perf_event_paranoid <= 1 or CAP_PERFMON; exclude_callchain_kernel keeps
 * kernel addresses out of the callchain). Where those are refused, a dummy event with
 * `context_switch = 1` still gives the switch records (every level, for one's own process): the
 * time off CPU without the stack (offCpuSwitchesRecorded() without offCpuRecorded()).
 *
 * Not thread-safe: the profiler's reader thread owns it.
 */
class PerfEventSource
{
public:
    struct Options
    {
        int frequencyHz = 499;
        std::uint32_t stackBytes = 8192; ///< user stack copied per sample, for CFI unwinding
        /// Per CPU buffer; 0: 512 pages (2 MiB) where locked memory is not limited (root), else 128
        /// (+ 1 = 516 KiB, perf's default and an unprivileged user's perf_event_mlock_kb budget).
        int dataPages = 0;
        /// Off-CPU records: stacks at switch-out and switch times (see the class comment).
        bool offCpu = true;
        /// Per CPU off-CPU buffer; 0: half of dataPages.
        int offCpuPages = 0;
    };
    explicit PerfEventSource(PerfSystem system = PerfSystem::real());
    ~PerfEventSource();
    PerfEventSource(const PerfEventSource&) = delete;
    PerfEventSource& operator=(const PerfEventSource&) = delete;

    /// Opens the events on every thread of @p pid; false with a sentence for the user.
    bool open(pid_t pid, const Options& options, QString* error);
    /// Threads of the process that were not sampled yet (created while open() ran); their events
    /// are added. Threads born of sampled ones are inherited and announced by PERF_RECORD_FORK.
    int addMissingThreads();
    void noteInheritedThread(pid_t tid) { m_threads.insert(tid); }

    /// Waits up to @p timeoutMs for data; false when every event has hung up (the process is gone).
    bool wait(int timeoutMs);
    /// Calls @p handle for every record in the ring buffers, in order per buffer, then frees them.
    /// The bytes of a record are 8-byte aligned and valid only during the call.
    void drain(const std::function<void(const perf_event_header& header, const std::uint8_t* record)>& handle);

    int regCount() const { return m_regCount; }
    /// Kernel time is sampled too (into the [kernel] frame): the kernel allowed it (paranoid <= 1,
    /// CAP_PERFMON); otherwise user space only, as an unprivileged user at paranoid 2 gets.
    bool kernelSampled() const { return m_kernel; }
    int frequencyHz() const { return m_frequencyHz; }
    std::size_t eventCount() const { return m_fds.size(); }

    /// Off-CPU stacks are recorded: kOffCpuSampleType records at every switch-out, and the switches.
    bool offCpuRecorded() const { return m_offCpu == OffCpu::Stacks; }
    /// The switches are recorded (PERF_RECORD_SWITCH): off-CPU time, with stacks or without.
    bool offCpuSwitchesRecorded() const { return m_offCpu != OffCpu::Off; }
    /// When off-CPU stacks are not recorded (and Options::offCpu asked for them): a sentence for
    /// the user, what the kernel refused, what is shown instead and what would allow it.
    QString offCpuProblem() const { return m_offCpuProblem; }
    std::size_t offCpuEventCount() const { return m_offCpuFds.size(); }

private:
    enum class OffCpu : std::uint8_t {
        Off, ///< not asked for, or refused
        Stacks, ///< context-switch samples and switch records
        SwitchesOnly, ///< switch records only: kernel samples were refused
    };
    struct Buffer
    {
        int fd = -1;
        void* base = nullptr;
        std::size_t length = 0;
    };

    bool openThread(pid_t tid, QString* error);
    void openOffCpu(pid_t tid);
    void stopOffCpu(const QString& problem);
    void fillSampling(perf_event_attr* attr, int pages) const;
    /// Maps @p fd as @p buffer, halving @p pages until the kernel agrees (locked memory); errno when it never does.
    static int mapBuffer(int fd, int pages, Buffer* buffer);
    void drainBuffer(const Buffer& buffer, bool offCpu,
        const std::function<void(const perf_event_header& header, const std::uint8_t* record)>& handle);

    PerfSystem m_system;
    pid_t m_pid = -1;
    Options m_options;
    int m_frequencyHz = 0;
    int m_regCount = 0;
    bool m_kernel = true;
    std::uint64_t m_regMask = 0;
    std::vector<int> m_cpus;
    std::vector<Buffer> m_buffers; ///< one per CPU, index as m_cpus
    std::vector<int> m_fds; ///< every cpu-clock event, the buffers' own included
    OffCpu m_offCpu = OffCpu::Off;
    bool m_offCpuSettled = false; ///< the first thread's off-CPU events are open: failures now are that thread's
    QString m_offCpuProblem;
    int m_offCpuPages = 0;
    std::vector<Buffer> m_offCpuBuffers; ///< one per CPU, index as m_cpus
    std::vector<int> m_offCpuFds;
    std::set<pid_t> m_threads;
    std::vector<std::uint8_t> m_scratch; ///< a record that wraps around the end of a buffer
};

/// The registers sampled with PERF_SAMPLE_REGS_USER on this architecture (enough for CFI).
std::uint64_t perfUserRegisterMask();

} // namespace perfdash
