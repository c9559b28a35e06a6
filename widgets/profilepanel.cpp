// SPDX-License-Identifier: GPL-3.0-or-later
#include "widgets/profilepanel.h"
#include "widgets/tablecolumns.h"

#include "capture/captureprofiles.h"
#include "core/errors.h"
#include "models/callercalleemodel.h"
#include "models/calltreemodel.h"
#include "models/format.h"
#include "models/profilediffmodel.h"
#include "models/symbolprettifier.h"
#include "models/topfunctionsmodel.h"
#include "profiler/foldedexport.h"
#include "profiler/profiler.h"
#include "widgets/flamegraphwidget.h"
#include "widgets/mainwindowhelpers.h"
#include "widgets/symboldelegate.h"

#include <QApplication>
#include <QClipboard>
#include <QComboBox>
#include <QCoreApplication>
#include <QFileDialog>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QMenu>
#include <QMessageBox>
#include <QPushButton>
#include <QScrollArea>
#include <QScrollBar>
#include <QSignalBlocker>
#include <QSortFilterProxyModel>
#include <QSplitter>
#include <QStackedWidget>
#include <QTabWidget>
#include <QTableView>
#include <QThreadPool>
#include <QToolBar>
#include <QToolButton>
#include <QTreeView>
#include <QVBoxLayout>

#include <algorithm>
#include <tuple>

