// SPDX-License-Identifier: GPL-3.0-or-later
#include "widgets/exportdialog.h"

#include <QComboBox>
#include <QDateTime>
#include <QDialogButtonBox>
#include <QFormLayout>
#include <QLabel>
#include <QPushButton>
#include <QVBoxLayout>

namespace perfdash {

namespace {
QString windowName(StatsWindow w)
{
    if (w.isSession())
        return ExportDialog::tr("the whole session");
    if (w.seconds % 60 == 0)
        return w.seconds == 60 ? ExportDialog::tr("the last minute")
                               : ExportDialog::tr("the last %1 minutes").arg(w.seconds / 60);
    return ExportDialog::tr("the last %1 seconds").arg(w.seconds);
}
} // namespace

QString ExportDialog::describe(Kind kind, StatsWindow shownWindow, qint64 pausedAtMs)
{
    QString text;
    switch (kind) {
    case Kind::Statistics:
        text = tr("One row per process and operation: count, errors, min, mean, p50 to p99.9, max and slow count "
                  "(docs/CSV.md), over the window chosen below. The table shows %1.")
                   .arg(windowName(shownWindow));
        break;
    case Kind::Series:
        text = tr("One row per process, operation and interval for the whole session: seconds for the last hour, "
                  "then minutes for a day, then hours (older points are merged as the store keeps them).");
        break;
    case Kind::Memory:
        text = tr("Every memory and CPU sample of every process, for the whole session.");
        break;
    case Kind::Trace:
        text = tr("The raw events kept (slow operations and the sample) as a Chrome trace for Perfetto; "
                  "operations counted only in histograms are not events and are not in it.");
        break;
    case Kind::Capture:
        text = tr("A capture saved now holds the per-second histograms still held (the last %1 minutes: older "
                  "seconds are kept only as series points), the memory samples, the raw events kept and the alerts. "
                  "To keep a whole session at full resolution, start perfdash with --record FILE.")
                   .arg(StatsWindow::MaxSeconds / 60);
        break;
    }
    if (pausedAtMs > 0) {
        text += QStringLiteral("\n\n")
            + tr("The view is paused since %1, but this writes what the dashboard holds now, including what arrived "
                 "since.")
                  .arg(QDateTime::fromMSecsSinceEpoch(pausedAtMs).toString(QStringLiteral("HH:mm:ss")));
    }
    return text;
}

ExportDialog::ExportDialog(Kind kind, StatsWindow shownWindow, qint64 pausedAtMs, QWidget* parent)
    : QDialog(parent)
    , m_text(new QLabel(describe(kind, shownWindow, pausedAtMs), this))
{
    setWindowTitle(kind == Kind::Capture ? tr("Save capture") : tr("Export"));
    auto* layout = new QVBoxLayout(this);
    m_text->setWordWrap(true);
    m_text->setMinimumWidth(m_text->fontMetrics().averageCharWidth() * 60);
    layout->addWidget(m_text);
    if (kind == Kind::Statistics) {
        auto* form = new QFormLayout;
        m_window = new QComboBox(this);
        for (StatsWindow w :
            { StatsWindow::last(10), StatsWindow::last(60), StatsWindow::last(300), StatsWindow::session() })
            m_window->addItem(windowName(w), w.seconds);
        const int shown = m_window->findData(shownWindow.seconds);
        m_window->setCurrentIndex(shown >= 0 ? shown : 1);
        form->addRow(tr("Statistics over"), m_window);
        layout->addLayout(form);
    }
    auto* buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel, this);
    buttons->button(QDialogButtonBox::Ok)->setText(tr("Choose file…"));
    connect(buttons, &QDialogButtonBox::accepted, this, &QDialog::accept);
    connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
    layout->addWidget(buttons);
}

QString ExportDialog::description() const
{
    return m_text->text();
}

StatsWindow ExportDialog::window() const
{
    return m_window ? StatsWindow { m_window->currentData().toInt() } : StatsWindow::session();
}

} // namespace perfdash
