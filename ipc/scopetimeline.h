// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <QtGlobal>

#include <deque>
#include <limits>
#include <memory>
#include <vector>

namespace perfdash {

/// Why the operations active on a thread at an instant are not known. None: they are (the stack
/// may be empty: outside any operation).
enum class AttributionGap : quint8 {
    None = 0,
    NotInstrumented, ///< the process sends no scope rings: not a client, not profiled, or its rings were refused
    NoRing, ///< the thread began or ended no operation since tracing began (or found no free ring)
    BeforeTracing, ///< before tracing began for the process
    OpenBeforeTracing, ///< inside an operation that began before tracing and has not ended yet (known at its end)
    Overrun, ///< the ring was overwritten before it was read: transitions around this instant were lost
    Clock, ///< the clock readings around this instant cannot be placed on CLOCK_MONOTONIC
    Mismatch, ///< the records contradict each other (an operation ended on another thread, or nesting broke)
    Pending, ///< after what the reader has consumed of the thread's ring: ask again later
    Expired, ///< before the oldest transition the reader keeps
};

/// One operation instance on a thread, times on CLOCK_MONOTONIC nanoseconds.
struct OperationInstance
{
    quint64 id = 0; ///< unique within its thread's timeline, in order of creation
    quint32 op = 0; ///< the client's operation id; NoOp (0x1fff) while unknown
    int depth = 0; ///< 0: outermost
    qint64 startNs = -1; ///< -1: unknown (its Enter was lost, or it began before tracing and is still open)
    qint64 endNs = -1; ///< -1 while open, or when its end was lost (endLost)
    bool open = true;
    bool identified = true; ///< false: an operation known to be there whose name is not known (yet)
    bool late = false; ///< it began before tracing: learnt when it ended
    bool endLost = false; ///< it ended where records were lost (overrun, mismatch): endNs unknown
    bool clockTrouble = false; ///< one of its readings could not be placed on CLOCK_MONOTONIC
};

/**
 * The operations of one thread over time, rebuilt from its ring's records (ipc/client/src/
 * scoperingformat.h): which instances were active at any instant, with what is not known said
 * as an AttributionGap. Pure (no I/O), fed in record order; bounded (kept by time and count, the
 * oldest evicted and counted).
 *
 * Every record carries the thread's depth, so after any record the number of open operations is
 * known exactly; those whose Enter the timeline never saw (they began before tracing, or before
 * an overrun) are placeholders, named when their end arrives (Exit, or LateStart/LateEnd with
 * their start). An instant inside an unnamed placeholder is reported as its gap until then.
 */
class ScopeTimeline
{
public:
    /// A record with its time already converted; timeNs -1 when it could not be (clock trouble).
    struct Record
    {
        qint64 timeNs = -1;
        quint32 op = 0;
        quint8 kind = 0; ///< rings::Kind
        quint32 depth = 0;
        quint32 startLow = 0; ///< an Exit's start reading, low 32 bits
        quint64 rawTime = 0; ///< the reading as written (ticks or ns)
    };

    /// Knowledge starts at @p fromNs, with @p depth operations open then (-1: not known until the
    /// first record says); @p startGap: Overrun when the records after @p fromNs were already lost.
    ScopeTimeline(quint64 tid, qint64 fromNs, int depth, AttributionGap startGap = AttributionGap::None);

    quint64 tid() const noexcept { return m_tid; }
    qint64 fromNs() const noexcept { return m_fromNs; }

    void add(const Record& r);
    /// Records were lost (overrun or unreadable times) between the last one added and the next.
    void lose(AttributionGap reason, quint64 records);
    /// Everything up to @p ns is in: an instant after the last record and up to this is known.
    void setKnownUntil(qint64 ns) noexcept;
    qint64 knownUntil() const noexcept { return m_knownUntil; }
    /// The thread ended at @p ns: nothing comes after.
    void finish(qint64 ns);
    bool finished() const noexcept { return m_finished; }

    /// The instances active at @p ns, outermost first, or why they are not known.
    AttributionGap stackAt(qint64 ns, std::vector<OperationInstance>& stack) const;
    /// Instances open at or after @p sinceNs (those still open, and the ones that ended since).
    void instancesSince(qint64 sinceNs, std::vector<OperationInstance>& out) const;

    /// Drops what lies wholly before @p ns, and the oldest transitions beyond @p maxSegments.
    /// Returns how many transitions were dropped. Also renews the placeholder budget (below).
    quint64 evict(qint64 ns, std::size_t maxSegments);
    std::size_t segments() const noexcept { return m_segments.size(); }

    quint64 mismatches() const noexcept { return m_mismatches; }
    quint64 clockTroubles() const noexcept { return m_clockTroubles; }
    /// The records asked for more placeholders than the budget allows: from then on nothing more is
    /// read into this timeline (instants after it are Mismatch, its records counted as mismatches).
    bool broken() const noexcept { return m_broken; }

    /// Operations opened unseen (placeholders) allowed between two evict() calls: a writer's depth
    /// jumps only after lost records, by the depth of its thread; records that jump further, again
    /// and again, would take memory without bound.
    static constexpr quint32 PlaceholderBudget = 4096;

private:
    struct Node
    {
        OperationInstance instance;
        quint32 startLow = 0;
        bool startLowKnown = false;
        AttributionGap unknown = AttributionGap::None; ///< why a placeholder is not identified
        /// Open before records were lost (from this instant on): it may have ended among them, until
        /// its Exit shows it did not.
        qint64 uncertainFrom = std::numeric_limits<qint64>::max();
        std::shared_ptr<Node> parent;
    };
    using NodePtr = std::shared_ptr<Node>;
    struct Segment
    {
        qint64 startNs;
        NodePtr top; ///< the innermost operation, or null: outside any
        AttributionGap gap;
    };

    void pushSegment(qint64 ns, AttributionGap gap);
    void start(quint32 depth);
    /// Opens placeholders or closes operations until @p depth are open; false (the timeline broken)
    /// when that takes more placeholders than the budget has left.
    bool setDepth(quint32 depth, AttributionGap why, qint64 ns);
    NodePtr newNode(quint32 op, qint64 startNs, AttributionGap unknown);
    void close(qint64 ns, bool endLost);
    /// Ends the innermost operation at @p r's depth as @p r says (Exit or LateEnd).
    void exit(const Record& r, qint64 ns, qint64 lateStartNs, AttributionGap lost);
    qint64 timeOf(const Record& r);

    quint64 m_tid;
    qint64 m_fromNs;
    qint64 m_knownUntil;
    qint64 m_lastNs; ///< the last known transition (or fromNs)
    qint64 m_lastRecordNs = std::numeric_limits<qint64>::min();
    qint64 m_evictedBefore = 0; ///< instants before this were dropped (Expired)
    NodePtr m_top;
    quint32 m_depth = 0;
    bool m_started = false;
    int m_startDepth;
    AttributionGap m_startGap;
    bool m_finished = false;
    bool m_broken = false;
    quint32 m_placeholders = PlaceholderBudget; ///< left until the next evict()
    AttributionGap m_lost = AttributionGap::None; ///< records were lost before the next one
    qint64 m_pendingLateStart = -1; ///< a LateStart waiting for its LateEnd
    quint64 m_nextId = 1;
    quint64 m_mismatches = 0;
    quint64 m_clockTroubles = 0;
    std::deque<Segment> m_segments;
    std::deque<NodePtr> m_instances; ///< in order of creation
};

} // namespace perfdash