namespace perfdash {

namespace {

/// A profile's whole: its bytes (a heap's) or its samples.
QString totalText(const ProfileSnapshot& s)
{
    return hasProfileUnit(s)
        ? formatProfileAmount(s, s.totalSamples())
        : QCoreApplication::translate("perfdash::ProfilePanel", "%L1 samples").arg(s.totalSamples());
}

/// The number columns as wide as a large count (never measured row by row: a big tree would
/// hold the GUI thread), the function's name stretched over the rest.
void fixNumberColumns(QHeaderView* header, int nameColumn)
{
    header->setStretchLastSection(false);
    header->setMinimumSectionSize(header->fontMetrics().horizontalAdvance(QStringLiteral("100.0%")) + 14);
    const int numbers = header->fontMetrics().horizontalAdvance(QStringLiteral("9999.9 ms")) + 12;
    for (int column = 0; column < header->count(); ++column) {
        if (column != nameColumn) {
            header->setSectionResizeMode(column, QHeaderView::Interactive);
            header->resizeSection(column, numbers);
        }
    }
    header->setSectionResizeMode(nameColumn, QHeaderView::Stretch);
}

} // namespace

ProfilePanel::ProfilePanel(QWidget* parent)
    : QWidget(parent)
    , m_status(new QLabel(this))
    , m_start(new QPushButton(tr("Profile"), this))
    , m_scopeBox(new QComboBox(this))
    , m_range(new QComboBox(this))
    , m_threads(new QComboBox(this))
    , m_search(new QLineEdit(this))
    , m_matched(new QLabel(this))
    , m_flame(new FlameGraphWidget(this))
    , m_top(new TopFunctionsModel(this))
    , m_topProxy(new QSortFilterProxyModel(this))
    , m_topView(new QTableView(this))
    , m_diff(new ProfileDiffModel(this))
    , m_diffProxy(new QSortFilterProxyModel(this))
    , m_diffView(new QTableView(this))
    , m_tables(new QStackedWidget(this))
    , m_viewTabs(new QTabWidget(this))
    , m_flameScroll(new QScrollArea(this))
    , m_topDownModel(new CallTreeModel(this))
    , m_bottomUpModel(new CallTreeModel(this))
    , m_topDownView(new QTreeView(this))
    , m_bottomUpView(new QTreeView(this))
    , m_ccFunctions(new CallerCalleeModel(CallerCalleeModel::Kind::Functions, this))
    , m_callers(new CallerCalleeModel(CallerCalleeModel::Kind::Callers, this))
    , m_callees(new CallerCalleeModel(CallerCalleeModel::Kind::Callees, this))
    , m_ccFunctionsProxy(new QSortFilterProxyModel(this))
    , m_ccFunctionsView(new QTableView(this))
    , m_markButton(new QToolButton(this))
    , m_markRow(new QWidget(this))
    , m_markLine(new QLabel(m_markRow))
    , m_chooseButton(new QToolButton(m_markRow))
    , m_clearMarkButton(new QToolButton(m_markRow))
{
    m_status->setWordWrap(true);
    m_status->setTextInteractionFlags(Qt::TextSelectableByMouse);
    // The status can be long (what the profiler could not see): it wraps, and never widens the panel.
    m_status->setSizePolicy(QSizePolicy::Ignored, QSizePolicy::Preferred);
    m_start->setToolTip(tr("Sample this process's CPU (perf_event_open, user space, whole stacks)"));
    m_range->addItem(tr("Last 10 s"), 10);
    m_range->addItem(tr("Last minute"), 60);
    m_range->addItem(tr("Session"), 0);
    m_range->setCurrentIndex(2);
    m_threads->addItem(tr("All threads"), qint64(0));
    m_threads->setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon);
    m_threads->setMinimumContentsLength(8);
    m_search->setPlaceholderText(tr("Search functions"));
    m_search->setClearButtonEnabled(true);
    // A sane width however narrow the panel; typing never changes what the row asks for (the
    // match label has a fixed width), so the window's splitters stay where the user put them.
    m_search->setMinimumWidth(m_search->fontMetrics().averageCharWidth() * 14);
    m_search->setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Fixed);
    m_matched->setFixedWidth(m_matched->fontMetrics().horizontalAdvance(QStringLiteral("100.0%")) + 6);
    m_matched->setToolTip(tr("Matched: the share of the samples (at the zoom) under frames that match the search"));

    m_scopeBox->setToolTip(tr("What the flame graph counts: the whole process, or the instances of the operation "
                              "selected in the Operations table (all, slow, typical, slow against typical, off CPU)"));
    // Operation names are long: the box does not widen the tab (and squeeze the tables beside it).
    m_scopeBox->setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon);
    m_scopeBox->setMinimumContentsLength(16);
    updateScopes();

    auto* controls = new QHBoxLayout;
    controls->addWidget(m_start);
    controls->addWidget(m_range);
    controls->addWidget(m_threads);
    controls->addWidget(m_search, 1);
    controls->addWidget(m_matched);

    // What is counted, on a line of its own: the scope's box takes the width (operation names are
    // long), and the toggles below keep theirs (sharing one line, they went to the tool bar's
    // extension menu in a narrow panel).
    m_scopeBar = new QToolBar(this);
    m_scopeBox->setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Fixed);
    m_scopeBar->addWidget(new QLabel(tr("Scope "), m_scopeBar));
    m_scopeBar->addWidget(m_scopeBox);
    // The view's toggles: a tool bar, whose overflow goes to its extension menu when narrow.
    auto* tools = new QToolBar(this);
    tools->setToolButtonStyle(Qt::ToolButtonTextOnly);
    // Not "Bottom-up": that is the tab of the bottom-up tree, a different view.
    m_bottomUpAction = tools->addAction(tr("Icicle"));
    m_bottomUpAction->setCheckable(true);
    m_bottomUpAction->setToolTip(tr("Flame graph of callers (icicle): the functions the samples were taken in at "
                                    "the top, who called them below"));
    m_collapseAction = tools->addAction(tr("Collapse recursion"));
    m_collapseAction->setCheckable(true);
    m_collapseAction->setToolTip(tr("Merge a function's calls of itself into the outer call (every view)"));
    auto* markMenu = new QMenu(m_markButton);
    markMenu->addAction(tr("Set mark now"), this, &ProfilePanel::setMark);
    m_compareCaptureAction
        = markMenu->addAction(tr("Compare with a capture\u2026"), this, &ProfilePanel::compareWithCaptureWithDialog);
    m_compareCaptureAction->setToolTip(tr("Take this process's profile in a capture file (a recorded run) as the "
                                          "mark, and colour the profile now by what changed against it"));
    markMenu->setToolTipsVisible(true);
    markMenu->addAction(tr("Clear mark"), this, &ProfilePanel::clearMark);
    m_markButton->setText(tr("Mark"));
    m_markButton->setMenu(markMenu);
    m_markButton->setPopupMode(QToolButton::MenuButtonPopup);
    m_markButton->setToolTip(tr("Keep the profile as it is now, to see what changed since"));
    connect(m_markButton, &QToolButton::clicked, this, &ProfilePanel::setMark);
    m_samplingActions = { tools->addWidget(m_markButton) }; // a heap profile has a mark of its own
    m_compareAction = tools->addAction(tr("Compare with mark"));
    m_samplingActions.append(m_compareAction);
    m_compareAction->setCheckable(true);
    m_compareAction->setToolTip(tr("Colour the flame graph by the change against the mark (red: a larger share "
                                   "now, blue: smaller) and list the functions' shares in both"));
    m_unfocusAction = tools->addAction(QString());
    m_unfocusAction->setToolTip(tr("Show every function again"));
    tools->addSeparator();
    QAction* zoomOut = tools->addAction(tr("Reset zoom"));
    zoomOut->setToolTip(tr("Zoom the flame graph out (Esc; Backspace: one level)"));

    // What the mark is (or why a capture could not be compared with), and the way back.
    m_markLine->setWordWrap(true);
    m_markLine->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_markLine->setSizePolicy(QSizePolicy::Ignored, QSizePolicy::Preferred); // wraps, never widens the panel
    m_chooseButton->setText(tr("Choose a process"));
    m_chooseButton->setToolTip(tr("The processes the capture has a profile of: compare with one of them"));
    m_chooseButton->setPopupMode(QToolButton::InstantPopup);
    m_chooseButton->setMenu(new QMenu(m_chooseButton));
    m_clearMarkButton->setText(tr("Clear mark"));
    m_clearMarkButton->setToolTip(tr("Forget the mark: the profile alone again"));
    connect(m_clearMarkButton, &QToolButton::clicked, this, &ProfilePanel::clearMark);
    auto* markLayout = new QHBoxLayout(m_markRow);
    markLayout->setContentsMargins(4, 0, 4, 0);
    markLayout->addWidget(m_markLine, 1);
    markLayout->addWidget(m_chooseButton);
    markLayout->addWidget(m_clearMarkButton);

    m_topProxy->setSourceModel(m_top);
    m_topProxy->setSortRole(TopFunctionsModel::SortRole);
    m_topProxy->setFilterKeyColumn(TopFunctionsModel::Function);
    m_topProxy->setFilterCaseSensitivity(Qt::CaseInsensitive);
    m_topView->setModel(m_topProxy);
    m_topView->setSortingEnabled(true);
    m_topView->sortByColumn(TopFunctionsModel::Self, Qt::DescendingOrder);
    m_topView->verticalHeader()->hide();
    m_topView->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_topView->setToolTip(tr("The functions of the flame graph's zoom; double click: zoom into the heaviest call"));
    // Numbers fit their values, the function's name takes the rest, and 48 characters of it at
    // least in a narrow tab (C++ names are long; the rest of the row scrolls); the callers (a list
    // of names, in full in the tooltip), the module and the location are cut short, or they would
    // take the room the function's name is read in.
    m_topColumns = new TableColumns(m_topView, TopFunctionsModel::Function);
    m_topColumns->setNameLimit(48);
    m_topColumns->setMaximumChars(TopFunctionsModel::Callers, 32);
    m_topColumns->setMaximumChars(TopFunctionsModel::Module, 20);
    m_topColumns->setMaximumChars(TopFunctionsModel::Location, 20);
    m_topView->setItemDelegateForColumn(TopFunctionsModel::Function, new SymbolDelegate(m_topView));

    // Slow against typical: each function's share of the samples in both, largest change first.
    m_diff->setLabels(tr("typical"), tr("slow"));
    m_diffProxy->setSourceModel(m_diff);
    m_diffProxy->setSortRole(ProfileDiffModel::SortRole);
    m_diffView->setModel(m_diffProxy);
    m_diffView->setSortingEnabled(true);
    m_diffView->sortByColumn(-1, Qt::AscendingOrder);
    m_diffView->verticalHeader()->hide();
    m_diffView->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_diffView->hideColumn(ProfileDiffModel::Process); // one process
    m_diffView->horizontalHeader()->setSectionResizeMode(ProfileDiffModel::Function, QHeaderView::Stretch);
    m_diffView->setItemDelegateForColumn(ProfileDiffModel::Function, new SymbolDelegate(m_diffView));
    m_tables->addWidget(m_topView);
    m_tables->addWidget(m_diffView);

    // The flame graph is as tall as it is deep: deeper than the room it has, it scrolls.
    m_flameScroll->setWidget(m_flame);
    m_flameScroll->setWidgetResizable(true);
    m_flameScroll->setFrameShape(QFrame::NoFrame);
    m_flameScroll->setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
    QScrollBar* bar = m_flameScroll->verticalScrollBar();
    // The root stays in sight (at the bottom of a flame graph, the top of an icicle) unless the user scrolled away.
    connect(bar, &QScrollBar::rangeChanged, this, [this, bar] {
        if (m_flameAtEnd)
            bar->setValue(m_flame->isInverted() ? bar->minimum() : bar->maximum());
    });
    connect(bar, &QScrollBar::valueChanged, this,
        [this, bar](int value) { m_flameAtEnd = value == (m_flame->isInverted() ? bar->minimum() : bar->maximum()); });

    auto* flameSplitter = new QSplitter(Qt::Vertical, this);
    flameSplitter->addWidget(m_flameScroll);
    flameSplitter->addWidget(m_tables);
    flameSplitter->setStretchFactor(0, 3);
    flameSplitter->setStretchFactor(1, 2);
    flameSplitter->setChildrenCollapsible(false);

    for (auto [view, model] :
        { std::pair { m_topDownView, m_topDownModel }, std::pair { m_bottomUpView, m_bottomUpModel } }) {
        // The search keeps the paths to the functions that match (a row stays when it or one of
        // its descendants matches), by the full name as the flame graph's search does.
        auto* proxy = new QSortFilterProxyModel(view);
        proxy->setSourceModel(model);
        proxy->setRecursiveFilteringEnabled(true);
        proxy->setFilterKeyColumn(CallTreeModel::Function);
        proxy->setFilterRole(CallTreeModel::FullNameRole);
        proxy->setFilterCaseSensitivity(Qt::CaseInsensitive);
        view->setModel(proxy);
        view->setUniformRowHeights(true);
        view->setItemDelegateForColumn(CallTreeModel::Function, new SymbolDelegate(view));
        view->setContextMenuPolicy(Qt::CustomContextMenu);
        fixNumberColumns(view->header(), CallTreeModel::Function);
        view->header()->resizeSection(CallTreeModel::Module, view->fontMetrics().averageCharWidth() * 18);
        view->setToolTip(QString());
        connect(view, &QWidget::customContextMenuRequested, this, [this, view](const QPoint& at) {
            const QModelIndex index = view->indexAt(at);
            if (index.isValid())
                functionMenu(index.data(CallTreeModel::FullNameRole).toString(), view->viewport()->mapToGlobal(at));
        });
        connect(view, &QTreeView::doubleClicked, this,
            [this](const QModelIndex& index) { showCallers(index.data(CallTreeModel::FullNameRole).toString()); });
    }
    // A bottom-up tree's "self" is its count at the top and nothing below: one number column says it.
    m_bottomUpView->setColumnHidden(CallTreeModel::Self, true);
    m_bottomUpView->setColumnHidden(CallTreeModel::SelfPercent, true);
    // What the user opens and closes is kept across snapshots; what a search opens is not.
    const auto remember = [this](QTreeView* view, CallTreeModel* model, QSet<QString>* expanded) {
        const auto pathOf = [model](const QModelIndex& index) {
            return model->tree()->path(model->nodeOf(treeSourceIndex(index))).join(QChar(0x1f));
        };
        connect(view, &QTreeView::expanded, view, [this, model, expanded, pathOf](const QModelIndex& index) {
            if (model->tree() && !m_searchingTrees)
                expanded->insert(pathOf(index));
        });
        connect(view, &QTreeView::collapsed, view, [this, model, expanded, pathOf](const QModelIndex& index) {
            if (model->tree() && !m_searchingTrees)
                expanded->remove(pathOf(index));
        });
    };
    remember(m_topDownView, m_topDownModel, &m_expandedTopDown);
    remember(m_bottomUpView, m_bottomUpModel, &m_expandedBottomUp);

    // Caller/callee: every function on the left, the callers and callees of the selected one on the right.
    m_ccFunctionsProxy->setSourceModel(m_ccFunctions);
    m_ccFunctionsProxy->setSortRole(CallerCalleeModel::SortRole);
    m_ccFunctionsProxy->setFilterKeyColumn(CallerCalleeModel::Function);
    m_ccFunctionsProxy->setFilterCaseSensitivity(Qt::CaseInsensitive);
    m_ccFunctionsView->setModel(m_ccFunctionsProxy);
    m_ccFunctionsView->setSortingEnabled(true);
    m_ccFunctionsView->sortByColumn(CallerCalleeModel::Samples, Qt::DescendingOrder);
    m_ccFunctionsView->verticalHeader()->hide();
    m_ccFunctionsView->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_ccFunctionsView->setSelectionMode(QAbstractItemView::SingleSelection);
    m_ccFunctionsView->setItemDelegateForColumn(CallerCalleeModel::Function, new SymbolDelegate(m_ccFunctionsView));
    m_ccFunctionsView->setWordWrap(false);
    fixNumberColumns(m_ccFunctionsView->horizontalHeader(), CallerCalleeModel::Function);
    m_ccFunctionsView->setContextMenuPolicy(Qt::CustomContextMenu);
    connect(m_ccFunctionsView, &QWidget::customContextMenuRequested, this, [this](const QPoint& at) {
        const QModelIndex index = m_ccFunctionsView->indexAt(at);
        if (index.isValid())
            functionMenu(
                index.data(CallerCalleeModel::FullNameRole).toString(), m_ccFunctionsView->viewport()->mapToGlobal(at));
    });
    connect(m_ccFunctionsView->selectionModel(), &QItemSelectionModel::currentRowChanged, this,
        [this](const QModelIndex& current) {
            if (!current.isValid())
                return;
            m_callerFunction = current.data(CallerCalleeModel::FullNameRole).toString();
            m_callerPicked = false;
            m_callers->setFunction(m_callerFunction);
            m_callees->setFunction(m_callerFunction);
        });
    auto* ccRight = m_ccRight = new QSplitter(Qt::Vertical, this);
    for (CallerCalleeModel* model : { m_callers, m_callees }) {
        auto* proxy = new QSortFilterProxyModel(this);
        proxy->setSourceModel(model);
        proxy->setSortRole(CallerCalleeModel::SortRole);
        auto* view = new QTableView(this);
        view->setModel(proxy);
        view->setSortingEnabled(true);
        view->sortByColumn(CallerCalleeModel::Samples, Qt::DescendingOrder);
        view->verticalHeader()->hide();
        view->setSelectionBehavior(QAbstractItemView::SelectRows);
        view->setItemDelegateForColumn(CallerCalleeModel::Function, new SymbolDelegate(view));
        view->setWordWrap(false);
        fixNumberColumns(view->horizontalHeader(), CallerCalleeModel::Function);
        view->setToolTip(tr("Double click: that function's callers and callees"));
        // Walking the graph: a caller or callee becomes the function shown.
        connect(view, &QTableView::doubleClicked, this, [this](const QModelIndex& index) {
            if (index.data(CallerCalleeModel::FunctionRole).toULongLong() != FunctionCallers::kRoot)
                showCallers(index.data(CallerCalleeModel::FullNameRole).toString());
        });
        ccRight->addWidget(view);
    }
    auto* ccSplitter = m_ccSplitter = new QSplitter(Qt::Horizontal, this);
    ccSplitter->addWidget(m_ccFunctionsView);
    ccSplitter->addWidget(ccRight);
    ccSplitter->setStretchFactor(0, 3); // the list of functions is read by name: it gets the room
    ccSplitter->setStretchFactor(1, 2);

    m_viewTabs->setDocumentMode(true);
    m_viewTabs->addTab(flameSplitter, tr("Flame graph"));
    m_viewTabs->addTab(m_topDownView, tr("Top-down"));
    m_viewTabs->addTab(m_bottomUpView, tr("Bottom-up"));
    m_viewTabs->addTab(ccSplitter, tr("Caller/callee"));
    m_viewTabs->setTabToolTip(0, tr("Flame graph: callees above callers, widths by samples; click to zoom"));
    m_viewTabs->setTabToolTip(1, tr("Top-down tree: callees below their callers, inclusive and self samples"));
    m_viewTabs->setTabToolTip(2, tr("Bottom-up tree: the functions samples were taken in, their callers below"));
    m_viewTabs->setTabToolTip(3, tr("Callers and callees of one function"));

    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->setSpacing(2);
    layout->addLayout(controls);
    layout->addWidget(m_scopeBar);
    layout->addWidget(tools);
    layout->addWidget(m_markRow);
    layout->addWidget(m_status);
    layout->addWidget(m_viewTabs, 1);

    connect(m_start, &QPushButton::clicked, this, &ProfilePanel::startProfiling);
    connect(m_scopeBox, &QComboBox::activated, this, [this] { setScope(Scope(m_scopeBox->currentData().toInt())); });
    connect(m_range, &QComboBox::currentIndexChanged, this, [this] { setTimeRange(m_range->currentData().toInt()); });
    connect(
        m_threads, &QComboBox::currentIndexChanged, this, [this] { setThread(m_threads->currentData().toLongLong()); });
    connect(m_search, &QLineEdit::textChanged, m_flame, &FlameGraphWidget::setSearch);
    connect(m_search, &QLineEdit::textChanged, this, [this](const QString& text) {
        m_topProxy->setFilterFixedString(text.trimmed());
        m_ccFunctionsProxy->setFilterFixedString(text.trimmed());
        searchTrees();
    });
    connect(m_flame, &FlameGraphWidget::searchMatched, this, [this](quint64 matched, quint64 total) {
        m_matched->setText(m_search->text().trimmed().isEmpty() || total == 0
                ? QString()
                : tr("%1%").arg(100.0 * double(matched) / double(total), 0, 'f', 1));
    });
    connect(zoomOut, &QAction::triggered, m_flame, &FlameGraphWidget::resetZoom);
    connect(m_bottomUpAction, &QAction::toggled, this, &ProfilePanel::setBottomUpFlameGraph);
    connect(m_collapseAction, &QAction::toggled, this, &ProfilePanel::setCollapseRecursion);
    connect(m_compareAction, &QAction::toggled, this, &ProfilePanel::setCompareWithMark);
    connect(m_unfocusAction, &QAction::triggered, this, [this] { setFocusFunction({}); });
    connect(m_viewTabs, &QTabWidget::currentChanged, this, [this] { refresh(); });
    connect(m_flame, &FlameGraphWidget::focusRequested, this, &ProfilePanel::setFocusFunction);
    connect(m_flame, &FlameGraphWidget::callersRequested, this, &ProfilePanel::showCallers);
    // The top functions are those of the flame graph's zoom.
    connect(m_flame, &FlameGraphWidget::zoomChanged, this, [this](std::uint32_t node) {
        if (!m_bottomUpFlame && m_flame->snapshot() == m_snapshot) {
            m_top->setSnapshot(m_snapshot, node);
            m_topColumns->fit();
        }
    });
    // A double click on a function zooms the flame graph into its heaviest frame.
    connect(m_topView, &QTableView::doubleClicked, this, [this](const QModelIndex& index) {
        const FunctionCost* cost = m_top->costAt(m_topProxy->mapToSource(index).row());
        const ProfileSnapshotPtr shown = m_flame->snapshot();
        if (!cost || !shown || !m_snapshot)
            return;
        const QString& name = m_snapshot->functions[cost->function].name;
        std::uint32_t best = 0;
        for (std::uint32_t i = 1; i < shown->nodes.size(); ++i) {
            if (shown->functions[shown->nodes[i].function].name == name
                && shown->nodes[i].total > shown->nodes[best].total)
                best = i;
        }
        m_flame->zoomTo(best);
    });
    m_timer.setInterval(500);
    connect(&m_timer, &QTimer::timeout, this, &ProfilePanel::refresh);
    m_timer.start();
    updateToggles();
    updateStatus();
    updateMarkLine();
}

