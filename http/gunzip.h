// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <QByteArray>
#include <QByteArrayView>

namespace perfdash {

enum class GunzipResult { Ok, TooLarge, Invalid };

/**
 * Inflates a gzip (or zlib) body with zlib into @p out, stopping at @p limit bytes of output so
 * that a small compressed body cannot become a huge one (a "zip bomb" is TooLarge, not memory).
 * Concatenated gzip members are read as one stream, as gunzip(1) does. Pure; fuzzed through the
 * OTLP targets.
 */
GunzipResult gunzip(QByteArrayView in, qsizetype limit, QByteArray& out);

} // namespace perfdash
