// SPDX-License-Identifier: GPL-3.0-or-later
#include "run/capturedprofiles.h"

#include "profiler/processprofiler.h"

#include <algorithm>

namespace perfdash {

QList<CapturedProfile> capturedProfiles(const std::vector<ProcessProfiler*>& profilers)
{
    QList<CapturedProfile> profiles;
    for (ProcessProfiler* profiler : profilers) {
        const ProfileSnapshotPtr s = profiler->snapshot({});
        CapturedProfile profile { s->pid, s->process, s->folded(), {}, {} };
        // Per operation only for a client whose operations were traced: otherwise
        // operationSnapshots() is the whole profile again, with no operation in it.
        if (profiler->stats().operationsTraced) {
            for (const ProfileSnapshotPtr& part : profiler->operationSnapshots(false))
                profile.byOperation += part->folded();
            for (const ProfileSnapshotPtr& part : profiler->operationSnapshots(true))
                profile.offCpu += part->folded();
        }
        profiles.append(std::move(profile));
    }
    return profiles;
}

void addCapturedHeaps(QList<CapturedProfile>* profiles, const std::vector<ProfileSnapshotPtr>& heaps)
{
    for (const ProfileSnapshotPtr& h : heaps) {
        const auto same = std::find_if(
            profiles->begin(), profiles->end(), [&h](const CapturedProfile& c) { return c.pid == h->pid; });
        if (same != profiles->end())
            same->heap = h->folded();
        else
            profiles->append({ h->pid, h->process, {}, {}, {}, h->folded() });
    }
}

} // namespace perfdash