void ProfilePanel::resizeEvent(QResizeEvent* event)
{
    QWidget::resizeEvent(event);
    // Beside the charts the panel is narrow: the functions above their callers and callees, those
    // two side by side; with the room of a main view, the three side by side as Hotspot has them.
    const bool wide = width() >= fontMetrics().averageCharWidth() * 120;
    m_ccSplitter->setOrientation(wide ? Qt::Horizontal : Qt::Vertical);
    m_ccRight->setOrientation(wide ? Qt::Vertical : Qt::Horizontal);
}

void ProfilePanel::setProfiler(Profiler* profiler)
{
    m_profiler = profiler;
    if (profiler) {
        connect(profiler, &Profiler::problem, this, [this](qint64 pid, const QString&) {
            if (pid == m_pid)
                updateStatus();
        });
        connect(profiler, &Profiler::profilingStarted, this, [this](qint64 pid) {
            if (pid == m_pid)
                refresh();
        });
    }
    refresh();
}

Profiler* ProfilePanel::profiler() const
{
    return m_profiler.data();
}

void ProfilePanel::setProcess(qint64 pid, const QString& name)
{
    if (pid == m_pid) {
        if (name != m_name && !name.isEmpty()) { // the tables learnt its name (a client's hello)
            m_name = name;
            m_flame->setProcessName(name);
            updateThreads();
            updateStatus();
        }
        return;
    }
    m_pid = pid;
    m_name = name;
    m_flame->setProcessName(name);
    m_query.tid = 0;
    m_operation.clear(); // another process's: the window says which of this one's is selected
    m_mark.reset(); // another process's profile
    m_compare = false;
    if (!m_captureReading) // what was said of a capture was said for the other process
        m_captureNote.clear();
    m_captureChoices.reset();
    updateMarkLine();
    m_focus.clear();
    m_callerFunction.clear();
    updateScopes();
    updateToggles();
    m_threads->blockSignals(true);
    m_threads->clear();
    m_threads->addItem(tr("All threads"), qint64(0));
    m_threads->blockSignals(false);
    m_flame->resetZoom();
    refresh();
}

