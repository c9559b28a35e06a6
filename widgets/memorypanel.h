// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "profiler/heapprofiler.h"

#include <QHash>
#include <QPointer>
#include <QTime>
#include <QTimer>
#include <QWidget>

#include <vector>

class QComboBox;
class QLabel;
class QPushButton;

namespace perfdash {

class ProfilePanel;

/**
 * The Memory view: the heap of a program perfdash launched with the heap preload, by call site,
 * live. Its flame graph, trees and tables are the CPU profile's (a ProfilePanel fed by the
 * HeapProfiler), counting bytes: live bytes now, bytes allocated per second, or the growth of live
 * bytes since a mark (what kept growing: the leak). Above them, the exact totals the preload counts.
 * A process whose heap is not tracked gets a sentence saying why and what it has instead.
 *
 * An opened capture's heaps (live bytes by call site when its run ended) are shown read-only for
 * their process: the live bytes only, since a capture keeps neither the allocations over time
 * (the rate) nor anything after a mark (the growth).
 */
class MemoryPanel : public QWidget
{
    Q_OBJECT
public:
    explicit MemoryPanel(QWidget* parent = nullptr);

    void setHeapProfiler(HeapProfiler* heap);
    /// A capture's heaps (live bytes by call site, ProfileSnapshot::Unit::Bytes), shown read-only
    /// for their process when no live heap profiler tracks it.
    void setRecordedHeaps(std::vector<ProfileSnapshotPtr> heaps);
    /// The shown process's heap is a capture's.
    bool showsRecorded() const;
    /// The process shown (0: none).
    void setProcess(qint64 pid, const QString& name = {});
    qint64 process() const { return m_pid; }
    /// Shows @p view, unless the shown heap cannot give it (canShow()).
    void setView(HeapView view);
    HeapView view() const;
    /// Whether the shown heap can give @p view; why not in @p why.
    bool canShow(HeapView view, QString* why) const;
    /// Live bytes by call site now become the base of the growth view (and it is shown), when
    /// canSetMark().
    void setMark();
    /// Whether the shown process's heap can be marked: it is tracked live; why not in @p why.
    bool canSetMark(QString* why) const;
    /// A mark was set for the shown process (else the growth view counts from the start).
    bool hasMark() const { return m_marks.contains(m_pid); }

    ProfilePanel* profile() const { return m_profile; }
    QComboBox* viewBox() const { return m_viewBox; }
    QPushButton* markButton() const { return m_markButton; }
    QString totalsText() const;

private:
    void updateTotals();
    void updateSource();
    /// The view box's items and the mark button for what the shown heap can give.
    void updateControls();
    ProfileSnapshotPtr recordedFor(qint64 pid) const;
    /// The name shown for the process: the tables', else "this process".
    QString shownName() const;

    QPointer<HeapProfiler> m_heap;
    std::vector<ProfileSnapshotPtr> m_recorded;
    qint64 m_pid = 0;
    QString m_name;
    QHash<qint64, QTime> m_marks; ///< when the mark of each process was set
    QComboBox* m_viewBox;
    QPushButton* m_markButton;
    QLabel* m_totals;
    ProfilePanel* m_profile;
    QTimer m_timer;
};

} // namespace perfdash
