// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/clock.h"

#include <ctime>

namespace perfdash {

namespace {
qint64 readClock(clockid_t id) noexcept
{
    timespec ts {};
    clock_gettime(id, &ts);
    return qint64(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

class SystemClock final : public Clock
{
public:
    qint64 monotonicNs() const noexcept override { return readClock(CLOCK_MONOTONIC); }
    qint64 wallMs() const noexcept override { return readClock(CLOCK_REALTIME) / 1'000'000; }
};
} // namespace

Clock* Clock::system() noexcept
{
    static SystemClock clock;
    return &clock;
}

} // namespace perfdash
