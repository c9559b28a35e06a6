// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "capture/captureprofiles.h"
#include "profiler/calltree.h"

#include <QList>

#include <vector>

namespace perfdash {

class ProcessProfiler;

/// What a capture keeps of each profiled process: its whole CPU profile, and by operation (CPU and
/// off CPU) for a client whose operations were traced.
QList<CapturedProfile> capturedProfiles(const std::vector<ProcessProfiler*>& profilers);

/// @p profiles with the heaps (live bytes by call site) added: to the same process's entry, or as
/// an entry of their own for a program whose CPU was not profiled.
void addCapturedHeaps(QList<CapturedProfile>* profiles, const std::vector<ProfileSnapshotPtr>& heaps);

} // namespace perfdash