QString ProfilePanel::processName() const
{
    if (!m_name.isEmpty())
        return m_name;
    return m_snapshot ? m_snapshot->process : QString();
}

QString ProfilePanel::threadLabel(const ProfileThread& thread) const
{
    // A thread that never named itself carries the program's name (perfdash-demo for every
    // thread of orders-api): it is called by the process's name as the tables give it.
    const QString program = m_snapshot ? m_snapshot->process : QString();
    if (thread.name.isEmpty() || thread.name == program || thread.name == m_name) {
        return thread.tid == m_pid ? tr("%1 main (tid %2)").arg(processName()).arg(thread.tid)
                                   : tr("%1 thread (tid %2)").arg(processName()).arg(thread.tid);
    }
    return tr("%1 (tid %2)").arg(thread.name).arg(thread.tid);
}

void ProfilePanel::setTab(Tab tab)
{
    m_viewTabs->setCurrentIndex(int(tab)); // refreshes
}

ProfilePanel::Tab ProfilePanel::tab() const
{
    return Tab(std::max(0, m_viewTabs->currentIndex()));
}

void ProfilePanel::setCollapseRecursion(bool collapse)
{
    if (collapse == m_collapse)
        return;
    m_collapse = collapse;
    updateToggles();
    refresh();
}

void ProfilePanel::setBottomUpFlameGraph(bool bottomUp)
{
    if (bottomUp == m_bottomUpFlame)
        return;
    m_bottomUpFlame = bottomUp;
    m_flame->setInverted(bottomUp); // callers hang from the functions sampled: an icicle
    m_flameAtEnd = true;
    m_flame->resetZoom();
    updateToggles();
    refresh();
}

void ProfilePanel::setFocusFunction(const QString& function)
{
    if (function == m_focus)
        return;
    m_focus = function;
    m_flame->resetZoom();
    updateToggles();
    refresh();
}

void ProfilePanel::setMark()
{
    if (!m_view.raw)
        return;
    m_mark = m_view.raw;
    m_markFromCapture = false;
    m_markTime = QDateTime::currentDateTime();
    ++m_captureJob; // a capture still being read would replace this mark
    m_captureReading = false;
    m_captureNote.clear();
    m_captureChoices.reset();
    updateToggles();
    updateMarkLine();
    refresh();
}

void ProfilePanel::clearMark()
{
    m_mark.reset();
    m_compare = false;
    ++m_captureJob; // a capture still being read would set a mark again
    m_captureReading = false;
    m_captureNote.clear();
    m_captureChoices.reset();
    updateToggles();
    updateMarkLine();
    refresh();
}

void ProfilePanel::setCompareWithMark(bool compare)
{
    compare = compare && m_mark;
    if (compare == m_compare)
        return;
    m_compare = compare;
    updateToggles();
    refresh();
}

void ProfilePanel::showCallers(const QString& function)
{
    if (function.isEmpty())
        return;
    m_callerFunction = function;
    m_callerPicked = false;
    m_callers->setFunction(function);
    m_callees->setFunction(function);
    if (!m_search->text().isEmpty()) // the function must be in the list to be selected
        m_search->clear();
    setTab(Tab::CallerCallee);
    const int row = m_ccFunctions->rowOf(function);
    if (row >= 0) {
        const QModelIndex index = m_ccFunctionsProxy->mapFromSource(m_ccFunctions->index(row, 0));
        m_ccFunctionsView->setCurrentIndex(index);
        m_ccFunctionsView->scrollTo(index);
    }
}

void ProfilePanel::updateToggles()
{
    const QSignalBlocker a(m_bottomUpAction), b(m_collapseAction), c(m_compareAction);
    m_bottomUpAction->setChecked(m_bottomUpFlame);
    m_collapseAction->setChecked(m_collapse);
    m_compareAction->setChecked(m_compare);
    m_compareAction->setEnabled(m_mark != nullptr && scope() != Scope::OperationDiff);
    m_compareCaptureAction->setEnabled(m_pid > 0);
    m_markButton->setText(m_mark
            ? (m_markFromCapture ? tr("Mark: capture")
                                 : tr("Mark: %1").arg(m_markTime.toString(QStringLiteral("HH:mm:ss"))))
            : tr("Mark"));
    m_unfocusAction->setVisible(!m_focus.isEmpty());
    if (!m_focus.isEmpty()) {
        const QString pretty = prettifySymbol(m_focus);
        m_unfocusAction->setText(
            tr("Focus: %1 \u2715").arg(pretty.size() > 40 ? pretty.left(39) + QChar(0x2026) : pretty));
    }
}

void ProfilePanel::functionMenu(const QString& function, const QPoint& globalPos)
{
    QMenu menu(this);
    menu.addAction(tr("Copy name"), this, [function] { QApplication::clipboard()->setText(function); });
    menu.addAction(tr("Focus on this function"), this, [this, function] {
        setFocusFunction(function);
        setTab(Tab::FlameGraph);
    });
    menu.addAction(tr("Show callers and callees"), this, [this, function] { showCallers(function); });
    menu.exec(globalPos);
}

void ProfilePanel::setOperation(const QString& operation)
{
    if (operation == m_operation)
        return;
    const Scope before = scope();
    m_operation = operation;
    updateScopes();
    if (isOperationScope(before) || isOperationScope(scope())) {
        m_flame->resetZoom();
        refresh();
    }
}

ProfilePanel::Scope ProfilePanel::scope() const
{
    return isOperationScope(m_scope) && m_operation.isEmpty() ? Scope::Process : m_scope;
}

void ProfilePanel::setScope(Scope scope)
{
    if (scope == m_scope)
        return;
    m_scope = scope;
    updateScopes();
    updateToggles();
    m_flame->resetZoom();
    refresh();
}

void ProfilePanel::setSource(Source source)
{
    m_source = std::move(source);
    refresh();
}

void ProfilePanel::updateScopes()
{
    const QSignalBlocker block(m_scopeBox);
    m_scopeBox->clear();
    m_scopeBox->addItem(tr("Whole process"), int(Scope::Process));
    if (!m_operation.isEmpty()) {
        m_scopeBox->addItem(tr("%1: all instances").arg(m_operation), int(Scope::OperationAll));
        m_scopeBox->addItem(tr("%1: slow instances").arg(m_operation), int(Scope::OperationSlow));
        m_scopeBox->addItem(tr("%1: typical instances").arg(m_operation), int(Scope::OperationTypical));
        m_scopeBox->addItem(tr("%1: slow vs typical").arg(m_operation), int(Scope::OperationDiff));
        m_scopeBox->addItem(tr("%1: off-CPU (where it waits)").arg(m_operation), int(Scope::OperationOffCpu));
    }
    m_scopeBox->addItem(tr("Whole process: off-CPU"), int(Scope::ProcessOffCpu));
    m_scopeBox->setCurrentIndex(std::max(0, m_scopeBox->findData(int(scope()))));
}

