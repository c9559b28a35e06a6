// SPDX-License-Identifier: GPL-3.0-or-later
#include "profiler/debuginfod.h"

#include <QCoreApplication>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QHash>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QNetworkRequest>
#include <QThread>
#include <QUrl>

#include <atomic>
#include <cstdlib>
#include <mutex>
#include <utility>

#include <elfutils/libdwelf.h>
#include <fcntl.h>
#include <gelf.h>
#include <unistd.h>

namespace perfdash {

namespace {

QStringList g_environmentUrls;
int g_environmentTimeoutMs = 0;

/// A build ID as a file name: lowercase hex only, of a sane length (nothing else reaches a path).
bool validBuildId(const QByteArray& id)
{
    if (id.size() < 2 || id.size() > 128)
        return false;
    for (const char c : id) {
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return false;
    }
    return true;
}

QString defaultCacheDir()
{
    if (const QByteArray path = qgetenv("DEBUGINFOD_CACHE_PATH"); !path.isEmpty())
        return QString::fromLocal8Bit(path);
    if (const QByteArray xdg = qgetenv("XDG_CACHE_HOME"); !xdg.isEmpty())
        return QString::fromLocal8Bit(xdg) + QStringLiteral("/debuginfod_client");
    return QDir::homePath() + QStringLiteral("/.cache/debuginfod_client");
}

} // namespace

QByteArray elfBuildId(const QString& path)
{
    elf_version(EV_CURRENT);
    const int fd = ::open(QFile::encodeName(path).constData(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return {};
    QByteArray out;
    if (Elf* elf = elf_begin(fd, ELF_C_READ_MMAP, nullptr)) {
        const void* bits = nullptr;
        const ssize_t length = dwelf_elf_gnu_build_id(elf, &bits);
        if (length > 0 && bits)
            out = QByteArray(static_cast<const char*>(bits), length).toHex();
        elf_end(elf);
    }
    ::close(fd);
    return out;
}

/// Lives on the client's thread: the transfers, one server after another.
class DebuginfodWorker : public QObject
{
public:
    using Done = std::function<void(std::uint64_t epoch, const QByteArray& id, bool ok, const QString& error)>;

    DebuginfodWorker(Done done)
        : m_done(std::move(done))
    {
    }

    /// @p epoch: the client's configuration it was asked under (a later one ignores its end).
    void fetch(std::uint64_t epoch, const QByteArray& id, const QStringList& urls, const QString& cacheDir,
        int timeoutMs, int next = 0, const QString& error = {})
    {
        if (next >= urls.size()) {
            m_done(epoch, id, false, error.isEmpty() ? QStringLiteral("no server has it") : error);
            return;
        }
        if (!m_network)
            m_network = new QNetworkAccessManager(this);
        QString base = urls[next];
        while (base.endsWith(QLatin1Char('/')))
            base.chop(1);
        QNetworkRequest request(
            QUrl(base + QStringLiteral("/buildid/") + QString::fromLatin1(id) + QStringLiteral("/debuginfo")));
        request.setTransferTimeout(timeoutMs);
        request.setAttribute(QNetworkRequest::RedirectPolicyAttribute, QNetworkRequest::NoLessSafeRedirectPolicy);
        const QString folder = cacheDir + QLatin1Char('/') + QString::fromLatin1(id);
        QDir().mkpath(folder);
        auto part = std::make_shared<QFile>(
            folder + QStringLiteral("/.debuginfo.%1.part").arg(QCoreApplication::applicationPid()));
        if (!part->open(QIODevice::WriteOnly | QIODevice::Truncate)) {
            m_done(epoch, id, false, QStringLiteral("cannot write %1: %2").arg(part->fileName(), part->errorString()));
            return;
        }
        QNetworkReply* reply = m_network->get(request);
        connect(reply, &QNetworkReply::readyRead, this, [reply, part] {
            if (part->write(reply->readAll()) < 0)
                reply->abort(); // a full disk: said below
        });
        connect(reply, &QNetworkReply::finished, this, [=, this] {
            reply->deleteLater();
            part->write(reply->readAll());
            const bool written = part->flush() && part->error() == QFileDevice::NoError;
            part->close();
            const int status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
            QString why;
            if (status != 0 && status != 200)
                why = QStringLiteral("%1: HTTP %2").arg(base).arg(status);
            else if (reply->error() != QNetworkReply::NoError)
                why = QStringLiteral("%1: %2").arg(base, reply->errorString());
            else if (!written)
                why = QStringLiteral("cannot write %1: %2").arg(part->fileName(), part->errorString());
            else if (elfBuildId(part->fileName()) != id)
                why = QStringLiteral("%1: the file sent is not the ELF of build ID %2")
                          .arg(base, QString::fromLatin1(id));
            const QString final = folder + QStringLiteral("/debuginfo");
            if (why.isEmpty()) {
                QFile::remove(final);
                if (QFile::rename(part->fileName(), final)) {
                    m_done(epoch, id, true, {});
                    return;
                }
                why = QStringLiteral("cannot move the file into %1").arg(final);
            }
            part->remove();
            fetch(epoch, id, urls, cacheDir, timeoutMs, next + 1, why);
        });
    }

private:
    Done m_done;
    QNetworkAccessManager* m_network = nullptr;
};

struct Debuginfod::Impl
{
    mutable std::mutex mutex;
    QStringList urls;
    QString cacheDir;
    int timeoutMs = 30'000;
    QHash<QByteArray, State> states;
    QHash<QByteArray, QString> fetching; ///< build ID -> module
    std::uint64_t fetched = 0, failed = 0;
    QString lastError;
    std::atomic<std::uint64_t> generation { 0 };
    std::uint64_t epoch = 0; ///< configure() calls: a fetch of an earlier configuration is not counted
    QThread* thread = nullptr;
    DebuginfodWorker* worker = nullptr;

    void finished(std::uint64_t of, const QByteArray& id, bool ok, const QString& error)
    {
        {
            std::lock_guard lock(mutex);
            if (of != epoch)
                return;
            states.insert(id, ok ? State::Cached : State::Failed);
            const QString module = fetching.take(id);
            if (ok) {
                ++fetched;
            } else {
                ++failed;
                lastError = QStringLiteral("%1 (%2): %3").arg(module, QString::fromLatin1(id), error);
            }
        }
        generation.fetch_add(1, std::memory_order_release);
    }

    /// The thread and its worker, made on first use; stopped when the application goes.
    void start()
    {
        if (thread)
            return;
        thread = new QThread;
        thread->setObjectName(QStringLiteral("perfdash-debuginfod"));
        worker = new DebuginfodWorker([this](std::uint64_t of, const QByteArray& id, bool ok, const QString& error) {
            finished(of, id, ok, error);
        });
        worker->moveToThread(thread);
        QObject::connect(thread, &QThread::finished, worker, &QObject::deleteLater);
        thread->start();
    }
};

void Debuginfod::takeEnvironment()
{
    const QString urls = QString::fromLocal8Bit(qgetenv("DEBUGINFOD_URLS"));
    g_environmentUrls = urls.split(QLatin1Char(' '), Qt::SkipEmptyParts);
    bool ok = false;
    const int seconds = qEnvironmentVariableIntValue("DEBUGINFOD_TIMEOUT", &ok);
    g_environmentTimeoutMs = ok && seconds > 0 ? seconds * 1000 : 0;
    ::unsetenv("DEBUGINFOD_URLS"); // libdw would fetch on its own, synchronously
}

Debuginfod& Debuginfod::instance()
{
    // Never destroyed: symbolizer threads may ask until the very end; the thread stops with the application.
    static Debuginfod* client = [] {
        auto* c = new Debuginfod;
        qAddPostRoutine([] {
            Debuginfod& self = instance();
            QThread* thread = nullptr;
            {
                std::lock_guard lock(self.d->mutex);
                thread = std::exchange(self.d->thread, nullptr);
                self.d->worker = nullptr;
                self.d->urls.clear(); // no fetch starts after this
            }
            if (thread) { // its last callback may want the lock: not held while waiting
                thread->quit();
                thread->wait();
                delete thread;
            }
        });
        return c;
    }();
    return *client;
}

Debuginfod::Debuginfod()
    : d(std::make_unique<Impl>())
{
    d->urls = g_environmentUrls;
    d->cacheDir = defaultCacheDir();
    if (g_environmentTimeoutMs)
        d->timeoutMs = g_environmentTimeoutMs;
}

Debuginfod::~Debuginfod() = default;

void Debuginfod::configure(const QStringList& urls, const QString& cacheDir, int timeoutMs)
{
    std::lock_guard lock(d->mutex);
    d->urls = urls;
    d->cacheDir = cacheDir;
    d->timeoutMs = timeoutMs;
    d->states.clear(); // another cache, other servers: ask again
    d->fetching.clear();
    ++d->epoch;
}

bool Debuginfod::enabled() const
{
    std::lock_guard lock(d->mutex);
    return !d->urls.isEmpty();
}

Debuginfod::State Debuginfod::lookup(const QByteArray& buildIdHex, const QString& moduleName, QString* path)
{
    if (!validBuildId(buildIdHex))
        return State::Failed;
    std::lock_guard lock(d->mutex);
    const QString file
        = d->cacheDir + QLatin1Char('/') + QString::fromLatin1(buildIdHex) + QStringLiteral("/debuginfo");
    const State known = d->states.value(buildIdHex, State::Disabled);
    if (known == State::Fetching || known == State::Failed)
        return known;
    if (QFileInfo::exists(file)) {
        d->states.insert(buildIdHex, State::Cached);
        if (path)
            *path = file;
        return State::Cached;
    }
    if (d->urls.isEmpty())
        return State::Disabled;
    if (!QCoreApplication::instance())
        return State::Disabled; // no Qt event loop to fetch with (a tool without an application)
    d->start();
    d->states.insert(buildIdHex, State::Fetching);
    d->fetching.insert(buildIdHex, moduleName);
    QMetaObject::invokeMethod(
        d->worker,
        [worker = d->worker, epoch = d->epoch, id = buildIdHex, urls = d->urls, dir = d->cacheDir,
            timeout = d->timeoutMs] { worker->fetch(epoch, id, urls, dir, timeout); },
        Qt::QueuedConnection);
    return State::Fetching;
}

Debuginfod::Status Debuginfod::status() const
{
    std::lock_guard lock(d->mutex);
    Status s;
    s.enabled = !d->urls.isEmpty();
    s.fetching = d->fetching.values();
    s.fetching.sort();
    s.fetched = d->fetched;
    s.failed = d->failed;
    s.lastError = d->lastError;
    return s;
}

std::uint64_t Debuginfod::generation() const
{
    return d->generation.load(std::memory_order_acquire);
}

} // namespace perfdash
