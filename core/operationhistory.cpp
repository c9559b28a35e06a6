// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/operationhistory.h"

#include <algorithm>
#include <limits>

namespace perfdash {

namespace {
constexpr qint64 NoSecond = std::numeric_limits<qint64>::min();
constexpr int RingSize = StatsWindow::MaxSeconds;

constexpr qint64 floorDiv(qint64 a, qint64 b) noexcept
{
    return a / b - ((a % b != 0) && ((a < 0) != (b < 0)));
}
} // namespace

/// A finished second in sparse form: only the non-empty buckets, plus the exact scalars.
struct OperationHistory::Slice
{
    qint64 second = NoSecond;
    quint64 count = 0;
    quint64 errors = 0;
    quint64 sum = 0;
    quint64 min = 0;
    quint64 max = 0;
    quint64 overflow = 0;
    std::vector<std::pair<quint16, quint32>> buckets;

    void assign(qint64 s, const CompactHistogram& h, quint64 errorCount)
    {
        second = s;
        count = h.count();
        errors = errorCount;
        sum = h.sumNs();
        min = h.minNs();
        max = h.maxNs();
        overflow = h.overflowCount();
        buckets.clear();
        h.forEachBucket([this](int i, quint64 c) {
            // A bucket over 2^32 in one second is split into several entries rather than truncated.
            while (c > 0) {
                const auto part = quint32(std::min<quint64>(c, std::numeric_limits<quint32>::max()));
                buckets.emplace_back(quint16(i), part);
                c -= part;
            }
        });
        buckets.shrink_to_fit();
    }

    template <typename H> void addTo(H& h) const
    {
        for (const auto& [index, c] : buckets)
            h.addToBucket(index, c);
        h.addScalars(count, sum, min, max, overflow);
    }