ProfileQuery ProfilePanel::queryFor(Scope scope) const
{
    ProfileQuery query = m_query;
    query.operation = isOperationScope(scope) ? m_operation : QString();
    query.instances = scope == Scope::OperationSlow || scope == Scope::OperationDiff ? InstanceFilter::Slow
        : scope == Scope::OperationTypical                                           ? InstanceFilter::Typical
                                                                                     : InstanceFilter::All;
    return query;
}

ProfilePanel::View ProfilePanel::buildView(const Source& source, Scope scope, const ProfileQuery& query)
{
    return buildView(source, scope, query, Options());
}

ProfilePanel::View ProfilePanel::buildView(
    const Source& source, Scope scope, const ProfileQuery& query, const Options& options)
{
    View view;
    if (!source.snapshot)
        return view;
    view.raw = view.snapshot = source.snapshot(query, isOffCpuScope(scope));
    if (scope == Scope::OperationDiff && view.snapshot) {
        ProfileQuery typical = query;
        typical.instances = InstanceFilter::Typical;
        view.typical = source.snapshot(typical, false);
    } else if (options.mark && view.snapshot) {
        view.typical = options.mark;
        view.againstMark = true;
        // The session now holds the mark's samples and those since: the latter are what changed.
        const ProfileQuery& then = options.mark->query;
        view.sinceMark = !options.markFromCapture && query.lastSeconds == 0 && then.lastSeconds == 0
            && then.tid == query.tid && then.operation == query.operation && then.instances == query.instances
            && options.mark->offCpu == view.snapshot->offCpu;
        if (view.sinceMark)
            view.snapshot = std::make_shared<const ProfileSnapshot>(subtractProfile(*view.snapshot, *options.mark));
    }
    // Shaped alike, so that a differential compares like with like.
    const auto shape = [&](ProfileSnapshotPtr& s) {
        if (s && options.collapseRecursion)
            s = std::make_shared<const ProfileSnapshot>(collapseRecursion(*s));
        if (s && !options.focus.isEmpty())
            s = std::make_shared<const ProfileSnapshot>(focusOn(*s, options.focus));
    };
    shape(view.snapshot);
    shape(view.typical);
    const auto flame = [&](const ProfileSnapshotPtr& s) -> ProfileSnapshotPtr {
        return s && options.bottomUpFlame ? std::make_shared<const ProfileSnapshot>(bottomUpSnapshot(*s)) : s;
    };
    view.flame = flame(view.snapshot);
    if (view.typical && view.snapshot) {
        view.flameBaseline = flame(view.typical);
        view.shareDelta = differentialShares(*view.flame, *view.flameBaseline);
        // One process under one name: a capture's mark may name the program otherwise than the
        // live profiler does, and the shares are compared per process name.
        view.changes = diffProfiles({ { view.typical->pid, view.snapshot->process, view.typical->folded(), {}, {} } },
            { { view.snapshot->pid, view.snapshot->process, view.snapshot->folded(), {}, {} } });
    }
    // Only the trees of the tab shown: the others are built when it is.
    if (options.tab == Tab::TopDown)
        view.tree = topDownTree(view.snapshot);
    else if (options.tab == Tab::BottomUp)
        view.tree = bottomUpTree(view.snapshot);
    else if (options.tab == Tab::CallerCallee)
        view.callerCallee = callerCallee(view.snapshot);
    if (!query.operation.isEmpty() && source.operations) {
        for (OperationCpu& cpu : source.operations()) {
            if (cpu.operation == query.operation)
                view.cpu = std::move(cpu);
        }
    }
    return view;
}

QTableView* ProfilePanel::functionsView() const
{
    return static_cast<QTableView*>(m_tables->currentWidget());
}

void ProfilePanel::setRecordedProfiles(std::vector<ProfileSnapshotPtr> profiles)
{
    m_recorded = std::move(profiles);
    updateToggles();
    refresh();
}

ProfileSnapshotPtr ProfilePanel::recordedFor(qint64 pid) const
{
    for (const ProfileSnapshotPtr& p : m_recorded) {
        if (p->pid == pid)
            return p;
    }
    return nullptr;
}

bool ProfilePanel::showsRecorded() const
{
    return m_view.raw && m_view.raw == recordedFor(m_pid);
}

bool ProfilePanel::startProfiling()
{
    if (!m_profiler || m_pid <= 0)
        return false;
    const bool started = m_profiler->profile(m_pid) != nullptr;
    refresh();
    return started;
}

void ProfilePanel::setTimeRange(int lastSeconds)
{
    m_query.lastSeconds = lastSeconds;
    const int index = m_range->findData(lastSeconds);
    if (index >= 0 && index != m_range->currentIndex())
        m_range->setCurrentIndex(index);
    refresh();
}

void ProfilePanel::setThread(qint64 tid)
{
    m_query.tid = tid;
    refresh();
}

void ProfilePanel::setSearch(const QString& text)
{
    m_search->setText(text);
}

namespace {

/// Runs `then` on the GUI thread if the panel is still there by then. A worker never touches the
/// panel, not even through its QPointer: the panel may be in its destructor (it dies on the GUI
/// thread, where the check is made).
template <typename Then> void whenStillThere(const QPointer<ProfilePanel>& self, Then then)
{
    QMetaObject::invokeMethod(
        QCoreApplication::instance(),
        [self, then = std::move(then)]() mutable {
            if (self)
                then(self.data());
        },
        Qt::QueuedConnection);
}

} // namespace

void ProfilePanel::refresh()
{
    ProcessProfiler* profiler = m_profiler ? m_profiler->profilerFor(m_pid) : nullptr;
    const quint64 job = ++m_job;
    Source source;
    if (profiler) {
        QPointer<ProcessProfiler> live(profiler);
        source.snapshot = [live](const ProfileQuery& query, bool offCpu) {
            return live ? live->snapshot(query, offCpu) : ProfileSnapshotPtr();
        };
        source.operations = [live] { return live ? live->operations() : std::vector<OperationCpu> {}; };
    } else if (m_source.snapshot && m_pid > 0) {
        source = m_source;
    } else if (ProfileSnapshotPtr recorded = recordedFor(m_pid)) {
        // A capture's: shaped and its trees built on the pool too.
        source.snapshot = [recorded](const ProfileQuery&, bool) { return recorded; };
    } else {
        apply(job, nullptr);
        return;
    }
    // The trees are merged under the profiler's lock on a worker, never on the GUI thread.
    QPointer<ProfilePanel> self(this);
    const Scope scope = this->scope();
    const ProfileQuery query = queryFor(scope);
    Options options;
    options.collapseRecursion = m_collapse;
    options.bottomUpFlame = m_bottomUpFlame;
    options.focus = m_focus;
    options.tab = tab();
    // A capture's CPU profile says nothing of the time off CPU: it is not drawn against it.
    const bool offCpuAgainstCapture = m_markFromCapture && m_captureKind == CaptureKind::Cpu && isOffCpuScope(scope);
    if (m_compare && scope != Scope::OperationDiff && !offCpuAgainstCapture) {
        options.mark = m_mark;
        options.markFromCapture = m_markFromCapture;
    }
    QThreadPool::globalInstance()->start([self, source, scope, query, options, job] {
        auto view = std::make_shared<View>(buildView(source, scope, query, options));
        whenStillThere(self, [job, view](ProfilePanel* panel) { panel->applyView(job, std::move(*view)); });
    });
}

void ProfilePanel::apply(quint64 job, ProfileSnapshotPtr snapshot)
{
    View view;
    view.raw = view.snapshot = view.flame = std::move(snapshot);
    applyView(job, std::move(view));
}

