// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// What the OTLP tests share: the bodies recorded from the official exporters (tests/data/otlp,
// PERFDASH_OTLP_DATA), gzip as exporters send it, and an operation's statistics in the store.
#include "core/metricsstore.h"

#include <QByteArray>
#include <QFile>
#include <QString>

#include <zlib.h>

#include <optional>

namespace perfdashtest {

inline QByteArray recorded(const QString& name)
{
    QFile f(QStringLiteral(PERFDASH_OTLP_DATA "/") + name);
    if (!f.open(QIODevice::ReadOnly))
        qFatal("cannot read %s", qPrintable(f.fileName()));
    return f.readAll();
}

/// @p in gzip-compressed (Content-Encoding: gzip).
inline QByteArray gzip(const QByteArray& in)
{
    z_stream z {};
    deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
    QByteArray out(qsizetype(deflateBound(&z, uLong(in.size()))), Qt::Uninitialized);
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    z.avail_in = uInt(in.size());
    z.next_out = reinterpret_cast<Bytef*>(out.data());
    z.avail_out = uInt(out.size());
    deflate(&z, Z_FINISH);
    out.resize(qsizetype(z.total_out));
    deflateEnd(&z);
    return out;
}

/// The statistics of @p operation of the process named @p process, if the store has them.
inline std::optional<perfdash::OperationStats> stats(
    const perfdash::MetricsStore& store, const QString& process, const QString& operation)
{
    for (const perfdash::ProcessStatistics& p : store.statistics()) {
        if (p.process != process)
            continue;
        for (const perfdash::OperationStats& s : p.operations) {
            if (s.operation == operation)
                return s;
        }
    }
    return std::nullopt;
}

} // namespace perfdashtest
