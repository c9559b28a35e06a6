// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "profiler/calltree.h"

#include <QString>

#include <vector>

namespace perfdash::foldedexport {

/// Writes the snapshots' folded stacks (`process;outermost;...;leaf COUNT`) into @p path,
/// atomically (AtomicFile: complete or not there, 0600); false with a sentence in @p error. A symbolic link (or
/// anything but a regular file) at @p path is refused and left as it is (safepath::checkWritableTarget).
bool writeFile(const QString& path, const std::vector<ProfileSnapshotPtr>& snapshots, QString* error);

/// Reads folded stacks back: (stack without the count, count) per line; malformed lines are counted.
struct FoldedLine
{
    QString stack;
    quint64 count = 0;
};
std::vector<FoldedLine> parse(const QByteArray& text, int* malformed = nullptr);

/// A recorded profile (a capture's folded stacks) as a snapshot the views show: the call tree of
/// the whole session, each line's first frame (the process) left out; no threads, no modules, no
/// time ranges (folded stacks do not keep them).
/// @p unit says what a line's count is: samples, or bytes (a heap's, as --export-heap writes it).
ProfileSnapshotPtr snapshotOf(qint64 pid, const QString& process, const QByteArray& folded,
    ProfileSnapshot::Unit unit = ProfileSnapshot::Unit::Samples);

} // namespace perfdash::foldedexport
