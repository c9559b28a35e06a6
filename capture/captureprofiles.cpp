// SPDX-License-Identifier: GPL-3.0-or-later
#include "capture/captureprofiles.h"

#include "capture/capture.h"
#include "core/errors.h"

#include <QAtomicInteger>
#include <QFileInfo>
#include <QHash>
#include <QSet>
#include <QSqlDatabase>
#include <QSqlError>
#include <QSqlQuery>
#include <QTextStream>
#include <QVariant>

#include <algorithm>
#include <cmath>

namespace perfdash {
namespace {
QString uniqueConnection()
{
    static QAtomicInteger<int> counter;
    return QStringLiteral("perfdash-profiles-%1").arg(counter.fetchAndAddRelaxed(1));
}

/// Opens @p path for the lifetime of the object, on a connection of its own.
class Connection
{
public:
    explicit Connection(const QString& path)
        : m_name(uniqueConnection())
    {
        QSqlDatabase db = QSqlDatabase::addDatabase(QStringLiteral("QSQLITE"), m_name);
        db.setDatabaseName(path);
        m_open = db.open();
        m_error = db.lastError().text();
    }
    ~Connection()
    {
        {
            QSqlDatabase db = QSqlDatabase::database(m_name, false);
            db.close();
        }
        QSqlDatabase::removeDatabase(m_name);
    }
    QSqlDatabase db() const { return QSqlDatabase::database(m_name, false); }
    bool isOpen() const { return m_open; }
    QString error() const { return m_error; }

private:
    QString m_name;
    bool m_open = false;
    QString m_error;
};

/// The frames of a folded line after the process frame, and its count; false for a line that is not one.
bool parseFolded(const QByteArray& raw, QStringList* frames, double* count)
{
    const qsizetype space = raw.lastIndexOf(' ');
    if (space <= 0)
        return false;
    bool ok = false;
    *count = raw.mid(space + 1).toDouble(&ok);
    if (!ok)
        return false;
    *frames = QString::fromUtf8(raw.left(space)).split(QLatin1Char(';'));
    frames->removeFirst(); // the process
    return !frames->isEmpty();
}

struct Shares
{
    QHash<QString, double> self;
    QHash<QString, double> total;
    double samples = 0;

