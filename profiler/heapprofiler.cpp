// SPDX-License-Identifier: GPL-3.0-or-later
#include "profiler/heapprofiler.h"

#include "core/errors.h"

#include "profiler/profileaggregate.h"
#include "profiler/symbolizer.h"

#include "heap/heapchannel.h"

#include <QCoreApplication>
#include <QDateTime>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QHash>
#include <QProcessEnvironment>
#include <QStandardPaths>
#include <QStringList>
#include <QThread>
#include <QTimer>

#include <algorithm>
#include <array>
#include <cerrno>
#include <csignal>
#include <ctime>
#include <deque>
#include <functional>
#include <string>
#include <unordered_map>

namespace perfdash {

namespace {
std::uint64_t monotonicNs()
{
    timespec ts {};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return std::uint64_t(ts.tv_sec) * 1'000'000'000u + std::uint64_t(ts.tv_nsec);
}

/// A program whose preload has not claimed its channel this long after it started did not load it.
constexpr std::uint64_t NeverLoadedNs = 3'000'000'000u;
/// An exec whose environment drops the preload is certain once it did not fail: seen this long.
constexpr std::uint64_t ExecWithoutPreloadNs = 200'000'000u;
constexpr std::uint64_t NsPerSecond = 1'000'000'000u;
} // namespace

void HeapRateWindow::add(std::uint64_t timeNs, double amount)
{
    const std::uint64_t s = timeNs / NsPerSecond;
    const std::size_t slot = s % bytes.size();
    if (second[slot] != s) {
        if (s < second[slot])
            return; // older than the ring: outside any window
        second[slot] = s;
        bytes[slot] = 0;
    }
    bytes[slot] += amount;
}

double HeapRateWindow::rate(std::uint64_t startedNs, std::uint64_t nowNs) const
{
    const std::uint64_t current = nowNs / NsPerSecond; // not over yet
    const std::uint64_t firstWhole = startedNs / NsPerSecond + 1; // the second tracking started in is partial
    if (current <= firstWhole)
        return 0;
    const std::uint64_t windowStart = current > std::uint64_t(Seconds) ? current - std::uint64_t(Seconds) : 0;
    const std::uint64_t from = std::max(firstWhole, windowStart);
    double sum = 0;
    for (std::size_t i = 0; i < bytes.size(); ++i) {
        if (second[i] >= from && second[i] < current)
            sum += bytes[i];
    }
    return sum / double(current - from);
}

struct HeapProfiler::Tracked
{
    struct Stack
    {
        std::vector<std::uint64_t> pcs; ///< innermost first, as the preload wrote them
        std::vector<std::uint32_t> functions; ///< outermost first, once named
        double liveBytes = 0; ///< estimated: the sampled blocks' weights
        double markBytes = 0; ///< liveBytes when the mark was set
        HeapRateWindow allocated; ///< estimated bytes allocated, per second
        int site = -1; ///< into sites, once named
    };
    struct Block
    {
        std::uint32_t stack;
        double weight;
    };

    std::unique_ptr<heap::HeapChannel> channel;
    qint64 pid = 0;
    QString name;
    std::uint64_t startedNs = 0;
    bool reported = false; ///< a problem was said once
    std::uint64_t execSeenNs = 0; ///< when an exec not taken over was first seen (0: none pending)
    QString execProblem; ///< an exec whose program is not tracked, once said
    bool childrenReported = false;
    bool marked = false; ///< setMark() was called
    bool ended = false; ///< gone, drained and released: the final snapshot stands for it
    std::uint64_t endedOrder = 0;
    ProfileSnapshotPtr finalLive, finalGrowth; ///< once ended
    qint64 lastLive = -1;
    std::unique_ptr<SymbolResolver> resolver;
    FunctionTable functions;
    std::unordered_map<std::uint64_t, std::vector<std::uint32_t>> named; ///< pc -> functions, outermost first
    std::vector<Stack> stacks; ///< [0] is "[other stacks]", past MaxStacks
    std::unordered_map<std::string, std::uint32_t> stackIds; ///< the pcs' bytes -> index
    std::unordered_map<std::uint64_t, Block> blocks; ///< sampled blocks alive, by address
    heap::HeapCounters counters;
    QStringList sites; ///< allocation sites by name (siteOf())
    QHash<QString, int> siteIds;
    std::map<int, std::deque<std::pair<qint64, double>>> history; ///< by site: (wall ms, live bytes)
    qint64 lastHistoryMs = 0;

