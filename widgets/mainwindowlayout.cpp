// SPDX-License-Identifier: GPL-3.0-or-later
// The window's layout: toolbar, the processes/operations/alerts tables, the charts' tabs.
#include "widgets/mainwindow.h"

#include "models/alertsfiltermodel.h"
#include "models/alertsmodel.h"
#include "models/operationsfiltermodel.h"
#include "models/operationsmodel.h"
#include "models/processesmodel.h"
#include "widgets/chartspanel.h"
#include "widgets/mainwindowhelpers.h"
#include "widgets/memorypanel.h"
#include "widgets/profilepanel.h"
#include "widgets/tablecolumns.h"

#include <QAction>
#include <QCheckBox>
#include <QComboBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QItemSelectionModel>
#include <QLabel>
#include <QLineEdit>
#include <QMenu>
#include <QPushButton>
#include <QScrollBar>
#include <QSortFilterProxyModel>
#include <QSplitter>
#include <QTabWidget>
#include <QTableView>
#include <QTimer>
#include <QToolBar>
#include <QToolButton>
#include <QVBoxLayout>

#include <vector>

namespace perfdash {

namespace {
struct Choice
{
    const char* label;
    int value;
};
constexpr Choice Windows[] = { { "last 10 s", 10 }, { "last 1 min", 60 }, { "last 5 min", 300 }, { "session", 0 } };
constexpr Choice Ranges[] = { { "1 min", 60 }, { "5 min", 300 }, { "1 hour", 3600 }, { "session", 0 } };

QWidget* box(QWidget* parent, QLayout* header, QWidget* table)
{
    auto* w = new QWidget(parent);
    auto* l = new QVBoxLayout(w);
    l->setContentsMargins(0, 0, 0, 0);
    l->setSpacing(0);
    l->addLayout(header);
    l->addWidget(table);
    return w;
}

/// The header's menu shows and hides columns (less used ones start hidden where room is short).
void addColumnMenu(QTableView* view)
{
    QHeaderView* header = view->horizontalHeader();
    header->setContextMenuPolicy(Qt::CustomContextMenu);
    QObject::connect(header, &QHeaderView::customContextMenuRequested, view, [view, header](const QPoint& pos) {
        QMenu menu(view);
        for (int c = 0; c < header->count(); ++c) {
            QAction* a = menu.addAction(view->model()->headerData(c, Qt::Horizontal).toString());
            a->setCheckable(true);
            a->setChecked(!header->isSectionHidden(c));
            QObject::connect(a, &QAction::toggled, view, [header, c](bool on) { header->setSectionHidden(c, !on); });
        }
        menu.exec(header->mapToGlobal(pos));
    });
}
} // namespace

QTableView* makeTable(QWidget* parent)
{
    auto* view = new QTableView(parent);
    view->setSelectionBehavior(QAbstractItemView::SelectRows);
    view->setSelectionMode(QAbstractItemView::SingleSelection);
    view->setAlternatingRowColors(true);
    view->setWordWrap(false);
    view->setTextElideMode(Qt::ElideMiddle); // "http.GET …/users" says more than "http.GET /us…"
    view->setHorizontalScrollMode(QAbstractItemView::ScrollPerPixel);
    view->setAutoScroll(false); // selecting a row must not scroll the table sideways
    view->verticalHeader()->hide();
    view->verticalHeader()->setDefaultSectionSize(view->fontMetrics().height() + 6);
    view->horizontalHeader()->setHighlightSections(false);
    view->horizontalHeader()->setSectionsMovable(true);
    return view;
}

QLabel* makeSectionLabel(const QString& text, QWidget* parent)
{
    auto* label = new QLabel(text, parent);
    QFont f = label->font();
    f.setBold(true);
    label->setFont(f);
    label->setContentsMargins(4, 4, 4, 2);
    return label;
}

QString describeSample(const QVariantMap& metadata, bool ok)
{
    QStringList parts;
    for (auto it = metadata.cbegin(); it != metadata.cend(); ++it)
        parts << it.key() + u'=' + it.value().toString();
    if (!ok)
        parts.prepend(MainWindow::tr("failed"));
    return parts.join(QStringLiteral(", "));
}

void MainWindow::buildToolbar()
{
    auto* toolbar = addToolBar(tr("View"));
    toolbar->setObjectName(QStringLiteral("viewToolbar"));
    toolbar->setMovable(false);
    toolbar->addWidget(new QLabel(tr(" Statistics over "), this));
    m_window = new QComboBox(this);
    for (const Choice& c : Windows)
        m_window->addItem(tr(c.label), c.value);
    m_window->setCurrentIndex(1);
    toolbar->addWidget(m_window);
    toolbar->addWidget(new QLabel(tr("  Charts "), this));
    m_range = new QComboBox(this);
    for (const Choice& c : Ranges)
        m_range->addItem(tr(c.label), c.value);
    m_range->setCurrentIndex(1);
    toolbar->addWidget(m_range);
    m_log = new QCheckBox(tr("log latency"), this);
    toolbar->addWidget(m_log);
    m_pause = new QToolButton(this);
    m_pause->setText(tr("Pause"));
    m_pause->setCheckable(true);
    m_pause->setToolTip(tr("Freeze the view; data keeps arriving (Space)"));
    toolbar->addWidget(m_pause);
    toolbar->addSeparator();
    m_group = new QCheckBox(tr("group by prefix"), this);
    m_group->setToolTip(tr("Add a merged row for each name prefix shared by several operations (api.*)"));
    toolbar->addWidget(m_group);
    m_filter = new QLineEdit(this);
    m_filter->setPlaceholderText(tr("Filter operations (api.*)  Ctrl+F"));
    m_filter->setClearButtonEnabled(true);
    m_filter->setMaximumWidth(m_filter->fontMetrics().averageCharWidth() * 36);
    toolbar->addWidget(m_filter);
    toolbar->addSeparator();
    // The View menu has the same action (buildMenus()).
    m_profileBesideAction = new QAction(tr("Profile beside charts"), this);
    m_profileBesideAction->setCheckable(true);
    m_profileBesideAction->setShortcut(QKeySequence(tr("Ctrl+Shift+P")));
    m_profileBesideAction->setToolTip(
        tr("Show the CPU profile beside the charts, or each full width in its own tab (Ctrl+Shift+P)"));
    connect(m_profileBesideAction, &QAction::toggled, this, &MainWindow::setProfileBeside);
    toolbar->addAction(m_profileBesideAction);
}

QWidget* MainWindow::buildAlertsBox()
{
    m_alertsProxy = new AlertsFilterModel(this);
    m_alertsProxy->setSourceModel(m_alerts);
    m_alertView = makeTable(this);
    m_alertView->setModel(m_alertsProxy);
    m_alertView->setSortingEnabled(true);
    m_alertView->sortByColumn(AlertsModel::Time, Qt::DescendingOrder);
    m_alertColumns = new TableColumns(m_alertView, AlertsModel::Details);

    auto* header = new QHBoxLayout;
    m_alertsTitle = makeSectionLabel(tr("Alerts"), this);
    header->addWidget(m_alertsTitle);
    header->addStretch();
    m_alertKind = new QComboBox(this);
    m_alertKind->addItem(tr("All kinds"), int(AlertsFilterModel::Kinds::All));
    m_alertKind->addItem(tr("Slow and very slow"), int(AlertsFilterModel::Kinds::Slow));
    m_alertKind->addItem(tr("Very slow"), int(AlertsFilterModel::Kinds::VerySlow));
    m_alertKind->addItem(tr("Budgets"), int(AlertsFilterModel::Kinds::Budgets));
    m_alertProcess = new QComboBox(this);
    m_alertProcess->addItem(tr("All processes"), QString());
    m_alertProcess->setSizeAdjustPolicy(QComboBox::AdjustToContents);
    m_alertOperation = new QLineEdit(this);
    m_alertOperation->setPlaceholderText(tr("Operation (db.*)"));
    m_alertOperation->setClearButtonEnabled(true);
    m_alertOperation->setMaximumWidth(m_alertOperation->fontMetrics().averageCharWidth() * 24);
    auto* clear = new QPushButton(tr("Clear"), this);
    for (QWidget* w : std::initializer_list<QWidget*> { m_alertKind, m_alertProcess, m_alertOperation, clear })
        header->addWidget(w);
    connect(clear, &QPushButton::clicked, m_alerts, &AlertsModel::clear);
    connect(m_alertKind, &QComboBox::currentIndexChanged, this, [this] {
        m_alertsProxy->setKinds(AlertsFilterModel::Kinds(m_alertKind->currentData().toInt()));
        updateAlertsTitle();
    });
    connect(m_alertProcess, &QComboBox::currentIndexChanged, this, [this] {
        m_alertsProxy->setProcess(m_alertProcess->currentData().toString());
        updateAlertsTitle();
    });
    connect(m_alertOperation, &QLineEdit::textChanged, this, [this](const QString& text) {
        m_alertsProxy->setOperation(text);
        updateAlertsTitle();
    });
    return box(this, header, m_alertView);
}

void MainWindow::buildUi()
{
    buildToolbar();

    m_processesProxy->setSourceModel(m_processes);
    m_processesProxy->setSortRole(ProcessesModel::SortRole);
    m_operationsProxy->setSourceModel(m_operations);

    m_processView = makeTable(this);
    m_processView->setModel(m_processesProxy);
    m_processView->setSortingEnabled(true);
    m_processView->sortByColumn(-1, Qt::AscendingOrder);
    m_processColumns = new TableColumns(m_processView, ProcessesModel::Name);
    m_operationView = makeTable(this);
    m_operationView->setModel(m_operationsProxy);
    m_operationView->setSelectionMode(QAbstractItemView::ExtendedSelection); // several: compared on one chart
    m_operationView->setSortingEnabled(true);
    // Where time goes first: the operation that costs the most is on top.
    m_operationView->sortByColumn(OperationsModel::TotalTime, Qt::DescendingOrder);
    m_operationColumns = new TableColumns(m_operationView, OperationsModel::Operation);
    // Less used columns start hidden (the header's menu shows them), so the percentiles fit.
    // The CPU column too, until a profiled client gives it a value (apply() shows it then, once).
    for (int c : { OperationsModel::Errors, OperationsModel::Min, OperationsModel::Mean, OperationsModel::P90,
             OperationsModel::Cpu })
        m_operationView->horizontalHeader()->setSectionHidden(c, true);
    addColumnMenu(m_operationView);
    addColumnMenu(m_processView);
    m_operationView->setContextMenuPolicy(Qt::CustomContextMenu);
    connect(m_operationView, &QWidget::customContextMenuRequested, this, [this](const QPoint& pos) {
        const QModelIndex index = m_operationView->indexAt(pos);
        if (!index.isValid())
            return;
        if (!m_operationView->selectionModel()->isRowSelected(index.row(), {}))
            m_operationView->selectRow(index.row());
        QMenu* menu = operationMenu(index.row());
        menu->exec(m_operationView->viewport()->mapToGlobal(pos));
        menu->deleteLater();
    });
    m_charts = new ChartsPanel(this);

    auto* processHeader = new QHBoxLayout;
    processHeader->addWidget(makeSectionLabel(tr("Processes"), this));
    processHeader->addStretch();
    auto* allProcesses = new QPushButton(tr("All processes"), this);
    allProcesses->setToolTip(tr("Selecting a process shows only its operations; this shows them all again"));
    processHeader->addWidget(allProcesses);
    QWidget* processBox = box(this, processHeader, m_processView);
    connect(allProcesses, &QPushButton::clicked, this, [this] { selectProcess(0); });
    auto* operationHeader = new QHBoxLayout;
    operationHeader->addWidget(makeSectionLabel(tr("Operations"), this));
    m_rangeLabel = new QLabel(this);
    operationHeader->addWidget(m_rangeLabel, 1);
    m_rangeReset = new QPushButton(tr("Back to the window"), this);
    m_rangeReset->setToolTip(tr("Statistics over the window chosen in the toolbar again, charts live"));
    m_rangeReset->hide();
    operationHeader->addWidget(m_rangeReset);
    connect(m_rangeReset, &QPushButton::clicked, this, [this] { setStatisticsRange(0, 0); });
    QWidget* operationBox = box(this, operationHeader, m_operationView);
    QWidget* alertBox = buildAlertsBox();

    // The charts are one tab among peers: another view (a profile) is one addView() away. The CPU
    // profile is a main view too: a tab of its own, or beside the charts (setProfileBeside()).
    m_views = new QTabWidget(this);
    m_views->setDocumentMode(true);
    m_views->addTab(m_charts, tr("Charts"));
    m_profile = new ProfilePanel(this);
    m_views->addTab(m_profile, tr("CPU profile"));
    m_memory = new MemoryPanel(this);
    m_views->addTab(m_memory, tr("Memory"));
    m_viewsSplitter = new QSplitter(Qt::Horizontal, this);
    m_viewsSplitter->setChildrenCollapsible(false);
    m_viewsSplitter->setStretchFactor(0, 1);
    m_viewsSplitter->addWidget(m_views);

    // The tables in one column, each as tall as its rows (fitTableHeights()), the alerts under
    // them; the views get the window's whole height and most of its width.
    m_tablesSplitter = new QSplitter(Qt::Vertical, this);
    m_tablesSplitter->addWidget(processBox);
    m_tablesSplitter->addWidget(operationBox);
    m_tablesSplitter->addWidget(alertBox);
    m_tablesSplitter->setStretchFactor(0, 0);
    m_tablesSplitter->setStretchFactor(1, 3);
    m_tablesSplitter->setStretchFactor(2, 1);
    m_tablesSplitter->setChildrenCollapsible(false);
    m_mainSplitter = new QSplitter(Qt::Horizontal, this);
    m_mainSplitter->addWidget(m_tablesSplitter);
    m_mainSplitter->addWidget(m_viewsSplitter);
    m_mainSplitter->setStretchFactor(0, 2);
    m_mainSplitter->setStretchFactor(1, 3);
    m_mainSplitter->setChildrenCollapsible(false);
    setCentralWidget(m_mainSplitter);
    for (QTableView* view : { m_processView, m_operationView }) {
        QAbstractItemModel* model = view->model();
        for (auto signal : { &QAbstractItemModel::rowsInserted, &QAbstractItemModel::rowsRemoved })
            connect(model, signal, this, &MainWindow::fitTableHeights);
        connect(model, &QAbstractItemModel::modelReset, this, &MainWindow::fitTableHeights);
        connect(model, &QAbstractItemModel::layoutChanged, this, &MainWindow::fitTableHeights);
    }
    fitTableHeights();

    buildStatusBar();
    connectSelection();
}

void MainWindow::fitTableHeights()
{
    // Never a screen of empty rows beside squeezed charts: a table is at most as tall as its rows
    // (at least a few; the processes at most eight, then they scroll), and what it does not need
    // goes to the alerts under them.
    const auto fit = [](QTableView* view, int minRows, int maxRows) {
        QWidget* box = view->parentWidget();
        const int rows = std::clamp(view->model() ? view->model()->rowCount() : 0, minRows, maxRows);
        int height = view->horizontalHeader()->sizeHint().height() + rows * view->verticalHeader()->defaultSectionSize()
            + 2 * view->frameWidth();
        if (view->horizontalScrollBar()->maximum() > 0)
            height += view->horizontalScrollBar()->sizeHint().height();
        height += box->layout()->itemAt(0)->sizeHint().height();
        const bool changed = box->maximumHeight() != height;
        box->setMaximumHeight(height);
        return changed;
    };
    const bool processes = fit(m_processView, 2, 8);
    const bool operations = fit(m_operationView, 4, 1000);
    if (processes || operations) {
        // QSplitter keeps a slot's size when its widget's maximum shrinks (a blank gap): share
        // the height again, the alerts keeping a few rows at least.
        const QList<int> sizes = m_tablesSplitter->sizes();
        const int total = sizes.value(0) + sizes.value(1) + sizes.value(2);
        if (total > 0) {
            const int alertsMin = m_alertView->verticalHeader()->defaultSectionSize() * 5;
            const int first = std::min(sizes.value(0) > 0 ? m_processView->parentWidget()->maximumHeight() : 0, total);
            const int second = std::clamp(
                m_operationView->parentWidget()->maximumHeight(), 0, std::max(0, total - first - alertsMin));
            m_tablesSplitter->setSizes({ first, second, total - first - second });
        }
    }
    if (m_autoSplit && m_operationView->model()->rowCount() > 0) {
        m_autoSplit = false;
        // After this refresh has fitted the columns to the rows.
        QTimer::singleShot(0, this, &MainWindow::splitForColumns);
    }
}

void MainWindow::splitForColumns()
{
    // The views get most of the width; the tables take what their columns need, up to 45% of it
    // (48% in a narrow window, where the numbers need it more but the charts still get the larger
    // part; 35% when the profile is beside the charts, two views to share the rest). Where the
    // columns need more,
    // the less used ones are hidden, most specialised first (the header's menu shows them
    // again), so that the percentiles are read without scrolling sideways.
    const int total = m_mainSplitter->width() - m_mainSplitter->handleWidth();
    if (total <= 0)
        return;
    const int share = profileBeside() ? 35 : total < 1100 ? 48 : 45;
    const int room = std::min(total * share / 100, total - m_viewsSplitter->minimumSizeHint().width());
    const int operations = hideColumnsToFit(m_operationView, m_operationColumns, room);
    const int processes = hideColumnsToFit(m_processView, m_processColumns, room);
    const int tables = std::min(std::max(operations, processes), room);
    m_mainSplitter->setSizes({ tables, total - tables });
}

int MainWindow::hideColumnsToFit(QTableView* view, TableColumns* columns, int width)
{
    // The most specialised first.
    static const std::vector<int> Operations = { OperationsModel::P999, OperationsModel::Count, OperationsModel::P95,
        OperationsModel::ErrorRate, OperationsModel::Slow, OperationsModel::Max };
    static const std::vector<int> Processes
        = { ProcessesModel::Operations, ProcessesModel::Drops, ProcessesModel::State, ProcessesModel::Rate };
    for (int c : view == m_operationView ? Operations : Processes) {
        if (columns->neededWidth() <= width)
            break;
        view->horizontalHeader()->setSectionHidden(c, true);
    }
    return columns->neededWidth();
}

bool MainWindow::profileBeside() const
{
    return m_viewsSplitter->indexOf(m_profile) >= 0;
}

void MainWindow::setProfileBeside(bool beside)
{
    if (beside != profileBeside()) {
        if (beside) {
            m_views->removeTab(m_views->indexOf(m_profile));
            m_viewsSplitter->addWidget(m_profile);
            m_profile->show();
            // Halves of the room the views have (once laid out: before show() it is not known).
            QTimer::singleShot(0, m_viewsSplitter, [splitter = m_viewsSplitter] {
                const int half = std::max(1, splitter->width() / 2);
                splitter->setSizes({ half, half });
            });
        } else {
            m_views->insertTab(1, m_profile, tr("CPU profile"));
        }
    }
    if (m_profileBesideAction && m_profileBesideAction->isChecked() != beside)
        m_profileBesideAction->setChecked(beside);
}

void MainWindow::showProfile()
{
    if (!profileBeside())
        m_views->setCurrentWidget(m_profile);
}

void MainWindow::showMemory()
{
    m_views->setCurrentWidget(m_memory);
}

void MainWindow::connectSelection()
{
    connect(m_window, &QComboBox::currentIndexChanged, this, &MainWindow::requestChanged);
    connect(m_range, &QComboBox::currentIndexChanged, this, &MainWindow::requestChanged);
    connect(m_log, &QCheckBox::toggled, m_charts, &ChartsPanel::setLogScale);
    connect(m_pause, &QToolButton::toggled, this, &MainWindow::setPaused);
    connect(m_group, &QCheckBox::toggled, this, &MainWindow::setGroupByPrefix);
    connect(m_filter, &QLineEdit::textChanged, m_operationsProxy, &OperationsFilterModel::setNameFilter);
    connect(m_charts, &ChartsPanel::rangeChanged, this, &MainWindow::setStatisticsRange);
    connect(m_charts, &ChartsPanel::comparePercentileChanged, this, &MainWindow::requestChanged);
    connect(m_processView->selectionModel(), &QItemSelectionModel::currentRowChanged, this,
        &MainWindow::onProcessSelectionChanged);
    connect(m_operationView->selectionModel(), &QItemSelectionModel::selectionChanged, this,
        [this] { onOperationSelectionChanged(); });
}

} // namespace perfdash
