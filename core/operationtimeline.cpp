// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/operationtimeline.h"

namespace perfdash {

QString gapName(OperationTimeline::Gap gap)
{
    switch (gap) {
    case OperationTimeline::Gap::None:
        return QStringLiteral("known");
    case OperationTimeline::Gap::NotTraced:
        return QStringLiteral("not traced");
    case OperationTimeline::Gap::ThreadUntraced:
        return QStringLiteral("thread untraced");
    case OperationTimeline::Gap::BeforeTracing:
        return QStringLiteral("before tracing");
    case OperationTimeline::Gap::AskAgain:
        return QStringLiteral("not read in time");
    case OperationTimeline::Gap::Overrun:
        return QStringLiteral("ring overrun");
    case OperationTimeline::Gap::Clock:
        return QStringLiteral("clock trouble");
    case OperationTimeline::Gap::Mismatch:
        return QStringLiteral("mismatched records");
    case OperationTimeline::Gap::Expired:
        return QStringLiteral("expired");
    }
    return {};
}

} // namespace perfdash
