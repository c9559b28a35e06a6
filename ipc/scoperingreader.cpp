// SPDX-License-Identifier: GPL-3.0-or-later
#include "ipc/scoperingreader.h"

#include "ipc/client/wire/scoperingformat.h"

#include <QFile>
#include <QTimer>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace perfdash {

namespace {
/// A record the writer has timed but not yet published (its window opening still in the store
/// buffer) is at most this far in the past: instants before now - this are complete.
constexpr qint64 InFlightMarginNs = 100'000;
/// Converted readings further ahead of the reader's own clock are wrong: clock trouble.
constexpr qint64 FutureToleranceNs = 1'000'000;

qint64 monotonicNs()
{
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return qint64(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

struct ClockCopy
{
    bool valid = false; ///< counter readings convert
    quint64 mult = 0, anchorTicks = 0, anchorMono = 0, droppedMono = 0;
};

ClockCopy readClock(const rings::ClockBlock& c)
{
    ClockCopy copy;
    for (int attempt = 0; attempt < 16; ++attempt) {
        const quint32 s1 = c.clockSeq.load(std::memory_order_acquire);
        if (s1 & 1)
            continue;
        copy.valid = c.counterValid.load(std::memory_order_relaxed) != 0;
        copy.mult = c.mult.load(std::memory_order_relaxed);
        copy.anchorTicks = c.anchorTicks.load(std::memory_order_relaxed);
        copy.anchorMono = c.anchorMono.load(std::memory_order_relaxed);
        copy.droppedMono = c.counterDroppedMono.load(std::memory_order_relaxed);
        std::atomic_thread_fence(std::memory_order_acquire);
        if (c.clockSeq.load(std::memory_order_relaxed) == s1) {
            copy.valid = copy.valid && copy.mult != 0;
            return copy;
        }
    }
    return {}; // never consistent: counter readings are clock trouble this time
}

const rings::RingHeader& ringHeader(const char* base, quint32 i)
{
    return *reinterpret_cast<const rings::RingHeader*>(base + rings::ringHeaderOffset(i));
}
} // namespace

struct ScopeRingReader::Process
{
    qint64 pid = 0;
    const char* base = nullptr;
    std::size_t bytes = 0;
    const rings::Header* header = nullptr;
    quint32 entries = 0;
    quint64 token = 0;
    qint64 sessionStart = -1;
    qint64 lastKnown = 0; ///< the last poll's complete instant
    std::vector<QString> names;
    struct Ring
    {
        bool owned = false;
        bool finished = false;
        quint32 generation = 0;
        quint64 next = 0; ///< the index of the next record to read
        ScopeTimeline* timeline = nullptr;
    };
    std::vector<Ring> rings;
    std::map<quint64, std::vector<std::unique_ptr<ScopeTimeline>>> threads; ///< by tid, oldest first
    Stats stats;
    quint64 droppedMismatches = 0; ///< of timelines already dropped
    quint64 droppedClockTroubles = 0;

    ~Process() { unmap(); }
    void unmap()
    {
        if (base)
            ::munmap(const_cast<char*>(base), bytes);
        base = nullptr;
        header = nullptr;
        stats.mapped = false;
    }
    void resetTimelines()
    {
        for (auto& [tid, list] : threads)
            for (auto& t : list) {
                droppedMismatches += t->mismatches();
                droppedClockTroubles += t->clockTroubles();
            }
        threads.clear();
        for (Ring& r : rings)
            r = Ring {};
    }
    ScopeTimeline* timelineAt(quint64 tid, qint64 ns) const
    {
        const auto it = threads.find(tid);
        if (it == threads.end() || it->second.empty())
            return nullptr;
        // The latest that began at or before ns (a thread may have had several rings in turn).
        for (auto t = it->second.rbegin(); t != it->second.rend(); ++t)
            if ((*t)->fromNs() <= ns)
                return t->get();
        return it->second.front().get();
    }
};

ScopeRingReader::ScopeRingReader(QObject* parent)
    : QObject(parent)
    , m_retentionNs(30'000'000'000)
    , m_maxTransitions(65536)
{
    m_thread.setObjectName(QStringLiteral("perfdash-scoperings"));
}

ScopeRingReader::~ScopeRingReader()
{
    stop();
}

void ScopeRingReader::start(int intervalMs)
{
    if (m_timer)
        return;
    m_thread.start();
    m_timer = new QTimer;
    m_timer->setInterval(std::max(1, intervalMs));
    m_timer->moveToThread(&m_thread);
    connect(m_timer, &QTimer::timeout, m_timer, [this] { poll(); });
    QMetaObject::invokeMethod(m_timer, qOverload<>(&QTimer::start), Qt::QueuedConnection);
}

void ScopeRingReader::stop()
{
    if (!m_timer)
        return;
    QTimer* timer = m_timer;
    QMetaObject::invokeMethod(
        timer, [timer] { delete timer; }, Qt::BlockingQueuedConnection);
    m_timer = nullptr;
    m_thread.quit();
    m_thread.wait();
}

void ScopeRingReader::setRetention(qint64 windowNs, std::size_t maxTransitions)
{
    std::lock_guard lock(m_mutex);
    m_retentionNs = windowNs;
    m_maxTransitions = std::max<std::size_t>(maxTransitions, 16);
}

bool ScopeRingReader::offer(qint64 pid, const protocol::Rings& rings)
{
    std::lock_guard lock(m_mutex);
    auto& slot = m_processes[pid];
    if (!slot) {
        slot = std::make_unique<Process>();
        slot->pid = pid;
    }
    Process& p = *slot;
    if (rings.state == protocol::Rings::State::Unavailable) {
        p.stats.error = QStringLiteral("the client cannot record operations for the profiler: %1").arg(rings.reason);
        return false;
    }
    if (rings.state == protocol::Rings::State::Stopped)
        return true; // what was read stays for samples taken; the header says when it stopped
    if (p.header && p.token == rings.token)
        return true; // the same segment: a new session shows in its header

    const auto refuse = [&p](const QString& why) {
        p.stats.error = why;
        return false;
    };
    const QByteArray path = QFile::encodeName(QStringLiteral("/proc/%1/fd/%2").arg(pid).arg(rings.descriptor));
    const int fd = ::open(path.constData(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return refuse(QStringLiteral("cannot open the scope rings of pid %1 (%2): %3")
                          .arg(pid)
                          .arg(QString::fromLocal8Bit(path), QString::fromLocal8Bit(std::strerror(errno))));
    struct stat st
    {
    };
    const bool regular = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && quint64(st.st_size) >= rings.bytes;
#if defined(F_GET_SEALS)
    // A file its writer could shrink would fault (SIGBUS) our reads past its end.
    const int seals = ::fcntl(fd, F_GET_SEALS);
    const bool sealed = seals >= 0 && (seals & F_SEAL_SHRINK);
#else
    const bool sealed = false;
#endif
    if (!regular || !sealed || rings.bytes < rings::RecordsOffset
        || rings.bytes > rings::segmentBytes(rings::MaxRingEntries)) {
        ::close(fd);
        return refuse(
            QStringLiteral("pid %1 offered scope rings that are not a sealed file of the announced size").arg(pid));
    }
    void* base = ::mmap(nullptr, rings.bytes, PROT_READ, MAP_SHARED, fd, 0);
    ::close(fd);
    if (base == MAP_FAILED)
        return refuse(QStringLiteral("cannot map the scope rings of pid %1: %2")
                          .arg(pid)
                          .arg(QString::fromLocal8Bit(std::strerror(errno))));
    const auto* h = static_cast<const rings::Header*>(base);
    const quint32 entries = h->ringEntries;
    if (h->magic != rings::Magic || h->layoutVersion != rings::LayoutVersion || h->token != rings.token
        || h->segmentBytes != rings.bytes || h->maxRings != rings::MaxRings || entries < rings::MinRingEntries
        || entries > rings::MaxRingEntries || (entries & (entries - 1))
        || rings::segmentBytes(entries) != rings.bytes) {
        ::munmap(base, rings.bytes);
        return refuse(QStringLiteral("pid %1 offered scope rings of an unknown layout, or not its own").arg(pid));
    }
    p.resetTimelines();
    p.unmap();
    p.base = static_cast<const char*>(base);
    p.bytes = rings.bytes;
    p.header = h;
    p.entries = entries;
    p.token = rings.token;
    p.sessionStart = -1;
    p.names.clear();
    p.rings.assign(rings::MaxRings, {});
    p.stats = Stats {};
    p.stats.mapped = true;
    pollLocked(p);
    return true;
}

void ScopeRingReader::removeProcess(qint64 pid)
{
    std::lock_guard lock(m_mutex);
    m_processes.erase(pid);
}

bool ScopeRingReader::hasProcess(qint64 pid) const
{
    std::lock_guard lock(m_mutex);
    const auto it = m_processes.find(pid);
    return it != m_processes.end() && it->second->header;
}

void ScopeRingReader::poll()
{
    std::lock_guard lock(m_mutex);
    for (auto& [pid, p] : m_processes)
        pollLocked(*p);
}

void ScopeRingReader::pollLocked(Process& p)
{
    const rings::Header* h = p.header;
    if (!h)
        return;
    const qint64 now = monotonicNs();
    const qint64 session = qint64(h->sessionStartMono.load(std::memory_order_acquire));
    if (session != p.sessionStart) { // a new session: what was read of the last one is of no use
        p.resetTimelines();
        p.sessionStart = session;
    }
    const qint64 sessionEnd = qint64(h->sessionEndMono.load(std::memory_order_acquire));
    const qint64 known = sessionEnd > 0 ? std::min(now - InFlightMarginNs, sessionEnd) : now - InFlightMarginNs;
    p.lastKnown = known;

    // Names the client published since.
    const auto* nameEntries = reinterpret_cast<const rings::NameEntry*>(p.base + rings::NamesOffset);
    const char* heap = p.base + rings::NamesHeapOffset;
    const quint32 published = std::min(h->namesPublished.load(std::memory_order_acquire), rings::MaxNames);
    for (quint32 id = quint32(p.names.size()); id < published; ++id) {
        const quint32 offset = nameEntries[id].offset.load(std::memory_order_relaxed);
        const quint32 length = nameEntries[id].length.load(std::memory_order_relaxed);
        const bool inHeap = length != rings::NameUnavailable && quint64(offset) + length <= rings::NamesHeapBytes;
        p.names.push_back(inHeap ? QString::fromUtf8(heap + offset, qsizetype(length)) : QString());
    }

    const ClockCopy clock = readClock(h->clock);
    qint64 copiedAt = now; // after the records were copied: none can be later than this
    const auto toMonotonic = [&](quint64 raw, bool monotonic) -> qint64 {
        if (monotonic)
            return qint64(raw);
        if (!clock.valid)
            return -1;
        const auto ns = qint64(rings::ticksToMonotonic(raw, clock.anchorTicks, clock.anchorMono, clock.mult));
        if (clock.droppedMono && ns > qint64(clock.droppedMono))
            return -1; // the kernel stopped trusting the counter before this reading
        return ns > copiedAt + FutureToleranceNs ? -1 : ns;
    };

    const quint32 used = std::min(h->ringsUsed.load(std::memory_order_acquire), rings::MaxRings);
    std::vector<std::pair<quint64, quint64>> copied;
    for (quint32 i = 0; i < used; ++i) {
        const rings::RingHeader& r = ringHeader(p.base, i);
        Process::Ring& st = p.rings[i];
        const quint32 generation = r.generation.load(std::memory_order_acquire);
        if (!st.owned || generation != st.generation) {
            if (st.owned && st.timeline && !st.timeline->finished()) {
                // The ring changed hands before its thread's last records were read.
                st.timeline->lose(AttributionGap::Overrun, 1);
                ++p.stats.overruns;
                st.timeline->finish(known);
            }
            st = Process::Ring {};
            const quint32 state = r.state.load(std::memory_order_acquire);
            if (state == rings::Free || generation == 0)
                continue;
            const quint64 tid = r.tid.load(std::memory_order_relaxed);
            const quint64 seqAtClaim = r.seqAtClaim.load(std::memory_order_relaxed);
            const auto claimMono = qint64(r.claimMono.load(std::memory_order_relaxed));
            const quint32 depthAtClaim = r.depthAtClaim.load(std::memory_order_relaxed);
            std::atomic_thread_fence(std::memory_order_acquire);
            if (r.generation.load(std::memory_order_relaxed) != generation)
                continue; // being claimed right now: next time
            st.owned = true;
            st.generation = generation;
            st.next = seqAtClaim / 2;
            // Claimed in this session: the thread was that deep from the claim until its first
            // record. Claimed before: since the session began, its depth shows at its next record.
            const bool claimedNow = claimMono >= session;
            auto timeline = std::make_unique<ScopeTimeline>(
                tid, claimedNow ? claimMono : session, claimedNow ? int(std::min(depthAtClaim, rings::MaxDepth)) : -1);
            st.timeline = timeline.get();
            p.threads[tid].push_back(std::move(timeline));
        }
        if (st.finished || !st.timeline)
            continue;
        ScopeTimeline& timeline = *st.timeline;
        const quint64 seq = r.seq.load(std::memory_order_acquire);
        const quint64 written = seq / 2;
        if (written < st.next) { // a writer that went backwards: start over from where it is
            timeline.lose(AttributionGap::Mismatch, 1);
            st.next = written;
        }
        quint64 first = st.next;
        if (written - first > p.entries) {
            const quint64 lost = written - p.entries - first;
            timeline.lose(AttributionGap::Overrun, lost);
            p.stats.overrunRecords += lost;
            ++p.stats.overruns;
            first = written - p.entries;
        }
        const auto* records = reinterpret_cast<const rings::Record*>(p.base + rings::recordsOffset(p.entries, i));
        copied.clear();
        for (quint64 n = first; n < written; ++n) {
            const rings::Record& rec = records[n & (p.entries - 1)];
            copied.emplace_back(rec.time.load(std::memory_order_relaxed), rec.word.load(std::memory_order_relaxed));
        }
        std::atomic_thread_fence(std::memory_order_acquire);
        const quint64 seq2 = r.seq.load(std::memory_order_relaxed);
        copiedAt = monotonicNs();
        // Records whose slot the writer reached again while they were copied are not theirs.
        const quint64 reached = (seq2 + 1) / 2;
        const quint64 validFrom = reached > p.entries ? reached - p.entries : 0;
        std::size_t skip = 0;
        if (validFrom > first) {
            skip = std::size_t(std::min(validFrom, written) - first);
            timeline.lose(AttributionGap::Overrun, skip);
            p.stats.overrunRecords += skip;
            ++p.stats.overruns;
        }
        qint64 last = -1;
        for (std::size_t k = skip; k < copied.size(); ++k) {
            const auto [raw, word] = copied[k];
            ScopeTimeline::Record rec;
            rec.rawTime = raw;
            rec.op = quint32(word & rings::OpMask);
            rec.kind = quint8((word >> rings::KindShift) & rings::KindMask);
            rec.depth = quint32((word >> rings::DepthShift) & rings::MaxDepth);
            rec.startLow = quint32(word >> rings::StartLowShift);
            rec.timeNs = toMonotonic(raw, word & rings::MonotonicBit);
            // Before this session: transitions of a time nobody recorded all of. A LateStart goes
            // with its LateEnd, whose time decides.
            qint64 decides = rec.timeNs;
            if (rec.kind == rings::LateStart && k + 1 < copied.size())
                decides = toMonotonic(copied[k + 1].first, copied[k + 1].second & rings::MonotonicBit);
            if (decides >= 0 && decides < session)
                continue;
            ++p.stats.records;
            timeline.add(rec);
            if (rec.timeNs >= 0 && rec.kind != rings::LateStart)
                last = rec.timeNs;
        }
        st.next = written;
        if (seq2 == seq && !(seq & 1))
            timeline.setKnownUntil(known); // nothing written since, nothing being written
        else if (last >= 0)
            timeline.setKnownUntil(last);
        if (r.state.load(std::memory_order_acquire) == rings::Finished && seq2 == seq && !(seq & 1)) {
            timeline.finish(qint64(r.finishedMono.load(std::memory_order_relaxed)));
            st.finished = true;
        }
    }

    // Bounds: the retention window and the number of transitions a thread keeps.
    const qint64 horizon = now - m_retentionNs;
    for (auto it = p.threads.begin(); it != p.threads.end();) {
        auto& list = it->second;
        for (auto t = list.begin(); t != list.end();) {
            p.stats.evicted += (*t)->evict(horizon, m_maxTransitions);
            const bool gone = (*t)->finished() && (*t)->segments() <= 1 && (*t)->fromNs() < horizon
                && std::none_of(
                    p.rings.begin(), p.rings.end(), [&](const Process::Ring& r) { return r.timeline == t->get(); });
            if (gone) {
                p.droppedMismatches += (*t)->mismatches();
                p.droppedClockTroubles += (*t)->clockTroubles();
                t = list.erase(t);
            } else {
                ++t;
            }
        }
        it = list.empty() ? p.threads.erase(it) : std::next(it);
    }
}

Attribution::Frame ScopeRingReader::named(const Process& p, const OperationInstance& i) const
{
    Attribution::Frame f;
    f.instance = i;
    if (i.op < p.names.size())
        f.name = p.names[i.op];
    return f;
}

std::vector<Attribution> ScopeRingReader::attribute(qint64 pid, const std::vector<AttributionQuery>& samples)
{
    std::vector<Attribution> out(samples.size());
    std::lock_guard lock(m_mutex);
    const auto it = m_processes.find(pid);
    if (it == m_processes.end() || !it->second->header) {
        for (Attribution& a : out)
            a.gap = AttributionGap::NotInstrumented;
        return out;
    }
    Process& p = *it->second;
    qint64 latest = 0;
    for (const AttributionQuery& q : samples)
        latest = std::max(latest, q.timeNs);
    if (latest > p.lastKnown)
        pollLocked(p);
    const qint64 sessionEnd = qint64(p.header->sessionEndMono.load(std::memory_order_acquire));
    std::vector<OperationInstance> stack;
    for (std::size_t k = 0; k < samples.size(); ++k) {
        const AttributionQuery& q = samples[k];
        Attribution& a = out[k];
        if (q.timeNs < p.sessionStart) {
            a.gap = AttributionGap::BeforeTracing;
            continue;
        }
        if (sessionEnd > 0 && q.timeNs > sessionEnd) {
            a.gap = AttributionGap::NotInstrumented; // the client stopped recording
            continue;
        }
        const ScopeTimeline* t = p.timelineAt(q.tid, q.timeNs);
        if (!t) {
            a.gap = q.timeNs > p.lastKnown ? AttributionGap::Pending : AttributionGap::NoRing;
            continue;
        }
        a.gap = t->stackAt(q.timeNs, stack);
        if (a.gap == AttributionGap::BeforeTracing && q.timeNs >= p.sessionStart)
            a.gap = AttributionGap::NoRing; // before this thread's ring: it had made no transition
        for (const OperationInstance& i : stack)
            a.stack.push_back(named(p, i));
        if (a.gap == AttributionGap::None)
            a.knownUntilNs = t->knownUntil();
    }
    return out;
}

std::vector<ThreadInstances> ScopeRingReader::instances(qint64 pid, qint64 sinceNs) const
{
    std::vector<ThreadInstances> out;
    std::lock_guard lock(m_mutex);
    const auto it = m_processes.find(pid);
    if (it == m_processes.end())
        return out;
    const Process& p = *it->second;
    std::vector<OperationInstance> list;
    for (const auto& [tid, timelines] : p.threads) {
        ThreadInstances t;
        t.tid = tid;
        for (const auto& timeline : timelines) {
            list.clear();
            timeline->instancesSince(sinceNs, list);
            for (const OperationInstance& i : list)
                t.instances.push_back(named(p, i));
        }
        out.push_back(std::move(t));
    }
    return out;
}

QString ScopeRingReader::operationName(qint64 pid, quint32 op) const
{
    std::lock_guard lock(m_mutex);
    const auto it = m_processes.find(pid);
    return it != m_processes.end() && op < it->second->names.size() ? it->second->names[op] : QString();
}

ScopeRingReader::Stats ScopeRingReader::stats(qint64 pid) const
{
    std::lock_guard lock(m_mutex);
    const auto it = m_processes.find(pid);
    if (it == m_processes.end())
        return {};
    const Process& p = *it->second;
    Stats s = p.stats;
    s.mismatches = p.droppedMismatches;
    s.clockTroubles = p.droppedClockTroubles;
    for (const auto& [tid, list] : p.threads)
        for (const auto& t : list) {
            s.mismatches += t->mismatches();
            s.clockTroubles += t->clockTroubles();
        }
    s.threads = int(p.threads.size());
    s.sessionStartNs = p.sessionStart;
    if (const rings::Header* h = p.header) {
        s.ringless = h->ringless.load(std::memory_order_relaxed);
        s.untracedScopes = h->untracedScopes.load(std::memory_order_relaxed);
        s.lateInstances = h->lateInstances.load(std::memory_order_relaxed);
        s.namesDropped = h->namesDropped.load(std::memory_order_relaxed);
        s.reentered = h->reentered.load(std::memory_order_relaxed);
    }
    return s;
}

} // namespace perfdash
