// SPDX-License-Identifier: GPL-3.0-or-later
// The window as a workspace (issue 24): what a table's column fitting costs, and a selection
// that always says what the rest of the window shows.
#include "tablecolumns.h"

#include <QAbstractTableModel>
#include <QApplication>
#include <QHeaderView>
#include <QSet>
#include <QTableView>
#include <QTest>

using namespace perfdash;

namespace {

/// A table of text that remembers which rows were asked for their text.
class CountingModel : public QAbstractTableModel
{
public:
    static constexpr int Columns = 4;

    int rowCount(const QModelIndex& parent = {}) const override { return parent.isValid() ? 0 : int(m_rows.size()); }
    int columnCount(const QModelIndex& parent = {}) const override { return parent.isValid() ? 0 : Columns; }
    QVariant data(const QModelIndex& index, int role) const override
    {
        if (role != Qt::DisplayRole || !index.isValid())
            return {};
        asked.insert(index.row());
        return index.column() == 2 ? m_rows[std::size_t(index.row())] : QStringLiteral("cell %1").arg(index.row());
    }
    QVariant headerData(int section, Qt::Orientation orientation, int role) const override
    {
        if (role != Qt::DisplayRole || orientation != Qt::Horizontal)
            return {};
        return QStringLiteral("Column %1").arg(section);
    }
    void insert(int at, const QStringList& texts)
    {
        beginInsertRows({}, at, at + int(texts.size()) - 1);
        m_rows.insert(m_rows.begin() + at, texts.begin(), texts.end());
        endInsertRows();
    }

    mutable QSet<int> asked;

private:
    std::vector<QString> m_rows;
};

QStringList texts(int n, const QString& text)
{
    QStringList out;
    for (int i = 0; i < n; ++i)
        out << text;
    return out;
}

} // namespace

class TestWorkspace : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void fittingMeasuresWhatChangedNotAllRows();
};

void TestWorkspace::fittingMeasuresWhatChangedNotAllRows()
{
    // The alerts table of the issue: 5,000 rows, batches of 10 new ones inserted at the top; a fit
    // per batch measured up to 1,000 rows per column (1.5 s stalls of the GUI thread).
    CountingModel model;
    model.insert(0, texts(5000, QStringLiteral("short")));
    QTableView view;
    view.setModel(&model);
    view.resize(600, 400);
    TableColumns columns(&view, 0);
    view.show();
    QVERIFY(QTest::qWaitForWindowExposed(&view));
    const int onScreen = view.rowAt(view.viewport()->height() - 1) - view.rowAt(0) + 1;
    QVERIFY2(onScreen > 5 && onScreen < 50, qPrintable(QString::number(onScreen)));
    const int before = view.horizontalHeader()->sectionSize(2);

    model.asked.clear();
    model.insert(0, texts(10, QStringLiteral("a much, much longer text than any before it in this column")));
    QVERIFY2(model.asked.size() <= onScreen + 10, qPrintable(QString::number(model.asked.size())));
    QVERIFY(view.horizontalHeader()->sectionSize(2) > before); // the new rows' text is measured

    // Rows inserted off screen are measured too (what changed), bounded.
    const int widened = view.horizontalHeader()->sectionSize(2);
    model.asked.clear();
    model.insert(4000, texts(500, QStringLiteral("an even longer text, inserted far below what the view shows now, at row 4000")));
    QVERIFY2(model.asked.size() <= onScreen + TableColumns::MeasuredRows,
        qPrintable(QString::number(model.asked.size())));
    QVERIFY(model.asked.contains(4000));
    QVERIFY(view.horizontalHeader()->sectionSize(2) > widened);

    // A refit with nothing new measures the rows on screen only.
    model.asked.clear();
    columns.fit();
    QVERIFY2(model.asked.size() <= onScreen, qPrintable(QString::number(model.asked.size())));
}

QTEST_MAIN(TestWorkspace)
#include "tst_workspace.moc"
