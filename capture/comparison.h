// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "capture/captureprofiles.h"
#include "core/operationstats.h"

#include <QList>
#include <QString>

#include <optional>

class QTextStream;

namespace perfdash {

class MetricsStore;

/// What the comparison of one operation concluded.
enum class Verdict {
    Same, ///< within every threshold
    Regression, ///< slower, more errors or less throughput beyond a threshold
    Improvement, ///< faster beyond the threshold, nothing worse
    NotEnoughData, ///< fewer samples than the minimum on a side: no verdict
    OnlyInBase, ///< gone from NEW: a gate fails on it (a renamed or lost operation is not a pass)
    OnlyInNew,
};

struct ComparisonOptions
{
    double percentile = 95.0;
    double thresholdPercent = 10.0; ///< relative change of the percentile, and of throughput
    double errorThresholdPoints = 1.0; ///< rise of the error rate, in percentage points
    quint64 minCount = 10; ///< below this many operations on either side: not enough data
};

struct ComparisonRow
{
    QString process;
    QString operation;
    std::optional<OperationStats> base; ///< every process of that name, merged
    std::optional<OperationStats> next;
    quint64 baseValueNs = 0; ///< the chosen percentile
    quint64 nextValueNs = 0;
    double changePercent = 0.0; ///< of the chosen percentile; from a 0 ns baseline, against 1 ns
    double baseThroughput = 0.0; ///< operations per second over the capture's span
    double nextThroughput = 0.0;
    double throughputChangePercent = 0.0;
    bool regression = false; ///< verdict == Regression or OnlyInBase
    Verdict verdict = Verdict::Same;
    QStringList reasons; ///< why a regression is one: "p95 +50.0%", "errors 0.0% → 100.0%", ...
};

/// Matches operations by process name (pids differ between runs; processes of one name are merged)
/// and compares their whole runs.
QList<ComparisonRow> compareStores(
    const MetricsStore& base, const MetricsStore& next, const ComparisonOptions& options);
QList<ComparisonRow> compareStores(
    const MetricsStore& base, const MetricsStore& next, double percentile, double thresholdPercent);
QString verdictName(Verdict verdict);
/// What the window and the text report say about a row: its verdict, and why when it regresses
/// ("REGRESSION (p95 +50.0%, throughput -20.0%)").
QString verdictText(const ComparisonRow& row);
/// The summary line under the table: "2 regression(s) beyond 10% at p95".
QString regressionSummary(const QList<ComparisonRow>& rows, const ComparisonOptions& options);

/// The arguments of `perfdash compare`, parsed once for the report and for the window (--gui),
/// so that both judge with the same thresholds.
struct CompareArguments
{
    QStringList files; ///< BASE and NEW
    ComparisonOptions options;
    ProfileVerdictOptions profileOptions;
    QString format = QStringLiteral("text");
    bool gui = false;
    QString screenshot; ///< with --gui: save the window as PNG once drawn, and exit
};
/// Parses `perfdash compare`'s arguments (after "compare"); false with a one-line @p error.
bool parseCompareArguments(const QStringList& arguments, CompareArguments* parsed, QString* error);
/// The usage line of `perfdash compare`, for errors and --help.
QString compareUsage();

/**
 * perfdash compare BASE NEW [--threshold PCT] [--error-threshold PP] [--min-count N]
 * [--percentile pNN] [--format text|json|markdown]: per process name and operation, count,
 * throughput, error rate, p50, p95, p99 of both and a verdict. Exit status: 0 no regression,
 * 1 a regression (or an operation missing from NEW), 2 bad arguments or an unreadable capture,
 * 3 a capture holds no operations (nothing was compared: a gate must not pass on it).
 */
int compareCaptures(const QStringList& arguments, QTextStream& out, QTextStream& err);

} // namespace perfdash
