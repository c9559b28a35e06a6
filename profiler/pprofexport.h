// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "profiler/symbolizer.h"

#include <QByteArray>
#include <QString>

#include <cstdint>
#include <map>
#include <unordered_map>
#include <utility>
#include <vector>

namespace perfdash {

/**
 * What the pprof export needs of one profiled process, copied out under its locks: its stacks of
 * addresses (leaf first), the session's counts by thread and operation context, the names of the
 * addresses (functions, innermost first, with their lines) and the modules they were found in.
 * A plain value: encoding and writing it take no lock.
 */
struct PprofProcess
{
    qint64 pid = 0;
    QString name;
    int frequencyHz = 0; ///< the sampling rate: a CPU sample is worth 1e9 / frequencyHz nanoseconds
    std::uint64_t durationNs = 0; ///< how long it was profiled

    struct Frame
    {
        std::uint32_t function; ///< into functions
        int line; ///< at this address; 0 when unknown
    };
    std::vector<ProfileFunction> functions;
    std::unordered_map<std::uint64_t, std::vector<Frame>> frames; ///< per address, innermost first
    std::vector<ProfileModule> modules; ///< by address
    std::vector<std::vector<std::uint64_t>> stacks; ///< leaf first

    struct Sample
    {
        std::uint32_t stack = 0; ///< into stacks
        std::uint32_t tid = 0;
        std::uint32_t context = 0; ///< into operations; 0: outside any operation (or not traced)
        std::uint64_t cpuSamples = 0;
        std::uint64_t offCpuNs = 0;
        bool unattributed = false; ///< traced, but its operations could not be known (label unattributed)
    };
    std::vector<Sample> samples;
    bool offCpuRecorded = false; ///< switches were recorded: there is an off-CPU profile (maybe empty)
    /// Per context, its operations outermost first with whether that instance was slow; [0] empty.
    std::vector<std::vector<std::pair<QString, bool>>> operations;
    std::map<qint64, QString> threadNames;
};

/**
 * The profiles as pprof's profile.proto (github.com/google/pprof, proto/profile.proto), written
 * by hand (a few varints and length-delimited fields; the profiler does not link libprotobuf) and
 * gzipped as pprof tools expect. Every process in one Profile: sample types samples/count,
 * cpu/nanoseconds and, where any switch was recorded, off_cpu/nanoseconds (a sample is a CPU one
 * or an off-CPU one: the other values are 0). Labels pid, process, thread_id, thread_name and,
 * where attributed, operation (the innermost), operation_stack ("[outer];[inner slow]") and slow
 * (the innermost instance was slow); unattributed ("true") where operations were traced but those
 * of the sample could not be known.
 * One location per (process, address), its lines the inlined chain innermost first; one mapping
 * per (process, module) with its build id. docs/PROFILE.md, "pprof".
 */
namespace pprofexport {

/// The serialized Profile (not gzipped); @p timeNanos the wall-clock time the profiles began.
QByteArray encode(const std::vector<PprofProcess>& processes, std::int64_t timeNanos);

/// gzip (RFC 1952) of @p data; empty on a zlib failure.
QByteArray gzip(const QByteArray& data);

/// Writes the gzipped profile into @p path atomically (AtomicFile: complete or not there, 0600);
/// false with a sentence in @p error.
bool writeFile(const QString& path, const std::vector<PprofProcess>& processes, std::int64_t timeNanos, QString* error);

} // namespace pprofexport
} // namespace perfdash
