// SPDX-License-Identifier: GPL-3.0-or-later
#include "processprofiler.h"

#include "recordprocessor.h"

#include <QDir>
#include <QFile>

#include <linux/perf_event.h>
#include <time.h>

#include <algorithm>
#include <cerrno>
#include <chrono>

namespace perfdash {
namespace {
QString readComm(const QString& path)
{
    QFile file(path);
    return file.open(QIODevice::ReadOnly) ? QString::fromUtf8(file.readAll().trimmed()) : QString();
}

std::uint64_t monotonicNs()
{
    timespec ts {};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return std::uint64_t(ts.tv_sec) * 1'000'000'000ull + std::uint64_t(ts.tv_nsec);
}

char taskState(const QString& statPath)
{
    QFile stat(statPath);
    if (!stat.open(QIODevice::ReadOnly))
        return 'X';
    const QByteArray line = stat.readAll();
    const qsizetype paren = line.lastIndexOf(')'); // the name may hold spaces and parentheses
    return paren >= 0 && paren + 2 < line.size() ? line.at(paren + 2) : 'X';
}

/// Some thread still runs. Not kill(pid, 0), which succeeds on a zombie waiting for its parent;
/// not the leader's state alone, which is Z once a main thread called pthread_exit.
bool processAlive(qint64 pid)
{
    const QString tasks = QStringLiteral("/proc/%1/task").arg(pid);
    const QStringList tids = QDir(tasks).entryList(QDir::Dirs | QDir::NoDotAndDotDot);
    return std::any_of(tids.begin(), tids.end(), [&](const QString& tid) {
        const char state = taskState(tasks + QLatin1Char('/') + tid + QStringLiteral("/stat"));
        return state != 'Z' && state != 'X';
    });
}
} // namespace

ProcessProfiler::ProcessProfiler(qint64 pid, QObject* parent)
    : ProcessProfiler(pid, Options {}, PerfSystem::real(), parent)
{
}

ProcessProfiler::ProcessProfiler(qint64 pid, const Options& options, PerfSystem system, QObject* parent)
    : QObject(parent)
    , m_pid(pid)
    , m_options(options)
    , m_source(std::make_unique<PerfEventSource>(std::move(system)))
{
    qRegisterMetaType<ProfileSnapshotPtr>();
}

ProcessProfiler::~ProcessProfiler()
{
    stop();
}

bool ProcessProfiler::start(QString* error)
{
    QString why;
    m_name = readComm(QStringLiteral("/proc/%1/comm").arg(m_pid));
    PerfEventSource::Options options;
    options.frequencyHz = m_options.frequencyHz;
    options.stackBytes = m_options.stackBytes;
    if (!m_source->open(pid_t(m_pid), options, &why)) {
        if (error)
            *error = why;
        Q_EMIT problem(why);
        return false;
    }
    m_frequencyHz = m_source->frequencyHz();
    m_processor = std::make_unique<RecordProcessor>(pid_t(m_pid), m_source->regCount());
    const QString tasks = QStringLiteral("/proc/%1/task").arg(m_pid);
    for (const QString& tid : QDir(tasks).entryList(QDir::Dirs | QDir::NoDotAndDotDot))
        m_processor->setThreadName(tid.toLongLong(), readComm(tasks + QLatin1Char('/') + tid + QStringLiteral("/comm")));
    m_thread = std::thread([this] { run(); });
    return true;
}

void ProcessProfiler::stop()
{
    m_stop.store(true);
    if (m_thread.joinable())
        m_thread.join();
}

void ProcessProfiler::run()
{
    std::uint64_t lastCheck = monotonicNs();
    bool rescanned = false;
    const auto handle = [this](const perf_event_header& header, const std::uint8_t* record) {
        std::lock_guard lock(m_mutex);
        m_processor->process(header, record);
        if (const pid_t forked = m_processor->lastForkedThread()) {
            m_source->noteInheritedThread(forked);
            m_processor->setThreadName(forked,
                readComm(QStringLiteral("/proc/%1/task/%2/comm").arg(m_pid).arg(forked)));
        }
        if (header.type == PERF_RECORD_SAMPLE)
            m_samples.fetch_add(1, std::memory_order_relaxed);
    };
    while (!m_stop.load()) {
        const bool open = m_source->wait(50);
        m_source->drain(handle);
        if (!open && processAlive(m_pid)) {
            // The thread that owns the buffers ended (a main thread that called pthread_exit) while
            // others run and still write into them: poll no longer waits, so pace the reads.
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
            continue;
        }
        const std::uint64_t now = monotonicNs();
        if (!rescanned && now - lastCheck > 50'000'000) {
            // Threads created while start() opened the events were not inherited by anything:
            // once the fork records of that time are read, whatever is still unknown is opened.
            rescanned = true;
            m_source->addMissingThreads();
        }
        if (!open || now - lastCheck > 500'000'000) {
            lastCheck = now;
            if (!open || !processAlive(m_pid)) {
                m_source->drain(handle);
                m_exited.store(true);
                QMetaObject::invokeMethod(this, [this] { Q_EMIT exited(); }, Qt::QueuedConnection);
                return;
            }
        }
    }
    m_source->drain(handle);
}

ProfileSnapshotPtr ProcessProfiler::snapshot(const ProfileQuery& query) const
{
    auto snapshot = std::make_shared<ProfileSnapshot>();
    {
        std::lock_guard lock(m_mutex);
        if (m_processor) {
            *snapshot = m_processor->aggregate().snapshot(query, monotonicNs(), m_processor->functions());
            snapshot->stats = m_processor->stats();
        }
    }
    snapshot->pid = m_pid;
    snapshot->process = m_name;
    snapshot->stats.frequencyHz = m_frequencyHz;
    snapshot->stats.exited = m_exited.load();
    return snapshot;
}

ProfileStats ProcessProfiler::stats() const
{
    std::lock_guard lock(m_mutex);
    ProfileStats stats = m_processor ? m_processor->stats() : ProfileStats {};
    stats.frequencyHz = m_frequencyHz;
    stats.exited = m_exited.load();
    return stats;
}

} // namespace perfdash
