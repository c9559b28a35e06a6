// SPDX-License-Identifier: GPL-3.0-or-later
#include "heap/heapchannel.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <elf.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

namespace perfdash::heap {

namespace hw = heapwire;

namespace {

std::string systemError(const char* what, const std::string& path, int error)
{
    return std::string(what) + " " + path + ": " + std::strerror(error);
}

} // namespace

std::uint64_t HeapChannel::defaultSampleMean()
{
    const char* text = std::getenv(hw::SampleEnv);
    if (text && *text) {
        char* end = nullptr;
        errno = 0;
        const unsigned long long v = std::strtoull(text, &end, 10);
        if (errno == 0 && end && *end == '\0' && v > 0 && text[0] != '-')
            return v;
    }
    return hw::DefaultSampleMean;
}

HeapChannel::HeapChannel(std::string path, HeapChannelOptions options)
    : m_path(std::move(path))
{
    if (m_path.empty() || m_path[0] != '/') {
        // The program opens it from wherever its working directory is.
        m_error = "heap channel: the path must be absolute: " + m_path;
        return;
    }
    if (!hw::validRingSlots(options.ringSlots)) {
        m_error = "heap channel: the ring's size must be a power of two from 64 to 1048576 slots";
        return;
    }
    const std::uint64_t mean = options.sampleMean ? options.sampleMean : defaultSampleMean();
    const int fd = ::open(m_path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        m_error = systemError("cannot create the heap channel", m_path, errno);
        return;
    }
    const std::uint64_t bytes = hw::fileBytes(options.ringSlots);
    // The umask may have taken bits off 0600: the preload opens it read-write, as this user.
    int result = ::fchmod(fd, 0600);
    // Blocks allocated now: on a full tmpfs the program would get SIGBUS when it first writes a page.
    if (result == 0)
        result = ::posix_fallocate(fd, 0, off_t(bytes));
    else
        result = errno;
    void* base = MAP_FAILED;
    if (result == 0) {
        base = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (base == MAP_FAILED)
            result = errno;
    }
    ::close(fd);
    if (result != 0) {
        m_error = systemError("cannot size the heap channel", m_path, result);
        ::unlink(m_path.c_str());
        return;
    }
    auto* h = static_cast<hw::Header*>(base);
    h->version = hw::Version;
    h->headerBytes = hw::HeaderBytes;
    h->totalBytes = bytes;
    h->ringSlots = options.ringSlots;
    h->slotBytes = hw::SlotBytes;
    h->maxFrames = hw::MaxFrames;
    h->sampleMean.store(mean, std::memory_order_relaxed);
    for (std::uint32_t i = 0; i < options.ringSlots; ++i)
        hw::slotAt(base, i)->seq.store(i, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_release);
    h->magic = hw::Magic; // last: a file with the magic is complete
    m_header = h;
    m_bytes = bytes;
}

HeapChannel::~HeapChannel()
{
    if (m_header) {
        ::munmap(m_header, m_bytes);
        ::unlink(m_path.c_str());
    }
}

std::string HeapChannel::environmentEntry() const
{
    return std::string(hw::ShmEnv) + "=" + m_path;
}

std::uint32_t HeapChannel::owner() const
{
    return m_header ? m_header->ownerPid.load(std::memory_order_acquire) : 0;
}

HeapCounters HeapChannel::counters() const
{
    HeapCounters c;
    if (!m_header)
        return c;
    const hw::Header& h = *m_header;
    c.ownerPid = h.ownerPid.load(std::memory_order_acquire);
    c.status = h.status.load(std::memory_order_acquire);
    if (c.status & hw::Reporting) {
        char name[hw::AllocatorNameBytes];
        std::memcpy(name, h.allocator, sizeof name);
        name[sizeof name - 1] = '\0';
        c.allocator = name;
    }
    c.sampleMean = h.sampleMean.load(std::memory_order_relaxed);
    // Frees first: a block's free is never folded before the read of its allocation that follows.
    c.frees = h.counters.frees.load(std::memory_order_relaxed);
    c.freedBytes = h.counters.freedBytes.load(std::memory_order_relaxed);
    c.allocations = h.counters.allocations.load(std::memory_order_relaxed);
    c.allocatedBytes = h.counters.allocatedBytes.load(std::memory_order_relaxed);
    c.samples = h.samples.load(std::memory_order_relaxed);
    c.droppedAllocs = h.droppedAllocs.load(std::memory_order_relaxed);
    c.droppedFrees = h.droppedFrees.load(std::memory_order_relaxed);
    c.untracked = h.untracked.load(std::memory_order_relaxed);
    c.threadsAtExit = h.threadsAtExit.load(std::memory_order_relaxed);
    c.children = h.children.load(std::memory_order_relaxed);
    if (c.status & hw::Exec) {
        char path[hw::ExecPathBytes];
        std::memcpy(path, h.execPath, sizeof path);
        path[sizeof path - 1] = '\0';
        c.execPath = path;
    }
    c.consumed = m_tail;
    const std::uint64_t head = h.head.load(std::memory_order_relaxed);
    c.pending = head > m_tail ? head - m_tail : 0;
    return c;
}

std::size_t HeapChannel::drain(
    const std::function<void(const HeapRecord&)>& sink, std::size_t maxRecords, bool ownerGone)
{
    if (!m_header)
        return 0;
    const std::uint32_t slots = m_header->ringSlots;
    std::size_t handed = 0;
    HeapRecord record;
    while (handed < maxRecords) {
        hw::Slot* slot = hw::slotAt(m_header, std::uint32_t(m_tail & (slots - 1)));
        const std::uint64_t seq = slot->seq.load(std::memory_order_acquire);
        bool valid = false;
        if (seq == m_tail + 1) {
            // The program's memory: copy, then check what is used.
            const std::uint32_t type = slot->type;
            const std::uint32_t depth = slot->depth;
            valid = (type == hw::SlotAlloc || type == hw::SlotFree || type == hw::SlotReset) && depth <= hw::MaxFrames;
            if (valid) {
                record.type = type == hw::SlotAlloc ? HeapRecordType::Alloc
                    : type == hw::SlotFree          ? HeapRecordType::Free
                                                    : HeapRecordType::Reset;
                record.tid = slot->tid;
                record.truncated = slot->flags & hw::SlotTruncated;
                record.timeNs = slot->timeNs;
                record.address = slot->address;
                record.size = slot->size;
                record.depth = depth;
                std::memcpy(record.frames, slot->frames, depth * sizeof(std::uint64_t));
            }
        } else if (!(ownerGone && seq == m_tail && m_header->head.load(std::memory_order_acquire) > m_tail)) {
            break; // not written yet (unless claimed by a program that is gone: then it never will be)
        }
        slot->seq.store(m_tail + slots, std::memory_order_release); // the producers' again
        ++m_tail;
        m_header->tail.store(m_tail, std::memory_order_relaxed);
        if (!valid) {
            ++m_skipped;
            continue;
        }
        sink(record);
        ++handed;
    }
    return handed;
}

// ---- canPreload ------------------------------------------------------------------------------

namespace {

template <class Ehdr, class Phdr> bool hasInterpreter(int fd, bool& known)
{
    Ehdr eh;
    if (::pread(fd, &eh, sizeof eh, 0) != ssize_t(sizeof eh) || eh.e_phentsize != sizeof(Phdr) || eh.e_phnum == 0
        || eh.e_phnum > 4096) {
        known = false;
        return false;
    }
    for (unsigned i = 0; i < eh.e_phnum; ++i) {
        Phdr ph;
        if (::pread(fd, &ph, sizeof ph, off_t(eh.e_phoff + std::uint64_t(i) * sizeof ph)) != ssize_t(sizeof ph)) {
            known = false;
            return false;
        }
        if (ph.p_type == PT_INTERP)
            return true;
    }
    known = true;
    return false;
}

std::string refusal(const std::string& executable, int depth)
{
    struct stat st;
    if (::stat(executable.c_str(), &st) != 0)
        return systemError("cannot examine", executable, errno);
    if (!S_ISREG(st.st_mode))
        return executable + " is not a regular file";
    const bool script = [&] {
        const int fd = ::open(executable.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            return false;
        char magic[2] = {};
        const bool shebang = ::read(fd, magic, 2) == 2 && magic[0] == '#' && magic[1] == '!';
        ::close(fd);
        return shebang;
    }();
    // The kernel ignores set-ID bits on scripts: only their interpreter matters.
    if (!script) {
        if ((st.st_mode & S_ISUID) && st.st_uid != ::getuid())
            return executable + " is set-user-ID: the dynamic loader runs it in secure mode and ignores LD_PRELOAD";
        if ((st.st_mode & S_ISGID) && st.st_gid != ::getgid())
            return executable + " is set-group-ID: the dynamic loader runs it in secure mode and ignores LD_PRELOAD";
        // File capabilities make the kernel ask for secure mode (AT_SECURE) only when the real user is
        // not root: root's exec gets every capability anyway, so nothing is raised and the loader
        // honours LD_PRELOAD.
        if (::getuid() != 0 && ::getxattr(executable.c_str(), "security.capability", nullptr, 0) > 0)
            return executable
                + " has file capabilities: the dynamic loader runs it in secure mode and ignores LD_PRELOAD";
    }
    const int fd = ::open(executable.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return {}; // execute-only: nothing known against it
    unsigned char head[256] = {};
    const ssize_t n = ::pread(fd, head, sizeof head - 1, 0);
    std::string reason;
    if (n >= 2 && head[0] == '#' && head[1] == '!') {
        // "#!/path/to/interpreter [arg]": judge the interpreter (a few levels at most).
        std::string line(reinterpret_cast<const char*>(head) + 2, std::size_t(n - 2));
        line = line.substr(0, line.find('\n'));
        const std::size_t begin = line.find_first_not_of(" \t");
        if (begin != std::string::npos && depth < 4) {
            const std::size_t end = line.find_first_of(" \t", begin);
            const std::string interpreter = line.substr(begin, end == std::string::npos ? end : end - begin);
            const std::string why = refusal(interpreter, depth + 1);
            if (!why.empty())
                reason = executable + " is run by " + interpreter + ", and " + why;
        }
    } else if (n >= EI_NIDENT && std::memcmp(head, ELFMAG, SELFMAG) == 0) {
        const bool nativeOrder = (head[EI_DATA] == ELFDATA2LSB) == (__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__);
        bool known = false;
        bool interp = false;
        if (nativeOrder && head[EI_CLASS] == ELFCLASS64)
            interp = hasInterpreter<Elf64_Ehdr, Elf64_Phdr>(fd, known);
        else if (nativeOrder && head[EI_CLASS] == ELFCLASS32)
            interp = hasInterpreter<Elf32_Ehdr, Elf32_Phdr>(fd, known);
        if (known && !interp)
            reason = executable
                + " is statically linked (no program interpreter): nothing reads LD_PRELOAD, so its heap cannot be "
                  "tracked";
    }
    ::close(fd);
    return reason;
}

} // namespace

bool canPreload(const std::string& executable, std::string* why)
{
    std::string reason = refusal(executable, 0);
    if (reason.empty())
        return true;
    if (why)
        *why = std::move(reason);
    return false;
}

} // namespace perfdash::heap
