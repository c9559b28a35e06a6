// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <QByteArray>
#include <QHash>
#include <QList>
#include <QString>

#include <optional>

class QTextStream;

namespace perfdash {

/// One process's CPU profile as a capture keeps it: its folded stacks (docs/PROFILE.md).
struct CapturedProfile
{
    qint64 pid = 0;
    QString process;
    QByteArray folded; ///< `process;outermost;...;leaf COUNT` lines
    /// The profile split by operations, as `--export-profile-by-operation` writes it:
    /// `process;[outer];[inner slow];outermost;...;leaf COUNT` (samples); empty when the process's
    /// operations were not traced (not a client of ours) or for a capture written before.
    QByteArray byOperation;
    /// Off-CPU time the same way, as `--export-off-cpu` writes it (COUNT in microseconds).
    QByteArray offCpu;
    /// The live heap by call stack when the run ended, as `--export-heap` writes it (COUNT in
    /// bytes); empty when its heap was not tracked.
    QByteArray heap = {};
};

/**
 * Writes @p profiles into the capture at @p path, in tables of their own (`profiles` for the
 * whole-process profiles, `operation_profiles` for byOperation and offCpu; added to the schema:
 * older readers ignore them, and a capture without them has no such profiles); a process's earlier
 * rows are replaced. False with @p error.
 */
bool writeCaptureProfiles(const QString& path, const QList<CapturedProfile>& profiles, QString* error);
/// The profiles a capture holds (none for a capture written before profiles, or without them).
QList<CapturedProfile> readCaptureProfiles(const QString& path, QString* error = nullptr);

/// A capture's profiles with whose they are and when they were recorded: what comparing a live
/// process with one of them needs.
struct CaptureProfileSet
{
    QList<CapturedProfile> profiles;
    /// pid -> the name the capture's tables give the process (a client's hello, an OTLP service);
    /// a pid without a row has none.
    QHash<qint64, QString> processNames;
    qint64 recordedMs = 0; ///< wall clock of the recording's last write (else its creation); 0: not known
};
/**
 * readCaptureProfiles() of a file that must be a perfdash capture, with its processes' names and
 * when it was recorded. Nothing, with @p error, when there is no file at @p path, it cannot be
 * read, or it is not a capture this perfdash reads; never creates a file.
 */
std::optional<CaptureProfileSet> readCaptureProfileSet(const QString& path, QString* error);

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
    /// diffOperationProfiles(): the operation whose samples the shares are of (empty: the whole
    /// process's); the samples are then that operation's.
    QString operation = {};
    double delta() const { return nextSelfShare - baseSelfShare; }
};

/**
 * The differential profile: per process name (pids differ between runs) and function, its share of
 * the samples as the leaf (self) and anywhere on the stack (total) in both runs, by the size of
 * the change of the self share, largest first. Shares, not counts: runs of different lengths compare.
 */
QList<ProfileShareChange> diffProfiles(const QList<CapturedProfile>& base, const QList<CapturedProfile>& next);

/**
 * The differential profile inside each operation: for every process name and operation present in
 * the per-operation profiles (byOperation) of both runs, each function's self and total share of
 * the samples that ran in that operation (all its instances, slow or not, and the operations nested
 * in it), largest change of the self share first. Samples outside any operation are not counted.
 */
QList<ProfileShareChange> diffOperationProfiles(const QList<CapturedProfile>& base, const QList<CapturedProfile>& next);

/// How a differential profile is judged: a function whose self share grew by more than
/// thresholdPoints percentage points is a regression, when its process has at least minSamples
/// samples in both runs (fewer: not enough data).
struct ProfileVerdictOptions
{
    double thresholdPoints = 5.0;
    double minSamples = 200;
};
/// Sets each change's verdict; returns the number of regressions.
/**
 * The live heap by call site of two runs (CapturedProfile::heap), per process name and function:
 * its bytes as the allocating leaf (self) and anywhere on the stack (total), as shares of the
 * process's heap and, through baseSamples and nextSamples (the heaps' sizes), in bytes; largest
 * change of the total share first. Not judged: a heap's shape says where memory went, not that a
 * run is slower.
 */
QList<ProfileShareChange> diffHeapProfiles(const QList<CapturedProfile>& base, const QList<CapturedProfile>& next);
void printHeapComparison(const QList<ProfileShareChange>& changes, QTextStream& out, int limit = 15);
void printHeapComparisonMarkdown(const QList<ProfileShareChange>& changes, QTextStream& out, int limit = 15);

int judgeProfiles(QList<ProfileShareChange>* changes, const ProfileVerdictOptions& options);
QString profileVerdictName(ProfileShareChange::Verdict verdict);

/// The `perfdash compare` section in text and markdown: the regressions, then the @p limit largest
/// changes; nothing when neither run has profiles.
void printProfileComparison(const QList<ProfileShareChange>& changes, QTextStream& out, int limit = 20);
void printProfileComparisonMarkdown(const QList<ProfileShareChange>& changes, QTextStream& out, int limit = 20);
/// The same for diffOperationProfiles(): "CPU profile by operation"; nothing when it is empty.
void printOperationProfileComparison(const QList<ProfileShareChange>& changes, QTextStream& out, int limit = 20);
void printOperationProfileComparisonMarkdown(
    const QList<ProfileShareChange>& changes, QTextStream& out, int limit = 20);

} // namespace perfdash
