// SPDX-License-Identifier: GPL-3.0-or-later
#include "capture/comparison.h"

#include "capture/captureprofiles.h"
#include "core/errors.h"

#include "capture/capture.h"
#include "core/metricsstore.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTextStream>

#include <cmath>
#include <iterator>
#include <limits>
#include <map>

namespace perfdash {

namespace {
/// The heap's changes by call site as JSON: bytes under each function in both runs.
QJsonArray heapJson(const QList<ProfileShareChange>& changes)
{
    QJsonArray functions;
    for (const ProfileShareChange& c : changes) {
        functions.append(
            QJsonObject { { QStringLiteral("process"), c.process }, { QStringLiteral("function"), c.function },
                { QStringLiteral("total_bytes_base"), c.baseTotalShare * c.baseSamples },
                { QStringLiteral("total_bytes_new"), c.nextTotalShare * c.nextSamples },
                { QStringLiteral("self_bytes_base"), c.baseSelfShare * c.baseSamples },
                { QStringLiteral("self_bytes_new"), c.nextSelfShare * c.nextSamples },
                { QStringLiteral("heap_bytes_base"), c.baseSamples },
                { QStringLiteral("heap_bytes_new"), c.nextSamples } });
    }
    return functions;
}
} // namespace

namespace {
struct Side
{
    std::unique_ptr<LatencyHistogram> histogram = std::make_unique<LatencyHistogram>();
    quint64 errors = 0;
    quint64 slow = 0;
    qint64 firstMs = std::numeric_limits<qint64>::max(); // the operation's active span, for throughput
    qint64 endMs = std::numeric_limits<qint64>::min();
    std::map<qint64, std::pair<qint64, quint64>> intervals; // start ms -> (end ms, operations), every process summed

