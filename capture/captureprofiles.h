// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <QByteArray>
#include <QList>
#include <QString>

class QTextStream;

namespace perfdash {

/// One process's CPU profile as a capture keeps it: its folded stacks (docs/PROFILE.md).
struct CapturedProfile
{
    qint64 pid = 0;
    QString process;
    QByteArray folded; ///< `process;outermost;...;leaf COUNT` lines
};

/**
 * Writes @p profiles into the capture at @p path, in a table of their own (`profiles`, added to the
 * schema: older readers ignore it, and a capture without it has no profiles); a process's earlier
 * rows are replaced. False with @p error.
 */
bool writeCaptureProfiles(const QString& path, const QList<CapturedProfile>& profiles, QString* error);
/// The profiles a capture holds (none for a capture written before profiles, or without them).
QList<CapturedProfile> readCaptureProfiles(const QString& path, QString* error = nullptr);

/// How one function's share of the CPU moved between two profiles of a process.
struct ProfileShareChange
{
    QString process;
    QString function;
    double baseSelfShare = 0; ///< of the process's samples, 0..1
    double nextSelfShare = 0;
    double baseTotalShare = 0; ///< on the stack, once per sample
    double nextTotalShare = 0;
    double baseSamples = 0; ///< the process's samples in each run
    double nextSamples = 0;
    enum class Verdict { Same, Regression, NotEnoughData } verdict = Verdict::Same; ///< judgeProfiles()
    double delta() const { return nextSelfShare - baseSelfShare; }
};

/**
 * The differential profile: per process name (pids differ between runs) and function, its share of
 * the samples as the leaf (self) and anywhere on the stack (total) in both runs, by the size of
 * the change of the self share, largest first. Shares, not counts: runs of different lengths compare.
 */
QList<ProfileShareChange> diffProfiles(const QList<CapturedProfile>& base, const QList<CapturedProfile>& next);

/// How a differential profile is judged: a function whose self share grew by more than
/// thresholdPoints percentage points is a regression, when its process has at least minSamples
/// samples in both runs (fewer: not enough data).
struct ProfileVerdictOptions
{
    double thresholdPoints = 5.0;
    double minSamples = 200;
};
/// Sets each change's verdict; returns the number of regressions.
int judgeProfiles(QList<ProfileShareChange>* changes, const ProfileVerdictOptions& options);
QString profileVerdictName(ProfileShareChange::Verdict verdict);

/// The `perfdash compare` section in text and markdown: the regressions, then the @p limit largest
/// changes; nothing when neither run has profiles.
void printProfileComparison(const QList<ProfileShareChange>& changes, QTextStream& out, int limit = 20);
void printProfileComparisonMarkdown(const QList<ProfileShareChange>& changes, QTextStream& out, int limit = 20);

} // namespace perfdash
