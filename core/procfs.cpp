// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/procfs.h"

#include "core/errors.h"

#include <QFile>
#include <QFileInfo>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace perfdash {

namespace {
constexpr qsizetype NoLimit = -1;
constexpr qsizetype ReadLimit = 1 << 20; // a longer file (a command line) is cut, not slurped

template <std::size_t N> bool allOk(const bool (&ok)[N])
{
    return std::all_of(std::begin(ok), std::end(ok), [](bool b) { return b; });
}

QString systemProblem(const char* what, const QString& path, int systemError)
{
    return QStringLiteral("cannot %1 %2: %3")
        .arg(QLatin1String(what), path, QString::fromLocal8Bit(std::strerror(systemError)));
}

QString formatProblem(const QString& path)
{
    return QStringLiteral("unexpected format of %1").arg(path);
}

/// The whole file, read with open() and read() until its end (or past @p limit bytes, when
/// @p limit is not NoLimit): a /proc file's content is made as it is read, so it is read once.
std::optional<QByteArray> readFile(const QString& path, qsizetype limit, int* systemError, QString* error)
{
    const auto failed = [&](int err) {
        if (systemError)
            *systemError = err;
        return noneWith<QByteArray>(error, systemProblem("read", path, err));
    };
    const int fd = ::open(QFile::encodeName(path).constData(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return failed(errno);
    QByteArray data;
    char buffer[16384];
    for (;;) {
        const ssize_t n = ::read(fd, buffer, sizeof buffer);
        if (n > 0) {
            data.append(buffer, n);
            if (limit != NoLimit && data.size() > limit)
                break;
        } else if (n == 0) {
            break;
        } else if (errno != EINTR) {
            const int err = errno;
            ::close(fd);
            return failed(err);
        }
    }
    ::close(fd);
    if (systemError)
        *systemError = 0;
    return data;
}

/// A small file: stat, comm, cmdline, a sysctl.
std::optional<QByteArray> readFile(const QString& path, QString* error)
{
    return readFile(path, ReadLimit, nullptr, error);
}

/// The numeric entries of a directory (/proc's processes, a process's threads), sorted.
std::optional<QList<qint64>> numericEntries(const QString& path, QString* error)
{
    DIR* dir = ::opendir(QFile::encodeName(path).constData());
    if (!dir)
        return noneWith<QList<qint64>>(error, systemProblem("list", path, errno));
    QList<qint64> ids;
    while (const dirent* entry = ::readdir(dir)) {
        if (entry->d_type != DT_DIR && entry->d_type != DT_UNKNOWN)
            continue;
        bool ok = false;
        const qint64 id = QByteArray(entry->d_name).toLongLong(&ok);
        if (ok && id > 0)
            ids.append(id);
    }
    ::closedir(dir);
    std::sort(ids.begin(), ids.end());
    return ids;
}

/// "pid (comm) state ppid ...": comm may hold spaces and parentheses, ") " too, so it ends at the
/// last ')'; what follows is fields 3 onwards, separated by single spaces.
std::optional<ProcStat> parseStat(const QByteArray& text)
{
    const qsizetype open = text.indexOf('(');
    const qsizetype close = text.lastIndexOf(')');
    if (open < 0 || close < open)
        return std::nullopt;
    const QList<QByteArray> fields = text.mid(close + 2).trimmed().split(' ');
    // fields[0] is field 3 (state); field N of proc(5) is fields[N - 3].
    constexpr int State = 0, Utime = 11, Stime = 12, Threads = 17, StartTime = 19, Vsize = 20, Rss = 21;
    if (fields.size() <= Rss || fields[State].size() != 1)
        return std::nullopt;
    bool ok[6] = {};
    ProcStat stat;
    stat.comm = QString::fromUtf8(text.mid(open + 1, close - open - 1));
    stat.state = fields[State].at(0);
    stat.utimeTicks = fields[Utime].toULongLong(&ok[0]);
    stat.stimeTicks = fields[Stime].toULongLong(&ok[1]);
    stat.threads = fields[Threads].toInt(&ok[2]);
    stat.startTicks = fields[StartTime].toULongLong(&ok[3]);
    stat.virtualBytes = fields[Vsize].toLongLong(&ok[4]);
    stat.rssPages = fields[Rss].toLongLong(&ok[5]);
    return allOk(ok) ? std::optional(stat) : std::nullopt;
}

/// "size resident shared text lib data dt", in pages.
std::optional<ProcStatm> parseStatm(const QByteArray& text)
{
    const QList<QByteArray> fields = text.trimmed().split(' ');
    bool ok[2] = {};
    ProcStatm statm;
    statm.sizePages = fields.value(0).toLongLong(&ok[0]);
    statm.residentPages = fields.value(1).toLongLong(&ok[1]);
    return allOk(ok) ? std::optional(statm) : std::nullopt;
}

/// The "btime SECONDS" line among /proc/stat's.
std::optional<qint64> parseBootTime(const QByteArray& text)
{
    for (const QByteArray& line : text.split('\n')) {
        if (!line.startsWith("btime "))
            continue;
        bool ok = false;
        const qint64 seconds = line.mid(6).trimmed().toLongLong(&ok);
        return ok ? std::optional(seconds) : std::nullopt;
    }
    return std::nullopt;
}

std::optional<int> parseInteger(const QByteArray& text)
{
    bool ok = false;
    const int value = text.trimmed().toInt(&ok);
    return ok ? std::optional(value) : std::nullopt;
}

/// A small file read and parsed by @p parse, which gives nullopt for what it does not understand.
template <typename Parse>
auto readParsed(const QString& path, int* systemError, QString* error, Parse parse) -> decltype(parse(QByteArray()))
{
    const std::optional<QByteArray> text = readFile(path, ReadLimit, systemError, error);
    if (!text)
        return std::nullopt;
    auto value = parse(*text);
    if (!value)
        failWith(error, formatProblem(path));
    return value;
}

/// The kernel ends comm with a newline; everything before it is the name, spaces included.
std::optional<QString> readComm(const QString& path, QString* error)
{
    std::optional<QByteArray> text = readFile(path, error);
    if (!text)
        return std::nullopt;
    if (text->endsWith('\n'))
        text->chop(1);
    return QString::fromUtf8(*text);
}

/// The next field of @p line from @p at on, separated by blanks; empty at the end of the line.
QByteArray nextField(const QByteArray& line, qsizetype* at)
{
    while (*at < line.size() && (line[*at] == ' ' || line[*at] == '\t'))
        ++*at;
    const qsizetype from = *at;
    while (*at < line.size() && line[*at] != ' ' && line[*at] != '\t')
        ++*at;
    return line.mid(from, *at - from);
}

/// "start-end perms offset dev inode path": the path (which may hold spaces) is the rest of the
/// line after the fifth field.
std::optional<ProcMapping> parseMapping(const QByteArray& line)
{
    qsizetype at = 0;
    const QByteArray range = nextField(line, &at);
    ProcMapping m;
    m.permissions = nextField(line, &at);
    const QByteArray offset = nextField(line, &at);
    m.device = nextField(line, &at);
    const QByteArray inode = nextField(line, &at);
    const qsizetype dash = range.indexOf('-');
    bool ok[4] = {};
    m.start = range.left(dash).toULongLong(&ok[0], 16);
    m.end = range.mid(dash + 1).toULongLong(&ok[1], 16);
    m.offset = offset.toULongLong(&ok[2], 16);
    m.inode = inode.toULongLong(&ok[3]);
    if (dash <= 0 || !allOk(ok))
        return std::nullopt;
    m.path = line.mid(at).trimmed();
    return m;
}
} // namespace

ProcFs::ProcFs(QString root)
    : m_root(std::move(root))
{
}

QString ProcFs::pidPath(qint64 pid) const
{
    return m_root + u'/' + QString::number(pid);
}

QString ProcFs::taskPath(qint64 pid, qint64 tid) const
{
    return pidPath(pid) + QStringLiteral("/task/") + QString::number(tid);
}

std::optional<QList<qint64>> ProcFs::pids(QString* error) const
{
    return numericEntries(m_root, error);
}

std::optional<QList<qint64>> ProcFs::tasks(qint64 pid, QString* error) const
{
    return numericEntries(pidPath(pid) + QStringLiteral("/task"), error);
}

bool ProcFs::exists(qint64 pid) const
{
    return QFileInfo::exists(pidPath(pid));
}

std::optional<uint> ProcFs::ownerUid(qint64 pid, QString* error) const
{
    const QString path = pidPath(pid);
    struct stat st
    {
    };
    if (::stat(QFile::encodeName(path).constData(), &st) != 0)
        return noneWith<uint>(error, systemProblem("stat", path, errno));
    return uint(st.st_uid);
}

std::optional<ProcStat> ProcFs::stat(qint64 pid, QString* error) const
{
    return stat(pid, nullptr, error);
}

std::optional<ProcStat> ProcFs::stat(qint64 pid, int* systemError, QString* error) const
{
    return readParsed(pidPath(pid) + QStringLiteral("/stat"), systemError, error, parseStat);
}

std::optional<ProcStat> ProcFs::taskStat(qint64 pid, qint64 tid, QString* error) const
{
    return readParsed(taskPath(pid, tid) + QStringLiteral("/stat"), nullptr, error, parseStat);
}

std::optional<QString> ProcFs::comm(qint64 pid, QString* error) const
{
    return readComm(pidPath(pid) + QStringLiteral("/comm"), error);
}

std::optional<QString> ProcFs::taskComm(qint64 pid, qint64 tid, QString* error) const
{
    return readComm(taskPath(pid, tid) + QStringLiteral("/comm"), error);
}

std::optional<QStringList> ProcFs::commandLine(qint64 pid, QString* error) const
{
    const std::optional<QByteArray> text = readFile(pidPath(pid) + QStringLiteral("/cmdline"), error);
    if (!text)
        return std::nullopt;
    QStringList arguments;
    for (const QByteArray& argument : text->split('\0')) {
        if (!argument.isEmpty())
            arguments.append(QString::fromLocal8Bit(argument));
    }
    return arguments;
}

std::optional<QList<ProcMapping>> ProcFs::maps(qint64 pid, QString* error) const
{
    // No limit: a process may have tens of thousands of mappings, and a cut list would misplace
    // every address beyond it.
    const std::optional<QByteArray> text = readFile(pidPath(pid) + QStringLiteral("/maps"), NoLimit, nullptr, error);
    if (!text)
        return std::nullopt;
    QList<ProcMapping> mappings;
    for (const QByteArray& line : text->split('\n')) {
        if (std::optional<ProcMapping> m = parseMapping(line))
            mappings.append(std::move(*m));
    }
    return mappings;
}

std::optional<ProcStatm> ProcFs::selfStatm(QString* error) const
{
    return readParsed(m_root + QStringLiteral("/self/statm"), nullptr, error, parseStatm);
}

std::optional<QString> ProcFs::selfExecutable(QString* error) const
{
    const QString path = m_root + QStringLiteral("/self/exe");
    QString file = QFileInfo(path).canonicalFilePath();
    if (file.isEmpty())
        return noneWith<QString>(error, QStringLiteral("cannot resolve %1").arg(path));
    return file;
}

std::optional<qint64> ProcFs::bootTimeSeconds(QString* error) const
{
    return readParsed(m_root + QStringLiteral("/stat"), nullptr, error, parseBootTime);
}

std::optional<int> ProcFs::sysctl(const QString& name, QString* error) const
{
    const QString path = m_root + QStringLiteral("/sys/") + QString(name).replace(u'.', u'/');
    return readParsed(path, nullptr, error, parseInteger);
}

} // namespace perfdash
