// SPDX-License-Identifier: GPL-3.0-or-later
#include "attachdialog.h"

#include "dashboardsnapshot.h"
#include "format.h"
#include "workerpool.h"

#include <QDialogButtonBox>
#include <QDir>
#include <QFileDialog>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLineEdit>
#include <QProcess>
#include <QPushButton>
#include <QSortFilterProxyModel>
#include <QStandardItemModel>
#include <QTableView>
#include <QVBoxLayout>

namespace perfdash {

AttachDialog::AttachDialog(WorkerPool* pool, const QSet<qint64>& instrumented, QWidget* parent)
    : QDialog(parent)
    , m_model(new QStandardItemModel(0, 5, this))
    , m_proxy(new QSortFilterProxyModel(this))
    , m_view(new QTableView(this))
    , m_filter(new QLineEdit(this))
{
    setWindowTitle(tr("Attach to a process"));
    m_model->setHorizontalHeaderLabels({ tr("PID"), tr("Name"), tr("RSS"), tr("Instrumented"), tr("Command line") });
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

    auto* layout = new QVBoxLayout(this);
    layout->addWidget(m_filter);
    layout->addWidget(m_view);
    auto* buttons = new QDialogButtonBox(QDialogButtonBox::Cancel, this);
    auto* attach = buttons->addButton(tr("Attach"), QDialogButtonBox::AcceptRole);
    attach->setEnabled(false);
    connect(buttons, &QDialogButtonBox::accepted, this, &QDialog::accept);
    connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
    connect(m_view, &QTableView::doubleClicked, this, &QDialog::accept);
    connect(m_view->selectionModel(), &QItemSelectionModel::selectionChanged, this,
        [this, attach] { attach->setEnabled(m_view->selectionModel()->hasSelection()); });
    layout->addWidget(buttons);
    resize(760, 480);

    pool->submit(QStringLiteral("list processes"), [] { return listUserProcesses(); })
        .then(this, [this, instrumented](const QList<ProcessSample>& processes) {
            for (const ProcessSample& p : processes) {
                auto* pid = new QStandardItem(QString::number(p.pid));
                pid->setData(p.pid, Qt::UserRole);
                auto* name = new QStandardItem(p.name);
                name->setData(p.name, Qt::UserRole);
                auto* rss = new QStandardItem(formatBytes(p.rssBytes));
                rss->setData(p.rssBytes, Qt::UserRole);
                const bool streams = instrumented.contains(p.pid);
                auto* inst = new QStandardItem(streams ? tr("yes") : QString());
                inst->setData(streams, Qt::UserRole);
                auto* command = new QStandardItem(p.commandLine.join(u' '));
                command->setData(command->text(), Qt::UserRole);
                for (QStandardItem* item : { pid, name, rss, inst, command })
                    item->setEditable(false);
                m_model->appendRow({ pid, name, rss, inst, command });
            }
            m_view->sortByColumn(2, Qt::DescendingOrder);
            m_view->resizeColumnsToContents();
            Q_EMIT loaded();
        });
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
{
    setWindowTitle(tr("Launch a program"));
    auto* form = new QFormLayout(this);
    auto* programRow = new QHBoxLayout;
    auto* browse = new QPushButton(tr("Browse…"), this);
    programRow->addWidget(m_program);
    programRow->addWidget(browse);
    form->addRow(tr("Program"), programRow);
    m_arguments->setPlaceholderText(tr("arguments, quoted as in a shell"));
    form->addRow(tr("Arguments"), m_arguments);
    form->addRow(tr("Working directory"), m_directory);
    connect(browse, &QPushButton::clicked, this, [this] {
        const QString file = QFileDialog::getOpenFileName(this, tr("Program to launch"), m_directory->text());
        if (!file.isEmpty())
            m_program->setText(file);
    });
    auto* buttons = new QDialogButtonBox(QDialogButtonBox::Cancel, this);
    auto* launch = buttons->addButton(tr("Launch"), QDialogButtonBox::AcceptRole);
    launch->setEnabled(false);
    connect(m_program, &QLineEdit::textChanged, this, [launch](const QString& t) { launch->setEnabled(!t.trimmed().isEmpty()); });
    connect(buttons, &QDialogButtonBox::accepted, this, &QDialog::accept);
    connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
    form->addRow(buttons);
    resize(560, 160);
}

QString LaunchDialog::program() const
{
    return m_program->text().trimmed();
}

QStringList LaunchDialog::arguments() const
{
    return QProcess::splitCommand(m_arguments->text());
}

QString LaunchDialog::workingDirectory() const
{
    return m_directory->text().trimmed();
}

} // namespace perfdash