    /// The allocation site of a named stack: its innermost function that is the program's own,
    /// not the C library's, the C++ library's or an allocator's, without its parameters.
    int siteOf(const Stack& s)
    {
        QString site = QStringLiteral("[unknown]");
        for (auto f = s.functions.rbegin(); f != s.functions.rend(); ++f) {
            const ProfileFunction& fn = functions.at(*f);
            const bool library = fn.module.startsWith(QLatin1String("libc.so"))
                || fn.module.startsWith(QLatin1String("libstdc++")) || fn.module.startsWith(QLatin1String("ld-linux"))
                || fn.module.startsWith(QLatin1String("libperfdash_heap"));
            const bool plumbing = fn.name.startsWith(QLatin1String("std::"))
                || fn.name.startsWith(QLatin1String("void std::")) || fn.name.startsWith(QLatin1String("__gnu_cxx::"))
                || fn.name.startsWith(QLatin1String("operator new")) || fn.name.contains(QLatin1String("alloc"));
            if (!library && !plumbing && *f != FunctionTable::kUnknown) {
                site = fn.name;
                break;
            }
        }
        site.remove(QStringLiteral("(anonymous namespace)::"));
        if (const qsizetype paren = site.indexOf(u'('); paren > 0)
            site.truncate(paren);
        if (const auto it = siteIds.constFind(site); it != siteIds.constEnd())
            return *it;
        sites.append(site);
        return *siteIds.insert(site, int(sites.size() - 1));
    }

    /// Once a second: the live bytes of the largest sites now, and of those charted already;
    /// whether it recorded.
    bool record(qint64 nowMs)
    {
        if (nowMs - lastHistoryMs < 1000)
            return false;
        lastHistoryMs = nowMs;
        QHash<int, double> live;
        for (Stack& s : stacks) {
            if (s.liveBytes <= 0 || s.functions.empty())
                continue;
            if (s.site < 0)
                s.site = siteOf(s);
            live[s.site] += s.liveBytes;
        }
        std::vector<std::pair<double, int>> largest;
        for (auto it = live.cbegin(); it != live.cend(); ++it)
            largest.emplace_back(it.value(), it.key());
        std::sort(largest.begin(), largest.end(), std::greater<>());
        for (std::size_t i = 0; i < largest.size() && i < std::size_t(TopSites); ++i)
            history.try_emplace(largest[i].second);
        while (history.size() > MaxSites) { // the smallest now goes
            auto smallest = history.begin();
            for (auto it = history.begin(); it != history.end(); ++it)
                smallest = live.value(it->first) < live.value(smallest->first) ? it : smallest;
            history.erase(smallest);
        }
        for (auto& [site, points] : history) {
            points.emplace_back(nowMs, live.value(site));
            while (points.size() > HistorySeconds)
                points.pop_front();
        }
        return true;
    }

    std::uint32_t stackOf(const heap::HeapRecord& r)
    {
        std::string key(reinterpret_cast<const char*>(r.frames), r.depth * sizeof(std::uint64_t));
        if (const auto it = stackIds.find(key); it != stackIds.end())
            return it->second;
        if (stacks.size() >= MaxStacks)
            return 0;
        Stack s;
        s.pcs.assign(r.frames, r.frames + r.depth);
        stacks.push_back(std::move(s));
        const auto id = std::uint32_t(stacks.size() - 1);
        stackIds.emplace(std::move(key), id);
        return id;
    }

    /// Names the stack's addresses (once each), while the program's maps can be read.
    void nameStack(Stack& s)
    {
        if (!s.functions.empty() || s.pcs.empty())
            return;
        if (!resolver)
            resolver = std::make_unique<SymbolResolver>(pid_t(pid));
        for (auto pc = s.pcs.rbegin(); pc != s.pcs.rend(); ++pc) {
            auto it = named.find(*pc);
            if (it == named.end()) {
                std::vector<ProfileFunction> found = resolver->resolve(*pc);
                if (found.empty()) {
                    resolver->refreshModules(); // a library mapped since
                    found = resolver->resolve(*pc);
                }
                std::vector<std::uint32_t> ids;
                for (auto f = found.rbegin(); f != found.rend(); ++f)
                    ids.push_back(functions.intern(*f));
                if (ids.empty())
                    ids.push_back(FunctionTable::kUnknown);
                it = named.emplace(*pc, std::move(ids)).first;
            }
            s.functions.insert(s.functions.end(), it->second.begin(), it->second.end());
        }
    }

