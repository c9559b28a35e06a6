// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "core/operationtimeline.h"

namespace perfdash {

class ScopeRingReader;

/// The profiler's OperationTimeline over the scope rings of instrumented processes: what
/// ScopeRingReader knows, in the profiler's terms (ScopeTimeline's gaps mapped to
/// OperationTimeline::Gap). Thread-safe as the reader is.
class RingOperationTimeline : public OperationTimeline
{
public:
    explicit RingOperationTimeline(ScopeRingReader* reader)
        : m_reader(reader)
    {
    }

    bool traces(qint64 pid) const override;
    std::vector<Answer> activeOperations(qint64 pid, const std::vector<Query>& queries) override;
    void endedInstances(qint64 pid, qint64 fromNs, qint64 toNs,
        const std::function<void(const QString& name, qint64 startNs, qint64 endNs)>& each) const override;
    QString problems(qint64 pid) const override;

private:
    ScopeRingReader* m_reader;
};

} // namespace perfdash
