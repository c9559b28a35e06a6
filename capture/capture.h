// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "capture/captureprofiles.h"
#include "capture/comparison.h"
#include "core/clock.h"
#include "core/metricsstore.h"

#include <QObject>
#include <QStringList>
#include <QThread>

#include <atomic>
#include <memory>
#include <optional>

namespace perfdash {

/// Version of the capture schema (docs/CAPTURE.md); readers accept this and older.
inline constexpr int CaptureSchemaVersion = 1;

/**
 * Records a MetricsStore into a capture file (SQLite, docs/CAPTURE.md) from a thread of its own:
 * processes, operations, every finished second's histogram (so any window's percentiles can be
 * recomputed exactly), memory and CPU samples, raw events and budgets. It writes once a second in
 * one transaction (WAL), so a crash loses at most the last second; closed, the capture is one
 * self-contained file, 0600. A write that fails (a full disk) is tried again each second with all
 * that was not written, as long as the store holds it (the per-second histograms of the last five
 * minutes); what it no longer holds is counted (stats()) and finish() says the capture is incomplete.
 */
class CaptureRecorder : public QObject
{
    Q_OBJECT
public:
    explicit CaptureRecorder(const MetricsStore* store, QObject* parent = nullptr);
    /// Writes what is left and closes the file.
    ~CaptureRecorder() override;

    /// Creates @p path (replacing a file there only once the new one exists whole) and starts
    /// recording; false with @p error, and then nothing is left at @p path but what was there.
    bool start(const QString& path, QString* error);
    /// What a recording could not write, for the end of the run and the window.
    struct Stats
    {
        quint64 failedWrites = 0; ///< writes that failed (each retried a second later)
        quint64 lostOperations = 0; ///< operations the store no longer held when there was room again
        quint64 lostAlerts = 0; ///< alerts past the 10,000 kept between two writes
        bool failing = false; ///< the last write failed
    };

    /// Writes what is new now and waits for it; false with @p error when the write failed.
    bool flush(QString* error = nullptr);
    /// Writes what is left and closes the file; true when the capture holds everything the store
    /// saw since the start, else false with a sentence in @p summary saying what it misses.
    bool finish(QString* summary);
    Stats stats() const;
    void stop();
    QString path() const { return m_path; }

Q_SIGNALS:
    /// A write failed (disk full, file removed): said once when writes start failing, not once a
    /// second; recording goes on trying every second with what the store still holds.
    void failed(const QString& error);
    /// Writes go through again after failing: a sentence saying what, if anything, was lost.
    void resumed(const QString& message);

private:
    class Writer;
    struct Counters
    {
        std::atomic<quint64> failedWrites { 0 };
        std::atomic<quint64> lostOperations { 0 };
        std::atomic<quint64> lostAlerts { 0 };
        std::atomic<bool> failing { false };
    };
    const MetricsStore* m_store;
    Counters m_counters;
    QThread m_thread;
    Writer* m_writer = nullptr;
    QString m_path;
};

/// An alert as the recording window raised it.
struct CapturedAlert
{
    qint64 timestampMs = 0;
    quint64 processKey = 0; ///< in the store the capture was loaded into
    QString operation;
    QString kind; ///< "slow", "very slow", "budget broken", "budget met"
    quint64 valueNs = 0; ///< the operation's duration, or the budget's actual value
    QString details; ///< metadata as a JSON object (slow), or the budget
    bool ok = true; ///< whether the slow operation succeeded
};

/// What loading a capture found.
struct CaptureLoad
{
    QStringList problems; ///< parts that could not be read; the rest is there
    QStringList notes; ///< how it was read (a capture not closed cleanly, read with its -wal)
    int version = 0;
    qint64 firstMs = 0;
    qint64 lastMs = 0;
    QList<CapturedAlert> alerts; ///< the newest MaxLoadedAlerts, oldest first
    static constexpr int MaxLoadedAlerts = 1000;
};

/**
 * Replays the capture at @p path into @p store, whose clock must be @p clock: each recorded
 * second is applied at its own time, and the clock is left at the end of the capture so that
 * windows ("last minute") mean the capture's last minute. Processes come back as exited. Nothing
 * when the file cannot be read at all (@p error says why); parts it cannot read are the result's
 * problems, the rest is there.
 */
std::optional<CaptureLoad> loadCapture(const QString& path, MetricsStore& store, ManualClock& clock, QString* error);

/// A MetricsStore with its own clock, loaded from a capture (read-only use).
struct LoadedCapture
{
    std::unique_ptr<ManualClock> clock;
    std::unique_ptr<MetricsStore> store;
    CaptureLoad load;
};
/// loadCapture() into a store of its own; nothing when the file cannot be read (@p error says why).
std::optional<LoadedCapture> openCapture(const QString& path, QString* error);

/**
 * Writes what @p store holds now into a capture at @p path, with @p profiles (File > Save capture):
 * whole or not at all, the previous file intact on failure (a full disk). False with @p error.
 */
bool saveCapture(
    const MetricsStore* store, const QString& path, const QList<CapturedProfile>& profiles, QString* error);

} // namespace perfdash
