// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <QList>
#include <QPointF>

/**
 * The charts' axis arithmetic, without widgets: which time range the stacked charts show, where
 * their round time and value ticks go, the decades of a logarithmic latency axis, and how a long
 * series is cut down to a drawable number of points. Pure functions, tested headless.
 */
namespace perfdash::chartaxes {

/// A live time axis never spans less than this, so that the first seconds are not a 1 s axis.
constexpr qint64 MinSpanMs = 10'000;

struct TimeRange
{
    qint64 fromMs = 0;
    qint64 toMs = 0;
    qint64 spanMs() const noexcept { return toMs - fromMs; }
    bool operator==(const TimeRange&) const = default;
};

/**
 * The range the axes show at @p nowMs for a chosen range of @p rangeMs (0: the whole session)
 * whose data starts at @p firstDataMs. The axis ends at the next whole second (it moves by the
 * data's resolution), starts where the data does while the data is younger than the range (at
 * least MinSpanMs), and spans exactly the range once older data exists.
 */
TimeRange liveRange(qint64 nowMs, qint64 rangeMs, qint64 firstDataMs);

/// A round step between time labels (1, 2, 5, 10, 15, 30 s, 1, 2, 5, 10, 15, 30 min, 1, 2, 3, 6,
/// 12 h, 1 d) that keeps labels @p labelPx wide apart on a plot @p widthPx wide.
qint64 timeStepMs(qint64 spanMs, double widthPx, double labelPx);

/// The times inside @p range that are whole multiples of @p stepMs in local time (@p utcOffsetMs
/// east of UTC), so that labels read 12:00:10, 12:00:20 whatever the range's ends are.
QList<qint64> timeTicks(TimeRange range, qint64 stepMs, qint64 utcOffsetMs = 0);

/// A round step (1, 2 or 5 times a power of ten) giving at most @p ticks intervals up to @p max.
double niceStep(double max, int ticks);

/// A value axis from 0 with round ticks (0, 50, 100, never 187.5): its top and its tick count.
struct ValueAxis
{
    double max = 1.0;
    int tickCount = 2;
};
ValueAxis niceAxis(double max, int ticks);

/// A logarithmic axis of whole decades around the data: the decade holding @p minPositive up to
/// the decade above @p max (one decade at least), never a decade below the data. A minimum over
/// the maximum (no data yet) or a value that is not finite and positive gives the decade of the
/// maximum (of 1 when the maximum is not usable): always finite.
struct LogRange
{
    double min = 1.0;
    double max = 10.0;
};
LogRange logRange(double minPositive, double max);

/// At most @p limit points, each the worst (largest y) of its group, so that peaks survive.
QList<QPointF> decimate(const QList<QPointF>& points, int limit);

} // namespace perfdash::chartaxes