    void apply(const heap::HeapRecord& r, std::uint64_t mean)
    {
        switch (r.type) {
        case heap::HeapRecordType::Alloc: {
            const std::uint32_t id = stackOf(r);
            const double weight = heapwire::sampleWeight(r.size, mean);
            Stack& s = stacks[id];
            s.liveBytes += weight;
            s.allocated.add(r.timeNs, weight);
            // A block the program freed without the record reaching us (a lost Free) is replaced.
            if (const auto old = blocks.find(r.address); old != blocks.end())
                stacks[old->second.stack].liveBytes -= old->second.weight;
            blocks[r.address] = Block { id, weight };
            nameStack(s);
            break;
        }
        case heap::HeapRecordType::Free:
            if (const auto it = blocks.find(r.address); it != blocks.end()) {
                stacks[it->second.stack].liveBytes -= it->second.weight;
                blocks.erase(it);
            }
            break;
        case heap::HeapRecordType::Reset: // a new image: nothing sampled before is there
            blocks.clear();
            for (Stack& s : stacks)
                s.liveBytes = s.markBytes = 0;
            resolver.reset();
            named.clear();
            for (Stack& s : stacks) {
                s.functions.clear();
                s.site = -1;
            }
            break;
        }
    }
};

HeapProfiler::HeapProfiler(QString directory, QObject* parent)
    : QObject(parent)
    , m_directory(std::move(directory))
    , m_thread(new QThread(this))
    , m_timer(new QTimer)
{
    m_thread->setObjectName(QStringLiteral("perfdash heap"));
    m_timer->setInterval(100);
    m_timer->moveToThread(m_thread);
    connect(m_timer, &QTimer::timeout, m_timer, [this] { poll(); });
    connect(m_thread, &QThread::started, m_timer, qOverload<>(&QTimer::start));
}

HeapProfiler::~HeapProfiler()
{
    if (m_thread->isRunning()) {
        QMetaObject::invokeMethod(m_timer, &QTimer::stop, Qt::BlockingQueuedConnection);
        m_thread->quit();
        m_thread->wait();
    }
    delete m_timer;
}

QString HeapProfiler::preloadLibrary()
{
    const QString dir = QCoreApplication::applicationDirPath();
    for (const QString& candidate : { QString(dir + QStringLiteral("/libperfdash_heap.so")),
             QString(dir + QStringLiteral("/../lib/perfdash/libperfdash_heap.so")) }) {
        if (QFileInfo::exists(candidate))
            return QFileInfo(candidate).canonicalFilePath();
    }
    return {};
}

bool HeapProfiler::prepare(const QString& program, QProcessEnvironment* environment, int* ticket, QString* error)
{
    const QString library = preloadLibrary();
    if (library.isEmpty())
        return failWith(error, tr("the heap preload (libperfdash_heap.so) is not next to perfdash"));
    QString executable = program;
    if (!executable.contains(u'/'))
        executable = QStandardPaths::findExecutable(program, environment->value(QStringLiteral("PATH")).split(u':'));
    if (std::string why; !heap::canPreload(QFile::encodeName(executable).toStdString(), &why))
        return failWith(error, QString::fromStdString(why));
    QMutexLocker lock(&m_mutex);
    const int id = m_nextTicket++;
    const QString path
        = QDir(m_directory).filePath(QStringLiteral("heap-%1-%2.shm").arg(QCoreApplication::applicationPid()).arg(id));
    auto t = std::make_unique<Tracked>();
    t->channel = std::make_unique<heap::HeapChannel>(QFile::encodeName(path).toStdString());
    if (!t->channel->error().empty())
        return failWith(error, QString::fromStdString(t->channel->error()));
    t->stacks.emplace_back(); // [other stacks]
    t->stacks[0].functions.push_back(t->functions.intern({ QStringLiteral("[other stacks]"), {}, {}, false }));
    QString preload = environment->value(QStringLiteral("LD_PRELOAD"));
    environment->insert(QStringLiteral("LD_PRELOAD"), preload.isEmpty() ? library : library + u' ' + preload);
    environment->insert(QString::fromLatin1(heapwire::ShmEnv), path);
    m_tracked.emplace(id, std::move(t));
    *ticket = id;
    return true;
}

void HeapProfiler::started(int ticket, qint64 pid, const QString& name)
{
    {
        QMutexLocker lock(&m_mutex);
        const auto it = m_tracked.find(ticket);
        if (it == m_tracked.end())
            return;
        it->second->pid = pid;
        it->second->name = name;
        it->second->startedNs = monotonicNs();
    }
    if (!m_thread->isRunning())
        m_thread->start();
}

void HeapProfiler::abandon(int ticket)
{
    QMutexLocker lock(&m_mutex);
    m_tracked.erase(ticket);
}

void HeapProfiler::poll()
{
    std::vector<std::pair<qint64, qint64>> changed;
    std::vector<std::pair<qint64, QString>> problems;
    std::vector<HeapTotals> totals;
    std::map<qint64, std::vector<HeapSiteSeries>> history;
    bool newPoints = false;
    {
        QMutexLocker lock(&m_mutex);
        bool ended = false;
        for (auto& [ticket, t] : m_tracked) {
            if (t->pid > 0 && !t->ended) {
                newPoints |= pollLocked(*t, &changed, &problems);
                ended |= t->ended;
            }
        }
        if (ended)
            dropEnded(&problems);
        totals = totalsLocked();
        for (const auto& [ticket, t] : m_tracked) {
            if ((newPoints || ended) && t->pid > 0)
                history[t->pid] = siteHistoryLocked(t->pid);
        }
        newPoints |= ended; // a dropped program's history goes too
    }
    {
        // What the window reads at each refresh, apart from the lock that naming a new library's
        // addresses may hold for a while.
        QMutexLocker lock(&m_publishedMutex);
        m_publishedTotals = std::move(totals);
        if (newPoints)
            m_publishedHistory = std::move(history);
    }
    for (const auto& [pid, live] : changed)
        Q_EMIT heapChanged(pid, live);
    for (const auto& [pid, message] : problems)
        Q_EMIT problem(pid, message);
}

bool HeapProfiler::pollLocked(
    Tracked& t, std::vector<std::pair<qint64, qint64>>* changed, std::vector<std::pair<qint64, QString>>* problems)
{
    t.counters = t.channel->counters();
    const bool gone = ::kill(pid_t(t.pid), 0) != 0 && errno == ESRCH;
    if (!t.counters.reporting()) {
        if (!t.reported && (gone || monotonicNs() - t.startedNs > NeverLoadedNs)) {
            t.reported = true;
            problems->emplace_back(t.pid,
                tr("%1 (pid %2): the heap preload never loaded (a static program, a set-user-ID one, or "
                   "LD_PRELOAD cleared by a wrapper): its heap is not tracked")
                    .arg(t.name)
                    .arg(t.pid));
        }
        if (gone)
            release(t);
        return false;
    }
    if (t.counters.ownAllocator() && !t.reported) {
        t.reported = true;
        problems->emplace_back(t.pid,
            tr("%1 (pid %2) defines malloc itself (its own allocator linked in): the heap preload does not "
               "see its allocations")
                .arg(t.name)
                .arg(t.pid));
    }
    const std::uint64_t mean = t.counters.sampleMean;
    t.channel->drain([&](const heap::HeapRecord& r) { t.apply(r, mean); }, SIZE_MAX, gone);
    checkExecAndChildren(t, gone, problems);
    const bool recorded = t.record(QDateTime::currentMSecsSinceEpoch());
    const auto live = qint64(t.counters.liveBytes());
    if (live != t.lastLive) {
        t.lastLive = live;
        changed->emplace_back(t.pid, live);
    }
    if (gone)
        release(t);
    return recorded;
}

void HeapProfiler::checkExecAndChildren(Tracked& t, bool gone, std::vector<std::pair<qint64, QString>>* problems)
{
    const heap::HeapCounters& c = t.counters;
    if (!c.execing()) {
        t.execSeenNs = 0; // none, taken over by the new image, or failed
    } else if (t.execProblem.isEmpty()) {
        const std::uint64_t now = monotonicNs();
        if (t.execSeenNs == 0)
            t.execSeenNs = now;
        // Without the preload in its environment the new image cannot report: said once the exec did
        // not fail. With it, the new image takes the channel over when its preload loads (in its
        // start, before main): still not done after NeverLoadedNs, it did not load.
        const std::uint64_t wait = c.execWithoutPreload() ? ExecWithoutPreloadNs : NeverLoadedNs;
        if (gone || now - t.execSeenNs >= wait) {
            const QString program = QString::fromStdString(c.execPath);
            t.execProblem = c.execWithoutPreload()
                ? tr("it exec'd %1 without the heap preload in its environment (LD_PRELOAD replaced or cleared): "
                     "the heap of %1 is not tracked, the numbers are %2's from before the exec")
                      .arg(program, t.name)
                : tr("it exec'd %1, which did not load the heap preload (a static or set-user-ID program): the "
                     "heap of %1 is not tracked, the numbers are %2's from before the exec")
                      .arg(program, t.name);
            problems->emplace_back(t.pid, tr("%1 (pid %2): %3").arg(t.name).arg(t.pid).arg(t.execProblem));
        }
    }
    if (c.children > 0 && !t.childrenReported) {
        t.childrenReported = true;
        problems->emplace_back(t.pid,
            tr("%1 (pid %2) started child processes: their heap is not tracked, only %1's own (the preload "
               "reports for the process perfdash launched, or for the program it execs in its place)")
                .arg(t.name)
                .arg(t.pid));
    }
}

void HeapProfiler::release(Tracked& t)
{
    t.finalLive = build(t, HeapView::Live);
    t.finalGrowth = t.marked ? build(t, HeapView::Growth) : t.finalLive;
    t.ended = true;
    t.endedOrder = ++m_endedCount;
    t.channel.reset(); // unmapped and unlinked
    t.resolver.reset();
    t.functions = FunctionTable();
    t.named = {};
    t.stacks = {};
    t.stackIds = {};
    t.blocks = {};
}

void HeapProfiler::dropEnded(std::vector<std::pair<qint64, QString>>* problems)
{
    std::size_t ended = 0;
    for (const auto& [ticket, t] : m_tracked)
        ended += t->ended ? 1 : 0;
    while (ended > MaxEnded) {
        auto oldest = m_tracked.end();
        for (auto it = m_tracked.begin(); it != m_tracked.end(); ++it) {
            if (it->second->ended && (oldest == m_tracked.end() || it->second->endedOrder < oldest->second->endedOrder))
                oldest = it;
        }
        if (m_endedDropped++ == 0)
            problems->emplace_back(oldest->second->pid,
                tr("%1 (pid %2) ended: its heap is no longer shown (the heaps of the last %3 programs that ended "
                   "are kept, the older ones dropped)")
                    .arg(oldest->second->name)
                    .arg(oldest->second->pid)
                    .arg(MaxEnded));
        m_tracked.erase(oldest);
        --ended;
    }
}

std::size_t HeapProfiler::endedDropped() const
{
    QMutexLocker lock(&m_mutex);
    return m_endedDropped;
}

std::vector<HeapTotals> HeapProfiler::totals() const
{
    QMutexLocker lock(&m_publishedMutex);
    return m_publishedTotals;
}

std::vector<HeapTotals> HeapProfiler::totalsLocked() const
{
    std::vector<HeapTotals> out;
    for (const auto& [ticket, t] : m_tracked) {
        if (t->pid <= 0 || newest(t->pid) != t.get())
            continue;
        const heap::HeapCounters& c = t->counters;
        HeapTotals h;
        h.pid = t->pid;
        h.name = t->name;
        h.reporting = c.reporting();
        h.liveBytes = c.liveBytes();
        h.liveBlocks = c.liveBlocks();
        h.allocatedBytes = c.allocatedBytes;
        h.allocations = c.allocations;
        h.samples = c.samples;
        h.lost = c.droppedAllocs + c.droppedFrees + c.untracked;
        h.allocator = QString::fromStdString(c.allocator);
        h.ended = t->ended;
        QStringList problems;
        if (c.ownAllocator())
            problems << tr("the program defines malloc itself: its allocations are not seen");
        else if (!c.reporting() && t->reported)
            problems << tr("the heap preload never loaded");
        if (!t->execProblem.isEmpty())
            problems << t->execProblem;
        if (t->childrenReported)
            problems << tr("its child processes are not tracked (%1 started): the numbers are its own heap only")
                            .arg(c.children);
        h.problem = problems.join(QStringLiteral("; "));
        out.push_back(std::move(h));
    }
    return out;
}

ProfileSnapshotPtr HeapProfiler::build(const Tracked& t, HeapView view) const
{
    if (t.ended && view == HeapView::Live)
        return t.finalLive;
    if (t.ended && view == HeapView::Growth)
        return t.finalGrowth;
    ProfileAggregate aggregate;
    const std::uint64_t now = monotonicNs();
    for (const Tracked::Stack& s : t.stacks) {
        double bytes = 0;
        switch (view) {
        case HeapView::Live:
            bytes = s.liveBytes;
            break;
        case HeapView::Growth:
            bytes = s.liveBytes - s.markBytes;
            break;
        case HeapView::AllocationRate: // nothing, once ended (its stacks are released)
            bytes = s.allocated.rate(t.startedNs, now);
            break;
        }
        if (bytes >= 0.5 && !s.functions.empty())
            aggregate.add(0, now, s.functions, std::uint64_t(bytes + 0.5));
    }
    auto snapshot = std::make_shared<ProfileSnapshot>(aggregate.snapshot({}, now, t.functions));
    snapshot->pid = t.pid;
    snapshot->process = t.name;
    snapshot->threads.clear();
    snapshot->unit
        = view == HeapView::AllocationRate ? ProfileSnapshot::Unit::BytesPerSecond : ProfileSnapshot::Unit::Bytes;
    return snapshot;
}

HeapProfiler::Tracked* HeapProfiler::newest(qint64 pid) const
{
    // A pid used again by a later launch: the later one (tickets grow).
    for (auto it = m_tracked.rbegin(); it != m_tracked.rend(); ++it) {
        if (it->second->pid == pid)
            return it->second.get();
    }
    return nullptr;
}

ProfileSnapshotPtr HeapProfiler::snapshot(qint64 pid, HeapView view) const
{
    QMutexLocker lock(&m_mutex);
    const Tracked* t = newest(pid);
    return t ? build(*t, view) : nullptr;
}

std::vector<ProfileSnapshotPtr> HeapProfiler::snapshots(HeapView view) const
{
    QMutexLocker lock(&m_mutex);
    std::vector<ProfileSnapshotPtr> out;
    for (const auto& [ticket, t] : m_tracked) {
        if (t->pid > 0 && t->counters.reporting()) {
            if (ProfileSnapshotPtr snapshot = build(*t, view))
                out.push_back(std::move(snapshot));
        }
    }
    return out;
}

std::vector<HeapSiteSeries> HeapProfiler::siteHistory(qint64 pid) const
{
    QMutexLocker lock(&m_publishedMutex);
    const auto it = m_publishedHistory.find(pid);
    return it != m_publishedHistory.end() ? it->second : std::vector<HeapSiteSeries>();
}

std::vector<HeapSiteSeries> HeapProfiler::siteHistoryLocked(qint64 pid) const
{
    std::vector<HeapSiteSeries> out;
    if (const Tracked* t = newest(pid)) {
        for (const auto& [site, points] : t->history)
            out.push_back({ t->sites.value(site), { points.begin(), points.end() } });
    }
    std::sort(out.begin(), out.end(), [](const HeapSiteSeries& a, const HeapSiteSeries& b) {
        return (a.points.empty() ? 0 : a.points.back().second) > (b.points.empty() ? 0 : b.points.back().second);
    });
    return out;
}

void HeapProfiler::setMark(qint64 pid)
{
    QMutexLocker lock(&m_mutex);
    if (Tracked* t = newest(pid); t && !t->ended) {
        t->marked = true;
        for (Tracked::Stack& s : t->stacks)
            s.markBytes = s.liveBytes;
    }
}

} // namespace perfdash
