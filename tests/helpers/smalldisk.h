// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <QByteArray>
#include <QDir>
#include <QFile>
#include <QString>
#include <QTemporaryDir>
#include <QTest>

#include <cerrno>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/statvfs.h>
#include <unistd.h>

/**
 * A disk that fills up: a tmpfs of a few megabytes mounted on a temporary directory, where
 * writes fail with ENOSPC as on a real full disk (the kernel's own error path, unlike
 * RLIMIT_FSIZE's EFBIG). Mounting needs root, which CI has; elsewhere mounted() is false and the
 * caller falls back to FileSizeLimit. Unmounted (lazily) when it goes.
 */
class SmallDisk
{
public:
    explicit SmallDisk(qint64 bytes)
    {
        if (::geteuid() != 0 || !m_dir.isValid())
            return;
        const QByteArray options = "size=" + QByteArray::number(bytes) + ",mode=0700";
        m_mounted = ::mount("tmpfs", QFile::encodeName(m_dir.path()).constData(), "tmpfs", MS_NOSUID | MS_NODEV,
                        options.constData())
            == 0;
    }
    ~SmallDisk()
    {
        if (m_mounted)
            ::umount2(QFile::encodeName(m_dir.path()).constData(), MNT_DETACH);
    }
    SmallDisk(const SmallDisk&) = delete;
    SmallDisk& operator=(const SmallDisk&) = delete;

    bool mounted() const { return m_mounted; }
    QString path() const { return m_dir.path(); }
    QString filePath(const QString& name) const { return m_dir.filePath(name); }

    /// Bytes a file may still take.
    qint64 freeBytes() const
    {
        struct statvfs s
        {
        };
        if (::statvfs(QFile::encodeName(m_dir.path()).constData(), &s) != 0)
            return -1;
        return qint64(s.f_bavail) * qint64(s.f_frsize);
    }

    /// Takes the room until at most @p leave bytes are free (a filler file, which free() removes).
    bool fill(qint64 leave = 0)
    {
        const int fd = ::open(QFile::encodeName(filePath(QStringLiteral(".filler"))).constData(),
            O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        if (fd < 0)
            return false;
        static const QByteArray page(4096, 'f');
        while (freeBytes() > leave) {
            const qint64 want = std::min<qint64>(page.size(), std::max<qint64>(1, freeBytes() - leave));
            if (::write(fd, page.constData(), size_t(want)) <= 0)
                break;
        }
        ::close(fd);
        return freeBytes() <= std::max<qint64>(leave, 4096);
    }
    /// Gives the room back.
    void free() { QFile::remove(filePath(QStringLiteral(".filler"))); }

    /// The files a test left there (the filler not included).
    QStringList files() const
    {
        QStringList names = QDir(m_dir.path()).entryList(QDir::Files | QDir::Hidden | QDir::System);
        names.removeAll(QStringLiteral(".filler"));
        return names;
    }

private:
    QTemporaryDir m_dir;
    bool m_mounted = false;
};

/// The rows of a case that runs on both kinds of full disk: column "tmpfs", true for a SmallDisk
/// (root mounts one), false for FileSizeLimit's RLIMIT_FSIZE (anyone).
inline void addFullDiskRows()
{
    QTest::addColumn<bool>("tmpfs");
    QTest::newRow("tmpfs") << true;
    QTest::newRow("RLIMIT_FSIZE") << false;
}
