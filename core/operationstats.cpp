// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/operationstats.h"

#include "core/latencyhistogram.h"

#include <algorithm>

namespace perfdash {

OperationStats OperationStats::fromHistogram(QString operation, const LatencyHistogram& h, quint64 errors)
{
    OperationStats s;
    s.operation = std::move(operation);
    s.count = h.count();
    s.errorCount = std::min(errors, s.count);
    s.successCount = s.count - s.errorCount;
    s.errorRate = s.count ? double(s.errorCount) / double(s.count) : 0.0;
    s.meanNs = h.meanNs();
    s.totalNs = h.sumNs();
    s.minNs = h.minNs();
    s.maxNs = h.maxNs();
    s.p50Ns = h.valueAtQuantile(0.50);
    s.p90Ns = h.valueAtQuantile(0.90);
    s.p95Ns = h.valueAtQuantile(0.95);
    s.p99Ns = h.valueAtQuantile(0.99);
    s.p999Ns = h.valueAtQuantile(0.999);
    s.overflowCount = h.overflowCount();
    return s;
}

} // namespace perfdash
