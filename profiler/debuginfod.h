// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <QByteArray>
#include <QString>
#include <QStringList>

#include <cstdint>
#include <functional>
#include <memory>

namespace perfdash {

/**
 * Debug files fetched by build ID from debuginfod servers (DEBUGINFOD_URLS), off the sampling
 * path: lookup() answers at once from the cache or starts a fetch on the client's own thread;
 * the symbolizer names the module's addresses again once the file is there.
 *
 * It speaks debuginfod's HTTP protocol itself (GET URL/buildid/ID/debuginfo), into libdebuginfod's
 * cache layout ($DEBUGINFOD_CACHE_PATH, else $XDG_CACHE_HOME/debuginfod_client, else
 * ~/.cache/debuginfod_client: ID/debuginfo), so that gdb, perf and Hotspot share the files. Not
 * libdebuginfod itself: it reads its servers only from the environment, where libdw reads them
 * too and then fetches synchronously inside dwfl_standard_find_debuginfo() -- on the unwinder's
 * path, a 90 s stall per module. takeEnvironment() moves DEBUGINFOD_URLS out of the environment
 * at start so that libdw never fetches, and hands it to this client.
 *
 * Each file is checked (an ELF whose GNU build ID is the one asked) before it enters the cache;
 * a failed build ID is not asked again in this run. Thread-safe.
 */
class Debuginfod
{
public:
    /// First thing in main(), before any thread starts: takes DEBUGINFOD_URLS (and
    /// DEBUGINFOD_TIMEOUT, seconds) out of the environment into the client.
    static void takeEnvironment();
    static Debuginfod& instance();

    /// Servers (space-separated URLs in the environment), the cache folder and the time one
    /// transfer may stall. Tests point them elsewhere.
    void configure(const QStringList& urls, const QString& cacheDir, int timeoutMs);
    bool enabled() const;

    enum class State { Disabled, Cached, Fetching, Failed };
    /// The debug file of the module with build ID @p buildIdHex (lowercase hex): its path in
    /// @p path when cached; else starts fetching it (once) and returns at once.
    State lookup(const QByteArray& buildIdHex, const QString& moduleName, QString* path = nullptr);

    struct Status
    {
        bool enabled = false;
        QStringList fetching; ///< the modules being fetched now
        std::uint64_t fetched = 0; ///< debug files that arrived in this run
        std::uint64_t failed = 0; ///< build IDs no server had (or that failed, with lastError)
        QString lastError;
    };
    Status status() const;
    /// Changes each time a fetch ends (a file arrived or it failed).
    std::uint64_t generation() const;

    ~Debuginfod();
    Debuginfod(const Debuginfod&) = delete;
    Debuginfod& operator=(const Debuginfod&) = delete;

private:
    Debuginfod();
    struct Impl;
    std::unique_ptr<Impl> d;
};

/// The GNU build ID of the ELF file at @p path, lowercase hex; empty when it has none.
QByteArray elfBuildId(const QString& path);

} // namespace perfdash
