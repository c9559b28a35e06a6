// SPDX-License-Identifier: GPL-3.0-or-later
// libFuzzer target for ScopeTimeline: the records of a scope ring come from another process and
// may be anything. Each 16 bytes of input are one step (a record, a loss, a query, an eviction);
// the timeline must never crash, must answer every instant with a stack whose depths are in
// order, and must stay within its bounds.
//   build-fuzz/bin/fuzz_scopetimeline -max_total_time=600
#include "ipc/scopetimeline.h"

#include <cstddef>
#include <cstdint>
#include <cstring>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    perfdash::ScopeTimeline timeline(7, 1000, size > 0 ? int(data[0] % 4) - 1 : 0);
    std::vector<perfdash::OperationInstance> stack;
    for (std::size_t at = 1; at + 16 <= size; at += 16) {
        std::uint64_t a, b;
        std::memcpy(&a, data + at, 8);
        std::memcpy(&b, data + at + 8, 8);
        const qint64 t = qint64(a % 1'000'000) - 1000; // a few negative: unplaced
        switch (b & 7) {
        case 0:
            timeline.lose(perfdash::AttributionGap((b >> 3) % 10), (b >> 8) % 100);
            break;
        case 1:
            timeline.setKnownUntil(t);
            break;
        case 2:
            timeline.evict(t, std::size_t((b >> 3) % 64) + 1);
            if (timeline.segments() > 64)
                __builtin_trap(); // bounded by count is a promise
            break;
        case 3: {
            const perfdash::AttributionGap gap = timeline.stackAt(t, stack);
            if (gap != perfdash::AttributionGap::None && !stack.empty())
                __builtin_trap();
            for (std::size_t i = 0; i < stack.size(); ++i)
                if (stack[i].depth != int(i))
                    __builtin_trap();
            break;
        }
        case 4:
            timeline.finish(t);
            break;
        default: {
            perfdash::ScopeTimeline::Record r;
            r.timeNs = t;
            r.op = std::uint32_t(b >> 8) & 0x1fff;
            r.kind = std::uint8_t((b >> 3) % 7);
            r.depth = std::uint32_t(b >> 24) % 40;
            r.startLow = std::uint32_t(b >> 32);
            r.rawTime = a;
            timeline.add(r);
        }
        }
    }
    std::vector<perfdash::OperationInstance> all;
    timeline.instancesSince(0, all);
    return 0;
}
