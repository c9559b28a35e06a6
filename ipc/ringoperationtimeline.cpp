// SPDX-License-Identifier: GPL-3.0-or-later
#include "ipc/ringoperationtimeline.h"

#include "ipc/scoperingreader.h"

#include <QStringList>

namespace perfdash {
namespace {
OperationTimeline::Gap gapOf(AttributionGap gap)
{
    using Gap = OperationTimeline::Gap;
    switch (gap) {
    case AttributionGap::None:
        return Gap::None;
    case AttributionGap::NotInstrumented:
        return Gap::NotTraced;
    case AttributionGap::NoRing:
        return Gap::ThreadUntraced;
    case AttributionGap::BeforeTracing:
        return Gap::BeforeTracing;
    case AttributionGap::OpenBeforeTracing: // known when that operation ends
    case AttributionGap::Pending:
        return Gap::AskAgain;
    case AttributionGap::Overrun:
        return Gap::Overrun;
    case AttributionGap::Clock:
        return Gap::Clock;
    case AttributionGap::Mismatch:
        return Gap::Mismatch;
    case AttributionGap::Expired:
        return Gap::Expired;
    }
    return Gap::Mismatch;
}
} // namespace

bool RingOperationTimeline::traces(qint64 pid) const
{
    return m_reader->hasProcess(pid);
}

std::vector<OperationTimeline::Answer> RingOperationTimeline::activeOperations(
    qint64 pid, const std::vector<Query>& queries)
{
    std::vector<AttributionQuery> samples;
    samples.reserve(queries.size());
    for (const Query& q : queries)
        samples.push_back({ q.tid, q.timeNs });
    const std::vector<Attribution> found = m_reader->attribute(pid, samples);
    std::vector<Answer> out(found.size());
    for (std::size_t k = 0; k < found.size(); ++k) {
        Answer& a = out[k];
        a.gap = gapOf(found[k].gap);
        a.knownUntilNs = found[k].knownUntilNs;
        for (const Attribution::Frame& f : found[k].stack) {
            if (!f.instance.identified || f.name.isEmpty()) { // an operation there whose name is not known yet
                a.gap = Gap::AskAgain;
                a.stack.clear();
                break;
            }
            a.stack.push_back({ f.name, f.instance.id, f.instance.startNs, f.instance.open ? -1 : f.instance.endNs });
        }
    }
    return out;
}

void RingOperationTimeline::endedInstances(qint64 pid, qint64 fromNs, qint64 toNs,
    const std::function<void(const QString& name, qint64 startNs, qint64 endNs)>& each) const
{
    for (const ThreadInstances& thread : m_reader->instances(pid, fromNs)) {
        for (const Attribution::Frame& f : thread.instances) {
            const OperationInstance& i = f.instance;
            if (i.open || !i.identified || i.startNs < 0 || i.endNs < fromNs || i.endNs >= toNs || f.name.isEmpty())
                continue;
            each(f.name, i.startNs, i.endNs);
        }
    }
}

QString RingOperationTimeline::problems(qint64 pid) const
{
    const ScopeRingReader::Stats s = m_reader->stats(pid);
    QStringList said;
    if (!s.error.isEmpty())
        said << s.error;
    if (s.overruns)
        said << QStringLiteral("its rings were overwritten %1 times before they were read (%2 transitions lost)")
                    .arg(s.overruns)
                    .arg(s.overrunRecords);
    if (s.clockTroubles)
        said << QStringLiteral("%1 clock readings could not be placed").arg(s.clockTroubles);
    if (s.mismatches)
        said << QStringLiteral("%1 records contradicted the nesting").arg(s.mismatches);
    if (s.ringless)
        said << QStringLiteral("%1 threads found no free ring").arg(s.ringless);
    return said.join(QStringLiteral("; "));
}

} // namespace perfdash
