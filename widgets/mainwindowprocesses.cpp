// SPDX-License-Identifier: GPL-3.0-or-later
// Processes: attaching, launching, budgets, and quitting while launched programs run.
#include "widgets/mainwindow.h"

#include "core/errors.h"

#include "profiler/heapprofiler.h"

#include "core/childprocess.h"
#include "ipc/ingestserver.h"
#include "profiler/profiler.h"
#include "widgets/attachdialog.h"
#include "widgets/budgetsdialog.h"
#include "widgets/memorypanel.h"
#include "widgets/profilepanel.h"
#include "widgets/quitprompt.h"

#include <QFileInfo>
#include <QMessageBox>
#include <QProcess>
#include <QStatusBar>

namespace perfdash {

void MainWindow::showAttachDialog()
{
    QSet<qint64> instrumented;
    if (m_last) {
        for (const ProcessInfo& p : m_last->processes) {
            if (p.state == ProcessInfo::State::Live)
                instrumented.insert(p.pid);
        }
    }
    AttachDialog dialog(&m_pool, instrumented, this);
    if (dialog.exec() != QDialog::Accepted)
        return;
    for (qint64 pid : dialog.selectedPids()) {
        QString error;
        if (!attach(pid, &error))
            QMessageBox::warning(this, tr("Cannot attach"), error);
    }
}

bool MainWindow::attach(qint64 pid, QString* error)
{
    const quint64 key = m_store->attachPid(pid, error);
    if (!key)
        return false;
    profileIfAsked(pid);
    selectProcess(key);
    return true;
}

void MainWindow::profileIfAsked(qint64 pid)
{
    Profiler* profiler = m_profile->profiler();
    if (!m_profileEveryProcess || !profiler)
        return;
    // A refusal is not the attach's failure: the profile view says why and what fixes it.
    QString why;
    if (!profiler->profile(pid, &why))
        statusBar()->showMessage(tr("Not profiled: %1").arg(why), 15000);
}

void MainWindow::setHeapProfiler(HeapProfiler* heap)
{
    m_heap = heap;
    m_memory->setHeapProfiler(heap);
}

bool MainWindow::launch(
    const QString& program, const QStringList& arguments, const QString& directory, QString* error, bool trackHeap)
{
    auto process = std::make_unique<QProcess>();
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    if (m_server)
        env.insert(QStringLiteral("PERFDASH_SOCKET"), m_server->socketPath());
    int heapTicket = 0;
    if (trackHeap && m_heap) {
        if (QString refused; !m_heap->prepare(program, &env, &heapTicket, &refused))
            statusBar()->showMessage(tr("The heap of %1 is not tracked: %2").arg(program, refused), 15000);
    }
    process->setProcessEnvironment(env);
    process->setWorkingDirectory(directory);
    process->setProcessChannelMode(QProcess::ForwardedChannels);
    childprocess::endWithParent(*process); // also when perfdash is killed and cannot stop it
    process->start(program, arguments);
    if (!process->waitForStarted(10'000)) {
        if (m_heap)
            m_heap->abandon(heapTicket);
        return failWith(error, tr("cannot launch %1: %2").arg(program, process->errorString()));
    }
    if (heapTicket)
        m_heap->started(heapTicket, process->processId(), QFileInfo(program).fileName());
    if (const quint64 key = m_store->attachPid(process->processId())) {
        profileIfAsked(process->processId());
        selectProcess(key);
    }
    m_launched.push_back(std::move(process));
    return true;
}

void MainWindow::showLaunchDialog()
{
    // The same dialog comes back after a failure, with what was typed, to be corrected.
    LaunchDialog dialog(this);
    while (dialog.exec() == QDialog::Accepted) {
        QString error;
        if (launch(dialog.program(), dialog.arguments(), dialog.workingDirectory(), &error, dialog.trackHeap()))
            return;
        QMessageBox::warning(this, tr("Cannot launch"), error);
    }
}

void MainWindow::showBudgetsDialog()
{
    BudgetsDialog dialog(m_store->budgets(), m_store->thresholds(), this);
    dialog.setSlowRules(m_store->slowThresholds().rules());
    if (dialog.exec() == QDialog::Accepted) {
        applyBudgets(dialog.budgets(), dialog.thresholds());
        m_store->setSlowRules(dialog.slowRules());
        saveSlowRules(dialog.slowRules());
    }
}

bool MainWindow::confirmQuit()
{
    int running = 0;
    for (const auto& p : m_launched)
        running += p->state() != QProcess::NotRunning ? 1 : 0;
    if (running == 0 || !isVisible())
        return true;
    // Closing the window stops what it launched: ask, since that may be a long-running service.
    return askQuitStoppingLaunched(this, running);
}

} // namespace perfdash
