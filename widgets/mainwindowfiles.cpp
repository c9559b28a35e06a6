// SPDX-License-Identifier: GPL-3.0-or-later
// Exports and captures: what they write, the dialogs that ask where, the read-only capture window.
#include "widgets/mainwindow.h"

#include "capture/capture.h"
#include "capture/captureprofiles.h"
#include "core/csvwriter.h"
#include "core/traceexport.h"
#include "models/alertsmodel.h"
#include "profiler/foldedexport.h"
#include "profiler/profiler.h"
#include "run/capturedprofiles.h"
#include "widgets/comparisonwindow.h"
#include "widgets/exportdialog.h"
#include "widgets/mainwindowhelpers.h"
#include "widgets/memorypanel.h"
#include "widgets/profilepanel.h"

#include <QCoreApplication>
#include <QDir>
#include <QFileDialog>
#include <QJsonDocument>
#include <QJsonObject>
#include <QMessageBox>
#include <QProgressBar>
#include <QStatusBar>

namespace perfdash {

QFuture<QString> MainWindow::exportCsv(ExportKind kind, const QString& path, StatsWindow window)
{
    MetricsStore* store = m_store;
    return m_pool.submit(QStringLiteral("export"), [store, kind, path, window] {
        QString error;
        if (kind == ExportKind::Trace) {
            traceexport::writeFile(*store, path, &error);
            return error;
        }
        csvexport::writeFile(
            path,
            [&](CsvWriter& csv) {
                switch (kind) {
                case ExportKind::Statistics:
                    csvexport::writeStatistics(csv, store->statistics(window));
                    break;
                case ExportKind::Series:
                    csvexport::writeSeries(csv, store->series());
                    break;
                case ExportKind::Memory:
                    csvexport::writeMemory(csv, store->memoryRecords());
                    break;
                case ExportKind::Trace:
                    break;
                }
            },
            &error);
        return error;
    });
}

void MainWindow::exportWithDialog(ExportKind kind)
{
    // First say what the file will hold, and offer the window for statistics.
    ExportDialog what(ExportDialog::Kind(int(kind)), currentRequest().window, m_paused ? m_pausedAtMs : 0, this);
    if (what.exec() != QDialog::Accepted)
        return;
    const StatsWindow window = what.window();
    static const char* const names[] = { "statistics.csv", "series.csv", "memory.csv", "trace.json" };
    const QString suggested = QDir(m_exportFolder).filePath(QString::fromLatin1(names[int(kind)]));
    const bool trace = kind == ExportKind::Trace;
    const QString path = QFileDialog::getSaveFileName(this, trace ? tr("Export Chrome trace") : tr("Export CSV"),
        suggested, trace ? tr("Trace files (*.json)") : tr("CSV files (*.csv)"));
    if (path.isEmpty())
        return;
    m_exportFolder = QFileInfo(path).absolutePath();
    statusBar()->showMessage(tr("Exporting %1…").arg(path));
    ++m_exportsRunning;
    m_exportProgress->show();
    exportCsv(kind, path, window).then(this, [this, path](const QString& error) {
        if (--m_exportsRunning == 0)
            m_exportProgress->hide();
        if (error.isEmpty()) {
            statusBar()->showMessage(tr("Exported %1").arg(path), 5000);
        } else {
            statusBar()->clearMessage();
            QMessageBox::warning(this, tr("Export failed"), error);
        }
    });
}

QFuture<QString> MainWindow::saveCapture(const QString& path)
{
    MetricsStore* store = m_store;
    // The profilers live as long as the session; their snapshots are taken on the worker.
    const std::vector<ProcessProfiler*> profilers
        = m_profile->profiler() ? m_profile->profiler()->profilers() : std::vector<ProcessProfiler*> {};
    return m_pool.submit(QStringLiteral("save capture"), [store, path, profilers] {
        QString error; // whole or not at all: a full disk leaves the previous file
        perfdash::saveCapture(
            store, path, profilers.empty() ? QList<CapturedProfile> {} : capturedProfiles(profilers), &error);
        return error;
    });
}

MainWindow* MainWindow::openCaptureWindow(const QString& path, QString* error)
{
    std::optional<LoadedCapture> loaded = openCapture(path, error);
    if (!loaded)
        return nullptr;
    auto capture = std::make_shared<LoadedCapture>(std::move(*loaded));
    auto* window = new MainWindow(capture->store.get(), nullptr);
    window->setAttribute(Qt::WA_DeleteOnClose);
    window->showCapture(path, capture->load);
    // The store lives as long as the window: the lambda holding it goes with the window.
    connect(window, &QObject::destroyed, window, [capture] {});
    return window;
}

void MainWindow::showCapture(const QString& path, const CaptureLoad& load)
{
    setWindowTitle(tr("perfdash — %1 (capture, read-only)").arg(QFileInfo(path).fileName()));
    if (!load.problems.isEmpty())
        statusBar()->showMessage(tr("Partly damaged capture: %1").arg(load.problems.join(QStringLiteral("; "))));
    QList<Alert> alerts;
    alerts.reserve(load.alerts.size());
    for (const CapturedAlert& a : load.alerts) {
        Alert alert { Alert::Kind::Slow, a.timestampMs, m_store->processName(a.processKey), a.operation, a.valueNs,
            a.details };
        if (a.kind == QLatin1String("very slow"))
            alert.kind = Alert::Kind::VerySlow;
        else if (a.kind == QLatin1String("budget broken"))
            alert.kind = Alert::Kind::BudgetBroken;
        else if (a.kind == QLatin1String("budget met"))
            alert.kind = Alert::Kind::BudgetRecovered;
        if (alert.kind == Alert::Kind::Slow || alert.kind == Alert::Kind::VerySlow)
            alert.details = describeSample(QJsonDocument::fromJson(a.details.toUtf8()).object().toVariantMap(), a.ok);
        alerts.append(std::move(alert));
    }
    m_alerts->add(alerts);
    // Its CPU profiles, read-only in the profile view, and its heaps (live bytes by call site when
    // the run ended), read-only in the Memory view; read and built into call trees on the pool.
    struct Recorded
    {
        std::vector<ProfileSnapshotPtr> cpu;
        std::vector<ProfileSnapshotPtr> heaps;
    };
    m_pool
        .submit(QStringLiteral("capture profiles"),
            [path] {
                Recorded recorded;
                for (const CapturedProfile& p : readCaptureProfiles(path)) {
                    recorded.cpu.push_back(foldedexport::snapshotOf(p.pid, p.process, p.folded));
                    if (p.heap.isEmpty())
                        continue;
                    recorded.heaps.push_back(
                        foldedexport::snapshotOf(p.pid, p.process, p.heap, ProfileSnapshot::Unit::Bytes));
                }
                return recorded;
            })
        .then(this, [this](const Recorded& recorded) {
            m_profile->setRecordedProfiles(recorded.cpu);
            m_memory->setRecordedHeaps(recorded.heaps);
        });
    requestRefresh();
}

/// The extension the README and docs/CAPTURE.md use (run.perfdash), and .pdcap, which older
/// versions of the window saved; any other name under "All files".
QString captureFilter()
{
    return QCoreApplication::translate("perfdash", "perfdash captures (*.perfdash *.pdcap);;All files (*)");
}

void MainWindow::openCaptureWithDialog()
{
    const QString path = QFileDialog::getOpenFileName(this, tr("Open capture"), m_exportFolder, captureFilter());
    if (path.isEmpty())
        return;
    QString error;
    if (MainWindow* window = openCaptureWindow(path, &error))
        window->show();
    else
        QMessageBox::warning(this, tr("Cannot open the capture"), error);
}

void MainWindow::compareWithDialog()
{
    const QString filter = captureFilter();
    const QString base = QFileDialog::getOpenFileName(this, tr("Base capture (before)"), m_exportFolder, filter);
    if (base.isEmpty())
        return;
    const QString next
        = QFileDialog::getOpenFileName(this, tr("New capture (after)"), QFileInfo(base).absolutePath(), filter);
    if (next.isEmpty())
        return;
    QString error;
    if (ComparisonWindow* window = ComparisonWindow::open(base, next, &error))
        window->show();
    else
        QMessageBox::warning(this, tr("Cannot compare"), error);
}

void MainWindow::saveCaptureWithDialog()
{
    ExportDialog what(ExportDialog::Kind::Capture, currentRequest().window, m_paused ? m_pausedAtMs : 0, this);
    if (what.exec() != QDialog::Accepted)
        return;
    const QString path = QFileDialog::getSaveFileName(
        this, tr("Save capture"), QDir(m_exportFolder).filePath(QStringLiteral("capture.perfdash")), captureFilter());
    if (path.isEmpty())
        return;
    m_exportFolder = QFileInfo(path).absolutePath();
    statusBar()->showMessage(tr("Saving %1…").arg(path));
    saveCapture(path).then(this, [this, path](const QString& error) {
        if (error.isEmpty()) {
            statusBar()->showMessage(tr("Saved %1").arg(path), 5000);
        } else {
            statusBar()->clearMessage();
            QMessageBox::warning(this, tr("Save failed"), error);
        }
    });
}

} // namespace perfdash
