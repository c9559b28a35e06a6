// SPDX-License-Identifier: GPL-3.0-or-later
#include "foldedexport.h"

#include "safepath.h"

#include <QSaveFile>

namespace perfdash::foldedexport {

bool writeFile(const QString& path, const std::vector<ProfileSnapshotPtr>& snapshots, QString* error)
{
    // QSaveFile follows a symlink and replaces its target: one planted in a shared directory is refused.
    if (const QString refused = safepath::checkWritableTarget(path); !refused.isEmpty()) {
        *error = refused;
        return false;
    }
    QSaveFile file(path);
    if (!file.open(QIODevice::WriteOnly)) {
        *error = QStringLiteral("cannot write %1: %2").arg(path, file.errorString());
        return false;
    }
    for (const ProfileSnapshotPtr& snapshot : snapshots)
        file.write(snapshot->folded());
    if (!file.commit()) {
        *error = QStringLiteral("cannot write %1: %2").arg(path, file.errorString());
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

} // namespace perfdash::foldedexport
