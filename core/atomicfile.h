// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <QIODevice>
#include <QString>

namespace perfdash {

/**
 * A file that appears whole or not at all, private to the user: written into a temporary file
 * next to the target (created 0600 with O_EXCL, so nothing planted there is followed), every
 * write(2) checked as it happens, then fsync(2)ed, closed and renamed over the target; the
 * directory is synced after. Any failure (full disk, quota, I/O error, RLIMIT_FSIZE) removes the
 * temporary file and leaves the previous file as it was.
 *
 * QSaveFile is not used: in Qt 6.4 the last write of its buffer happens inside commit(), whose
 * failure goes unreported, and the rename replaced a good file with an empty one. It also creates
 * files 0666 less the umask, and exports hold command lines and timings others need not read.
 *
 * A sequential, unbuffered QIODevice, so that CsvWriter, QImageWriter or a QTextStream write into it.
 */
class AtomicFile final : public QIODevice
{
    Q_OBJECT
public:
    explicit AtomicFile(const QString& path, QObject* parent = nullptr);
    /// Discards what was written unless commit() succeeded.
    ~AtomicFile() override;

    QString fileName() const { return m_path; }
    /// Opens the temporary file; only QIODevice::WriteOnly is supported. The target is checked
    /// first (safepath::checkWritableTarget): a symbolic link or a non-file there is refused.
    bool open(OpenMode mode) override;
    bool isSequential() const override { return true; }
    /// Puts the file in place; false (with errorString()) when anything failed, the temporary
    /// file removed and the previous file left intact. The device is closed either way.
    bool commit();
    /// Gives up: the temporary file is removed, the previous file stays.
    void discard();
    /// As discard(): only commit() puts the file in place.
    void close() override { discard(); }
    /// "cannot write PATH: REASON", for the user.
    QString failure() const;

protected:
    qint64 readData(char* data, qint64 maxSize) override;
    qint64 writeData(const char* data, qint64 size) override;

private:
    void fail(const QString& why);

    QString m_path;
    QString m_refusal; // safepath's sentence, when the target itself was refused
    QByteArray m_temporary; // encoded name of the temporary file
    int m_fd = -1;
    bool m_failed = false;
};

namespace atomicfile {
/// Writes @p bytes to @p path through an AtomicFile; false with "cannot write PATH: ..." in @p error.
bool write(const QString& path, const QByteArray& bytes, QString* error);
} // namespace atomicfile

} // namespace perfdash
