// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <QByteArray>
#include <QString>

class QIODevice;

namespace perfdash {

/**
 * RFC 4180 CSV onto a QIODevice: UTF-8, CRLF line ends, fields quoted when they hold a comma,
 * quote, CR or LF. Text fields that a spreadsheet would read as a formula (starting with '=',
 * '+', '-', '@', tab or CR) are neutralised with a leading apostrophe; numbers are written as
 * numbers. Output is buffered; check ok() (or the device) once at the end.
 */
class CsvWriter
{
public:
    explicit CsvWriter(QIODevice* device);
    ~CsvWriter();
    Q_DISABLE_COPY_MOVE(CsvWriter)

    CsvWriter& text(QStringView value);
    CsvWriter& number(qint64 value);
    CsvWriter& number(quint64 value);
    CsvWriter& number(int value) { return number(qint64(value)); }
    /// Fixed-point with @p decimals digits after '.', whatever the locale.
    CsvWriter& number(double value, int decimals);
    /// A duration in nanoseconds, written in microseconds with exactly 3 decimals.
    CsvWriter& microseconds(quint64 ns);
    CsvWriter& empty();
    void endRow();
    void header(const QStringList& columns);

    /// Writes what is buffered; false when the device refused it.
    bool flush();
    bool ok() const noexcept { return m_ok; }

    /// The field as it goes into the file: neutralised and quoted as needed.
    static QByteArray escape(QStringView value);

private:
    void separator();

    QIODevice* m_device;
    QByteArray m_buffer;
    bool m_rowStarted = false;
    bool m_ok = true;
};

} // namespace perfdash
