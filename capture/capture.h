// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "clock.h"
#include "comparison.h"
#include "metricsstore.h"

#include <QObject>
#include <QStringList>
#include <QThread>

#include <memory>

namespace perfdash {

/// Version of the capture schema (docs/CAPTURE.md); readers accept this and older.
inline constexpr int CaptureSchemaVersion = 1;

/**
 * Records a MetricsStore into a capture file (SQLite, docs/CAPTURE.md) from a thread of its own:
 * processes, operations, every finished second's histogram (so any window's percentiles can be
 * recomputed exactly), memory and CPU samples, raw events and budgets. It writes once a second in
 * one transaction, so a crash loses at most the last second.
 */
class CaptureRecorder : public QObject
{
    Q_OBJECT
public:
    explicit CaptureRecorder(const MetricsStore* store, QObject* parent = nullptr);
    /// Writes what is left and closes the file.
    ~CaptureRecorder() override;

    /// Creates @p path (replacing a file there) and starts recording; false with @p error.
    bool start(const QString& path, QString* error);
    /// Writes what is new now and waits for it; false with @p error when the write failed.
    bool flush(QString* error = nullptr);
    void stop();
    QString path() const { return m_path; }

Q_SIGNALS:
    /// A periodic write failed (disk full, file removed); recording goes on trying.
    void failed(const QString& error);

private:
    class Writer;
    const MetricsStore* m_store;
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
    bool ok = false;
    QString error; ///< why nothing could be read
    QStringList problems; ///< parts that could not be read; the rest is there
    int version = 0;
    qint64 firstMs = 0;
    qint64 lastMs = 0;
    QList<CapturedAlert> alerts; ///< the newest MaxLoadedAlerts, oldest first
    static constexpr int MaxLoadedAlerts = 1000;
};

/**
 * Replays the capture at @p path into @p store, whose clock must be @p clock: each recorded
 * second is applied at its own time, and the clock is left at the end of the capture so that
 * windows ("last minute") mean the capture's last minute. Processes come back as exited.
 */
CaptureLoad loadCapture(const QString& path, MetricsStore& store, ManualClock& clock);

/// A MetricsStore with its own clock, loaded from a capture (read-only use).
struct LoadedCapture
{
    std::unique_ptr<ManualClock> clock;
    std::unique_ptr<MetricsStore> store;
    CaptureLoad load;
};
LoadedCapture openCapture(const QString& path);

} // namespace perfdash
