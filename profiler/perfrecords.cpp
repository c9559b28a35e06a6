// SPDX-License-Identifier: GPL-3.0-or-later
#include "profiler/perfrecords.h"

#include <linux/perf_event.h>

#include <algorithm>
#include <cstring>

namespace perfdash::perf {
namespace {
// Records are 8-byte aligned in the ring buffer (and in our copies of wrapped ones), so the u64
// arrays can be viewed in place; scalars are read with memcpy all the same.
class Reader
{
public:
    Reader(const std::uint8_t* data, std::size_t size)
        : m_data(data)
        , m_size(size)
        , m_at(std::min(size, sizeof(perf_event_header))) // shorter than a header: every read fails
    {
    }
    template <typename T> bool read(T* value)
    {
        if (m_size - m_at < sizeof(T))
            return false;
        std::memcpy(value, m_data + m_at, sizeof(T));
        m_at += sizeof(T);
        return true;
    }
    bool u64Array(std::uint64_t count, std::span<const std::uint64_t>* out)
    {
        if (count > (m_size - m_at) / 8)
            return false;
        *out = { reinterpret_cast<const std::uint64_t*>(m_data + m_at), std::size_t(count) };
        m_at += std::size_t(count) * 8;
        return true;
    }
    bool bytes(std::uint64_t count, std::span<const std::uint8_t>* out)
    {
        if (count > m_size - m_at)
            return false;
        *out = { m_data + m_at, std::size_t(count) };
        m_at += std::size_t(count);
        return true;
    }
    std::string_view cstring() const
    {
        const char* begin = reinterpret_cast<const char*>(m_data + m_at);
        return { begin, strnlen(begin, m_size - m_at) };
    }

private:
    const std::uint8_t* m_data;
    std::size_t m_size;
    std::size_t m_at;
};
} // namespace

bool parseSample(const std::uint8_t* data, std::size_t size, int regCount, Sample* out)
{
    Reader r(data, size);
    std::uint64_t nr = 0;
    if (!r.read(&out->ip) || !r.read(&out->pid) || !r.read(&out->tid) || !r.read(&out->timeNs) || !r.read(&nr)
        || !r.u64Array(nr, &out->callchain) || !r.read(&out->abi))
        return false;
    out->regs = {};
    if (out->abi != PERF_SAMPLE_REGS_ABI_NONE && !r.u64Array(std::uint64_t(regCount), &out->regs))
        return false;
    std::uint64_t stackSize = 0;
    std::span<const std::uint8_t> stack;
    if (!r.read(&stackSize) || !r.bytes(stackSize, &stack))
        return false;
    out->stack = {};
    if (stackSize != 0) {
        std::uint64_t dynSize = 0;
        if (!r.read(&dynSize))
            return false;
        out->stack = stack.first(std::size_t(std::min(dynSize, stackSize)));
    }
    return true;
}

bool parseMmap2(const std::uint8_t* data, std::size_t size, Mmap* out)
{
    Reader r(data, size);
    std::uint32_t major = 0, minor = 0, flags = 0;
    std::uint64_t ino = 0, generation = 0;
    if (!r.read(&out->pid) || !r.read(&out->tid) || !r.read(&out->addr) || !r.read(&out->len) || !r.read(&out->pgoff)
        || !r.read(&major) || !r.read(&minor) || !r.read(&ino) || !r.read(&generation) || !r.read(&out->prot)
        || !r.read(&flags))
        return false;
    out->filename = r.cstring();
    return true;
}

bool parseComm(
    const std::uint8_t* data, std::size_t size, std::uint32_t* pid, std::uint32_t* tid, std::string_view* comm)
{
    Reader r(data, size);
    if (!r.read(pid) || !r.read(tid))
        return false;
    *comm = r.cstring();
    return true;
}

bool parseTask(const std::uint8_t* data, std::size_t size, std::uint32_t* pid, std::uint32_t* tid)
{
    Reader r(data, size);
    std::uint32_t ppid = 0;
    return r.read(pid) && r.read(&ppid) && r.read(tid);
}

bool parseLost(const std::uint8_t* data, std::size_t size, bool lostSamplesRecord, std::uint64_t* lost)
{
    Reader r(data, size);
    std::uint64_t id = 0;
    if (!lostSamplesRecord && !r.read(&id))
        return false;
    return r.read(lost);
}

bool parseSwitch(
    const std::uint8_t* data, std::size_t size, std::uint32_t* pid, std::uint32_t* tid, std::uint64_t* timeNs)
{
    Reader r(data, size);
    return r.read(pid) && r.read(tid) && r.read(timeNs);
}

static_assert(PERF_RECORD_MISC_SWITCH_OUT == 0x2000 && PERF_RECORD_MISC_SWITCH_OUT_PREEMPT == 0x4000,
    "isSwitchOut() and isSwitchOutPreempt() spell these out so that the header needs no kernel header");
static_assert(PERF_RECORD_MAX < 0x100, "the off-CPU record types must stay apart from the kernel's");

} // namespace perfdash::perf