void ProfilePanel::applyView(quint64 job, View view)
{
    if (job != m_job) // a newer request is on its way
        return;
    m_view = std::move(view);
    m_snapshot = m_view.snapshot;
    if (!m_view.flame)
        m_view.flame = m_snapshot;
    const bool diff = m_view.typical && m_snapshot;
    if (diff) {
        if (m_view.againstMark && m_markFromCapture) {
            m_flame->setDifferentialLabels(tr("in the capture"), tr("now"));
            m_diff->setLabels(tr("capture"), tr("now"));
        } else if (m_view.againstMark) {
            const bool since = m_view.sinceMark;
            m_flame->setDifferentialLabels(
                since ? tr("before the mark") : tr("at the mark"), since ? tr("since") : tr("now"));
            m_diff->setLabels(since ? tr("before mark") : tr("mark"), since ? tr("since") : tr("now"));
        } else {
            m_flame->setDifferentialLabels(tr("typical"), tr("slow"));
            m_diff->setLabels(tr("typical"), tr("slow"));
        }
        m_flame->setDifferential(m_view.flame, m_view.flameBaseline, m_view.shareDelta);
        m_diff->setChanges(m_view.changes);
    } else {
        m_flame->setSnapshot(m_view.flame);
        m_diff->setChanges({});
    }
    const Scope shown = scope();
    m_flame->setEmptyText(isOffCpuScope(shown) ? tr("No off-CPU time recorded")
            : isOperationScope(shown)          ? tr("No samples inside %1 in this range").arg(m_operation)
                                               : QString());
    m_tables->setCurrentWidget(diff ? static_cast<QWidget*>(m_diffView) : m_topView);
    // The top functions are those of the flame graph's zoom (of the whole profile when it draws callers).
    m_top->setSnapshot(m_snapshot, !m_bottomUpFlame && m_flame->snapshot() == m_snapshot ? m_flame->zoomNode() : 0);
    m_topColumns->fit();
    if (m_view.tree)
        applyTree(m_view.tree->bottomUp ? m_bottomUpView : m_topDownView,
            m_view.tree->bottomUp ? m_bottomUpModel : m_topDownModel,
            m_view.tree->bottomUp ? &m_expandedBottomUp : &m_expandedTopDown, m_view.tree);
    if (m_view.callerCallee)
        applyCallerCallee(m_view.callerCallee);
    updateThreads();
    updateToggles();
    updateStatus();
    Q_EMIT refreshed();
}

QModelIndex ProfilePanel::treeSourceIndex(const QModelIndex& viewIndex)
{
    const auto* proxy = qobject_cast<const QSortFilterProxyModel*>(viewIndex.model());
    return proxy ? proxy->mapToSource(viewIndex) : viewIndex;
}

QModelIndex ProfilePanel::treeViewIndex(const QTreeView* view, std::uint32_t node)
{
    const auto* proxy = static_cast<const QSortFilterProxyModel*>(view->model());
    return proxy->mapFromSource(static_cast<const CallTreeModel*>(proxy->sourceModel())->indexOf(node));
}

void ProfilePanel::searchTrees()
{
    const QString text = m_search->text().trimmed();
    for (auto [view, model, expanded] : { std::tuple { m_topDownView, m_topDownModel, &m_expandedTopDown },
             std::tuple { m_bottomUpView, m_bottomUpModel, &m_expandedBottomUp } }) {
        m_searchingTrees = true; // what filtering opens and closes is not the user's doing
        static_cast<QSortFilterProxyModel*>(view->model())->setFilterFixedString(text);
        if (!text.isEmpty()) {
            view->expandAll(); // only the paths to the matches are left: all of them open
        } else if (model->tree()) {
            view->collapseAll(); // back to what the user had open
            m_searchingTrees = false;
            restoreExpanded(view, model, expanded, QSet<QString>(*expanded)); // expanding adds to it
        }
    }
    m_searchingTrees = !text.isEmpty();
}

void ProfilePanel::applyTree(QTreeView* view, CallTreeModel* model, QSet<QString>* expanded, ProfileTreePtr tree)
{
    const std::uint32_t current = model->nodeOf(treeSourceIndex(view->currentIndex()));
    const QStringList currentPath = current && model->tree() ? model->tree()->path(current) : QStringList();
    const int scroll = view->verticalScrollBar()->value();
    const QSet<QString> paths = *expanded; // expanding below adds to it
    model->setTree(tree);
    if (m_searchingTrees) {
        view->expandAll();
    } else {
        restoreExpanded(view, model, expanded, paths);
    }
    if (const std::uint32_t node = currentPath.isEmpty() ? 0 : tree->find(currentPath))
        view->setCurrentIndex(treeViewIndex(view, node));
    view->verticalScrollBar()->setValue(scroll);
}

void ProfilePanel::restoreExpanded(
    QTreeView* view, CallTreeModel* model, QSet<QString>* expanded, const QSet<QString>& paths)
{
    const ProfileTreePtr& tree = model->tree();
    int restored = 0;
    for (const QString& path : paths) {
        if (const std::uint32_t node = tree->find(path.split(QChar(0x1f)))) {
            view->expand(treeViewIndex(view, node));
            ++restored;
        }
    }
    if (restored == 0) {
        // The first time, or none of what was open is there any more (its addresses are named
        // since): the hot path open, as far as one callee holds most of its caller.
        expanded->clear();
        const QAbstractItemModel* shown = view->model();
        QModelIndex at = shown->index(0, 0);
        for (int depth = 0; at.isValid() && depth < 24; ++depth) {
            view->expand(at);
            const QModelIndex child = shown->index(0, 0, at);
            if (!child.isValid()
                || child.siblingAtColumn(CallTreeModel::Total).data(CallTreeModel::SortRole).toULongLong() * 2
                    < at.siblingAtColumn(CallTreeModel::Total).data(CallTreeModel::SortRole).toULongLong())
                break;
            at = child;
        }
    }
}

void ProfilePanel::applyCallerCallee(CallerCalleePtr callers)
{
    const QSignalBlocker block(m_ccFunctionsView->selectionModel());
    m_ccFunctions->setCallerCallee(callers);
    m_callers->setCallerCallee(callers);
    m_callees->setCallerCallee(callers);
    // The first time, or when the one picked is gone (an address named since, another process):
    // the function with the most samples of its own. One the user chose stays.
    if ((m_callerFunction.isEmpty() || (m_callerPicked && m_ccFunctions->rowOf(m_callerFunction) < 0))
        && m_ccFunctions->rowCount() > 0) {
        m_callerPicked = true;
        std::uint64_t best = 0;
        for (int row = 0; row < m_ccFunctions->rowCount(); ++row) {
            const quint64 self
                = m_ccFunctions->index(row, CallerCalleeModel::Self).data(CallerCalleeModel::SortRole).toULongLong();
            if (self > best) {
                best = self;
                m_callerFunction = m_ccFunctions->index(row, 0).data(CallerCalleeModel::FullNameRole).toString();
            }
        }
    }
    m_callers->setFunction(m_callerFunction);
    m_callees->setFunction(m_callerFunction);
    const int row = m_ccFunctions->rowOf(m_callerFunction);
    if (row >= 0)
        m_ccFunctionsView->setCurrentIndex(m_ccFunctionsProxy->mapFromSource(m_ccFunctions->index(row, 0)));
}

void ProfilePanel::updateThreads()
{
    if (!m_snapshot)
        return;
    for (const ProfileThread& thread : m_snapshot->threads) {
        const QString label = threadLabel(thread);
        const int index = m_threads->findData(thread.tid);
        if (index < 0)
            m_threads->addItem(label, thread.tid);
        else if (m_threads->itemText(index) != label)
            m_threads->setItemText(index, label);
    }
}

