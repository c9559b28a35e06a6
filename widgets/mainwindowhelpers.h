// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Small pieces the files of MainWindow, and the panels it holds, share (not installed, not part of its API).

#include <QString>
#include <QVariantMap>

class QLabel;
class QTableView;
class QWidget;

namespace perfdash {

/// A table as the window's tables are: whole rows, no grid of row numbers, rows as tall as text.
QTableView* makeTable(QWidget* parent);
/// A bold section title over a table.
QLabel* makeSectionLabel(const QString& text, QWidget* parent);
/// "failed, table=users, rows=3": what the alerts table says of a slow operation.
QString describeSample(const QVariantMap& metadata, bool ok);
/// The file dialogs' filter for capture files: *.perfdash and *.pdcap, then all files.
QString captureFilter();

} // namespace perfdash
