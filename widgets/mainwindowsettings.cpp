// SPDX-License-Identifier: GPL-3.0-or-later
// What the window remembers between sessions: geometry, splitters, columns, view choices.
#include "widgets/mainwindow.h"

#include "widgets/budgetsdialog.h"
#include "widgets/tablecolumns.h"
#include "widgets/theme.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDir>
#include <QHeaderView>
#include <QScreen>
#include <QSettings>
#include <QSplitter>
#include <QTableView>
#include <QTimer>

namespace perfdash {

void MainWindow::restoreSettings()
{
    QSettings settings;
    if (const auto theme = Theme(settings.value(QStringLiteral("view/theme"), int(Theme::System)).toInt());
        theme != Theme::System)
        applyTheme(theme);
    restoreGeometry(settings.value(QStringLiteral("window/geometry")).toByteArray());
    if (!settings.contains(QStringLiteral("window/geometry"))) {
        // Nine tenths of the screen, whatever its size and scale (a fixed 1400x880 overflowed a
        // 1600x1000 screen at 1.5x).
        const QSize screen = this->screen() ? this->screen()->availableSize() : QSize(1400, 880) * 10 / 9;
        resize(screen * 9 / 10);
    }
    // ".../v2": the tables and alerts in one column beside the views (v1 had the alerts under both).
    if (!m_mainSplitter->restoreState(settings.value(QStringLiteral("window/mainSplitter/v2")).toByteArray())) {
        m_mainSplitter->setSizes({ 600, 800 });
        m_autoSplit = true;
    }
    if (!m_tablesSplitter->restoreState(settings.value(QStringLiteral("window/tablesSplitter/v2")).toByteArray()))
        m_tablesSplitter->setSizes({ 150, 500, 230 });
    setProfileBeside(settings.value(QStringLiteral("view/profileBeside"), false).toBool());
    // After setProfileBeside()'s own split (queued too), so that the remembered one wins.
    if (const QByteArray views = settings.value(QStringLiteral("window/viewsSplitter")).toByteArray(); !views.isEmpty())
        QTimer::singleShot(0, m_viewsSplitter, [this, views] { m_viewsSplitter->restoreState(views); });
    // Column order and visibility from the header, the widths the user dragged from TableColumns
    // (".../v3": older saved states had Stretch sections, no total-time column, no CPU column).
    m_operationView->horizontalHeader()->restoreState(
        settings.value(QStringLiteral("window/operationColumns/v3")).toByteArray());
    m_processView->horizontalHeader()->restoreState(
        settings.value(QStringLiteral("window/processColumns/v2")).toByteArray());
    m_operationColumns->restoreState(settings.value(QStringLiteral("window/operationWidths")).toByteArray());
    m_processColumns->restoreState(settings.value(QStringLiteral("window/processWidths")).toByteArray());
    m_alertColumns->restoreState(settings.value(QStringLiteral("window/alertWidths")).toByteArray());
    m_window->setCurrentIndex(
        std::clamp(settings.value(QStringLiteral("view/window"), 1).toInt(), 0, m_window->count() - 1));
    m_range->setCurrentIndex(
        std::clamp(settings.value(QStringLiteral("view/range"), 1).toInt(), 0, m_range->count() - 1));
    m_log->setChecked(settings.value(QStringLiteral("view/log"), false).toBool());
    m_group->setChecked(settings.value(QStringLiteral("view/group"), false).toBool());
    m_exportFolder = settings.value(QStringLiteral("export/folder"), QDir::homePath()).toString();
    const Thresholds thresholds = loadThresholds();
    m_store->setSlowThreshold(
        std::chrono::nanoseconds(thresholds.slowNs), std::chrono::nanoseconds(thresholds.verySlowNs));
    m_store->setBudgets(loadBudgets());
    // The window's per-operation slow thresholds, under the command line's (--slow) for a pattern
    // both name; app/main.cpp merged them already for a live run (headless too).
    m_store->setSlowRules(mergeSlowRules(loadSlowRules(), m_store->slowThresholds().rules()));
}

void MainWindow::saveSettings() const
{
    QSettings settings;
    settings.setValue(QStringLiteral("window/geometry"), saveGeometry());
    settings.setValue(QStringLiteral("window/mainSplitter/v2"), m_mainSplitter->saveState());
    settings.setValue(QStringLiteral("window/tablesSplitter/v2"), m_tablesSplitter->saveState());
    settings.setValue(QStringLiteral("window/viewsSplitter"), m_viewsSplitter->saveState());
    settings.setValue(QStringLiteral("view/profileBeside"), profileBeside());
    settings.setValue(QStringLiteral("window/operationColumns/v3"), m_operationView->horizontalHeader()->saveState());
    settings.setValue(QStringLiteral("window/processColumns/v2"), m_processView->horizontalHeader()->saveState());
    settings.setValue(QStringLiteral("window/operationWidths"), m_operationColumns->saveState());
    settings.setValue(QStringLiteral("window/processWidths"), m_processColumns->saveState());
    settings.setValue(QStringLiteral("window/alertWidths"), m_alertColumns->saveState());
    settings.setValue(QStringLiteral("view/window"), m_window->currentIndex());
    settings.setValue(QStringLiteral("view/range"), m_range->currentIndex());
    settings.setValue(QStringLiteral("view/log"), m_log->isChecked());
    settings.setValue(QStringLiteral("view/group"), m_group->isChecked());
    settings.setValue(QStringLiteral("export/folder"), m_exportFolder);
}

} // namespace perfdash