QString ProfilePanel::statusText() const
{
    if (m_pid <= 0)
        return tr("Select a process to see its CPU profile.");
    const QString problem = m_profiler ? m_profiler->problemFor(m_pid) : QString();
    if (!problem.isEmpty())
        return problem;
    if (!m_snapshot)
        return tr("Process %1 is not profiled: press Profile (or start perfdash with --profile).").arg(m_pid);
    const ProfileStats& s = m_snapshot->stats;
    const std::uint64_t stacks = std::max<std::uint64_t>(1, s.cfiStacks + s.framePointerStacks + s.ipOnlyStacks);
    QString text = showsRecorded()
        ? tr("%1 (pid %2), recorded in the capture (read-only): %3 samples of the whole session")
              .arg(processName())
              .arg(m_pid)
              .arg(m_snapshot->totalSamples())
        : tr("%1 (pid %2)%3: %4 samples at %5 Hz; %6 in this view; stacks: %7% CFI, %8% frame pointers")
              .arg(processName())
              .arg(m_pid)
              .arg(s.exited ? tr(", exited") : QString())
              .arg(s.samples)
              .arg(s.frequencyHz)
              .arg(m_snapshot->offCpu ? tr("%1 ms off CPU").arg(double(m_snapshot->totalSamples()) / 1000.0, 0, 'f', 1)
                                      : tr("%1 samples").arg(m_snapshot->totalSamples()))
              .arg(100 * s.cfiStacks / stacks)
              .arg(100 * s.framePointerStacks / stacks);
    if (s.lost || s.throttled || s.unknownFrames || s.truncatedStacks)
        text += tr("; lost %1, throttled %2 times, %3 unknown frames, %4 truncated stacks")
                    .arg(s.lost)
                    .arg(s.throttled)
                    .arg(s.unknownFrames)
                    .arg(s.truncatedStacks);
    text += kernelNote(s); // how much of the CPU the graph explains
    const QString scope = scopeNote();
    return scope.isEmpty() ? text : text + u'\n' + scope;
}

QString ProfilePanel::scopeNote() const
{
    if (!m_snapshot || showsRecorded())
        return {};
    const ProfileStats& s = m_snapshot->stats;
    const Scope shown = scope();
    QStringList parts;
    if (isOperationScope(shown)) {
        const QString name = m_scopeBox->currentText();
        if (m_view.typical)
            parts << tr("%1: %2 samples in slow instances against %3 in typical ones (red: a larger share when slow, "
                        "blue: a smaller one)")
                         .arg(name)
                         .arg(m_snapshot->totalSamples())
                         .arg(m_view.typical->totalSamples());
        // The operation's split of its wall time, from the samples (and the switches, where recorded).
        if (const std::optional<OperationCpu>& cpu = m_view.cpu; cpu && cpu->cpuShare() >= 0) {
            QString split = tr("%1: %2% on CPU (%3 CPU of %4 wall time over %5 instances")
                                .arg(m_operation)
                                .arg(100.0 * cpu->cpuShare(), 0, 'f', 0)
                                .arg(formatDuration(cpu->cpuNs), formatDuration(cpu->wallNs))
                                .arg(cpu->instances);
            if (cpu->offCpuNs)
                split += tr(", %1 off CPU recorded").arg(formatDuration(cpu->offCpuNs));
            else if (cpu->wallNs > cpu->cpuNs)
                split += tr(", about %1 waiting: wall time minus CPU").arg(formatDuration(cpu->wallNs - cpu->cpuNs));
            parts << split + u')';
        } else if (s.operationsTraced) {
            parts << tr("%1: no instance ended while profiled").arg(m_operation);
        }
    }
    if (m_view.againstMark && m_view.typical) {
        const QString when = m_markFromCapture
            ? tr("the capture %1").arg(m_markCapture)
            : tr("the mark set at %1").arg(m_markTime.toString(QStringLiteral("HH:mm:ss")));
        parts << (m_view.sinceMark
                ? tr("%1 samples since %2 against %3 before it (red: a larger share since, blue: a smaller one)")
                      .arg(m_snapshot->totalSamples())
                      .arg(when)
                      .arg(m_view.typical->totalSamples())
                : tr(
                    "this range now (%1 samples) against %2 (%3 samples; red: a larger share now, blue: a smaller one)")
                      .arg(m_snapshot->totalSamples())
                      .arg(when)
                      .arg(m_view.typical->totalSamples()));
    }
    if (m_compare && m_markFromCapture && isOffCpuScope(shown) && m_captureKind == CaptureKind::Cpu)
        parts << tr("not compared with the capture: its profile counts CPU samples, not time off CPU");
    if (!m_focus.isEmpty())
        parts << tr("focused on %1: its calls merged, what is outside them left out").arg(prettifySymbol(m_focus));
    if (m_collapse)
        parts << tr("recursion collapsed");
    if (isOffCpuScope(shown) && m_snapshot->totalSamples() == 0)
        parts << tr("no off-CPU time recorded");
    if ((isOperationScope(shown) || isOffCpuScope(shown)) && !s.offCpuRecorded)
        parts << (s.offCpuProblem.isEmpty() ? tr("off-CPU time not recorded") : s.offCpuProblem)
                + tr("; on/off-CPU split from CPU samples only");
    parts << attributionNote(s);
    return parts.join(QStringLiteral("; "));
}

void ProfilePanel::setSamplingControlsVisible(bool visible)
{
    for (QWidget* w : std::initializer_list<QWidget*> { m_start, m_range, m_threads, m_status, m_scopeBar })
        w->setVisible(visible);
    for (QAction* a : std::as_const(m_samplingActions))
        a->setVisible(visible);
}

void ProfilePanel::fitFunctionsToWidth()
{
    // The function's name takes what the other columns leave; those are cut short, a module or a
    // location in the middle (both ends of a path and its line stay), in full in their tooltips.
    m_topColumns->setNameLimit(16);
    m_topColumns->setMaximumChars(TopFunctionsModel::Callers, 16);
    m_topColumns->setMaximumChars(TopFunctionsModel::Module, 12);
    m_topColumns->setMaximumChars(TopFunctionsModel::Location, 16);
    m_topView->setTextElideMode(Qt::ElideMiddle);
    m_topColumns->fit();
}

void ProfilePanel::updateStatus()
{
    const QString text = statusText();
    m_status->setText(text);
    const bool refused = m_profiler && !m_profiler->problemFor(m_pid).isEmpty();
    m_status->setStyleSheet(refused ? QStringLiteral("color: #b00020") : QString());
    ProcessProfiler* profiler = m_profiler ? m_profiler->profilerFor(m_pid) : nullptr;
    m_start->setEnabled(m_profiler && m_pid > 0 && (!profiler || profiler->hasExited()) && !showsRecorded());
}

QString ProfilePanel::exportFolded(const QString& path) const
{
    if (!m_profiler)
        return tr("nothing is profiled");
    QString error;
    foldedexport::writeFile(path, m_profiler->sessionSnapshots(), &error);
    return error;
}

namespace {
bool isPprofName(const QString& path)
{
    return path.endsWith(QLatin1String(".pb.gz")) || path.endsWith(QLatin1String(".pb"))
        || path.endsWith(QLatin1String(".pprof"));
}

QString writeProfile(const Profiler* profiler, const QString& path)
{
    if (!profiler)
        return ProfilePanel::tr("nothing is profiled");
    QString error;
    if (isPprofName(path))
        profiler->writePprof(path, &error);
    else
        foldedexport::writeFile(path, profiler->sessionSnapshots(), &error);
    return error;
}
} // namespace

QString ProfilePanel::exportProfile(const QString& path) const
{
    return writeProfile(m_profiler, path);
}

void ProfilePanel::exportWithDialog()
{
    const QString folded = tr("Folded stacks (*.folded *.txt)");
    const QString pprof = tr("pprof profile.proto, gzipped (*.pb.gz)");
    QString chosen;
    QString path = QFileDialog::getSaveFileName(this, tr("Export profile"), QString(),
        folded + QStringLiteral(";;") + pprof + QStringLiteral(";;") + tr("All files (*)"), &chosen);
    if (path.isEmpty())
        return;
    if (chosen == pprof && !isPprofName(path))
        path += QStringLiteral(".pb.gz"); // the format follows the name
    QPointer<ProfilePanel> self(this);
    QThreadPool::globalInstance()->start([self, path, profiler = m_profiler] {
        const QString error = writeProfile(profiler, path);
        if (!error.isEmpty())
            whenStillThere(
                self, [error](ProfilePanel* panel) { QMessageBox::warning(panel, tr("Export profile"), error); });
    });
}

