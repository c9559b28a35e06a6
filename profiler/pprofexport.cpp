// SPDX-License-Identifier: GPL-3.0-or-later
#include "profiler/pprofexport.h"

#include "core/atomicfile.h"

#include <QHash>

#include <zlib.h>

#include <algorithm>

namespace perfdash::pprofexport {

namespace {
/// Protocol buffers' wire format, the little of it a Profile needs: varints (wire type 0) and
/// length-delimited fields (wire type 2: strings, messages, packed repeated varints). proto3
/// leaves out a scalar field that holds its default (0).
class Message
{
public:
    void varint(std::uint64_t value)
    {
        while (value >= 0x80) {
            m_bytes.append(char((value & 0x7f) | 0x80));
            value >>= 7;
        }
        m_bytes.append(char(value));
    }
    void field(int number, std::uint64_t value)
    {
        if (value == 0)
            return;
        varint(std::uint64_t(number) << 3);
        varint(value);
    }
    void bytes(int number, const QByteArray& data)
    {
        varint((std::uint64_t(number) << 3) | 2);
        varint(std::uint64_t(data.size()));
        m_bytes.append(data);
    }
    void message(int number, const Message& m) { bytes(number, m.m_bytes); }
    void packed(int number, const std::vector<std::uint64_t>& values)
    {
        if (values.empty())
            return;
        Message inner;
        for (std::uint64_t v : values)
            inner.varint(v);
        bytes(number, inner.m_bytes);
    }
    const QByteArray& data() const { return m_bytes; }

private:
    QByteArray m_bytes;
};

// Field numbers of proto/profile.proto.
namespace profile {
enum : int {
    SampleType = 1,
    Sample = 2,
    Mapping = 3,
    Location = 4,
    Function = 5,
    StringTable = 6,
    TimeNanos = 9,
    DurationNanos = 10,
    PeriodType = 11,
    Period = 12,
    Comment = 13,
    DefaultSampleType = 14,
};
}

class StringTable
{
public:
    StringTable() { id(QByteArray()); } // string_table[0] is ""
    std::uint64_t id(const QByteArray& s)
    {
        const auto it = m_ids.constFind(s);
        if (it != m_ids.constEnd())
            return it.value();
        const auto id = std::uint64_t(m_strings.size());
        m_ids.insert(s, id);
        m_strings.push_back(s);
        return id;
    }
    std::uint64_t id(const QString& s) { return id(s.toUtf8()); }
    const std::vector<QByteArray>& strings() const { return m_strings; }

private:
    QHash<QByteArray, std::uint64_t> m_ids;
    std::vector<QByteArray> m_strings;
};

Message valueType(StringTable& strings, const char* type, const char* unit)
{
    Message m;
    m.field(1, strings.id(QByteArray(type)));
    m.field(2, strings.id(QByteArray(unit)));
    return m;
}

Message label(StringTable& strings, const char* key, const QString& text)
{
    Message m;
    m.field(1, strings.id(QByteArray(key)));
    m.field(2, strings.id(text));
    return m;
}

Message label(StringTable& strings, const char* key, std::int64_t number)
{
    Message m;
    m.field(1, strings.id(QByteArray(key)));
    m.field(3, std::uint64_t(number));
    return m;
}

/// "file.cpp" of "file.cpp:42".
QString fileOf(const QString& location)
{
    const qsizetype colon = location.lastIndexOf(QLatin1Char(':'));
    return colon < 0 ? location : location.left(colon);
}
} // namespace

QByteArray encode(const std::vector<PprofProcess>& processes, std::int64_t timeNanos)
{
    StringTable strings;
    Message out;
    const bool offCpu
        = std::any_of(processes.begin(), processes.end(), [](const PprofProcess& p) { return p.offCpuRecorded; });
    out.message(profile::SampleType, valueType(strings, "samples", "count"));
    out.message(profile::SampleType, valueType(strings, "cpu", "nanoseconds"));
    if (offCpu)
        out.message(profile::SampleType, valueType(strings, "off_cpu", "nanoseconds"));

    std::uint64_t period = 0;
    std::uint64_t durationNs = 0;
    for (const PprofProcess& p : processes) {
        if (period == 0 && p.frequencyHz > 0)
            period = 1'000'000'000ull / std::uint64_t(p.frequencyHz);
        durationNs = std::max(durationNs, p.durationNs);
    }

    // Functions are shared between processes (the same library's); locations and mappings are a
    // process's own, its addresses meaning nothing in another.
    QHash<QString, std::uint64_t> functionIds; // module '\n' name '\n' file
    std::uint64_t nextMapping = 1, nextLocation = 1;
    for (const PprofProcess& p : processes) {
        const std::uint64_t periodNs = p.frequencyHz > 0 ? 1'000'000'000ull / std::uint64_t(p.frequencyHz) : 0;
        std::vector<std::uint64_t> mappingIds;
        for (const ProfileModule& module : p.modules) {
            Message m;
            const std::uint64_t id = nextMapping++;
            mappingIds.push_back(id);
            m.field(1, id);
            m.field(2, module.start);
            m.field(3, module.end);
            m.field(4, module.fileOffset);
            m.field(5, strings.id(module.path));
            m.field(6, strings.id(module.buildId));
            // Named here already: pprof need not look for the binaries.
            for (int flag = 7; flag <= 10; ++flag)
                m.field(flag, 1);
            out.message(profile::Mapping, m);
        }
        const auto mappingOf = [&](std::uint64_t pc) -> std::uint64_t {
            auto it = std::upper_bound(p.modules.begin(), p.modules.end(), pc,
                [](std::uint64_t value, const ProfileModule& m) { return value < m.start; });
            if (it == p.modules.begin())
                return 0;
            --it;
            return pc < it->end ? mappingIds[std::size_t(it - p.modules.begin())] : 0;
        };
        const auto functionId = [&](std::uint32_t index) -> std::uint64_t {
            const ProfileFunction& f = p.functions[index];
            const QString file = fileOf(f.location);
            const QString key = f.module + QLatin1Char('\n') + f.name + QLatin1Char('\n') + file;
            if (const auto it = functionIds.constFind(key); it != functionIds.constEnd())
                return it.value();
            const auto id = std::uint64_t(functionIds.size() + 1);
            functionIds.insert(key, id);
            Message m;
            m.field(1, id);
            m.field(2, strings.id(f.name));
            m.field(3, strings.id(f.name)); // demangled already: the mangled name is not kept
            m.field(4, strings.id(file));
            out.message(profile::Function, m);
            return id;
        };
        std::unordered_map<std::uint64_t, std::uint64_t> locationIds; // pc -> id
        const auto locationId = [&](std::uint64_t pc) -> std::uint64_t {
            if (const auto it = locationIds.find(pc); it != locationIds.end())
                return it->second;
            const std::uint64_t id = nextLocation++;
            locationIds.emplace(pc, id);
            Message m;
            m.field(1, id);
            m.field(2, mappingOf(pc));
            m.field(3, pc);
            if (const auto frames = p.frames.find(pc); frames != p.frames.end()) {
                for (const PprofProcess::Frame& frame : frames->second) { // innermost first, as pprof's lines
                    Message line;
                    line.field(1, functionId(frame.function));
                    line.field(2, std::uint64_t(std::max(frame.line, 0)));
                    m.message(4, line);
                }
            }
            out.message(profile::Location, m);
            return id;
        };

        std::vector<std::vector<std::uint64_t>> stackIds(p.stacks.size());
        std::vector<bool> stackDone(p.stacks.size(), false);
        std::vector<std::uint64_t> values;
        for (const PprofProcess::Sample& s : p.samples) {
            if (s.stack >= p.stacks.size())
                continue;
            if (!stackDone[s.stack]) {
                for (std::uint64_t pc : p.stacks[s.stack])
                    stackIds[s.stack].push_back(locationId(pc));
                stackDone[s.stack] = true;
            }
            Message m;
            m.packed(1, stackIds[s.stack]);
            values = { s.cpuSamples, s.cpuSamples * periodNs };
            if (offCpu)
                values.push_back(s.offCpuNs);
            m.packed(2, values);
            m.message(3, label(strings, "pid", p.pid));
            m.message(3, label(strings, "process", p.name));
            m.message(3, label(strings, "thread_id", std::int64_t(s.tid)));
            if (const auto name = p.threadNames.find(s.tid); name != p.threadNames.end() && !name->second.isEmpty())
                m.message(3, label(strings, "thread_name", name->second));
            if (s.context > 0 && s.context < p.operations.size() && !p.operations[s.context].empty()) {
                const auto& operations = p.operations[s.context];
                QString stack;
                for (const auto& [name, slow] : operations) {
                    if (!stack.isEmpty())
                        stack += QLatin1Char(';');
                    stack += QLatin1Char('[') + name + (slow ? QStringLiteral(" slow]") : QStringLiteral("]"));
                }
                m.message(3, label(strings, "operation", operations.back().first));
                m.message(3, label(strings, "operation_stack", stack));
                if (operations.back().second)
                    m.message(3, label(strings, "slow", QStringLiteral("true")));
            }
            if (s.unattributed)
                m.message(3, label(strings, "unattributed", QStringLiteral("true")));
            out.message(profile::Sample, m);
        }
    }

    out.field(profile::TimeNanos, std::uint64_t(timeNanos));
    out.field(profile::DurationNanos, durationNs);
    out.message(profile::PeriodType, valueType(strings, "cpu", "nanoseconds"));
    out.field(profile::Period, period);
    out.field(profile::DefaultSampleType, strings.id(QByteArray("cpu")));
    out.field(profile::Comment, strings.id(QByteArray("perfdash")));
    for (const QByteArray& s : strings.strings())
        out.bytes(profile::StringTable, s);
    return out.data();
}

QByteArray gzip(const QByteArray& data)
{
    z_stream stream {};
    // windowBits 15 + 16: a gzip header and trailer, not zlib's.
    if (deflateInit2(&stream, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return {};
    QByteArray out(qsizetype(deflateBound(&stream, uLong(data.size()))), Qt::Uninitialized);
    stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.constData()));
    stream.avail_in = uInt(data.size());
    stream.next_out = reinterpret_cast<Bytef*>(out.data());
    stream.avail_out = uInt(out.size());
    const int result = deflate(&stream, Z_FINISH);
    const auto written = qsizetype(stream.total_out);
    deflateEnd(&stream);
    if (result != Z_STREAM_END)
        return {};
    out.truncate(written);
    return out;
}

bool writeFile(const QString& path, const std::vector<PprofProcess>& processes, std::int64_t timeNanos, QString* error)
{
    const QByteArray compressed = gzip(encode(processes, timeNanos));
    if (compressed.isEmpty()) {
        *error = QStringLiteral("cannot write %1: compression failed").arg(path);
        return false;
    }
    return atomicfile::write(path, compressed, error);
}

} // namespace perfdash::pprofexport
