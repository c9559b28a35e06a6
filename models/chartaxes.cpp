// SPDX-License-Identifier: GPL-3.0-or-later
#include "models/chartaxes.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace perfdash::chartaxes {

namespace {
qint64 floorTo(qint64 v, qint64 step)
{
    const qint64 q = v / step;
    return (v % step != 0 && v < 0 ? q - 1 : q) * step;
}

double decadeBelow(double v)
{
    return std::pow(10.0, std::floor(std::log10(v) + 1e-9));
}
} // namespace

TimeRange liveRange(qint64 nowMs, qint64 rangeMs, qint64 firstDataMs)
{
    const qint64 end = floorTo(nowMs + 999, 1000);
    // The data's first whole second; no data yet (or data "from the future"): the shortest axis.
    const qint64 dataStart = std::min(floorTo(std::min(firstDataMs, nowMs), 1000), end - MinSpanMs);
    const qint64 start = rangeMs > 0 ? std::max(end - rangeMs, dataStart) : dataStart;
    return { start, end };
}

qint64 timeStepMs(qint64 spanMs, double widthPx, double labelPx)
{
    static constexpr qint64 Steps[]
        = { 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400 };
    // A label needs its own width and as much again to read: more labels only crowd.
    const double room = std::max(1.0, labelPx * 2);
    const qint64 labels = std::max<qint64>(1, qint64(widthPx / room));
    for (qint64 step : Steps) {
        if (spanMs / (step * 1000) <= labels)
            return step * 1000;
    }
    return Steps[std::size(Steps) - 1] * 1000;
}

QList<qint64> timeTicks(TimeRange range, qint64 stepMs, qint64 utcOffsetMs)
{
    QList<qint64> out;
    if (stepMs <= 0 || range.toMs < range.fromMs)
        return out;
    const qint64 first = floorTo(range.fromMs + utcOffsetMs + stepMs - 1, stepMs) - utcOffsetMs;
    for (qint64 t = first; t <= range.toMs; t += stepMs)
        out.append(t);
    return out;
}

double niceStep(double max, int ticks)
{
    if (!(max > 0) || ticks <= 0)
        return 1.0;
    const double raw = max / ticks;
    const double magnitude = decadeBelow(raw);
    for (double step : { 1.0, 2.0, 5.0, 10.0 }) {
        if (raw <= step * magnitude * (1 + 1e-9))
            return step * magnitude;
    }
    return 10 * magnitude;
}

ValueAxis niceAxis(double max, int ticks)
{
    const double step = niceStep(max, ticks);
    // A little headroom over the largest value, so that a peak does not run along the frame.
    const int steps = std::max(1, int(std::ceil(std::max(max, 0.0) * 1.05 / step - 1e-9)));
    return { steps * step, steps + 1 };
}

LogRange logRange(double minPositive, double max)
{
    if (!(max > 0) || !std::isfinite(max))
        max = 1.0;
    // A minimum over the maximum is what no data looks like (the minimum still at its start):
    // the decade of the maximum then.
    if (!(minPositive > 0) || !(minPositive <= max))
        minPositive = max;
    const double lower = decadeBelow(minPositive);
    double upper = decadeBelow(max);
    if (upper < max * (1 - 1e-9))
        upper *= 10;
    return { lower, std::max(upper, lower * 10) };
}

QList<QPointF> decimate(const QList<QPointF>& points, int limit)
{
    if (limit <= 0 || points.size() <= limit)
        return points;
    QList<QPointF> out;
    out.reserve(limit);
    const double group = double(points.size()) / limit;
    for (int g = 0; g < limit; ++g) {
        const auto begin = qsizetype(g * group);
        const auto end = std::min(points.size(), qsizetype((g + 1) * group));
        QPointF worst = points[begin];
        for (qsizetype i = begin; i < end; ++i) {
            if (points[i].y() > worst.y())
                worst = points[i];
        }
        out.append(worst);
    }
    return out;
}

} // namespace perfdash::chartaxes