std::optional<ProfilePanel::CaptureProfiles> ProfilePanel::loadCaptureProfiles(
    const QString& path, CaptureKind kind, QString* error)
{
    std::optional<CaptureProfileSet> set = readCaptureProfileSet(path, error);
    if (!set)
        return std::nullopt;
    CaptureProfiles capture;
    capture.fileName = QFileInfo(path).fileName();
    if (set->recordedMs > 0)
        capture.recorded = QDateTime::fromMSecsSinceEpoch(set->recordedMs);
    for (const CapturedProfile& p : std::as_const(set->profiles)) {
        // A heap: live bytes by call site, as the Memory view counts them.
        ProfileSnapshotPtr profile = kind == CaptureKind::Heap
            ? foldedexport::snapshotOf(p.pid, p.process, p.heap, ProfileSnapshot::Unit::Bytes)
            : foldedexport::snapshotOf(p.pid, p.process, p.folded);
        if (profile->totalSamples() == 0)
            continue; // a process with a profile of the other kind only
        capture.processes.push_back({ set->processNames.value(p.pid, p.process), p.process, std::move(profile) });
    }
    return capture;
}

int ProfilePanel::matchCapturedProcess(const CaptureProfiles& capture, const QString& name, const QString& program)
{
    int best = -1;
    // The one with the most samples among those @p matches.
    const auto pick = [&](const auto& matches) {
        for (std::size_t i = 0; i < capture.processes.size(); ++i) {
            const CapturedProcess& p = capture.processes[i];
            if (matches(p)
                && (best < 0
                    || p.profile->totalSamples() > capture.processes[std::size_t(best)].profile->totalSamples()))
                best = int(i);
        }
        return best >= 0;
    };
    if (!name.isEmpty() && pick([&](const CapturedProcess& p) { return p.name == name; }))
        return best;
    // The tables may name it otherwise in the two runs (an instrumented run against an attached one).
    pick([&](const CapturedProcess& p) {
        return (!program.isEmpty() && (p.program == program || p.name == program))
            || (!name.isEmpty() && p.program == name);
    });
    return best;
}

void ProfilePanel::compareWithCaptureWithDialog()
{
    const QString path = QFileDialog::getOpenFileName(this, tr("Compare with a capture"), QString(), captureFilter());
    if (!path.isEmpty())
        compareWithCapture(path);
}

void ProfilePanel::compareWithCapture(const QString& path)
{
    const quint64 job = ++m_captureJob;
    m_captureChoices.reset();
    if (m_pid <= 0) {
        m_captureReading = false;
        sayAboutCapture(tr("Select a process to compare with a capture."), true);
        Q_EMIT captureRead(false);
        return;
    }
    m_captureReading = true;
    sayAboutCapture(tr("Reading %1\u2026").arg(QFileInfo(path).fileName()), false);
    // A capture's profiles can be large: read and built into call trees on the pool.
    QPointer<ProfilePanel> self(this);
    const CaptureKind kind = m_captureKind;
    QThreadPool::globalInstance()->start([self, path, kind, job] {
        QString error;
        std::optional<CaptureProfiles> read = loadCaptureProfiles(path, kind, &error);
        std::shared_ptr<const CaptureProfiles> capture
            = read ? std::make_shared<const CaptureProfiles>(std::move(*read)) : nullptr;
        whenStillThere(self, [job, capture, error](ProfilePanel* panel) { panel->applyCapture(job, capture, error); });
    });
}

void ProfilePanel::applyCapture(quint64 job, std::shared_ptr<const CaptureProfiles> capture, const QString& error)
{
    if (job != m_captureJob) // another capture asked for since, or the mark set or cleared
        return;
    m_captureReading = false;
    if (!capture) {
        sayAboutCapture(tr("Cannot compare with the capture: %1.").arg(error), true);
        Q_EMIT captureRead(false);
        return;
    }
    const QString kind = m_captureKind == CaptureKind::Heap ? tr("heap profile") : tr("CPU profile");
    if (capture->processes.empty()) {
        sayAboutCapture(m_captureKind == CaptureKind::Heap
                ? tr("%1 holds no heap profile: no program's heap was tracked in that run.").arg(capture->fileName)
                : tr("%1 holds no CPU profile: it was recorded without --profile, or by a perfdash that kept none.")
                      .arg(capture->fileName),
            true);
        Q_EMIT captureRead(false);
        return;
    }
    const QString name = processName();
    const int match = matchCapturedProcess(*capture, name, m_snapshot ? m_snapshot->process : QString());
    if (match >= 0) {
        markFromCapture(*capture, std::size_t(match), {});
        return;
    }
    if (capture->processes.size() == 1) {
        markFromCapture(*capture, 0, tr("its only process; it has no %1 of %2").arg(kind, name));
        return;
    }
    // Several, none of them this one: the user says which.
    QStringList names;
    for (const CapturedProcess& p : capture->processes)
        names << p.name;
    m_captureChoices = std::move(capture);
    sayAboutCapture(tr("%1 has no %2 of %3: choose one of its processes (%4) to compare with.")
                        .arg(m_captureChoices->fileName, kind, name, names.join(QStringLiteral(", "))),
        true);
    Q_EMIT captureRead(false);
}

QStringList ProfilePanel::captureChoices() const
{
    QStringList names;
    if (m_captureChoices) {
        for (const CapturedProcess& p : m_captureChoices->processes)
            names << p.name;
    }
    return names;
}

bool ProfilePanel::compareWithCaptureProcess(int index, QString* error)
{
    if (!m_captureChoices || index < 0 || std::size_t(index) >= m_captureChoices->processes.size())
        return failWith(error, tr("no such process in the capture"));
    const std::shared_ptr<const CaptureProfiles> capture = m_captureChoices; // markFromCapture() forgets the choices
    markFromCapture(*capture, std::size_t(index), tr("chosen"));
    return true;
}

void ProfilePanel::markFromCapture(const CaptureProfiles& capture, std::size_t index, const QString& note)
{
    const CapturedProcess& p = capture.processes[index];
    m_mark = p.profile;
    m_markFromCapture = true;
    m_markTime = {};
    m_markCapture = capture.fileName;
    const ProfileSnapshot& mark = *p.profile;
    const QString amount = totalText(mark);
    QStringList parts { tr("capture %1").arg(capture.fileName),
        note.isEmpty() ? p.name : tr("%1 (%2)").arg(p.name, note), amount };
    if (capture.recorded.isValid()) {
        const bool today = capture.recorded.date() == QDate::currentDate();
        parts << tr("recorded %1")
                     .arg(capture.recorded.toString(
                         today ? QStringLiteral("HH:mm") : QStringLiteral("yyyy-MM-dd HH:mm")));
    }
    m_markDescription = parts.join(QStringLiteral(", "));
    m_captureReading = false;
    m_captureNote.clear();
    m_captureChoices.reset();
    m_compare = false;
    setCompareWithMark(true); // refreshes
    updateToggles();
    updateMarkLine();
    Q_EMIT captureRead(true);
}

void ProfilePanel::sayAboutCapture(const QString& text, bool problem)
{
    m_captureNote = text;
    m_captureProblem = problem;
    updateMarkLine();
}

QString ProfilePanel::markText() const
{
    QStringList lines;
    if (m_mark)
        lines << (m_markFromCapture
                ? tr("Mark: %1").arg(m_markDescription)
                : tr("Mark: set at %1, %2").arg(m_markTime.toString(QStringLiteral("HH:mm:ss")), totalText(*m_mark)));
    if (!m_captureNote.isEmpty())
        lines << m_captureNote;
    return lines.join(u'\n');
}

void ProfilePanel::updateMarkLine()
{
    const QString text = markText();
    m_markLine->setText(text);
    m_markLine->setStyleSheet(
        m_captureProblem && !m_captureNote.isEmpty() ? QStringLiteral("color: #b00020") : QString());
    QMenu* choices = m_chooseButton->menu();
    choices->clear();
    if (m_captureChoices) {
        for (std::size_t i = 0; i < m_captureChoices->processes.size(); ++i) {
            const CapturedProcess& p = m_captureChoices->processes[i];
            const ProfileSnapshot& s = *p.profile;
            // Queued: the choice rebuilds this menu, whose action is still being triggered.
            choices->addAction(tr("%1 (%2)").arg(p.name, totalText(s)), this, [this, i] {
                QMetaObject::invokeMethod(
                    this, [this, i] { compareWithCaptureProcess(int(i)); }, Qt::QueuedConnection);
            });
        }
    }
    m_chooseButton->setVisible(m_captureChoices != nullptr);
    m_clearMarkButton->setVisible(m_mark != nullptr);
    m_markRow->setVisible(!text.isEmpty());
}

} // namespace perfdash
