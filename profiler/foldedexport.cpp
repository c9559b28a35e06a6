// SPDX-License-Identifier: GPL-3.0-or-later
#include "profiler/foldedexport.h"

#include "core/atomicfile.h"
#include "profiler/profileaggregate.h"

namespace perfdash::foldedexport {

bool writeFile(const QString& path, const std::vector<ProfileSnapshotPtr>& snapshots, QString* error)
{
    // AtomicFile refuses a symlink planted where the export goes, and checks every write: a full
    // disk fails the export and leaves the previous file as it was.
    AtomicFile file(path);
    bool ok = file.open(QIODevice::WriteOnly);
    for (std::size_t i = 0; ok && i < snapshots.size(); ++i) {
        const QByteArray folded = snapshots[i]->folded();
        ok = file.write(folded) == folded.size();
    }
    if (!ok || !file.commit()) {
        *error = file.failure();
        return false;
    }
    return true;
}

std::vector<FoldedLine> parse(const QByteArray& text, int* malformed)
{
    std::vector<FoldedLine> lines;
    int bad = 0;
    for (const QByteArray& raw : text.split('\n')) {
        const QByteArray line = raw.trimmed();
        if (line.isEmpty())
            continue;
        const qsizetype space = line.lastIndexOf(' ');
        bool ok = false;
        const quint64 count = space > 0 ? line.mid(space + 1).toULongLong(&ok) : 0;
        if (!ok) {
            ++bad;
            continue;
        }
        lines.push_back({ QString::fromUtf8(line.left(space)), count });
    }
    if (malformed)
        *malformed = bad;
    return lines;
}

ProfileSnapshotPtr snapshotOf(qint64 pid, const QString& process, const QByteArray& folded, ProfileSnapshot::Unit unit)
{
    FunctionTable functions;
    ProfileAggregate aggregate;
    std::vector<std::uint32_t> frames;
    for (const FoldedLine& line : parse(folded)) {
        const QStringList names = line.stack.split(QLatin1Char(';'));
        frames.clear();
        for (qsizetype i = 1; i < names.size(); ++i) // [0] is the process
            frames.push_back(names[i] == QLatin1String("[unknown]") ? FunctionTable::kUnknown
                                                                    : functions.intern({ names[i], {}, {}, false }));
        aggregate.add(0, 0, frames, line.count);
    }
    auto snapshot = std::make_shared<ProfileSnapshot>(aggregate.snapshot({}, 0, functions));
    snapshot->threads.clear(); // the one made up above: folded stacks keep no threads
    snapshot->pid = pid;
    snapshot->process = process;
    snapshot->stats.samples = snapshot->totalSamples();
    snapshot->unit = unit;
    return snapshot;
}

} // namespace perfdash::foldedexport
