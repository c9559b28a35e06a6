// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/csvwriter.h"

#include <QIODevice>
#include <QStringList>

#include <cmath>

namespace perfdash {

namespace {
constexpr qsizetype FlushThreshold = 64 * 1024;
}

CsvWriter::CsvWriter(QIODevice* device)
    : m_device(device)
{
    Q_ASSERT(device);
    m_buffer.reserve(FlushThreshold + 1024);
}

CsvWriter::~CsvWriter()
{
    flush();
}

QByteArray CsvWriter::escape(QStringView value)
{
    QByteArray utf8 = value.toUtf8();
    if (!utf8.isEmpty()) {
        const char first = utf8.front();
        if (first == '=' || first == '+' || first == '-' || first == '@' || first == '\t' || first == '\r')
            utf8.prepend('\'');
    }
    const bool quote = utf8.contains(',') || utf8.contains('"') || utf8.contains('\n') || utf8.contains('\r');
    if (!quote)
        return utf8;
    utf8.replace("\"", "\"\"");
    return '"' + utf8 + '"';
}

void CsvWriter::separator()
{
    if (m_rowStarted)
        m_buffer.append(',');
    m_rowStarted = true;
}

CsvWriter& CsvWriter::text(QStringView value)
{
    separator();
    m_buffer.append(escape(value));
    return *this;
}

CsvWriter& CsvWriter::number(qint64 value)
{
    separator();
    m_buffer.append(QByteArray::number(value));
    return *this;
}

CsvWriter& CsvWriter::number(quint64 value)
{
    separator();
    m_buffer.append(QByteArray::number(value));
    return *this;
}

CsvWriter& CsvWriter::number(double value, int decimals)
{
    separator();
    // QByteArray::number is locale-independent: always '.' as the decimal point.
    m_buffer.append(std::isfinite(value) ? QByteArray::number(value, 'f', decimals) : QByteArray());
    return *this;
}

CsvWriter& CsvWriter::microseconds(quint64 ns)
{
    separator();
    const QByteArray fraction = QByteArray::number(ns % 1000);
    m_buffer.append(QByteArray::number(ns / 1000));
    m_buffer.append('.');
    m_buffer.append(QByteArray(3 - fraction.size(), '0'));
    m_buffer.append(fraction);
    return *this;
}

CsvWriter& CsvWriter::empty()
{
    separator();
    return *this;
}

void CsvWriter::endRow()
{
    m_buffer.append("\r\n");
    m_rowStarted = false;
    if (m_buffer.size() >= FlushThreshold)
        flush();
}

void CsvWriter::header(const QStringList& columns)
{
    for (const QString& c : columns)
        text(c);
    endRow();
}

bool CsvWriter::flush()
{
    if (!m_buffer.isEmpty() && m_ok)
        m_ok = m_device->write(m_buffer) == m_buffer.size();
    m_buffer.clear();
    return m_ok;
}

} // namespace perfdash
