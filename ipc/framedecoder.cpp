// SPDX-License-Identifier: GPL-3.0-or-later
#include "ipc/framedecoder.h"

#include <QStringDecoder>
#include <QtEndian>

#include <simdjson.h>

#include <cmath>
#include <cstring>

namespace perfdash::protocol {

struct FrameDecoder::Json
{
    simdjson::ondemand::parser parser { MaxLineBytes };
    std::string scratch; // the line being parsed, with simdjson's padding after it
};

namespace {
/// Bounds-checked little-endian reads over one frame's body; any overrun sets ok() false.
class Reader
{
public:
    explicit Reader(QByteArrayView data)
        : m_data(data)
    {
    }
    bool ok() const { return m_ok; }
    bool atEnd() const { return m_pos == m_data.size(); }
    quint8 u8() { return get<quint8>(); }
    quint16 u16() { return get<quint16>(); }
    quint32 u32() { return get<quint32>(); }
    quint64 u64() { return get<quint64>(); }
    double f64()
    {
        const quint64 bits = u64();
        double v;
        std::memcpy(&v, &bits, sizeof v);
        return v;
    }
    QByteArrayView bytes()
    {
        const quint32 n = u32();
        if (!m_ok || n > quint32(m_data.size() - m_pos)) {
            m_ok = false;
            return {};
        }
        const QByteArrayView v = m_data.sliced(m_pos, n);
        m_pos += n;
        return v;
    }

private:
    template <typename T> T get()
    {
        if (!m_ok || m_data.size() - m_pos < qsizetype(sizeof(T))) {
            m_ok = false;
            return 0;
        }
        const T v = qFromLittleEndian<T>(m_data.data() + m_pos);
        m_pos += sizeof(T);
        return v;
    }
    QByteArrayView m_data;
    qsizetype m_pos = 0;
    bool m_ok = true;
};

/// Strict UTF-8 to QString; false for invalid input rather than replacement characters.
bool decodeUtf8(QByteArrayView bytes, QString& out)
{
    QStringDecoder decoder(QStringDecoder::Utf8, QStringDecoder::Flag::Stateless);
    out = decoder.decode(bytes);
    return !decoder.hasError();
}

const char* frameName(quint8 type)
{
    switch (FrameType(type)) {
    case FrameType::Hello:
        return "HELLO";
    case FrameType::DefineOp:
        return "DEFINE_OP";
    case FrameType::Histogram:
        return "HISTOGRAM";
    case FrameType::Event:
        return "EVENT";
    case FrameType::Memory:
        return "MEMORY";
    case FrameType::Metric:
        return "METRIC";
    case FrameType::Drops:
        return "DROPS";
    case FrameType::Goodbye:
        return "GOODBYE";
    case FrameType::Sync:
        return "SYNC";
    case FrameType::Rings:
        return "RINGS";
    default:
        return "unknown";
    }
}
} // namespace

FrameDecoder::FrameDecoder() = default;
FrameDecoder::~FrameDecoder() = default;

void FrameDecoder::fail(QString error, QString reject)
{
    if (m_error.isEmpty()) {
        m_error = std::move(error);
        m_reject = std::move(reject);
    }
    m_buffer.clear();
    m_offset = 0;
}

void FrameDecoder::problem(QString what)
{
    ++m_malformed;
    m_lastProblem = std::move(what);
}

bool FrameDecoder::checkVersion(quint16 version, const char* protocolName)
{
    if (version >= OldestVersion && version <= Version)
        return true;
    const QString reason
        = QStringLiteral("%1 protocol version %2 is not supported: this perfdash speaks versions %3 to %4%5")
              .arg(QLatin1String(protocolName))
              .arg(version)
              .arg(OldestVersion)
              .arg(Version)
              .arg(version > Version ? QStringLiteral(" (upgrade perfdash)") : QString());
    fail(reason, reason);
    return false;
}

void FrameDecoder::feed(QByteArrayView bytes, std::vector<Message>& out)
{
    if (failed() || bytes.isEmpty())
        return;
    if (m_mode == Mode::Unknown) {
        if (bytes.front() == '{') {
            m_mode = Mode::Ndjson;
            m_json = std::make_unique<Json>();
        } else if (bytes.front() == Preface.front()) {
            m_mode = Mode::Binary;
        } else {
            fail(QStringLiteral("not a perfdash client: the first byte is 0x%1, expected '{' (NDJSON) or \"PDSH\"")
                     .arg(quint8(bytes.front()), 2, 16, QLatin1Char('0')));
            return;
        }
    }
    // Compact: drop what was consumed once it is most of the buffer.
    if (m_offset > 0 && m_offset >= m_buffer.size() / 2) {
        m_buffer.remove(0, m_offset);
        m_scanned -= m_offset;
        m_offset = 0;
    }
    m_buffer.append(bytes.data(), bytes.size());
    if (m_mode == Mode::Binary) {
        decodeBinary(out);
    } else {
        decodeLines(out);
    }
}

void FrameDecoder::decodeBinary(std::vector<Message>& out)
{
    if (!m_prefaceSeen) {
        const qsizetype have = std::min(m_buffer.size() - m_offset, Preface.size());
        if (QByteArrayView(m_buffer).sliced(m_offset, have) != Preface.first(have)) {
            fail(QStringLiteral("not a perfdash client: a binary connection must start with \"PDSH\""));
            return;
        }
        if (have < Preface.size())
            return;
        m_offset += Preface.size();
        m_prefaceSeen = true;
    }
    while (!failed() && m_buffer.size() - m_offset >= 4) {
        const quint32 length = qFromLittleEndian<quint32>(m_buffer.constData() + m_offset);
        if (length == 0 || length > quint32(MaxFrameBytes)) {
            fail(QStringLiteral("frame length %1 is outside 1..%2 bytes: framing lost").arg(length).arg(MaxFrameBytes));
            return;
        }
        if (m_buffer.size() - m_offset - 4 < qsizetype(length))
            return; // the rest has not arrived
        const QByteArrayView frame = QByteArrayView(m_buffer).sliced(m_offset + 4, length);
        m_offset += 4 + qsizetype(length);
        decodeFrame(quint8(frame.front()), frame.sliced(1), out);
    }
}

void FrameDecoder::decodeFrame(quint8 type, QByteArrayView body, std::vector<Message>& out)
{
    Reader r(body);
    if (!m_helloSeen && FrameType(type) != FrameType::Hello) {
        fail(QStringLiteral("expected HELLO as the first frame, got %1").arg(QLatin1String(frameName(type))));
        return;
    }
    const auto malformed = [&](const QString& why) {
        problem(QStringLiteral("malformed %1 frame: %2").arg(QLatin1String(frameName(type)), why));
    };
    switch (FrameType(type)) {
    case FrameType::Hello: {
        if (m_helloSeen) {
            malformed(QStringLiteral("a second HELLO"));
            return;
        }
        Hello h;
        h.version = r.u16();
        if (r.ok() && !checkVersion(h.version, "binary"))
            return;
        h.pid = r.u32();
        h.clockOriginNs = qint64(r.u64());
        bool valid = decodeUtf8(r.bytes(), h.name);
        const quint16 argc = r.u16();
        for (quint16 i = 0; i < argc && r.ok(); ++i) {
            QString arg;
            valid = decodeUtf8(r.bytes(), arg) && valid;
            h.commandLine.append(arg);
        }
        if (!r.ok()) {
            fail(QStringLiteral("malformed HELLO frame: truncated"));
            return;
        }
        if (!valid)
            problem(QStringLiteral("HELLO: the process name or command line is not valid UTF-8"));
        m_helloSeen = true;
        out.emplace_back(std::move(h));
        return;
    }
    case FrameType::DefineOp: {
        const quint32 id = r.u32();
        QString name;
        const bool valid = decodeUtf8(r.bytes(), name);
        if (!r.ok() || !r.atEnd())
            return malformed(QStringLiteral("wrong size"));
        if (id >= MaxOperations)
            return malformed(QStringLiteral("operation id %1 is over the limit of %2").arg(id).arg(MaxOperations));
        if (!valid || name.isEmpty())
            return malformed(QStringLiteral("operation %1 has an empty or invalid UTF-8 name").arg(id));
        if (m_operations.size() <= qsizetype(id))
            m_operations.resize(qsizetype(id) + 1);
        m_operations[id] = name;
        return;
    }
    case FrameType::Histogram: {
        Histogram h;
        const quint32 op = r.u32();
        h.intervalEndNs = qint64(r.u64());
        h.errors = r.u64();
        SparseHistogram& s = h.histogram;
        s.sumNs = r.u64();
        s.minNs = r.u64();
        s.maxNs = r.u64();
        s.overflow = r.u64();
        const quint32 n = r.u32();
        if (!r.ok() || qsizetype(n) * 6 != body.size() - 56)
            return malformed(QStringLiteral("wrong size"));
        s.buckets.reserve(n);
        s.count = s.overflow;
        for (quint32 i = 0; i < n; ++i) {
            const quint16 index = r.u16();
            const quint32 count = r.u32();
            if (index >= LatencyHistogram::BucketCount)
                return malformed(QStringLiteral("bucket %1 does not exist").arg(index));
            s.buckets.emplace_back(index, count);
            s.count += count;
        }
        if (op >= quint32(m_operations.size()) || m_operations[op].isEmpty())
            return malformed(QStringLiteral("operation %1 was not defined").arg(op));
        if (s.count == 0)
            return;
        if (s.minNs > s.maxNs) // a client that reports no extremes
            s.minNs = s.maxNs = s.sumNs / s.count;
        h.operation = m_operations[op];
        out.emplace_back(std::move(h));
        return;
    }
    case FrameType::Event: {
        Event e;
        const quint32 op = r.u32();
        e.startNs = qint64(r.u64());
        e.durationNs = r.u64();
        e.ok = r.u8() != 0;
        e.threadId = r.u64();
        const quint16 n = r.u16();
        bool valid = true;
        for (quint16 i = 0; i < n && r.ok(); ++i) {
            QString key, value;
            valid = decodeUtf8(r.bytes(), key) && decodeUtf8(r.bytes(), value) && valid;
            e.metadata.insert(key, value);
        }
        if (!r.ok() || !r.atEnd())
            return malformed(QStringLiteral("wrong size"));
        if (!valid)
            return malformed(QStringLiteral("metadata is not valid UTF-8"));
        if (op >= quint32(m_operations.size()) || m_operations[op].isEmpty())
            return malformed(QStringLiteral("operation %1 was not defined").arg(op));
        e.operation = m_operations[op];
        e.counted = true;
        out.emplace_back(std::move(e));
        return;
    }
    case FrameType::Memory: {
        Memory m;
        m.wallNs = qint64(r.u64());
        m.rssBytes = qint64(r.u64());
        m.heapBytes = qint64(r.u64());
        if (!r.ok() || !r.atEnd())
            return malformed(QStringLiteral("wrong size"));
        out.emplace_back(m);
        return;
    }
    case FrameType::Metric: {
        Metric m;
        const quint8 kind = r.u8();
        const bool valid = decodeUtf8(r.bytes(), m.name);
        m.value = r.f64();
        if (!r.ok() || !r.atEnd() || (kind != 1 && kind != 2))
            return malformed(QStringLiteral("wrong size or kind"));
        if (!valid || m.name.isEmpty() || !std::isfinite(m.value))
            return malformed(QStringLiteral("an empty or invalid name, or a value that is not a number"));
        m.gauge = kind == 2;
        out.emplace_back(std::move(m));
        return;
    }
    case FrameType::Drops: {
        Drops d;
        d.events = r.u64();
        d.bytes = r.u64();
        if (r.ok() && !r.atEnd())
            d.operations = r.u64(); // an older client's frame ends before it
        if (!r.ok() || !r.atEnd())
            return malformed(QStringLiteral("wrong size"));
        out.emplace_back(d);
        return;
    }
    case FrameType::Goodbye:
        out.emplace_back(Goodbye {});
        return;
    case FrameType::Sync:
        ++m_syncs;
        return;
    case FrameType::Rings: {
        Rings g;
        const quint8 state = r.u8();
        g.descriptor = qint32(r.u32());
        g.token = r.u64();
        g.bytes = r.u64();
        const bool valid = decodeUtf8(r.bytes(), g.reason);
        if (!r.ok() || !r.atEnd())
            return malformed(QStringLiteral("wrong size"));
        if (state > wire::RingsUnavailable || !valid)
            return malformed(QStringLiteral("state %1 is unknown, or the reason is not valid UTF-8").arg(state));
        g.state = Rings::State(state);
        if (g.state == Rings::State::Ready && (g.descriptor < 0 || g.bytes == 0))
            return malformed(QStringLiteral("ready without a descriptor or a size"));
        out.emplace_back(std::move(g));
        return;
    }
    default:
        return; // a frame of a later version: skipped on purpose
    }
}

void FrameDecoder::decodeLines(std::vector<Message>& out)
{
    while (!failed()) {
        const qsizetype newline = m_buffer.indexOf('\n', std::max(m_scanned, m_offset));
        if (newline < 0) {
            m_scanned = m_buffer.size();
            if (m_buffer.size() - m_offset > MaxLineBytes)
                fail(QStringLiteral("line %1 is longer than %2 bytes").arg(m_lines + 1).arg(MaxLineBytes));
            return;
        }
        ++m_lines;
        QByteArrayView line = QByteArrayView(m_buffer).sliced(m_offset, newline - m_offset);
        if (line.size() > MaxLineBytes) {
            fail(QStringLiteral("line %1 is longer than %2 bytes").arg(m_lines).arg(MaxLineBytes));
            return;
        }
        if (line.endsWith('\r'))
            line.chop(1);
        if (!line.trimmed().isEmpty())
            decodeLine(line, out);
        m_offset = newline + 1;
        m_scanned = m_offset;
    }
}

QString FrameDecoder::operationName(std::string_view utf8, bool* valid)
{
    if (auto it = m_names.find(utf8); it != m_names.end())
        return it->second;
    QString name;
    *valid = decodeUtf8(QByteArrayView(utf8.data(), qsizetype(utf8.size())), name);
    if (*valid && m_names.size() < MaxOperations)
        m_names.emplace(std::string(utf8), name);
    return name;
}

void FrameDecoder::decodeLine(QByteArrayView line, std::vector<Message>& out)
{
    using namespace simdjson;
    const auto bad = [&](const QString& why) { problem(QStringLiteral("line %1: %2").arg(m_lines).arg(why)); };
    // simdjson reads past the end of its input (SIMD loads); the line is copied into a buffer whose
    // padding is known, since a QByteArray's room after its data is not (a front removal moves it).
    std::string& padded = m_json->scratch;
    padded.assign(line.data(), std::size_t(line.size()));
    padded.resize(std::size_t(line.size()) + SIMDJSON_PADDING, '\0');
    ondemand::document doc;
    if (m_json->parser.iterate(padded.data(), std::size_t(line.size()), padded.size()).get(doc) != SUCCESS)
        return bad(QStringLiteral("not JSON"));
    ondemand::object object;
    if (doc.get_object().get(object) != SUCCESS)
        return bad(QStringLiteral("not a JSON object"));

    std::string_view type;
    std::string_view name;
    double duration = -1, rss = -1, heap = -1, pid = 0, version = 1, tsUs = 0, operations = -1;
    bool ok = true;
    QVariantMap meta;
    for (auto field : object) {
        std::string_view key;
        if (field.unescaped_key().get(key) != SUCCESS)
            return bad(QStringLiteral("a key is not a valid string"));
        ondemand::value value;
        if (field.value().get(value) != SUCCESS)
            return bad(
                QStringLiteral("malformed value of \"%1\"").arg(QString::fromUtf8(key.data(), qsizetype(key.size()))));
        error_code e = SUCCESS;
        if (key == "type") {
            e = value.get_string().get(type);
        } else if (key == "name") {
            e = value.get_string().get(name);
        } else if (key == "duration_us") {
            e = value.get_double().get(duration);
        } else if (key == "ok") {
            e = value.get_bool().get(ok);
        } else if (key == "ts_us") {
            e = value.get_double().get(tsUs);
        } else if (key == "rss_bytes") {
            e = value.get_double().get(rss);
        } else if (key == "heap_bytes") {
            e = value.get_double().get(heap);
        } else if (key == "pid") {
            e = value.get_double().get(pid);
        } else if (key == "version") {
            e = value.get_double().get(version);
        } else if (key == "operations") {
            e = value.get_double().get(operations);
        } else if (key == "meta") {
            ondemand::object metaObject;
            e = value.get_object().get(metaObject);
            if (e != SUCCESS)
                return bad(QStringLiteral("\"meta\" is not an object"));
            for (auto m : metaObject) {
                std::string_view metaKey;
                ondemand::value metaValue;
                ondemand::json_type t;
                if (m.unescaped_key().get(metaKey) != SUCCESS || m.value().get(metaValue) != SUCCESS
                    || metaValue.type().get(t) != SUCCESS)
                    return bad(QStringLiteral("malformed \"meta\""));
                if (meta.size() >= 64)
                    continue; // the rest are skipped, not stored
                QVariant v;
                std::string_view text;
                double number = 0;
                bool flag = false;
                if (t == ondemand::json_type::string) {
                    if (metaValue.get_string().get(text) != SUCCESS)
                        return bad(QStringLiteral("malformed \"meta\" string"));
                    v = QString::fromUtf8(text.data(), qsizetype(text.size()));
                } else if (t == ondemand::json_type::number) {
                    if (metaValue.get_double().get(number) != SUCCESS)
                        return bad(QStringLiteral("malformed \"meta\" number"));
                    v = number;
                } else if (t == ondemand::json_type::boolean) {
                    if (metaValue.get_bool().get(flag) != SUCCESS)
                        return bad(QStringLiteral("malformed \"meta\" boolean"));
                    v = flag;
                } else {
                    continue; // null, arrays and objects are not metadata values
                }
                meta.insert(QString::fromUtf8(metaKey.data(), qsizetype(metaKey.size())), v);
            }
        }
        // Unknown fields are ignored (the contract), their values skipped by the iteration.
        if (e != SUCCESS)
            return bad(
                QStringLiteral("\"%1\" has the wrong type").arg(QString::fromUtf8(key.data(), qsizetype(key.size()))));
    }
    if (type == "op") {
        if (name.empty())
            return bad(QStringLiteral("an \"op\" needs a non-empty \"name\""));
        if (!(duration >= 0) || !std::isfinite(duration))
            return bad(QStringLiteral("an \"op\" needs a \"duration_us\" of 0 or more"));
        // Past this the nanoseconds no longer fit the 64-bit sums; such a value is a client's bug.
        if (duration > 1.8e13)
            return bad(QStringLiteral("\"duration_us\" %1 is out of range (at most 1.8e13, 208 days)").arg(duration));
        if (!(tsUs < 9.2e15))
            return bad(QStringLiteral("\"ts_us\" %1 is out of range").arg(tsUs));
        bool valid = true;
        Event e;
        e.operation = operationName(name, &valid);
        if (!valid)
            return bad(QStringLiteral("the name is not valid UTF-8"));
        e.durationNs = quint64(std::llround(duration * 1000.0));
        e.ok = ok;
        e.startNs = tsUs > 0 ? qint64(tsUs * 1000.0) : 0;
        e.metadata = std::move(meta);
        e.counted = false;
        out.emplace_back(std::move(e));
    } else if (type == "memory") {
        constexpr double MaxBytes = 281474976710656.0; // 2^48, 256 TiB
        if (rss > MaxBytes || heap > MaxBytes || std::isnan(rss) || std::isnan(heap))
            return bad(QStringLiteral("\"rss_bytes\" or \"heap_bytes\" is out of range (at most 2^48)"));
        Memory m;
        m.rssBytes = rss >= 0 ? qint64(rss) : -1;
        m.heapBytes = heap >= 0 ? qint64(heap) : -1;
        out.emplace_back(m);
    } else if (type == "drops") {
        if (!(operations >= 0) || !std::isfinite(operations))
            return bad(QStringLiteral("\"drops\" needs \"operations\" of 0 or more"));
        Drops d;
        d.operations = quint64(std::min(operations, 1.8e19));
        out.emplace_back(d);
    } else if (type == "hello") {
        if (m_helloSeen)
            return bad(QStringLiteral("a second hello"));
        if (!checkVersion(quint16(std::clamp(version, 0.0, 65535.0)), "NDJSON"))
            return;
        Hello h;
        h.version = quint16(version);
        h.pid = qint64(pid);
        bool valid = true;
        h.name = name.empty() ? QString() : operationName(name, &valid);
        h.ndjson = true;
        m_helloSeen = true;
        out.emplace_back(std::move(h));
    }
    // Any other type is ignored: later versions may add them.
}

} // namespace perfdash::protocol
