// SPDX-License-Identifier: GPL-3.0-or-later
#include "ipc/protocol.h"

#include <QtEndian>

#include <cstring>

namespace perfdash::protocol {

namespace {
class Body
{
public:
    Body& u8(quint8 v)
    {
        m_data.append(char(v));
        return *this;
    }
    Body& u16(quint16 v) { return put<quint16>(v); }
    Body& u32(quint32 v) { return put<quint32>(v); }
    Body& u64(quint64 v) { return put<quint64>(v); }
    Body& f64(double v)
    {
        quint64 bits;
        std::memcpy(&bits, &v, sizeof bits);
        return u64(bits);
    }
    Body& str(const QString& s)
    {
        const QByteArray utf8 = s.toUtf8();
        u32(quint32(utf8.size()));
        m_data.append(utf8);
        return *this;
    }
    QByteArray frame(FrameType type) const { return encodeFrame(quint8(type), m_data); }

private:
    template <typename T> Body& put(T v)
    {
        char bytes[sizeof(T)];
        qToLittleEndian(v, bytes);
        m_data.append(bytes, sizeof(T));
        return *this;
    }
    QByteArray m_data;
};
} // namespace

QByteArray encodeFrame(quint8 type, QByteArrayView body)
{
    QByteArray frame(5, Qt::Uninitialized);
    qToLittleEndian(quint32(body.size() + 1), frame.data());
    frame[4] = char(type);
    frame.append(body.data(), body.size());
    return frame;
}

QByteArray encodeWelcome()
{
    return Body().u16(Version).u16(wire::WelcomeConfirms).frame(FrameType::Welcome);
}

QByteArray encodeReject(const QString& reason)
{
    return Body().str(reason).frame(FrameType::Reject);
}

QByteArray encodeReceived(quint64 bytesRead)
{
    return Body().u64(bytesRead).frame(FrameType::Received);
}

QByteArray encodeSync()
{
    return Body().frame(FrameType::Sync);
}

QByteArray encodeProfile(bool start, quint32 ringEntries)
{
    return Body().u8(start ? wire::ProfileStart : wire::ProfileStop).u32(ringEntries).frame(FrameType::Profile);
}

QByteArray encodeRings(const Rings& rings)
{
    return Body()
        .u8(quint8(rings.state))
        .u32(quint32(rings.descriptor))
        .u64(rings.token)
        .u64(rings.bytes)
        .str(rings.reason)
        .frame(FrameType::Rings);
}

QByteArray encodeHello(const Hello& hello)
{
    Body body;
    body.u16(hello.version).u32(quint32(hello.pid)).u64(quint64(hello.clockOriginNs)).str(hello.name);
    body.u16(quint16(hello.commandLine.size()));
    for (const QString& arg : hello.commandLine)
        body.str(arg);
    return Preface.toByteArray() + body.frame(FrameType::Hello);
}

QByteArray encodeDefineOp(quint32 id, const QString& name)
{
    return Body().u32(id).str(name).frame(FrameType::DefineOp);
}

QByteArray encodeHistogram(quint32 op, const LatencyHistogram& h, quint64 errors, qint64 intervalEndNs)
{
    Body body;
    body.u32(op).u64(quint64(intervalEndNs)).u64(errors).u64(h.sumNs()).u64(h.minNs()).u64(h.maxNs());
    body.u64(h.overflowCount());
    quint32 n = 0;
    for (int i = 0; i < LatencyHistogram::BucketCount; ++i)
        n += h.countAt(i) ? 1 : 0;
    body.u32(n);
    for (int i = 0; i < LatencyHistogram::BucketCount; ++i) {
        if (h.countAt(i))
            body.u16(quint16(i)).u32(quint32(h.countAt(i)));
    }
    return body.frame(FrameType::Histogram);
}

QByteArray encodeEvent(quint32 op, const Event& event)
{
    Body body;
    body.u32(op).u64(quint64(event.startNs)).u64(event.durationNs).u8(event.ok ? 1 : 0).u64(event.threadId);
    body.u16(quint16(event.metadata.size()));
    for (auto it = event.metadata.cbegin(); it != event.metadata.cend(); ++it)
        body.str(it.key()).str(it.value().toString());
    return body.frame(FrameType::Event);
}

QByteArray encodeMemory(const Memory& memory)
{
    return Body()
        .u64(quint64(memory.wallNs))
        .u64(quint64(memory.rssBytes))
        .u64(quint64(memory.heapBytes))
        .frame(FrameType::Memory);
}

QByteArray encodeMetric(const Metric& metric)
{
    return Body().u8(metric.gauge ? 2 : 1).str(metric.name).f64(metric.value).frame(FrameType::Metric);
}

QByteArray encodeDrops(const Drops& drops)
{
    return Body().u64(drops.events).u64(drops.bytes).u64(drops.operations).frame(FrameType::Drops);
}

QByteArray encodeGoodbye()
{
    return Body().frame(FrameType::Goodbye);
}

} // namespace perfdash::protocol
