// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "profiler/heapprofiler.h"

#include <QPointer>
#include <QTimer>
#include <QWidget>

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
 */
class MemoryPanel : public QWidget
{
    Q_OBJECT
public:
    explicit MemoryPanel(QWidget* parent = nullptr);

    void setHeapProfiler(HeapProfiler* heap);
    /// The process shown (0: none).
    void setProcess(qint64 pid, const QString& name = {});
    qint64 process() const { return m_pid; }
    void setView(HeapView view);
    HeapView view() const;
    /// Live bytes by call site now become the base of the growth view (and it is shown).
    void setMark();

    ProfilePanel* profile() const { return m_profile; }
    QString totalsText() const;

private:
    void updateTotals();
    void updateSource();

    QPointer<HeapProfiler> m_heap;
    qint64 m_pid = 0;
    QString m_name;
    QComboBox* m_viewBox;
    QPushButton* m_markButton;
    QLabel* m_totals;
    ProfilePanel* m_profile;
    QTimer m_timer;
};

} // namespace perfdash