    void removeFrom(CompactHistogram& h) const noexcept
    {
        for (const auto& [index, c] : buckets)
            h.removeFromBucket(index, c);
        h.removeScalars(count, sum, overflow);
    }
};

struct OperationHistory::Dense
{
    CompactHistogram current;
    quint64 currentErrors = 0;
    CompactHistogram session;
    quint64 sessionErrors = 0;
    CompactHistogram window; ///< the closed seconds of the last StatsWindow::MaxSeconds
    quint64 windowErrors = 0;
    CompactHistogram minute;
    quint64 minuteErrors = 0;
    CompactHistogram hour;
    quint64 hourErrors = 0;
};

OperationHistory::OperationHistory()
    : m_dense(std::make_unique<Dense>())
    , m_second(NoSecond)
    , m_windowOldest(NoSecond)
{
}

OperationHistory::~OperationHistory() = default;
OperationHistory::OperationHistory(OperationHistory&&) noexcept = default;
OperationHistory& OperationHistory::operator=(OperationHistory&&) noexcept = default;

void OperationHistory::record(qint64 nowMs, quint64 durationNs, bool ok)
{
    advanceTo(nowMs);
    m_dense->current.record(durationNs);
    m_dense->currentErrors += ok ? 0 : 1;
}

void OperationHistory::recordHistogram(qint64 nowMs, const LatencyHistogram& delta, quint64 errors)
{
    advanceTo(nowMs);
    m_dense->current.add(delta);
    m_dense->currentErrors += std::min(errors, delta.count());
}

void OperationHistory::recordHistogram(qint64 nowMs, const SparseHistogram& delta, quint64 errors)
{
    advanceTo(nowMs);
    for (const auto& [index, c] : delta.buckets)
        m_dense->current.addToBucket(index, c);
    m_dense->current.addScalars(delta.count, delta.sumNs, delta.minNs, delta.maxNs, delta.overflow);
    m_dense->currentErrors += std::min(errors, delta.count);
}

void OperationHistory::advanceTo(qint64 nowMs)
{
    const qint64 second = floorDiv(nowMs, 1000);
    if (m_second == NoSecond) {
        m_second = second;
        m_windowOldest = second - (RingSize - 1);
        return;
    }
    if (second > m_second)
        closeCurrentSecond(second);
}

void OperationHistory::closeCurrentSecond(qint64 next)
{
    Dense& d = *m_dense;
    if (!d.current.isEmpty()) {
        Slice& slice = m_ring.emplace_back();
        slice.assign(m_second, d.current, d.currentErrors);
        slice.addTo(d.window);
        d.windowErrors += d.currentErrors;
        d.session.add(d.current);
        d.sessionErrors += d.currentErrors;
        d.minute.add(d.current);
        d.minuteErrors += d.currentErrors;
        appendPoint(m_seconds, m_second, 1, d.current, d.currentErrors);
    }

    const qint64 minuteStart = floorDiv(m_second, 60) * 60;
    if (floorDiv(next, 60) * 60 != minuteStart) {
        if (!d.minute.isEmpty()) {
            appendPoint(m_minutes, minuteStart, 60, d.minute, d.minuteErrors);
            d.hour.add(d.minute);
            d.hourErrors += d.minuteErrors;
        }
        d.minute.reset();
        d.minuteErrors = 0;
        const qint64 hourStart = floorDiv(m_second, 3600) * 3600;
        if (floorDiv(next, 3600) * 3600 != hourStart) {
            if (!d.hour.isEmpty())
                appendPoint(m_hours, hourStart, 3600, d.hour, d.hourErrors);
            d.hour.reset();
            d.hourErrors = 0;
        }
    }

    d.current.reset();
    d.currentErrors = 0;
    m_second = next;
    expireWindow(next);

    // Each tier keeps what the finer one no longer covers; the boundaries are aligned to the coarser unit.
    const qint64 secondsSince = floorDiv(next - SecondPointsKept, 60) * 60 * 1000;
    while (!m_seconds.empty() && m_seconds.front().timestampMs < secondsSince)
        m_seconds.pop_front();
    const qint64 minutesSince = floorDiv(next - qint64(MinutePointsKept) * 60, 3600) * 3600 * 1000;
    while (!m_minutes.empty() && m_minutes.front().timestampMs < minutesSince)
        m_minutes.pop_front();
    while (m_hours.size() > std::size_t(HourPointsKept))
        m_hours.pop_front();
}

void OperationHistory::expireWindow(qint64 newestSecond)
{
    Dense& d = *m_dense;
    const qint64 oldest = newestSecond - (RingSize - 1);
    while (!m_ring.empty() && m_ring.front().second < oldest) {
        m_ring.front().removeFrom(d.window);
        d.windowErrors -= m_ring.front().errors;
        m_ring.pop_front();
    }
    if (m_ring.empty()) {
        d.window.reset(); // gives a dense window back once the operation goes quiet
        d.windowErrors = 0;
    }
    m_windowOldest = oldest;
}

void OperationHistory::appendPoint(
    std::deque<SeriesPoint>& tier, qint64 startSecond, int resolutionS, const CompactHistogram& h, quint64 errors)
{
    SeriesPoint p;
    p.timestampMs = startSecond * 1000;
    p.resolutionS = resolutionS;
    p.count = h.count();
    p.errors = errors;
    p.p50Ns = h.valueAtQuantile(0.50);
    p.p95Ns = h.valueAtQuantile(0.95);
    p.p99Ns = h.valueAtQuantile(0.99);
    p.maxNs = h.maxNs();
    tier.push_back(p);
}

quint64 OperationHistory::windowHistogram(qint64 nowMs, StatsWindow window, LatencyHistogram& out)
{
    advanceTo(nowMs);
    const Dense& d = *m_dense;
    out.reset();
    d.current.addTo(out);
    quint64 errors = d.currentErrors;
    if (window.isSession()) {
        d.session.addTo(out);
        return errors + d.sessionErrors;
    }
    const int seconds = std::min(window.seconds, int(StatsWindow::MaxSeconds));
    const qint64 from = m_second - (seconds - 1);
    if (seconds == StatsWindow::MaxSeconds) {
        // The accumulator's buckets are exact; its bounds are not (it had slices removed), so the
        // exact min and max come from the slices themselves.
        quint64 lo = out.isEmpty() ? ~quint64(0) : out.minNs();
        quint64 hi = out.maxNs();
        for (const Slice& slice : m_ring) {
            if (slice.second >= from && slice.second < m_second) {
                lo = std::min(lo, slice.min);
                hi = std::max(hi, slice.max);
            }
        }
        d.window.addTo(out);
        if (!out.isEmpty())
            out.setBounds(lo, hi);
        return errors + d.windowErrors;
    }
    for (auto it = m_ring.rbegin(); it != m_ring.rend() && it->second >= from; ++it) {
        if (it->second < m_second) {
            it->addTo(out);
            errors += it->errors;
        }
    }
    return errors;
}

OperationStats OperationHistory::stats(qint64 nowMs, StatsWindow window, const QString& name)
{
    auto h = std::make_unique<LatencyHistogram>();
    const quint64 errors = windowHistogram(nowMs, window, *h);
    return OperationStats::fromHistogram(name, *h, errors);
}

std::vector<SeriesPoint> OperationHistory::series(qint64 fromMs, qint64 toMs, bool includeCurrent) const
{
    std::vector<SeriesPoint> out;
    if (m_second == NoSecond)
        return out;
    const qint64 secondsSince = floorDiv(m_second - SecondPointsKept, 60) * 60 * 1000;
    const qint64 minutesSince = floorDiv(m_second - qint64(MinutePointsKept) * 60, 3600) * 3600 * 1000;
    const auto take = [&](const std::deque<SeriesPoint>& tier, qint64 since, qint64 until) {
        for (const SeriesPoint& p : tier) {
            const qint64 end = p.timestampMs + qint64(p.resolutionS) * 1000;
            if (p.timestampMs >= since && p.timestampMs < until && end > fromMs && p.timestampMs <= toMs)
                out.push_back(p);
        }
    };
    constexpr qint64 Min = std::numeric_limits<qint64>::min();
    constexpr qint64 Max = std::numeric_limits<qint64>::max();
    take(m_hours, Min, minutesSince);
    take(m_minutes, minutesSince, secondsSince);
    take(m_seconds, secondsSince, Max);
    const Dense& d = *m_dense;
    if (includeCurrent && !d.current.isEmpty() && m_second * 1000 >= fromMs && m_second * 1000 <= toMs) {
        SeriesPoint p;
        p.timestampMs = m_second * 1000;
        p.count = d.current.count();
        p.errors = d.currentErrors;
        p.p50Ns = d.current.valueAtQuantile(0.50);
        p.p95Ns = d.current.valueAtQuantile(0.95);
        p.p99Ns = d.current.valueAtQuantile(0.99);
        p.maxNs = d.current.maxNs();
        out.push_back(p);
    }
    return out;
}

void OperationHistory::forEachSecondAfter(qint64 afterSecond,
    const std::function<void(qint64, const SparseHistogram&, quint64)>& visit, bool includeCurrent) const
{
    if (m_second == NoSecond)
        return;
    SparseHistogram h;
    const qint64 from = std::max(afterSecond + 1, m_second - (RingSize - 1));
    for (const Slice& slice : m_ring) {
        if (slice.second < from || slice.second >= m_second || slice.count == 0)
            continue;
        h.buckets.assign(slice.buckets.begin(), slice.buckets.end());
        h.count = slice.count;
        h.sumNs = slice.sum;
        h.minNs = slice.min;
        h.maxNs = slice.max;
        h.overflow = slice.overflow;
        visit(slice.second, h, slice.errors);
    }
    const CompactHistogram& current = m_dense->current;
    if (includeCurrent && !current.isEmpty() && m_second > afterSecond) {
        h.buckets.clear();
        current.forEachBucket([&h](int i, quint64 c) {
            while (c > 0) {
                const auto part = quint32(std::min<quint64>(c, std::numeric_limits<quint32>::max()));
                h.buckets.emplace_back(quint16(i), part);
                c -= part;
            }
        });
        h.count = current.count();
        h.sumNs = current.sumNs();
        h.minNs = current.minNs();
        h.maxNs = current.maxNs();
        h.overflow = current.overflowCount();
        visit(m_second, h, m_dense->currentErrors);
    }
}

quint64 OperationHistory::totalCount() const noexcept
{
    return m_dense->session.count() + m_dense->current.count();
}

quint64 OperationHistory::finishedCount() const noexcept
{
    return m_dense->session.count();
}

quint64 OperationHistory::totalErrors() const noexcept
{
    return m_dense->sessionErrors + m_dense->currentErrors;
}

std::size_t OperationHistory::memoryBytes() const noexcept
{
    const Dense& d = *m_dense;
    std::size_t bytes = sizeof(*this) + sizeof(Dense) - 5 * sizeof(CompactHistogram) + d.current.memoryBytes()
        + d.session.memoryBytes() + d.window.memoryBytes() + d.minute.memoryBytes() + d.hour.memoryBytes();
    for (const Slice& s : m_ring)
        bytes += sizeof(Slice) + s.buckets.capacity() * sizeof(s.buckets[0]);
    bytes += (m_seconds.size() + m_minutes.size() + m_hours.size()) * sizeof(SeriesPoint);
    return bytes;
}

void OperationHistory::clear()
{
    *this = OperationHistory();
}

} // namespace perfdash
