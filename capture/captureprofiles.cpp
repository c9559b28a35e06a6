// SPDX-License-Identifier: GPL-3.0-or-later
#include "captureprofiles.h"

#include <QAtomicInteger>
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

struct Shares
{
    QHash<QString, double> self;
    QHash<QString, double> total;
    double samples = 0;
};

/// Self and total share of each function in folded text.
Shares sharesOf(const QByteArray& folded)
{
    Shares shares;
    double all = 0;
    for (const QByteArray& raw : folded.split('\n')) {
        const qsizetype space = raw.lastIndexOf(' ');
        if (space <= 0)
            continue;
        bool ok = false;
        const double count = raw.mid(space + 1).toDouble(&ok);
        if (!ok)
            continue;
        QStringList frames = QString::fromUtf8(raw.left(space)).split(QLatin1Char(';'));
        frames.removeFirst(); // the process
        if (frames.isEmpty())
            continue;
        all += count;
        shares.self[frames.constLast()] += count;
        QSet<QString> seen; // a recursive function counts once per sample
        for (const QString& frame : std::as_const(frames)) {
            if (!seen.contains(frame)) {
                seen.insert(frame);
                shares.total[frame] += count;
            }
        }
    }
    for (auto* map : { &shares.self, &shares.total }) {
        for (auto it = map->begin(); it != map->end(); ++it)
            it.value() /= std::max(all, 1.0);
    }
    shares.samples = all;
    return shares;
}

QHash<QString, QByteArray> byProcess(const QList<CapturedProfile>& profiles)
{
    QHash<QString, QByteArray> folded;
    for (const CapturedProfile& p : profiles)
        folded[p.process] += p.folded;
    return folded;
}
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
    db.transaction();
    QSqlQuery remove(db);
    remove.prepare(QStringLiteral("DELETE FROM profiles WHERE pid = ?"));
    QSqlQuery insert(db);
    insert.prepare(QStringLiteral("INSERT INTO profiles (pid, process, stack, count) VALUES (?, ?, ?, ?)"));
    for (const CapturedProfile& profile : profiles) {
        remove.addBindValue(profile.pid);
        if (!remove.exec())
            return failed(remove);
        for (const QByteArray& line : profile.folded.split('\n')) {
            const qsizetype space = line.lastIndexOf(' ');
            if (space <= 0)
                continue;
            insert.addBindValue(profile.pid);
            insert.addBindValue(profile.process);
            insert.addBindValue(QString::fromUtf8(line.left(space)));
            insert.addBindValue(line.mid(space + 1).toLongLong());
            if (!insert.exec())
                return failed(insert);
        }
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
    if (!db.tables().contains(QStringLiteral("profiles")))
        return profiles; // written before profiles existed, or with none
    QSqlQuery query(db);
    if (!query.exec(QStringLiteral("SELECT pid, process, stack, count FROM profiles ORDER BY pid, rowid"))) {
        if (error)
            *error = query.lastError().text();
        return profiles;
    }
    while (query.next()) {
        const qint64 pid = query.value(0).toLongLong();
        if (profiles.isEmpty() || profiles.constLast().pid != pid)
            profiles.append({ pid, query.value(1).toString(), {} });
        profiles.last().folded
            += query.value(2).toString().toUtf8() + ' ' + QByteArray::number(query.value(3).toLongLong()) + '\n';
    }
    return profiles;
}

QList<ProfileShareChange> diffProfiles(const QList<CapturedProfile>& base, const QList<CapturedProfile>& next)
{
    const QHash<QString, QByteArray> a = byProcess(base);
    const QHash<QString, QByteArray> b = byProcess(next);
    QSet<QString> processes;
    for (auto it = a.begin(); it != a.end(); ++it)
        processes.insert(it.key());
    for (auto it = b.begin(); it != b.end(); ++it)
        processes.insert(it.key());
    QList<ProfileShareChange> changes;
    for (const QString& process : std::as_const(processes)) {
        const Shares sa = sharesOf(a.value(process));
        const Shares sb = sharesOf(b.value(process));
        QSet<QString> functions;
        for (auto it = sa.total.begin(); it != sa.total.end(); ++it)
            functions.insert(it.key());
        for (auto it = sb.total.begin(); it != sb.total.end(); ++it)
            functions.insert(it.key());
        for (const QString& function : std::as_const(functions))
            changes.append({ process, function, sa.self.value(function), sb.self.value(function),
                sa.total.value(function), sb.total.value(function), sa.samples, sb.samples });
    }
    std::sort(changes.begin(), changes.end(), [](const ProfileShareChange& x, const ProfileShareChange& y) {
        const double dx = std::abs(x.delta()), dy = std::abs(y.delta());
        if (dx != dy)
            return dx > dy;
        const double tx = std::abs(x.nextTotalShare - x.baseTotalShare),
                     ty = std::abs(y.nextTotalShare - y.baseTotalShare);
        return tx != ty ? tx > ty : x.function < y.function;
    });
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
    const auto cell = [](QString text) { return text.replace(u'|', QStringLiteral("\\|")); };
    out << "\n**CPU profile**: functions whose share of the samples moved most (self = as the leaf; total = on the "
           "stack)\n\n";
    out << "| process | function | self base → new | change (points) | total base → new | verdict |\n";
    out << "|---|---|---:|---:|---:|---|\n";
    for (const ProfileShareChange& c : shown(changes, limit)) {
        const bool regression = c.verdict == ProfileShareChange::Verdict::Regression;
        out << "| " << cell(c.process) << " | " << cell(c.function) << " | " << pair(c.baseSelfShare, c.nextSelfShare)
            << " | " << points(c.delta()) << " | " << pair(c.baseTotalShare, c.nextTotalShare) << " | "
            << (regression ? "**" : "") << profileVerdictName(c.verdict) << (regression ? "**" : "") << " |\n";
    }
    out.flush();
}

} // namespace perfdash
