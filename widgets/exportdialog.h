// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "core/operationstats.h"

#include <QDialog>

class QComboBox;
class QLabel;

namespace perfdash {

/// Before an export or a capture is written: says what the file will hold (and what not: the
/// seconds no longer held, a paused view) and, for statistics, offers the window's choice.
class ExportDialog : public QDialog
{
    Q_OBJECT
public:
    enum class Kind { Statistics, Series, Memory, Trace, Capture };

    /// @p shownWindow: the window the table shows; @p pausedAtMs: when the view was paused, or 0.
    ExportDialog(Kind kind, StatsWindow shownWindow, qint64 pausedAtMs, QWidget* parent = nullptr);

    /// What the dialog says the file holds.
    QString description() const;
    /// The statistics' window chosen (the table's by default).
    StatsWindow window() const;
    static QString describe(Kind kind, StatsWindow shownWindow, qint64 pausedAtMs);

private:
    QLabel* m_text;
    QComboBox* m_window = nullptr;
};

} // namespace perfdash
