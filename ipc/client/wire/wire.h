// SPDX-License-Identifier: MIT
// The client's side of the perfdash wire format (docs/PROTOCOL.md): constants and a frame writer.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>

namespace perfdash::wire {

inline constexpr char Preface[4] = { 'P', 'D', 'S', 'H' };
inline constexpr std::uint16_t Version = 1;
inline constexpr std::uint32_t MaxFrame = 1u << 20;

enum FrameType : std::uint8_t {
    Hello = 1,
    DefineOp = 2,
    Histogram = 3,
    Event = 4,
    Memory = 5,
    Metric = 6,
    Drops = 7,
    Goodbye = 8,
    Sync = 9, ///< asks for RECEIVED (added within version 1: older servers skip it)
    Rings = 10, ///< the answer to PROFILE: where the scope rings are (added within version 1)
    Welcome = 0x81,
    Reject = 0x82,
    Received = 0x83, ///< the bytes of this connection the server has read, preface included
    Profile = 0x84, ///< the dashboard profiles this process: record scope transitions, or stop
};

/// PROFILE's body: u8 what (below), u32 ring entries wanted (0: the client's default).
enum ProfileWhat : std::uint8_t { ProfileStop = 0, ProfileStart = 1 };
/// RINGS' body: u8 state (below), i32 the segment's descriptor in the client, u64 token,
/// u64 segment bytes, str reason (why unavailable; empty otherwise).
enum RingsState : std::uint8_t { RingsStopped = 0, RingsReady = 1, RingsUnavailable = 2 };

/// WELCOME's flags (u16 after the version; added within version 1, absent from older servers).
inline constexpr std::uint16_t WelcomeConfirms = 1; ///< the server answers SYNC with RECEIVED

// The histogram layout shared with the dashboard's LatencyHistogram: 128 exact buckets under
// 128 ns, then 64 per power of two up to 2^45 ns; index BucketCount is the overflow bucket.
inline constexpr int BucketCount = 2560;
inline constexpr std::uint64_t MaxTrackableNs = (std::uint64_t(1) << 45) - 1;
inline int bucketIndex(std::uint64_t ns) noexcept
{
    if (ns > MaxTrackableNs)
        return BucketCount;
    if (ns < 128)
        return int(ns);
    const int shift = 63 - __builtin_clzll(ns) - 6;
    return (shift << 6) + int(ns >> shift);
}

/// Appends little-endian fields to a byte string; frame() wraps a body in its length and type.
class Writer
{
public:
    explicit Writer(std::string& out)
        : m_out(out)
    {
    }
    void begin(FrameType type)
    {
        m_start = m_out.size();
        u32(0); // patched by end()
        u8(type);
    }
    void end()
    {
        const auto length = std::uint32_t(m_out.size() - m_start - 4);
        for (int i = 0; i < 4; ++i)
            m_out[m_start + std::size_t(i)] = char((length >> (8 * i)) & 0xff);
    }
    void u8(std::uint8_t v) { m_out.push_back(char(v)); }
    void u16(std::uint16_t v) { put(v, 2); }
    void u32(std::uint32_t v) { put(v, 4); }
    void u64(std::uint64_t v) { put(v, 8); }
    void f64(double v)
    {
        std::uint64_t bits;
        std::memcpy(&bits, &v, sizeof bits);
        u64(bits);
    }
    void str(const std::string& s) { str(s.data(), s.size()); }
    void str(const char* s, std::size_t n)
    {
        n = std::min<std::size_t>(n, 64 * 1024); // names and values are cut, frames stay bounded
        u32(std::uint32_t(n));
        m_out.append(s, n);
    }

private:
    void put(std::uint64_t v, int bytes)
    {
        for (int i = 0; i < bytes; ++i)
            m_out.push_back(char((v >> (8 * i)) & 0xff));
    }
    std::string& m_out;
    std::size_t m_start = 0;
};

} // namespace perfdash::wire
