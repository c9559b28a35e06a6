// SPDX-License-Identifier: GPL-3.0-or-later
#include "widgets/attachdialog.h"

#include "core/processlist.h"
#include "models/format.h"
#include "toolkit/workerpool.h"

#include <QCheckBox>
#include <QCoreApplication>
#include <QDialogButtonBox>
#include <QDir>
#include <QFileDialog>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QProcess>
#include <QPushButton>
#include <QSortFilterProxyModel>
#include <QStandardItemModel>
#include <QTableView>
#include <QTimer>
#include <QVBoxLayout>

#include <utility>

namespace perfdash {

namespace {
QString cpuText(const ProcessSample& p)
{
    return p.cpuPercent ? QStringLiteral("%1%").arg(*p.cpuPercent, 0, 'f', 1) : QString();
}
} // namespace

AttachDialog::AttachDialog(WorkerPool* pool, const QSet<qint64>& instrumented, QWidget* parent)
    : QDialog(parent)
    , m_pool(pool)
    , m_processes(std::make_shared<ProcessList>())
    , m_instrumented(instrumented)
    , m_model(new QStandardItemModel(0, ColumnCount, this))
    , m_proxy(new QSortFilterProxyModel(this))
    , m_view(new QTableView(this))
    , m_filter(new QLineEdit(this))
{
    setWindowTitle(tr("Attach to a process"));
    m_model->setHorizontalHeaderLabels(
        { tr("PID"), tr("Name"), tr("CPU"), tr("RSS"), tr("Instrumented"), tr("Command line") });
    m_model->horizontalHeaderItem(CpuColumn)->setToolTip(tr("CPU use since the previous reading; 100% = one core"));
    m_proxy->setSourceModel(m_model);
    m_proxy->setFilterKeyColumn(-1);
    m_proxy->setFilterCaseSensitivity(Qt::CaseInsensitive);
    m_proxy->setSortRole(Qt::UserRole);
    m_view->setModel(m_proxy);
    m_view->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_view->setSortingEnabled(true);
    m_view->verticalHeader()->hide();
    m_view->horizontalHeader()->setStretchLastSection(true);
    m_filter->setPlaceholderText(tr("Filter by pid, name or command line"));
    m_filter->setClearButtonEnabled(true);
    connect(m_filter, &QLineEdit::textChanged, this, &AttachDialog::setFilter);
    connect(m_filter, &QLineEdit::returnPressed, this, &AttachDialog::acceptSingleMatch);

    auto* layout = new QVBoxLayout(this);
    layout->addWidget(m_filter);
    layout->addWidget(m_view);
    // What attaching can and cannot give, said before the choice.
    auto* limits = new QLabel(tr("An attached process shows its memory (RSS), CPU and CPU profile, and its heap in "
                                 "use when it links the client library with PERFDASH_HEAP=1. Its heap by call site "
                                 "cannot be tracked: a running process cannot be given the heap preload. For that, "
                                 "launch it from perfdash (File > Launch program, “Track allocations”)."),
        this);
    limits->setWordWrap(true);
    limits->setEnabled(false);
    layout->addWidget(limits);
    auto* buttons = new QDialogButtonBox(QDialogButtonBox::Cancel, this);
    auto* attach = buttons->addButton(tr("Attach"), QDialogButtonBox::AcceptRole);
    attach->setAutoDefault(false); // Enter in the filter is handled by acceptSingleMatch()
    attach->setEnabled(false);
    connect(buttons, &QDialogButtonBox::accepted, this, &QDialog::accept);
    connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
    connect(m_view, &QTableView::doubleClicked, this, &QDialog::accept);
    connect(m_view->selectionModel(), &QItemSelectionModel::selectionChanged, this,
        [this, attach] { attach->setEnabled(m_view->selectionModel()->hasSelection()); });
    layout->addWidget(buttons);
    resize(760, 480);

    reload();
    auto* refresh = new QTimer(this);
    refresh->setInterval(RefreshMs);
    connect(refresh, &QTimer::timeout, this, &AttachDialog::reload);
    refresh->start();
}

void AttachDialog::reload()
{
    if (m_loading)
        return;
    m_loading = true;
    const bool first = m_model->rowCount() == 0;
    const qint64 self = QCoreApplication::applicationPid(); // the dashboard attaching is not a target
    m_pool->submit(QStringLiteral("list processes"), [list = m_processes, self] { return list->read(self); })
        .then(this, [this, first](const QList<ProcessSample>& processes) {
            m_loading = false;
            applyProcesses(processes);
            Q_EMIT loaded();
            if (first) // the first reading has no CPU yet: another one shortly, rather than in RefreshMs
                QTimer::singleShot(FirstCpuMs, this, &AttachDialog::reload);
        });
}

void AttachDialog::applyProcesses(const QList<ProcessSample>& processes)
{
    // Updated in place, row by row, so that the selection and the scroll position stay.
    QHash<qint64, const ProcessSample*> now;
    for (const ProcessSample& p : processes)
        now.insert(p.pid, &p);
    const bool first = m_model->rowCount() == 0;
    for (int row = m_model->rowCount() - 1; row >= 0; --row) {
        const qint64 pid = m_model->item(row, PidColumn)->data(Qt::UserRole).toLongLong();
        const ProcessSample* p = now.value(pid);
        if (!p) {
            m_model->removeRow(row);
            continue;
        }
        const auto set = [&](int column, const QString& text, const QVariant& sort) {
            QStandardItem* item = m_model->item(row, column);
            if (item->text() != text)
                item->setText(text);
            if (item->data(Qt::UserRole) != sort)
                item->setData(sort, Qt::UserRole);
        };
        set(NameColumn, p->name, p->name);
        set(CpuColumn, cpuText(*p), p->cpuPercent.value_or(-1.0));
        set(RssColumn, formatBytes(p->rssBytes), p->rssBytes);
        set(CommandColumn, p->commandLine.join(u' '), p->commandLine.join(u' '));
        now.remove(pid);
    }
    for (const ProcessSample& p : processes) {
        if (!now.contains(p.pid))
            continue;
        auto* pid = new QStandardItem(QString::number(p.pid));
        pid->setData(p.pid, Qt::UserRole);
        auto* name = new QStandardItem(p.name);
        name->setData(p.name, Qt::UserRole);
        auto* cpu = new QStandardItem(cpuText(p));
        cpu->setData(p.cpuPercent.value_or(-1.0), Qt::UserRole);
        cpu->setTextAlignment(Qt::AlignRight | Qt::AlignVCenter);
        auto* rss = new QStandardItem(formatBytes(p.rssBytes));
        rss->setData(p.rssBytes, Qt::UserRole);
        const bool streams = m_instrumented.contains(p.pid);
        auto* inst = new QStandardItem(streams ? tr("yes") : QString());
        inst->setData(streams, Qt::UserRole);
        auto* command = new QStandardItem(p.commandLine.join(u' '));
        command->setData(command->text(), Qt::UserRole);
        rss->setTextAlignment(Qt::AlignRight | Qt::AlignVCenter);
        for (QStandardItem* item : { pid, name, cpu, rss, inst, command })
            item->setEditable(false);
        m_model->appendRow({ pid, name, cpu, rss, inst, command });
    }
    if (first) {
        m_view->sortByColumn(CpuColumn, Qt::DescendingOrder); // the busiest first, as top does
        m_view->resizeColumnsToContents();
    }
}

void AttachDialog::acceptSingleMatch()
{
    // A pid typed whole is that process, even when its digits also appear in other rows (another
    // pid, a size, a command line).
    bool isPid = false;
    const qint64 pid = m_filter->text().trimmed().toLongLong(&isPid);
    for (int row = 0; isPid && row < m_proxy->rowCount(); ++row) {
        if (m_proxy->index(row, 0).data(Qt::UserRole).toLongLong() == pid) {
            m_view->selectRow(row);
            accept();
            return;
        }
    }
    if (m_proxy->rowCount() == 1) {
        m_view->selectRow(0);
        accept();
    } else if (m_view->selectionModel()->hasSelection()) {
        accept();
    }
}

void AttachDialog::setFilter(const QString& text)
{
    m_proxy->setFilterFixedString(text);
}

QList<qint64> AttachDialog::selectedPids() const
{
    QList<qint64> pids;
    for (const QModelIndex& index : m_view->selectionModel()->selectedRows(0))
        pids.append(index.data(Qt::UserRole).toLongLong());
    return pids;
}

LaunchDialog::LaunchDialog(QWidget* parent)
    : QDialog(parent)
    , m_program(new QLineEdit(this))
    , m_arguments(new QLineEdit(this))
    , m_directory(new QLineEdit(QDir::currentPath(), this))
    , m_trackHeap(new QCheckBox(tr("Track allocations (heap by call site, with the heap preload)"), this))
{
    setWindowTitle(tr("Launch a program"));
    m_program->setObjectName(QStringLiteral("program"));
    m_arguments->setObjectName(QStringLiteral("arguments"));
    m_directory->setObjectName(QStringLiteral("directory"));
    auto* form = new QFormLayout(this);
    auto* programRow = new QHBoxLayout;
    auto* browse = new QPushButton(tr("Browse…"), this);
    programRow->addWidget(m_program);
    programRow->addWidget(browse);
    form->addRow(tr("Program"), programRow);
    m_arguments->setPlaceholderText(tr("arguments, quoted as in a shell"));
    form->addRow(tr("Arguments"), m_arguments);
    form->addRow(tr("Working directory"), m_directory);
    m_trackHeap->setObjectName(QStringLiteral("trackHeap"));
    m_trackHeap->setToolTip(tr("perfdash puts libperfdash_heap.so in the program's LD_PRELOAD: its exact heap in "
                               "use, and live bytes and allocation rate by call site in the Memory view "
                               "(a static or set-user-ID program cannot be tracked)"));
    form->addRow(QString(), m_trackHeap);
    connect(browse, &QPushButton::clicked, this, [this] {
        const QString file = QFileDialog::getOpenFileName(this, tr("Program to launch"), m_directory->text());
        if (!file.isEmpty())
            m_program->setText(file);
    });
    auto* buttons = new QDialogButtonBox(QDialogButtonBox::Cancel, this);
    auto* launch = buttons->addButton(tr("Launch"), QDialogButtonBox::AcceptRole);
    launch->setEnabled(false);
    connect(m_program, &QLineEdit::textChanged, this,
        [launch](const QString& t) { launch->setEnabled(!t.trimmed().isEmpty()); });
    connect(buttons, &QDialogButtonBox::accepted, this, &QDialog::accept);
    connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
    form->addRow(buttons);
    resize(560, 160);
}

bool LaunchDialog::trackHeap() const
{
    return m_trackHeap->isChecked();
}

QString LaunchDialog::program() const
{
    return m_program->text().trimmed();
}

QStringList LaunchDialog::arguments() const
{
    return splitArguments(m_arguments->text());
}

QStringList LaunchDialog::splitArguments(const QString& text)
{
    // QProcess::splitCommand knows only double quotes: 'two words' came out as two arguments.
    QStringList words;
    QString word;
    bool inWord = false;
    for (qsizetype i = 0; i < text.size(); ++i) {
        const QChar c = text.at(i);
        if (c == u'\'' || c == u'"') {
            inWord = true;
            for (++i; i < text.size() && text.at(i) != c; ++i) {
                if (c == u'"' && text.at(i) == u'\\' && i + 1 < text.size()
                    && QStringView(u"\"\\$`").contains(text.at(i + 1)))
                    ++i;
                word += text.at(i);
            }
        } else if (c == u'\\' && i + 1 < text.size()) {
            inWord = true;
            word += text.at(++i);
        } else if (c.isSpace()) {
            if (inWord)
                words.append(std::exchange(word, QString()));
            inWord = false;
        } else {
            inWord = true;
            word += c;
        }
    }
    if (inWord)
        words.append(word);
    return words;
}

QString LaunchDialog::workingDirectory() const
{
    return m_directory->text().trimmed();
}

} // namespace perfdash
