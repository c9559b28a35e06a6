// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "core/latencyhistogram.h"
#include "ipc/client/wire/wire.h" // the client library's constants: one definition of the wire format for both sides

#include <QByteArray>
#include <QString>
#include <QStringList>
#include <QVariantMap>

#include <variant>

/**
 * The perfdash wire protocol, version 1 (docs/PROTOCOL.md has the full description).
 *
 * A connection is NDJSON when its first byte is '{', binary when it starts with the preface
 * "PDSH". Binary frames, all integers little-endian:
 *
 *   +-----------------+---------+------------------------+
 *   | length: u32     | type:u8 | body: length - 1 bytes |
 *   +-----------------+---------+------------------------+
 *   length counts the type byte and the body; 1 <= length <= MaxFrameBytes.
 *   str = u32 byte count + UTF-8 bytes.
 *
 *   client -> server
 *   1 HELLO      u16 version, u32 pid, u64 clock origin (wall ns), str name, u16 argc, str argv[argc]
 *   2 DEFINE_OP  u32 id (< MaxOperations), str name
 *   3 HISTOGRAM  u32 op, u64 interval end (wall ns), u64 errors, u64 sum ns, u64 min ns, u64 max ns,
 *                u64 overflow count, u32 n, n x (u16 bucket, u32 count)     -- LatencyHistogram's layout
 *   4 EVENT      u32 op, u64 start (wall ns), u64 duration ns, u8 ok, u64 thread id,
 *                u16 n, n x (str key, str value)                            -- already counted in HISTOGRAM
 *   5 MEMORY     u64 wall ns, u64 rss bytes, u64 heap bytes
 *   6 METRIC     u8 kind (1 counter total, 2 gauge), str name, f64 value
 *   7 DROPS      u64 raw events dropped, u64 bytes dropped,                 -- cumulative, client side
 *                [u64 operations dropped]                                   -- the third since 0.1.1; optional
 *   8 GOODBYE    (empty)
 *   9 SYNC       (empty)
 *  10 RINGS      u8 state, i32 descriptor, u64 token, u64 bytes, str reason  -- the answer to PROFILE
 *   server -> client
 *   0x81 WELCOME u16 version the server speaks, u16 flags
 *   0x82 REJECT  str reason; the server closes the connection after it
 *   0x83 RECEIVED u64 bytes read
 *   0x84 PROFILE u8 start (1) or stop (0), u32 ring entries wanted (0: the client's default)
 *
 * HELLO comes first. Unknown frame types are skipped (so later versions can add frames).
 */
namespace perfdash::protocol {

inline constexpr quint16 Version = wire::Version;
inline constexpr quint16 OldestVersion = 1;
inline constexpr QByteArrayView Preface = "PDSH";
static_assert(sizeof wire::Preface == 4 && wire::Preface[0] == 'P' && wire::Preface[1] == 'D' && wire::Preface[2] == 'S'
    && wire::Preface[3] == 'H');
inline constexpr qsizetype MaxFrameBytes = wire::MaxFrame;
inline constexpr qsizetype MaxLineBytes = 1 << 20;
inline constexpr quint32 MaxOperations = 4096;
using FrameType = wire::FrameType;

// The client buckets durations itself; its layout must be LatencyHistogram's.
static_assert(wire::BucketCount == LatencyHistogram::BucketCount);
static_assert(wire::MaxTrackableNs == LatencyHistogram::MaxTrackableNs);

struct Hello
{
    quint16 version = Version;
    qint64 pid = 0;
    QString name;
    QStringList commandLine;
    qint64 clockOriginNs = 0;
    bool ndjson = false;
};

struct Histogram
{
    QString operation;
    qint64 intervalEndNs = 0;
    quint64 errors = 0;
    SparseHistogram histogram;
};

/// One operation: a raw event of the binary protocol (already counted in a Histogram), or an
/// NDJSON "op" line (counted here, @c counted false).
struct Event
{
    QString operation;
    qint64 startNs = 0; ///< wall clock; 0 when the sender did not say
    quint64 durationNs = 0;
    bool ok = true;
    quint64 threadId = 0;
    QVariantMap metadata;
    bool counted = true;
};

struct Memory
{
    qint64 wallNs = 0;
    qint64 rssBytes = -1;
    qint64 heapBytes = -1;
};

struct Metric
{
    QString name;
    bool gauge = false;
    double value = 0.0;
};

struct Drops
{
    quint64 events = 0;
    quint64 bytes = 0;
    quint64 operations = 0; ///< recorded operations in what was given up (0 from clients that do not say)
};

struct Goodbye
{
};

/// A client's answer to PROFILE: where its scope rings are (docs/PROTOCOL.md, "Scope rings").
struct Rings
{
    enum class State : quint8 {
        Stopped = wire::RingsStopped,
        Ready = wire::RingsReady,
        Unavailable = wire::RingsUnavailable
    };
    State state = State::Stopped;
    qint32 descriptor = -1; ///< the segment's file descriptor in the client: /proc/PID/fd/N
    quint64 token = 0; ///< also in the segment's header
    quint64 bytes = 0; ///< the segment's size
    QString reason; ///< why Unavailable
};

using Message = std::variant<Hello, Histogram, Event, Memory, Metric, Drops, Goodbye, Rings>;

// Encoders: the server's replies, and frames for tests and tools written with Qt.
QByteArray encodeWelcome();
QByteArray encodeReject(const QString& reason);
QByteArray encodeReceived(quint64 bytesRead);
QByteArray encodeSync();
QByteArray encodeHello(const Hello& hello); ///< with the preface
QByteArray encodeDefineOp(quint32 id, const QString& name);
QByteArray encodeHistogram(quint32 op, const LatencyHistogram& histogram, quint64 errors, qint64 intervalEndNs);
QByteArray encodeEvent(quint32 op, const Event& event);
QByteArray encodeMemory(const Memory& memory);
QByteArray encodeMetric(const Metric& metric);
QByteArray encodeDrops(const Drops& drops);
QByteArray encodeGoodbye();
/// PROFILE: the dashboard profiles the process (@p start) or stopped; @p ringEntries 0 lets the client choose.
QByteArray encodeProfile(bool start, quint32 ringEntries = 0);
QByteArray encodeRings(const Rings& rings);
/// A frame of any type with any body, for tests of malformed input.
QByteArray encodeFrame(quint8 type, QByteArrayView body);

} // namespace perfdash::protocol