    /// Operations per second. The first and the last interval are partly outside the run (a run
    /// of 5 s touches 5 or 6 seconds): over the whole span, two runs of the same rate differed by
    /// up to 20% in 5 s, a "regression" of throughput. So: the whole intervals between them when
    /// there are any, else the span.
    double throughput(quint64 count) const
    {
        if (intervals.size() >= 3) {
            quint64 inner = 0;
            for (auto it = std::next(intervals.begin()); it != std::prev(intervals.end()); ++it)
                inner += it->second.second;
            const qint64 innerMs = std::prev(intervals.end())->first - intervals.begin()->second.first;
            if (innerMs > 0)
                return double(inner) / (double(innerMs) / 1000.0);
        }
        const double seconds = endMs > firstMs ? std::max(1.0, double(endMs - firstMs) / 1000.0) : 1.0;
        return double(count) / seconds;
    }
};

struct Collected
{
    std::map<std::pair<QString, QString>, Side> operations;
};

/// Every process of one name is one side: a service restarted during the run, or several
/// workers, are summed rather than the last one overwriting the others.
Collected collect(const MetricsStore& store)
{
    Collected c;
    auto part = std::make_unique<LatencyHistogram>();
    for (const ProcessInfo& p : store.processes()) {
        if (!p.instrumented)
            continue;
        const auto monitor = store.sharedMonitor(p.key);
        if (!monitor)
            continue;
        for (const OperationStats& s : monitor->allStats()) {
            part->reset();
            Side& side = c.operations[{ p.name, s.operation }];
            side.errors += monitor->histogram(s.operation, StatsWindow::session(), *part);
            side.histogram->add(*part);
            side.slow += s.slowCount;
            constexpr qint64 Min = std::numeric_limits<qint64>::min(), Max = std::numeric_limits<qint64>::max();
            for (const SeriesPoint& point : monitor->series(s.operation, Min, Max, true)) {
                const qint64 end = point.timestampMs + qint64(point.resolutionS) * 1000;
                side.firstMs = std::min(side.firstMs, point.timestampMs);
                side.endMs = std::max(side.endMs, end);
                auto& interval = side.intervals[point.timestampMs];
                interval.first = std::max(interval.first, end);
                interval.second += point.count;
            }
        }
    }
    return c;
}

double percentChange(double from, double to)
{
    return 100.0 * (to - from) / std::max(from, 1.0); // a 0 baseline regresses against 1 (ns, op/s)
}
} // namespace

QString verdictName(Verdict verdict)
{
    switch (verdict) {
    case Verdict::Same:
        return QStringLiteral("same");
    case Verdict::Regression:
        return QStringLiteral("REGRESSION");
    case Verdict::Improvement:
        return QStringLiteral("improvement");
    case Verdict::NotEnoughData:
        return QStringLiteral("not enough data");
    case Verdict::OnlyInBase:
        return QStringLiteral("MISSING in NEW");
    case Verdict::OnlyInNew:
        return QStringLiteral("only in NEW");
    }
    return {};
}

QString verdictText(const ComparisonRow& row)
{
    return verdictName(row.verdict)
        + (row.reasons.isEmpty() ? QString()
                                 : QString(QStringLiteral(" (") + row.reasons.join(QStringLiteral(", ")) + u')'));
}

QString regressionSummary(const QList<ComparisonRow>& rows, const ComparisonOptions& options)
{
    int regressions = 0;
    for (const ComparisonRow& r : rows)
        regressions += r.regression ? 1 : 0;
    return QStringLiteral("%1 regression(s) beyond %2% at p%3")
        .arg(regressions)
        .arg(options.thresholdPercent)
        .arg(options.percentile);
}

QList<ComparisonRow> compareStores(
    const MetricsStore& base, const MetricsStore& next, double percentile, double thresholdPercent)
{
    ComparisonOptions options;
    options.percentile = percentile;
    options.thresholdPercent = thresholdPercent;
    return compareStores(base, next, options);
}

QList<ComparisonRow> compareStores(const MetricsStore& base, const MetricsStore& next, const ComparisonOptions& options)
{
    const Collected b = collect(base);
    const Collected n = collect(next);
    std::map<std::pair<QString, QString>, ComparisonRow> rows;
    const auto fill = [&](const Collected& c, bool isNew) {
        for (const auto& [key, side] : c.operations) {
            ComparisonRow& row = rows[key];
            row.process = key.first;
            row.operation = key.second;
            OperationStats s = OperationStats::fromHistogram(key.second, *side.histogram, side.errors);
            s.slowCount = side.slow;
            (isNew ? row.nextThroughput : row.baseThroughput) = side.throughput(s.count);
            (isNew ? row.nextValueNs : row.baseValueNs) = side.histogram->valueAtQuantile(options.percentile / 100.0);
            (isNew ? row.next : row.base) = std::move(s);
        }
    };
    fill(b, false);
    fill(n, true);
    QList<ComparisonRow> out;
    for (auto& [key, row] : rows) {
        if (!row.next) {
            row.verdict = Verdict::OnlyInBase;
            row.regression = true;
            row.reasons.append(QStringLiteral("missing from NEW"));
        } else if (!row.base) {
            row.verdict = Verdict::OnlyInNew;
        } else {
            row.changePercent = percentChange(double(row.baseValueNs), double(row.nextValueNs));
            row.throughputChangePercent
                = 100.0 * (row.nextThroughput - row.baseThroughput) / std::max(row.baseThroughput, 1e-9);
            if (row.base->count < options.minCount || row.next->count < options.minCount) {
                row.verdict = Verdict::NotEnoughData;
            } else {
                const double baseErrors = 100.0 * row.base->errorRate, nextErrors = 100.0 * row.next->errorRate;
                if (row.changePercent > options.thresholdPercent)
                    row.reasons.append(
                        QStringLiteral("p%1 +%2%").arg(options.percentile).arg(row.changePercent, 0, 'f', 1));
                if (nextErrors - baseErrors > options.errorThresholdPoints)
                    row.reasons.append(
                        QStringLiteral("errors %1% → %2%").arg(baseErrors, 0, 'f', 1).arg(nextErrors, 0, 'f', 1));
                if (row.throughputChangePercent < -options.thresholdPercent)
                    row.reasons.append(QStringLiteral("throughput %1%").arg(row.throughputChangePercent, 0, 'f', 1));
                row.regression = !row.reasons.isEmpty();
                row.verdict = row.regression                        ? Verdict::Regression
                    : row.changePercent < -options.thresholdPercent ? Verdict::Improvement
                                                                    : Verdict::Same;
            }
        }
        out.append(std::move(row));
    }
    return out;
}

namespace {
QString ms(quint64 ns)
{
    return QString::number(double(ns) / 1e6, 'f', 3);
}

void writeText(QTextStream& out, const QList<ComparisonRow>& rows, const ComparisonOptions& o)
{
    out << QStringLiteral("%1  %2  %3  %4  %5  %6  %7  %8  %9\n")
               .arg(QStringLiteral("process/operation"), -36)
               .arg(QStringLiteral("count base→new"), 20)
               .arg(QStringLiteral("ops/s base→new"), 17)
               .arg(QStringLiteral("errors %"), 13)
               .arg(QStringLiteral("p50 ms"), 19)
               .arg(QStringLiteral("p95 ms"), 19)
               .arg(QStringLiteral("p99 ms"), 19)
               .arg(QStringLiteral("p%1 change").arg(o.percentile), 11)
               .arg(QStringLiteral("verdict"));
    for (const ComparisonRow& r : rows) {
        const QString name = QString(r.process + u'/' + r.operation).left(36);
        if (!r.base || !r.next) {
            out << QStringLiteral("%1  %2\n").arg(name, -36).arg(verdictName(r.verdict));
            continue;
        }
        out << QStringLiteral("%1  %2  %3  %4  %5  %6  %7  %8  %9\n")
                   .arg(name, -36)
                   .arg(QStringLiteral("%1→%2").arg(r.base->count).arg(r.next->count), 20)
                   .arg(QStringLiteral("%1→%2").arg(r.baseThroughput, 0, 'f', 1).arg(r.nextThroughput, 0, 'f', 1), 17)
                   .arg(QStringLiteral("%1→%2")
                            .arg(100 * r.base->errorRate, 0, 'f', 1)
                            .arg(100 * r.next->errorRate, 0, 'f', 1),
                       13)
                   .arg(ms(r.base->p50Ns) + u'→' + ms(r.next->p50Ns), 19)
                   .arg(ms(r.base->p95Ns) + u'→' + ms(r.next->p95Ns), 19)
                   .arg(ms(r.base->p99Ns) + u'→' + ms(r.next->p99Ns), 19)
                   .arg(QStringLiteral("%1%2%")
                            .arg(r.changePercent >= 0 ? QStringLiteral("+") : QString())
                            .arg(r.changePercent, 0, 'f', 1),
                       11)
                   .arg(verdictText(r));
    }
}

void writeMarkdown(QTextStream& out, const QList<ComparisonRow>& rows, const ComparisonOptions& o)
{
    const auto cell = [](QString text) { return text.replace(u'|', QStringLiteral("\\|")); };
    out << QStringLiteral("| process | operation | count | ops/s | errors %% | p%1 ms | change | verdict |\n")
               .arg(o.percentile)
               .replace(QStringLiteral("%%"), QStringLiteral("%"));
    out << "|---|---|---:|---:|---:|---:|---:|---|\n";
    for (const ComparisonRow& r : rows) {
        out << "| " << cell(r.process) << " | " << cell(r.operation) << " | ";
        if (r.base && r.next) {
            out << r.base->count << " → " << r.next->count << " | " << QString::number(r.baseThroughput, 'f', 1)
                << " → " << QString::number(r.nextThroughput, 'f', 1) << " | "
                << QString::number(100 * r.base->errorRate, 'f', 1) << " → "
                << QString::number(100 * r.next->errorRate, 'f', 1) << " | " << ms(r.baseValueNs) << " → "
                << ms(r.nextValueNs) << " | " << QString::number(r.changePercent, 'f', 1) << "% | ";
        } else {
            out << " |  |  |  |  | ";
        }
        out << (r.regression ? "**" : "") << verdictName(r.verdict) << (r.regression ? "**" : "");
        if (!r.reasons.isEmpty())
            out << ": " << cell(r.reasons.join(QStringLiteral(", ")));
        out << " |\n";
    }
}

QJsonObject sideJson(const std::optional<OperationStats>& s, quint64 valueNs, double throughput)
{
    if (!s)
        return {};
    return QJsonObject { { QStringLiteral("count"), double(s->count) },
        { QStringLiteral("errors"), double(s->errorCount) }, { QStringLiteral("error_rate"), s->errorRate },
        { QStringLiteral("throughput_per_s"), throughput }, { QStringLiteral("p50_us"), double(s->p50Ns) / 1e3 },
        { QStringLiteral("p95_us"), double(s->p95Ns) / 1e3 }, { QStringLiteral("p99_us"), double(s->p99Ns) / 1e3 },
        { QStringLiteral("percentile_us"), double(valueNs) / 1e3 } };
}
} // namespace

QString compareUsage()
{
    return QStringLiteral("perfdash compare BASE NEW [--threshold PCT] [--error-threshold PP] [--min-count N] "
                          "[--percentile p95] [--profile-threshold PP] [--min-samples N] "
                          "[--format text|json|markdown] [--gui [--screenshot FILE]]");
}

bool parseCompareArguments(const QStringList& arguments, CompareArguments* parsed, QString* error)
{
    CompareArguments c;
    const auto fail = [error](const QString& message) { return failWith(error, message); };
    for (qsizetype i = 0; i < arguments.size(); ++i) {
        const QString& a = arguments[i];
        const bool hasValue = i + 1 < arguments.size();
        const auto value = [&]() -> QString { return hasValue ? arguments[++i] : QString(); };
        bool ok = true;
        if (a == QLatin1String("--threshold")) {
            c.options.thresholdPercent = value().remove(u'%').toDouble(&ok);
            ok = ok && std::isfinite(c.options.thresholdPercent) && c.options.thresholdPercent >= 0;
        } else if (a == QLatin1String("--error-threshold")) {
            c.options.errorThresholdPoints = value().remove(u'%').toDouble(&ok);
            ok = ok && std::isfinite(c.options.errorThresholdPoints) && c.options.errorThresholdPoints >= 0;
        } else if (a == QLatin1String("--min-count")) {
            c.options.minCount = value().toULongLong(&ok);
        } else if (a == QLatin1String("--percentile")) {
            QString p = value();
            c.options.percentile = (p.startsWith(u'p') ? p.mid(1) : p).toDouble(&ok);
            ok = ok && c.options.percentile > 0 && c.options.percentile <= 100;
        } else if (a == QLatin1String("--profile-threshold")) {
            c.profileOptions.thresholdPoints = value().remove(u'%').toDouble(&ok);
            ok = ok && std::isfinite(c.profileOptions.thresholdPoints) && c.profileOptions.thresholdPoints >= 0;
        } else if (a == QLatin1String("--min-samples")) {
            c.profileOptions.minSamples = double(value().toULongLong(&ok));
        } else if (a == QLatin1String("--format")) {
            c.format = value();
            ok = c.format == QLatin1String("text") || c.format == QLatin1String("json")
                || c.format == QLatin1String("markdown");
            if (!ok)
                return fail(QStringLiteral("--format needs text, json or markdown"));
        } else if (a == QLatin1String("--gui")) {
            c.gui = true;
        } else if (a == QLatin1String("--screenshot")) {
            c.screenshot = value();
            ok = !c.screenshot.isEmpty();
            if (!ok)
                return fail(QStringLiteral("--screenshot needs a FILE"));
        } else if (a.startsWith(QLatin1String("--"))) {
            return fail(QStringLiteral("unknown option ") + a);
        } else {
            c.files.append(a);
        }
        if (!ok)
            return fail(a + QStringLiteral(" needs a finite number of 0 or more"));
    }
    if (c.files.size() != 2)
        return fail(QStringLiteral("usage: ") + compareUsage());
    if (!c.screenshot.isEmpty() && !c.gui)
        return fail(QStringLiteral("--screenshot needs --gui"));
    *parsed = std::move(c);
    return true;
}

int compareCaptures(const QStringList& arguments, QTextStream& out, QTextStream& err)
{
    CompareArguments parsed;
    QString parseError;
    if (!parseCompareArguments(arguments, &parsed, &parseError)) {
        err << "perfdash compare: " << parseError << Qt::endl;
        return 2;
    }
    const QStringList& files = parsed.files;
    const ComparisonOptions& options = parsed.options;
    const ProfileVerdictOptions& profileOptions = parsed.profileOptions;
    const QString& format = parsed.format;
    std::optional<LoadedCapture> opened[2];
    for (int i = 0; i < 2; ++i) {
        QString unreadable;
        opened[i] = openCapture(files[i], &unreadable);
        if (!opened[i]) {
            err << "perfdash compare: " << unreadable << Qt::endl;
            return 2;
        }
        for (const QString& p : opened[i]->load.problems)
            err << "perfdash compare: warning: " << p << Qt::endl;
    }
    const LoadedCapture& base = *opened[0];
    const LoadedCapture& next = *opened[1];

    const QList<ComparisonRow> rows = compareStores(*base.store, *next.store, options);
    int regressions = 0, inBase = 0, inNew = 0;
    for (const ComparisonRow& r : rows) {
        regressions += r.regression ? 1 : 0;
        inBase += r.base ? 1 : 0;
        inNew += r.next ? 1 : 0;
    }
    // The CPU profiles are compared as the operations are: in every format, and in the verdict.
    QString profileErrors[2];
    const QList<CapturedProfile> baseProfiles = readCaptureProfiles(files[0], &profileErrors[0]);
    const QList<CapturedProfile> nextProfiles = readCaptureProfiles(files[1], &profileErrors[1]);
    for (int i = 0; i < 2; ++i) {
        if (!profileErrors[i].isEmpty())
            err << "perfdash compare: warning: the CPU profiles of " << files[i] << ": " << profileErrors[i]
                << Qt::endl;
    }
    QList<ProfileShareChange> changes = diffProfiles(baseProfiles, nextProfiles);
    const int profileRegressions = judgeProfiles(&changes, profileOptions);
    // Inside each operation (per-operation profiles, when both captures have them), judged alike.
    QList<ProfileShareChange> operationChanges = diffOperationProfiles(baseProfiles, nextProfiles);
    const int operationProfileRegressions = judgeProfiles(&operationChanges, profileOptions);
    // The heaps by call site, where both runs tracked them (--heap): shown, not judged.
    const QList<ProfileShareChange> heapChanges = diffHeapProfiles(baseProfiles, nextProfiles);
    const bool profilesCompared = (!baseProfiles.isEmpty() && !nextProfiles.isEmpty()) || !operationChanges.isEmpty();
    const QString profileSummary = QStringLiteral("%1 profile regression(s) beyond %2 points of self share")
                                       .arg(profileRegressions)
                                       .arg(profileOptions.thresholdPoints);
    const QString operationProfileSummary
        = QStringLiteral("%1 regression(s) in the CPU profiles by operation beyond %2 points of self share")
              .arg(operationProfileRegressions)
              .arg(profileOptions.thresholdPoints);
    if (format == QLatin1String("json")) {
        QJsonArray array;
        for (const ComparisonRow& r : rows) {
            array.append(QJsonObject { { QStringLiteral("process"), r.process },
                { QStringLiteral("operation"), r.operation }, { QStringLiteral("verdict"), verdictName(r.verdict) },
                { QStringLiteral("regression"), r.regression },
                { QStringLiteral("reasons"), QJsonArray::fromStringList(r.reasons) },
                { QStringLiteral("change_percent"), r.changePercent },
                { QStringLiteral("base"), sideJson(r.base, r.baseValueNs, r.baseThroughput) },
                { QStringLiteral("new"), sideJson(r.next, r.nextValueNs, r.nextThroughput) } });
        }
        const auto functionsJson = [](const QList<ProfileShareChange>& list) {
            QJsonArray functions;
            for (const ProfileShareChange& c : list) {
                QJsonObject f { { QStringLiteral("process"), c.process }, { QStringLiteral("function"), c.function },
                    { QStringLiteral("self_base"), c.baseSelfShare }, { QStringLiteral("self_new"), c.nextSelfShare },
                    { QStringLiteral("self_change_points"), c.delta() * 100 },
                    { QStringLiteral("total_base"), c.baseTotalShare },
                    { QStringLiteral("total_new"), c.nextTotalShare },
                    { QStringLiteral("samples_base"), c.baseSamples }, { QStringLiteral("samples_new"), c.nextSamples },
                    { QStringLiteral("verdict"), profileVerdictName(c.verdict) },
                    { QStringLiteral("regression"), c.verdict == ProfileShareChange::Verdict::Regression } };
                if (!c.operation.isEmpty())
                    f.insert(QStringLiteral("operation"), c.operation);
                functions.append(f);
            }
            return functions;
        };
        out << QJsonDocument(
            QJsonObject { { QStringLiteral("percentile"), options.percentile },
                { QStringLiteral("threshold_percent"), options.thresholdPercent },
                { QStringLiteral("error_threshold_points"), options.errorThresholdPoints },
                { QStringLiteral("min_count"), double(options.minCount) },
                { QStringLiteral("regressions"), regressions }, { QStringLiteral("rows"), array },
                { QStringLiteral("profiles"),
                    QJsonObject { { QStringLiteral("threshold_points"), profileOptions.thresholdPoints },
                        { QStringLiteral("min_samples"), profileOptions.minSamples },
                        { QStringLiteral("regressions"), profileRegressions },
                        { QStringLiteral("functions"), functionsJson(changes) } } },
                { QStringLiteral("operation_profiles"),
                    QJsonObject { { QStringLiteral("threshold_points"), profileOptions.thresholdPoints },
                        { QStringLiteral("min_samples"), profileOptions.minSamples },
                        { QStringLiteral("regressions"), operationProfileRegressions },
                        { QStringLiteral("functions"), functionsJson(operationChanges) } } },
                { QStringLiteral("heap"), heapJson(heapChanges) } })
                   .toJson(QJsonDocument::Indented);
    } else if (format == QLatin1String("markdown")) {
        writeMarkdown(out, rows, options);
        out << "\n" << regressionSummary(rows, options) << "\n";
        if (!changes.isEmpty()) {
            printProfileComparisonMarkdown(changes, out);
            out << "\n" << profileSummary << "\n";
        }
        if (!operationChanges.isEmpty()) {
            printOperationProfileComparisonMarkdown(operationChanges, out);
            out << "\n" << operationProfileSummary << "\n";
        }
        printHeapComparisonMarkdown(heapChanges, out);
    } else {
        writeText(out, rows, options);
        out << regressionSummary(rows, options) << "\n";
        if (!changes.isEmpty()) {
            printProfileComparison(changes, out);
            out << profileSummary << "\n";
        }
        if (!operationChanges.isEmpty()) {
            printOperationProfileComparison(operationChanges, out);
            out << operationProfileSummary << "\n";
        }
        printHeapComparison(heapChanges, out);
    }
    out.flush();
    const bool operationsCompared = inBase > 0 && inNew > 0;
    if (!operationsCompared && !profilesCompared) {
        const QString& empty = inBase == 0 && baseProfiles.isEmpty() ? files[0] : files[1];
        err << "perfdash compare: " << empty << " holds no operations and no CPU profiles: nothing was compared"
            << Qt::endl;
        return 3;
    }
    return regressions || profileRegressions || operationProfileRegressions ? 1 : 0;
}

} // namespace perfdash