    /// Counts one stack (outermost first) @p count times.
    void add(QStringList::const_iterator begin, QStringList::const_iterator end, double count)
    {
        if (begin == end)
            return;
        samples += count;
        self[*(end - 1)] += count;
        QSet<QString> seen; // a recursive function counts once per sample
        for (auto it = begin; it != end; ++it) {
            if (!seen.contains(*it)) {
                seen.insert(*it);
                total[*it] += count;
            }
        }
    }
    /// Counts to shares of the samples.
    void normalise()
    {
        for (auto* map : { &self, &total }) {
            for (auto it = map->begin(); it != map->end(); ++it)
                it.value() /= std::max(samples, 1.0);
        }
    }
};

/// Self and total share of each function in folded text.
Shares sharesOf(const QByteArray& folded)
{
    Shares shares;
    QStringList frames;
    double count = 0;
    for (const QByteArray& raw : folded.split('\n')) {
        if (parseFolded(raw, &frames, &count))
            shares.add(frames.cbegin(), frames.cend(), count);
    }
    shares.normalise();
    return shares;
}

/// The operation an operation frame (`[NAME]`, `[NAME slow]`) names; empty for a function frame.
/// The profiler's own bracketed frames are functions: a stack that begins with them has no operation.
QString operationOf(const QString& frame)
{
    if (frame.size() < 3 || !frame.startsWith(QLatin1Char('[')) || !frame.endsWith(QLatin1Char(']')))
        return {};
    static const QStringList pseudoFrames = { QStringLiteral("[unknown]"), QStringLiteral("[kernel]"),
        QStringLiteral("[inlined]"), QStringLiteral("[jit]"), QStringLiteral("[vdso]") };
    if (pseudoFrames.contains(frame))
        return {};
    QString name = frame.mid(1, frame.size() - 2);
    if (name.endsWith(QLatin1String(" slow")) && name.size() > 5)
        name.chop(5); // all instances: slow and typical together
    return name;
}

/// Per operation, the shares of the functions among the samples that ran in it (nested operations
/// included: a sample in `[outer];[inner]` counts for both, once each).
QHash<QString, Shares> operationSharesOf(const QByteArray& folded)
{
    QHash<QString, Shares> operations;
    QStringList frames;
    double count = 0;
    for (const QByteArray& raw : folded.split('\n')) {
        if (!parseFolded(raw, &frames, &count))
            continue;
        QSet<QString> names;
        auto functions = frames.cbegin();
        for (; functions != frames.cend(); ++functions) {
            const QString name = operationOf(*functions);
            if (name.isEmpty())
                break;
            names.insert(name);
        }
        if (functions == frames.cend())
            continue; // no function below the operations: nothing to share
        for (const QString& name : std::as_const(names))
            operations[name].add(functions, frames.cend(), count);
    }
    for (auto it = operations.begin(); it != operations.end(); ++it)
        it.value().normalise();
    return operations;
}

QHash<QString, QByteArray> byProcess(const QList<CapturedProfile>& profiles, QByteArray CapturedProfile::*part)
{
    QHash<QString, QByteArray> folded;
    for (const CapturedProfile& p : profiles)
        folded[p.process] += p.*part;
    return folded;
}

/// The changes of the functions of two share tables.
void appendChanges(QList<ProfileShareChange>* changes, const QString& process, const QString& operation,
    const Shares& sa, const Shares& sb)
{
    QSet<QString> functions;
    for (auto it = sa.total.begin(); it != sa.total.end(); ++it)
        functions.insert(it.key());
    for (auto it = sb.total.begin(); it != sb.total.end(); ++it)
        functions.insert(it.key());
    for (const QString& function : std::as_const(functions)) {
        ProfileShareChange c { process, function, sa.self.value(function), sb.self.value(function),
            sa.total.value(function), sb.total.value(function), sa.samples, sb.samples };
        c.operation = operation;
        changes->append(std::move(c));
    }
}

/// Largest change of the self share first, then of the total share, then by name.
void sortChanges(QList<ProfileShareChange>* changes)
{
    std::sort(changes->begin(), changes->end(), [](const ProfileShareChange& x, const ProfileShareChange& y) {
        const double dx = std::abs(x.delta()), dy = std::abs(y.delta());
        if (dx != dy)
            return dx > dy;
        const double tx = std::abs(x.nextTotalShare - x.baseTotalShare),
                     ty = std::abs(y.nextTotalShare - y.baseTotalShare);
        if (tx != ty)
            return tx > ty;
        if (x.process != y.process)
            return x.process < y.process;
        return x.operation != y.operation ? x.operation < y.operation : x.function < y.function;
    });
}

constexpr auto kindCpu = "cpu";
constexpr auto kindOffCpu = "off_cpu";
constexpr auto kindHeap = "heap";
} // namespace

bool writeCaptureProfiles(const QString& path, const QList<CapturedProfile>& profiles, QString* error)
{
    Connection connection(path);
    if (!connection.isOpen()) {
        *error = QStringLiteral("cannot write the profiles into %1: %2").arg(path, connection.error());
        return false;
    }
    QSqlDatabase db = connection.db();
    QSqlQuery query(db);
    const auto failed = [&](const QSqlQuery& q) {
        *error = QStringLiteral("cannot write the profiles into %1: %2").arg(path, q.lastError().text());
        db.rollback();
        return false;
    };
    if (!query.exec(QStringLiteral(
            "CREATE TABLE IF NOT EXISTS profiles (pid INTEGER, process TEXT, stack TEXT, count INTEGER)")))
        return failed(query);
    // A table of its own, not a column of `profiles`: a reader of before would take these lines for
    // the whole process's.
    if (!query.exec(QStringLiteral("CREATE TABLE IF NOT EXISTS operation_profiles (pid INTEGER, process TEXT, "
                                   "kind TEXT, stack TEXT, count INTEGER)")))
        return failed(query);
    db.transaction();
    QSqlQuery remove(db);
    remove.prepare(QStringLiteral("DELETE FROM profiles WHERE pid = ?"));
    QSqlQuery removeOperations(db);
    removeOperations.prepare(QStringLiteral("DELETE FROM operation_profiles WHERE pid = ?"));
    QSqlQuery insert(db);
    insert.prepare(QStringLiteral("INSERT INTO profiles (pid, process, stack, count) VALUES (?, ?, ?, ?)"));
    QSqlQuery insertOperations(db);
    insertOperations.prepare(
        QStringLiteral("INSERT INTO operation_profiles (pid, process, kind, stack, count) VALUES (?, ?, ?, ?, ?)"));
    // Binds the lines of @p folded after the values in @p first and runs @p q for each.
    const auto insertLines = [](QSqlQuery& q, const QVariantList& first, const QByteArray& folded) {
        for (const QByteArray& line : folded.split('\n')) {
            const qsizetype space = line.lastIndexOf(' ');
            if (space <= 0)
                continue;
            for (const QVariant& value : first)
                q.addBindValue(value);
            q.addBindValue(QString::fromUtf8(line.left(space)));
            q.addBindValue(line.mid(space + 1).toLongLong());
            if (!q.exec())
                return false;
        }
        return true;
    };
    for (const CapturedProfile& profile : profiles) {
        for (QSqlQuery* q : { &remove, &removeOperations }) {
            q->addBindValue(profile.pid);
            if (!q->exec())
                return failed(*q);
        }
        if (!insertLines(insert, { profile.pid, profile.process }, profile.folded))
            return failed(insert);
        if (!insertLines(
                insertOperations, { profile.pid, profile.process, QString::fromLatin1(kindCpu) }, profile.byOperation)
            || !insertLines(
                insertOperations, { profile.pid, profile.process, QString::fromLatin1(kindOffCpu) }, profile.offCpu)
            || !insertLines(
                insertOperations, { profile.pid, profile.process, QString::fromLatin1(kindHeap) }, profile.heap))
            return failed(insertOperations);
    }
    if (!db.commit())
        return failed(query);
    return true;
}

QList<CapturedProfile> readCaptureProfiles(const QString& path, QString* error)
{
    QList<CapturedProfile> profiles;
    Connection connection(path);
    if (!connection.isOpen()) {
        if (error)
            *error = connection.error();
        return profiles;
    }
    QSqlDatabase db = connection.db();
    const QStringList tables = db.tables();
    QHash<qint64, qsizetype> index; // pid -> profiles
    const auto profileOf = [&](const QSqlQuery& q) -> CapturedProfile& {
        const qint64 pid = q.value(0).toLongLong();
        auto it = index.constFind(pid);
        if (it == index.constEnd()) {
            it = index.insert(pid, profiles.size());
            profiles.append({ pid, q.value(1).toString(), {}, {}, {} });
        }
        return profiles[*it];
    };
    const auto line = [](const QSqlQuery& q, int stack) -> QByteArray { // not a QStringBuilder of temporaries
        return q.value(stack).toString().toUtf8() + ' ' + QByteArray::number(q.value(stack + 1).toLongLong()) + '\n';
    };
    // Either table may be missing: written before profiles (or per-operation ones) existed, or with none.
    QSqlQuery query(db);
    if (tables.contains(QStringLiteral("profiles"))) {
        if (!query.exec(QStringLiteral("SELECT pid, process, stack, count FROM profiles ORDER BY pid, rowid"))) {
            if (error)
                *error = query.lastError().text();
            return profiles;
        }
        while (query.next())
            profileOf(query).folded += line(query, 2);
    }
    if (tables.contains(QStringLiteral("operation_profiles"))) {
        if (!query.exec(QStringLiteral(
                "SELECT pid, process, kind, stack, count FROM operation_profiles ORDER BY pid, rowid"))) {
            if (error)
                *error = query.lastError().text();
            return profiles;
        }
        while (query.next()) {
            const QString kind = query.value(2).toString();
            CapturedProfile& profile = profileOf(query);
            if (kind == QLatin1String(kindCpu))
                profile.byOperation += line(query, 3);
            else if (kind == QLatin1String(kindOffCpu))
                profile.offCpu += line(query, 3);
            else if (kind == QLatin1String(kindHeap))
                profile.heap += line(query, 3);
            // another kind: of a later perfdash; not ours to read
        }
    }
    std::stable_sort(profiles.begin(), profiles.end(),
        [](const CapturedProfile& a, const CapturedProfile& b) { return a.pid < b.pid; });
    return profiles;
}

std::optional<CaptureProfileSet> readCaptureProfileSet(const QString& path, QString* error)
{
    // Checked before SQLite opens it: SQLite would create a file that is not there.
    const QFileInfo file(path);
    if (!file.exists())
        return noneWith<CaptureProfileSet>(error, QStringLiteral("no capture at %1").arg(path));
    if (!file.isFile())
        return noneWith<CaptureProfileSet>(error, QStringLiteral("%1 is not a file").arg(path));
    if (!file.isReadable())
        return noneWith<CaptureProfileSet>(error, QStringLiteral("cannot read %1: permission denied").arg(path));
    CaptureProfileSet set;
    {
        Connection connection(path);
        QSqlQuery q(connection.db());
        if (!connection.isOpen() || !q.exec(QStringLiteral("SELECT value FROM meta WHERE key = 'schema_version'"))
            || !q.next())
            return noneWith<CaptureProfileSet>(error,
                QStringLiteral("%1 is not a perfdash capture, or is damaged beyond reading: %2")
                    .arg(path, connection.isOpen() ? q.lastError().text() : connection.error()));
        const int version = q.value(0).toInt();
        if (version < 1 || version > CaptureSchemaVersion)
            return noneWith<CaptureProfileSet>(error,
                QStringLiteral("%1 is a capture of schema version %2; this perfdash reads 1 to %3")
                    .arg(path)
                    .arg(version)
                    .arg(CaptureSchemaVersion));
        // When: the last write, else the creation (a capture closed before its first write).
        qint64 createdMs = 0;
        if (q.exec(QStringLiteral("SELECT key, value FROM meta WHERE key IN ('created_ms', 'recorded_until_ms')"))) {
            while (q.next()) {
                const qint64 ms = std::max<qint64>(0, q.value(1).toLongLong());
                (q.value(0).toString() == QLatin1String("created_ms") ? createdMs : set.recordedMs) = ms;
            }
        }
        if (set.recordedMs == 0)
            set.recordedMs = createdMs;
        // The names are a help to find a process, not needed: a capture whose table cannot be read has none.
        if (q.exec(QStringLiteral("SELECT pid, name FROM processes ORDER BY key"))) {
            while (q.next()) {
                if (const QString name = q.value(1).toString(); !name.isEmpty())
                    set.processNames.insert(q.value(0).toLongLong(), name);
            }
        }
    }
    QString why;
    set.profiles = readCaptureProfiles(path, &why);
    if (!why.isEmpty())
        return noneWith<CaptureProfileSet>(error, QStringLiteral("cannot read the profiles in %1: %2").arg(path, why));
    return set;
}

namespace {
/// Each process's functions' shares of one part of the profiles (the CPU samples, the heap's bytes).
QList<ProfileShareChange> diffPart(
    const QList<CapturedProfile>& base, const QList<CapturedProfile>& next, QByteArray CapturedProfile::*part)
{
    const QHash<QString, QByteArray> a = byProcess(base, part);
    const QHash<QString, QByteArray> b = byProcess(next, part);
    QSet<QString> processes;
    for (auto it = a.begin(); it != a.end(); ++it)
        processes.insert(it.key());
    for (auto it = b.begin(); it != b.end(); ++it)
        processes.insert(it.key());
    QList<ProfileShareChange> changes;
    for (const QString& process : std::as_const(processes))
        appendChanges(&changes, process, {}, sharesOf(a.value(process)), sharesOf(b.value(process)));
    return changes;
}
} // namespace

QList<ProfileShareChange> diffProfiles(const QList<CapturedProfile>& base, const QList<CapturedProfile>& next)
{
    QList<ProfileShareChange> changes = diffPart(base, next, &CapturedProfile::folded);
    sortChanges(&changes);
    return changes;
}

QList<ProfileShareChange> diffHeapProfiles(const QList<CapturedProfile>& base, const QList<CapturedProfile>& next)
{
    QList<ProfileShareChange> changes = diffPart(base, next, &CapturedProfile::heap);
    // Where the bytes moved: by the change of the bytes under each function, largest first.
    const auto moved = [](const ProfileShareChange& c) {
        return std::abs(c.nextTotalShare * c.nextSamples - c.baseTotalShare * c.baseSamples);
    };
    std::stable_sort(changes.begin(), changes.end(),
        [&](const ProfileShareChange& x, const ProfileShareChange& y) { return moved(x) > moved(y); });
    return changes;
}

QList<ProfileShareChange> diffOperationProfiles(const QList<CapturedProfile>& base, const QList<CapturedProfile>& next)
{
    const QHash<QString, QByteArray> a = byProcess(base, &CapturedProfile::byOperation);
    const QHash<QString, QByteArray> b = byProcess(next, &CapturedProfile::byOperation);
    QList<ProfileShareChange> changes;
    for (auto process = a.begin(); process != a.end(); ++process) {
        if (!b.contains(process.key()))
            continue;
        const QHash<QString, Shares> sa = operationSharesOf(process.value());
        const QHash<QString, Shares> sb = operationSharesOf(b.value(process.key()));
        for (auto operation = sa.begin(); operation != sa.end(); ++operation) {
            if (const auto other = sb.constFind(operation.key()); other != sb.constEnd())
                appendChanges(&changes, process.key(), operation.key(), operation.value(), other.value());
        }
    }
    sortChanges(&changes);
    return changes;
}

int judgeProfiles(QList<ProfileShareChange>* changes, const ProfileVerdictOptions& options)
{
    int regressions = 0;
    for (ProfileShareChange& c : *changes) {
        if (c.baseSamples < options.minSamples || c.nextSamples < options.minSamples)
            c.verdict = ProfileShareChange::Verdict::NotEnoughData;
        else if (c.delta() * 100 > options.thresholdPoints)
            c.verdict = ProfileShareChange::Verdict::Regression;
        else
            c.verdict = ProfileShareChange::Verdict::Same;
        regressions += c.verdict == ProfileShareChange::Verdict::Regression ? 1 : 0;
    }
    return regressions;
}

QString profileVerdictName(ProfileShareChange::Verdict verdict)
{
    switch (verdict) {
    case ProfileShareChange::Verdict::Same:
        return QStringLiteral("same");
    case ProfileShareChange::Verdict::Regression:
        return QStringLiteral("REGRESSION");
    case ProfileShareChange::Verdict::NotEnoughData:
        return QStringLiteral("not enough data");
    }
    return {};
}

namespace {
/// The regressions first (they decide the verdict), then the largest other changes.
QList<ProfileShareChange> shown(const QList<ProfileShareChange>& changes, int limit)
{
    QList<ProfileShareChange> rows;
    for (const ProfileShareChange& c : changes) {
        if (c.verdict == ProfileShareChange::Verdict::Regression)
            rows.append(c);
    }
    for (const ProfileShareChange& c : changes) {
        if (c.verdict != ProfileShareChange::Verdict::Regression && rows.size() < limit)
            rows.append(c);
    }
    return rows;
}

QString percent(double share)
{
    return QStringLiteral("%1%").arg(share * 100, 0, 'f', 1);
}

QString pair(double from, double to)
{
    return QStringLiteral("%1 → %2").arg(percent(from), percent(to));
}

QString bytes(double value)
{
    const double b = std::abs(value);
    if (b < 1024)
        return QStringLiteral("%1 B").arg(value, 0, 'f', 0);
    if (b < 1024.0 * 1024)
        return QStringLiteral("%1 KiB").arg(value / 1024, 0, 'f', 1);
    if (b < 1024.0 * 1024 * 1024)
        return QStringLiteral("%1 MiB").arg(value / 1048576, 0, 'f', 1);
    return QStringLiteral("%1 GiB").arg(value / 1073741824, 0, 'f', 2);
}

QString bytesPair(double from, double to)
{
    return QStringLiteral("%1 → %2").arg(bytes(from), bytes(to));
}

QString signedBytes(double value)
{
    return (value > 0 ? QStringLiteral("+") : QString()) + bytes(value);
}

QString markdownCell(QString text)
{
    return text.replace(u'|', QStringLiteral("\\|"));
}

QString points(double delta)
{
    return QStringLiteral("%1%2").arg(delta >= 0 ? QStringLiteral("+") : QString()).arg(delta * 100, 0, 'f', 1);
}
} // namespace

void printProfileComparison(const QList<ProfileShareChange>& changes, QTextStream& out, int limit)
{
    if (changes.isEmpty())
        return;
    const auto compact = [](double from, double to) { return QStringLiteral("%1→%2").arg(percent(from), percent(to)); };
    out << "\nCPU profile: functions whose share of the samples moved most (self = as the leaf; total = on the "
           "stack)\n";
    out << QStringLiteral("%1  %2  %3  %4  %5\n")
               .arg(QStringLiteral("process/function"), -52)
               .arg(QStringLiteral("self base→new"), 17)
               .arg(QStringLiteral("change"), 8)
               .arg(QStringLiteral("verdict"), -15)
               .arg(QStringLiteral("total base→new"), 17);
    for (const ProfileShareChange& c : shown(changes, limit)) {
        out << QStringLiteral("%1  %2  %3  %4  %5\n")
                   .arg(QStringLiteral("%1/%2").arg(c.process, c.function).left(52), -52)
                   .arg(compact(c.baseSelfShare, c.nextSelfShare), 17)
                   .arg(points(c.delta()), 8)
                   .arg(profileVerdictName(c.verdict), -15)
                   .arg(compact(c.baseTotalShare, c.nextTotalShare), 17);
    }
    out.flush();
}

void printProfileComparisonMarkdown(const QList<ProfileShareChange>& changes, QTextStream& out, int limit)
{
    if (changes.isEmpty())
        return;
    out << "\n**CPU profile**: functions whose share of the samples moved most (self = as the leaf; total = on the "
           "stack)\n\n";
    out << "| process | function | self base → new | change (points) | total base → new | verdict |\n";
    out << "|---|---|---:|---:|---:|---|\n";
    for (const ProfileShareChange& c : shown(changes, limit)) {
        const bool regression = c.verdict == ProfileShareChange::Verdict::Regression;
        out << "| " << markdownCell(c.process) << " | " << markdownCell(c.function) << " | "
            << pair(c.baseSelfShare, c.nextSelfShare) << " | " << points(c.delta()) << " | "
            << pair(c.baseTotalShare, c.nextTotalShare) << " | " << (regression ? "**" : "")
            << profileVerdictName(c.verdict) << (regression ? "**" : "") << " |\n";
    }
    out.flush();
}

void printHeapComparison(const QList<ProfileShareChange>& changes, QTextStream& out, int limit)
{
    if (changes.isEmpty())
        return;
    out << "\nHeap by call site: live bytes when each run ended under each function (total = anywhere on the "
           "allocating stack; self = as the allocating leaf), largest change first\n";
    out << QStringLiteral("%1  %2  %3  %4\n")
               .arg(QStringLiteral("process/function"), -52)
               .arg(QStringLiteral("total base→new"), 25)
               .arg(QStringLiteral("change"), 11)
               .arg(QStringLiteral("self base→new"), 25);
    for (const ProfileShareChange& c : changes.mid(0, limit)) {
        const double baseTotal = c.baseTotalShare * c.baseSamples, nextTotal = c.nextTotalShare * c.nextSamples;
        out << QStringLiteral("%1  %2  %3  %4\n")
                   .arg(QStringLiteral("%1/%2").arg(c.process, c.function).left(52), -52)
                   .arg(bytesPair(baseTotal, nextTotal), 25)
                   .arg(signedBytes(nextTotal - baseTotal), 11)
                   .arg(bytesPair(c.baseSelfShare * c.baseSamples, c.nextSelfShare * c.nextSamples), 25);
    }
    out.flush();
}

void printHeapComparisonMarkdown(const QList<ProfileShareChange>& changes, QTextStream& out, int limit)
{
    if (changes.isEmpty())
        return;
    out << "\n**Heap by call site**: live bytes when each run ended under each function (total = anywhere on the "
           "allocating stack; self = as the allocating leaf)\n\n";
    out << "| process | function | total base → new | change | self base → new |\n";
    out << "|---|---|---:|---:|---:|\n";
    for (const ProfileShareChange& c : changes.mid(0, limit)) {
        const double baseTotal = c.baseTotalShare * c.baseSamples, nextTotal = c.nextTotalShare * c.nextSamples;
        out << "| " << markdownCell(c.process) << " | " << markdownCell(c.function) << " | "
            << bytesPair(baseTotal, nextTotal) << " | " << signedBytes(nextTotal - baseTotal) << " | "
            << bytesPair(c.baseSelfShare * c.baseSamples, c.nextSelfShare * c.nextSamples) << " |\n";
    }
    out.flush();
}

void printOperationProfileComparison(const QList<ProfileShareChange>& changes, QTextStream& out, int limit)
{
    if (changes.isEmpty())
        return;
    const auto compact = [](double from, double to) { return QStringLiteral("%1→%2").arg(percent(from), percent(to)); };
    out << "\nCPU profile by operation: functions whose share of an operation's samples moved most (samples that "
           "ran in the operation, all instances, nested operations included)\n";
    out << QStringLiteral("%1  %2  %3  %4  %5  %6\n")
               .arg(QStringLiteral("process/[operation]/function"), -60)
               .arg(QStringLiteral("self base→new"), 17)
               .arg(QStringLiteral("change"), 8)
               .arg(QStringLiteral("verdict"), -15)
               .arg(QStringLiteral("total base→new"), 17)
               .arg(QStringLiteral("samples base→new"), 17);
    for (const ProfileShareChange& c : shown(changes, limit)) {
        out << QStringLiteral("%1  %2  %3  %4  %5  %6\n")
                   .arg(QStringLiteral("%1/[%2]/%3").arg(c.process, c.operation, c.function).left(60), -60)
                   .arg(compact(c.baseSelfShare, c.nextSelfShare), 17)
                   .arg(points(c.delta()), 8)
                   .arg(profileVerdictName(c.verdict), -15)
                   .arg(compact(c.baseTotalShare, c.nextTotalShare), 17)
                   .arg(QStringLiteral("%1→%2").arg(c.baseSamples, 0, 'f', 0).arg(c.nextSamples, 0, 'f', 0), 17);
    }
    out.flush();
}

void printOperationProfileComparisonMarkdown(const QList<ProfileShareChange>& changes, QTextStream& out, int limit)
{
    if (changes.isEmpty())
        return;
    out << "\n**CPU profile by operation**: functions whose share of an operation's samples moved most (samples "
           "that ran in the operation, all instances, nested operations included)\n\n";
    out << "| process | operation | function | self base → new | change (points) | total base → new | samples base "
           "→ new | verdict |\n";
    out << "|---|---|---|---:|---:|---:|---:|---|\n";
    for (const ProfileShareChange& c : shown(changes, limit)) {
        const bool regression = c.verdict == ProfileShareChange::Verdict::Regression;
        out << "| " << markdownCell(c.process) << " | " << markdownCell(c.operation) << " | "
            << markdownCell(c.function) << " | " << pair(c.baseSelfShare, c.nextSelfShare) << " | " << points(c.delta())
            << " | " << pair(c.baseTotalShare, c.nextTotalShare) << " | " << QString::number(c.baseSamples, 'f', 0)
            << " → " << QString::number(c.nextSamples, 'f', 0) << " | " << (regression ? "**" : "")
            << profileVerdictName(c.verdict) << (regression ? "**" : "") << " |\n";
    }
    out.flush();
}

} // namespace perfdash
