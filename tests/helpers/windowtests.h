// SPDX-License-Identifier: GPL-3.0-or-later
// What the tests of the window and its widgets share: their settings kept apart from the user's,
// and a window shown until it charts.
#pragma once

#include "widgets/chartspanel.h"
#include "widgets/mainwindow.h"

#include <QCoreApplication>
#include <QStandardPaths>
#include <QString>
#include <QTest>

namespace perfdashtest {

/// The QSettings of this test program (column widths, budgets, ...) go to QStandardPaths' test
/// location, under @p application, not to the user's.
inline void useTestSettings(const QString& application)
{
    QStandardPaths::setTestModeEnabled(true);
    QCoreApplication::setOrganizationName(QStringLiteral("perfdash-tests"));
    QCoreApplication::setApplicationName(application);
}

/// Shows @p window and waits (10 s at most) until its latency chart's title contains @p title;
/// false when it did not.
inline bool showUntilCharted(perfdash::MainWindow& window, const QString& title)
{
    window.show();
    return QTest::qWaitFor([&] { return window.charts()->latencyTitle().contains(title); }, 10'000);
}

} // namespace perfdashtest
