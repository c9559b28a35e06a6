// SPDX-License-Identifier: GPL-3.0-or-later
#include "http/gunzip.h"

#include <zlib.h>

#include <algorithm>

namespace perfdash {

GunzipResult gunzip(QByteArrayView in, qsizetype limit, QByteArray& out)
{
    out.clear();
    z_stream z {};
    if (inflateInit2(&z, 32 + MAX_WBITS) != Z_OK) // 32: gzip or zlib header, detected
        return GunzipResult::Invalid;
    const auto* next = reinterpret_cast<const Bytef*>(in.data());
    qsizetype left = in.size();
    GunzipResult result = GunzipResult::Invalid;
    out.resize(std::min<qsizetype>(std::max<qsizetype>(in.size() * 4, 4096), limit + 1));
    qsizetype produced = 0;
    for (;;) {
        if (produced == out.size()) {
            if (out.size() > limit) {
                result = GunzipResult::TooLarge;
                break;
            }
            out.resize(std::min<qsizetype>(out.size() * 2, limit + 1));
        }
        const uInt inChunk = uInt(std::min<qsizetype>(left, 1 << 30));
        const uInt outChunk = uInt(std::min<qsizetype>(out.size() - produced, 1 << 30));
        z.next_in = const_cast<Bytef*>(next);
        z.avail_in = inChunk;
        z.next_out = reinterpret_cast<Bytef*>(out.data() + produced);
        z.avail_out = outChunk;
        const int rc = inflate(&z, Z_NO_FLUSH);
        next += inChunk - z.avail_in;
        left -= inChunk - z.avail_in;
        produced += outChunk - z.avail_out;
        if (produced > limit) {
            result = GunzipResult::TooLarge;
            break;
        }
        if (rc == Z_STREAM_END) {
            if (left == 0) {
                result = GunzipResult::Ok;
                break;
            }
            if (inflateReset(&z) != Z_OK) // another gzip member follows
                break;
            continue;
        }
        if (rc == Z_BUF_ERROR && left == 0 && z.avail_out > 0)
            break; // truncated
        if (rc != Z_OK && rc != Z_BUF_ERROR)
            break;
    }
    inflateEnd(&z);
    if (result == GunzipResult::Ok)
        out.resize(produced);
    else
        out.clear();
    return result;
}

} // namespace perfdash
