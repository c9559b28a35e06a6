// SPDX-License-Identifier: GPL-3.0-or-later
#include "ipc/scopetimeline.h"

#include "ipc/client/wire/scoperingformat.h"

#include <algorithm>
#include <limits>

namespace perfdash {

namespace {
constexpr qint64 Forever = std::numeric_limits<qint64>::max();
}

ScopeTimeline::ScopeTimeline(quint64 tid, qint64 fromNs, int depth, AttributionGap startGap)
    : m_tid(tid)
    , m_fromNs(fromNs)
    , m_knownUntil(fromNs)
    , m_lastNs(fromNs)
    , m_evictedBefore(fromNs)
    , m_startDepth(depth)
    , m_startGap(startGap)
{
    if (depth >= 0)
        start(quint32(depth));
}

void ScopeTimeline::start(quint32 depth)
{
    // What was open when knowledge starts began before it: named when it ends.
    if (!setDepth(depth, m_startGap == AttributionGap::None ? AttributionGap::OpenBeforeTracing : m_startGap, m_fromNs))
        return;
    m_started = true;
    m_segments.push_back({ m_fromNs, m_top, m_startGap });
}

ScopeTimeline::NodePtr ScopeTimeline::newNode(quint32 op, qint64 startNs, AttributionGap unknown)
{
    auto node = std::make_shared<Node>();
    node->instance.id = m_nextId++;
    node->instance.op = op;
    node->instance.depth = int(m_depth);
    node->instance.startNs = startNs;
    node->instance.identified = unknown == AttributionGap::None;
    node->unknown = unknown;
    node->parent = m_top;
    m_top = node;
    ++m_depth;
    m_instances.push_back(node);
    return node;
}

void ScopeTimeline::close(qint64 ns, bool endLost)
{
    OperationInstance& i = m_top->instance;
    i.open = false;
    i.endLost = endLost;
    i.endNs = endLost ? -1 : ns;
    m_top = m_top->parent;
    --m_depth;
}

bool ScopeTimeline::setDepth(quint32 depth, AttributionGap why, qint64 ns)
{
    while (m_depth > depth)
        close(ns, true);
    if (depth - m_depth > m_placeholders) {
        m_broken = true;
        ++m_mismatches;
        if (m_started)
            pushSegment(std::max(ns, m_lastNs), AttributionGap::Mismatch);
        else
            m_startGap = AttributionGap::Mismatch;
        return false;
    }
    m_placeholders -= depth - m_depth;
    while (m_depth < depth)
        newNode(rings::NoOp, -1, why);
    return true;
}

void ScopeTimeline::pushSegment(qint64 ns, AttributionGap gap)
{
    if (!m_segments.empty() && m_segments.back().startNs >= ns) {
        // Several transitions at one instant (or out of order after clock trouble): the last says.
        m_segments.back().top = m_top;
        m_segments.back().gap = gap;
        return;
    }
    m_segments.push_back({ ns, m_top, gap });
}

qint64 ScopeTimeline::timeOf(const Record& r)
{
    // Not placed, or before the last record's (not before fromNs: that is CLOCK_MONOTONIC read by
    // the client beside a counter reading, which may convert a little earlier).
    if (r.timeNs < 0 || r.timeNs < m_lastRecordNs) {
        ++m_clockTroubles;
        m_lost = AttributionGap::Clock;
        return -1;
    }
    return r.timeNs;
}

void ScopeTimeline::exit(const Record& r, qint64 ns, qint64 lateStartNs, AttributionGap lost)
{
    if (m_depth < r.depth // its start (and those of the ones around it) was never seen
        && !setDepth(r.depth, lost != AttributionGap::None ? lost : AttributionGap::Mismatch, ns))
        return;
    while (m_depth > r.depth) { // ended without their Exit
        if (lost == AttributionGap::None)
            ++m_mismatches;
        close(ns, true);
    }
    if (!m_top)
        return; // depth 0: a record of no operation (a broken writer)
    Node& n = *m_top;
    OperationInstance& i = n.instance;
    const bool late = r.kind == rings::LateEnd;
    if (!i.identified) {
        i.op = r.op;
        i.identified = true;
        i.late = late;
        if (late)
            i.startNs = lateStartNs;
        n.unknown = AttributionGap::None;
    } else if (i.op == rings::NoOp && r.op != rings::NoOp) { // an EnterUnnamed: named at its end
        i.op = r.op;
    } else if (i.op != r.op || (n.startLowKnown && !late && n.startLow != r.startLow)) {
        // Not the instance that began at this depth: that one ended unseen, this one began unseen.
        if (lost == AttributionGap::None)
            ++m_mismatches;
        close(ns, true);
        newNode(r.op, late ? lateStartNs : -1, AttributionGap::None)->instance.late = late;
    }
    // The same instance as before records were lost: so are those around it.
    for (Node* p = m_top.get(); p && p->uncertainFrom != Forever; p = p->parent.get())
        p->uncertainFrom = Forever;
    m_top->instance.clockTrouble |= ns < 0;
    close(ns, false);
}

void ScopeTimeline::add(const Record& r)
{
    if (m_finished)
        return;
    const bool enter = r.kind == rings::Enter || r.kind == rings::EnterUnnamed;
    if (m_broken || (enter && r.depth == 0)) { // no operation begins at depth 0
        ++m_mismatches;
        return;
    }
    if (r.kind == rings::LateStart) { // the start of the instance its LateEnd ends: not a transition
        m_pendingLateStart = r.timeNs;
        if (!m_started)
            start(r.depth);
        return;
    }
    if (!m_started) {
        start(enter ? r.depth - 1 : r.depth);
        if (!m_started)
            return;
    }
    const AttributionGap lost = m_lost;
    const qint64 ns = timeOf(r);
    if (ns >= 0 && lost != AttributionGap::None) {
        // The span since the last known transition is not known; after lost records, what was open
        // then may have ended in it (after unplaced ones, what happened is known, only not when).
        pushSegment(m_lastNs, lost);
        if (lost != AttributionGap::Clock)
            for (Node* p = m_top.get(); p; p = p->parent.get())
                p->uncertainFrom = std::min(p->uncertainFrom, m_lastNs);
        m_lost = AttributionGap::None;
    }
    switch (r.kind) {
    case rings::Enter:
    case rings::EnterUnnamed: {
        if (m_depth != r.depth - 1) {
            if (lost == AttributionGap::None)
                ++m_mismatches;
            if (!setDepth(r.depth - 1, lost != AttributionGap::None ? lost : AttributionGap::Mismatch, ns))
                return;
        }
        NodePtr node = newNode(r.kind == rings::Enter ? r.op : rings::NoOp, ns, AttributionGap::None);
        node->startLow = quint32(r.rawTime);
        node->startLowKnown = true;
        node->instance.clockTrouble = ns < 0;
        break;
    }
    case rings::Exit:
        exit(r, ns, -1, lost);
        break;
    case rings::LateEnd: {
        const qint64 start = m_pendingLateStart;
        m_pendingLateStart = -1;
        exit(r, ns, start, lost);
        break;
    }
    default:
        ++m_mismatches; // a kind this reader does not know: nothing to rebuild from
        return;
    }
    if (m_broken)
        return;
    if (ns >= 0) {
        pushSegment(ns, AttributionGap::None);
        m_lastNs = std::max(ns, m_lastNs);
        m_lastRecordNs = ns;
    }
}

void ScopeTimeline::lose(AttributionGap reason, quint64 records)
{
    if (records == 0 || m_finished || m_broken)
        return;
    if (!m_started) {
        // Lost before the first record seen: from the start on, nothing is known until a record
        // says how deep the thread is.
        m_startGap = reason;
        return;
    }
    if (m_lost == AttributionGap::None || reason == AttributionGap::Overrun)
        m_lost = reason;
}

void ScopeTimeline::setKnownUntil(qint64 ns) noexcept
{
    if (!m_finished)
        m_knownUntil = std::max(m_knownUntil, ns);
}

void ScopeTimeline::finish(qint64 ns)
{
    if (m_finished)
        return;
    if (m_started) {
        const qint64 at = std::max(ns, m_lastNs);
        setDepth(0, AttributionGap::Mismatch, at); // a thread ends outside its operations
        pushSegment(at, AttributionGap::None);
    }
    m_finished = true;
    m_knownUntil = Forever;
}

AttributionGap ScopeTimeline::stackAt(qint64 ns, std::vector<OperationInstance>& stack) const
{
    stack.clear();
    if (ns < m_fromNs)
        return AttributionGap::BeforeTracing;
    if (ns < m_evictedBefore)
        return AttributionGap::Expired;
    if (ns > m_knownUntil)
        return AttributionGap::Pending;
    if (!m_started || m_segments.empty()) // no transition yet: how deep the thread is is not known
        return m_startGap == AttributionGap::None ? AttributionGap::NoRing : m_startGap;
    // The last transition at or before ns; after the last one, what it left stands until knownUntil.
    auto it = std::upper_bound(
        m_segments.begin(), m_segments.end(), ns, [](qint64 t, const Segment& s) { return t < s.startNs; });
    if (it == m_segments.begin())
        return AttributionGap::Expired;
    const Segment& s = *std::prev(it);
    if (std::next(std::prev(it)) == m_segments.end() && m_lost != AttributionGap::None && ns > m_lastNs)
        return m_lost; // records after the last one were lost
    if (s.gap != AttributionGap::None)
        return s.gap;
    for (const Node* n = s.top.get(); n; n = n->parent.get()) {
        // Inner instances known, one around them not: the stack is not known (nothing of it is
        // answered, so that an answer never passes for a whole stack).
        const AttributionGap gap = !n->instance.identified ? n->unknown
            : ns >= n->uncertainFrom                       ? AttributionGap::Overrun
                                                           : AttributionGap::None;
        if (gap != AttributionGap::None) {
            stack.clear();
            return gap;
        }
        stack.push_back(n->instance);
    }
    std::reverse(stack.begin(), stack.end());
    return AttributionGap::None;
}

void ScopeTimeline::instancesSince(qint64 sinceNs, std::vector<OperationInstance>& out) const
{
    for (const NodePtr& n : m_instances) {
        const OperationInstance& i = n->instance;
        if (i.open || i.endLost || i.endNs >= sinceNs)
            out.push_back(i);
    }
}

quint64 ScopeTimeline::evict(qint64 ns, std::size_t maxSegments)
{
    m_placeholders = PlaceholderBudget;
    quint64 dropped = 0;
    while (m_segments.size() > 1 && (m_segments.size() > maxSegments || m_segments[1].startNs <= ns)) {
        m_segments.pop_front();
        ++dropped;
    }
    if (dropped)
        m_evictedBefore = std::max(m_evictedBefore, m_segments.front().startNs);
    const auto expired = [ns](const NodePtr& n) {
        const OperationInstance& i = n->instance;
        return !i.open && (i.endNs >= 0 ? i.endNs : i.startNs) < ns;
    };
    while (!m_instances.empty() && (m_instances.size() > maxSegments || expired(m_instances.front())))
        m_instances.pop_front();
    // An operation open for long keeps the ones after it from the front: sweep past it now and then.
    if (m_instances.size() > maxSegments / 2)
        m_instances.erase(std::remove_if(m_instances.begin(), m_instances.end(), expired), m_instances.end());
    return dropped;
}

} // namespace perfdash
