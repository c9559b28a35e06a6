// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/atomicfile.h"

#include "core/errors.h"

#include "core/safepath.h"

#include <QFile>
#include <QFileInfo>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>

namespace perfdash {

namespace {
QString systemError(int error)
{
    return QString::fromLocal8Bit(std::strerror(error));
}
} // namespace

AtomicFile::AtomicFile(const QString& path, QObject* parent)
    : QIODevice(parent)
    , m_path(path)
{
}

AtomicFile::~AtomicFile()
{
    discard();
}

bool AtomicFile::open(OpenMode mode)
{
    if (isOpen() || (mode & ReadOnly) || !(mode & WriteOnly)) {
        setErrorString(QStringLiteral("an AtomicFile is opened once, write-only"));
        return false;
    }
    m_failed = false;
    if (QString refused; !safepath::checkWritableTarget(m_path, &refused)) {
        m_refusal = refused;
        setErrorString(refused);
        return false;
    }
    const QFileInfo target(m_path);
    // Next to the target, so that rename(2) is atomic (one filesystem); hidden, and named after it.
    QByteArray pattern
        = QFile::encodeName(target.absolutePath() + QStringLiteral("/.") + target.fileName()) + ".XXXXXX";
    const int fd = ::mkostemp(pattern.data(), O_CLOEXEC); // O_EXCL, mode 0600
    if (fd < 0) {
        setErrorString(systemError(errno));
        return false;
    }
    m_fd = fd;
    m_temporary = pattern;
    return QIODevice::open(mode | Unbuffered);
}

qint64 AtomicFile::readData(char*, qint64)
{
    return -1;
}

qint64 AtomicFile::writeData(const char* data, qint64 size)
{
    if (m_failed || m_fd < 0)
        return -1;
    qint64 done = 0;
    while (done < size) {
        const ssize_t n = ::write(m_fd, data + done, std::size_t(size - done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) { // ENOSPC, EDQUOT, EFBIG (RLIMIT_FSIZE), EIO: the file would be incomplete
            fail(systemError(n < 0 ? errno : ENOSPC));
            return -1;
        }
        done += n;
    }
    return done;
}

void AtomicFile::fail(const QString& why)
{
    if (!m_failed)
        setErrorString(why);
    m_failed = true;
}

bool AtomicFile::commit()
{
    if (m_fd < 0) {
        if (errorString().isEmpty() || errorString() == QLatin1String("Unknown error"))
            setErrorString(QStringLiteral("not open"));
        return false;
    }
    // Data a full disk refuses can still surface at fsync or close (NFS, delayed allocation).
    if (!m_failed && ::fsync(m_fd) != 0)
        fail(systemError(errno));
    if (::close(m_fd) != 0 && !m_failed)
        fail(systemError(errno));
    m_fd = -1;
    if (!m_failed && ::rename(m_temporary.constData(), QFile::encodeName(m_path).constData()) != 0)
        fail(systemError(errno));
    if (m_failed) {
        ::unlink(m_temporary.constData());
        m_temporary.clear();
        QIODevice::close();
        return false;
    }
    m_temporary.clear();
    // The rename itself is durable once the directory is.
    if (const int dir
        = ::open(QFile::encodeName(QFileInfo(m_path).absolutePath()).constData(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        dir >= 0) {
        ::fsync(dir);
        ::close(dir);
    }
    QIODevice::close();
    return true;
}

void AtomicFile::discard()
{
    if (m_fd >= 0) {
        ::close(m_fd);
        m_fd = -1;
    }
    if (!m_temporary.isEmpty()) {
        ::unlink(m_temporary.constData());
        m_temporary.clear();
    }
    if (isOpen())
        QIODevice::close();
}

QString AtomicFile::failure() const
{
    if (!m_refusal.isEmpty())
        return m_refusal;
    return QStringLiteral("cannot write %1: %2").arg(m_path, errorString());
}

namespace atomicfile {
bool write(const QString& path, const QByteArray& bytes, QString* error)
{
    AtomicFile file(path);
    if (!file.open(QIODevice::WriteOnly) || file.write(bytes) != bytes.size() || !file.commit()) {
        return failWith(error, file.failure());
    }
    return true;
}
} // namespace atomicfile

} // namespace perfdash
