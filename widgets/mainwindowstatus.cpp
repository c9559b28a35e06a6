// SPDX-License-Identifier: GPL-3.0-or-later
// The status bar, and the counts and labels over the tables.
#include "widgets/mainwindow.h"

#include "core/metricsstore.h"
#include "http/metricsendpoint.h"
#include "ipc/ingestserver.h"
#include "models/alertsfiltermodel.h"
#include "models/alertsmodel.h"
#include "models/processesmodel.h"
#include "otlp/otlpreceiver.h"
#include "profiler/debuginfod.h"

#include <QComboBox>
#include <QDateTime>
#include <QLabel>
#include <QLocale>
#include <QProgressBar>
#include <QPushButton>
#include <QStatusBar>

namespace perfdash {

namespace {
/// Sets @p label's text without laying out the window again. QLabel::setText() asks its parent's
/// layout again, and each layout up to the window's then does the same (QLayout::activate() calls
/// updateGeometry() whatever changed): with counts changing at every refresh, a layout of the whole
/// window each time (6-9 ms of CPU in bench_gui). A label of a fixed size asks nothing; its size
/// only grows, when a longer text needs more room.
void setSteadyText(QLabel* label, const QString& text)
{
    if (label->text() == text)
        return;
    label->setText(text);
    const QSize hint = label->sizeHint();
    if (hint.width() > label->minimumWidth() || hint.height() != label->minimumHeight()
        || label->minimumWidth() != label->maximumWidth())
        label->setFixedSize(std::max(hint.width(), label->minimumWidth()), hint.height());
}
} // namespace

void MainWindow::buildStatusBar()
{
    m_statusSocket = new QLabel(this);
    m_statusConnections = new QLabel(this);
    m_statusRate = new QLabel(this);
    m_statusDrops = new QLabel(this);
    m_statusAlerts = new QLabel(this);
    m_statusRecording = new QLabel(this);
    m_statusRecording->hide();
    m_statusSymbols = new QLabel(this);
    m_statusSymbols->hide();
    m_exportProgress = new QProgressBar(this);
    m_exportProgress->setRange(0, 0); // busy: the writer does not know the size in advance
    m_exportProgress->setMaximumWidth(120);
    m_exportProgress->hide();
    statusBar()->addPermanentWidget(m_exportProgress);
    for (QLabel* l : { m_statusSymbols, m_statusRecording, m_statusSocket, m_statusConnections, m_statusRate,
             m_statusDrops, m_statusAlerts })
        statusBar()->addPermanentWidget(l);
    m_statusSocket->setTextInteractionFlags(Qt::TextSelectableByMouse);
    if (m_server) // each problem is said once at its source; here it reaches the window, not only stderr
        connect(m_server, &IngestServer::connectionProblem, this,
            [this](const QString& message) { statusBar()->showMessage(message, 10'000); });
}

void MainWindow::setHttpEndpoints(MetricsEndpoint* metrics, OtlpReceiver* otlp)
{
    m_metrics = metrics;
    m_otlp = otlp;
    // Each says a problem once per episode at its source; here it reaches the window, not only stderr.
    const auto show = [this](const QString& message) { statusBar()->showMessage(message, 10'000); };
    if (metrics)
        connect(metrics, &MetricsEndpoint::problem, this, show);
    if (otlp)
        connect(otlp, &OtlpReceiver::problem, this, show);
}

void MainWindow::addListener(std::function<ListenerRefusals()> refusals)
{
    m_listeners.append(std::move(refusals));
}

void MainWindow::setRecording(const QString& path)
{
    m_statusRecording->setVisible(!path.isEmpty());
    m_statusRecording->setText(tr("<span style='color:#b3261e'>●</span> Recording to %1").arg(path.toHtmlEscaped()));
    m_statusRecording->setToolTip(tr("--record writes the whole session to this capture as it goes"));
}

void MainWindow::updateStatus(const DashboardSnapshot& s)
{
    double rate = 0;
    quint64 drops = 0;
    int live = 0;
    for (const ProcessInfo& p : s.processes) {
        if (p.state == ProcessInfo::State::Live)
            rate += p.operationsPerSecond; // exited processes (and a capture's) send nothing
        drops += p.drops();
        live += p.state == ProcessInfo::State::Live ? 1 : 0;
    }
    if (m_server) {
        m_statusSocket->setText(tr("Socket: %1").arg(m_server->socketPath()));
        const IngestServer::Stats st = m_server->stats();
        const MetricsStore::Refusals r = m_store->refusals();
        quint64 httpRefused = 0;
        if (m_metrics) {
            const LimitedTcpServer::Stats h = m_metrics->httpStats();
            httpRefused += h.refusedLimit + h.refusedDescriptors + h.timedOut + h.oversized;
        }
        const ListenerRefusals otlp = m_otlp ? m_otlp->refusals() : ListenerRefusals {};
        QString listeners = m_otlp ? otlp.describe() : tr("OTLP off");
        quint64 listenersRefused = otlp.total();
        for (const auto& refusals : std::as_const(m_listeners)) {
            const ListenerRefusals other = refusals();
            listenersRefused += other.total();
            listeners += QStringLiteral("; ") + other.describe();
        }
        const quint64 refused = st.refused + r.processLimitConnections + st.rejectedVersion + st.closedProtocol
            + httpRefused + listenersRefused;
        setSteadyText(m_statusConnections,
            tr("%n connection(s)", nullptr, st.connections)
                + (refused > 0 ? tr(", %1 refused").arg(refused)
                               : QString())); // every refusal is seen, not only logged
        m_statusConnections->setToolTip(
            tr("Connections refused: %1 over the limit of %2, %3 for want of a file descriptor, "
               "%4 of another user, %5 with the dashboard full of live processes (%6 told so), "
               "%7 of a protocol version it does not speak, %8 not speaking the protocol; "
               "%9 /metrics requests and connections; %10")
                .arg(st.refusedLimit)
                .arg(st.maxConnections)
                .arg(st.refusedDescriptors)
                .arg(st.refusedUid)
                .arg(r.processLimitConnections)
                .arg(st.rejectedProcessLimit)
                .arg(st.rejectedVersion)
                .arg(st.closedProtocol)
                .arg(httpRefused)
                .arg(listeners));
        setSteadyText(m_statusRate, tr("%1 ops/s").arg(rate, 0, 'f', 0));
    } else {
        // A capture (or a store fed by other means): nothing is served, nothing streams.
        m_statusSocket->setText(tr("Read-only: not listening"));
        setSteadyText(m_statusConnections, tr("%n process(es)", nullptr, int(s.processes.size())));
        setSteadyText(m_statusRate, live ? tr("%1 ops/s").arg(rate, 0, 'f', 0) : QString());
    }
    setSteadyText(m_statusDrops, tr("%1 dropped").arg(drops));
    setSteadyText(m_statusAlerts,
        tr("%1 alerts, %2 budgets broken").arg(QLocale().toString(m_alerts->total())).arg(s.violations));
    updateSymbolsStatus();
}

void MainWindow::updateSymbolsStatus()
{
    // Debug files on their way from debuginfod (frames read module+offset until they come), and
    // those no server had.
    const Debuginfod::Status d = Debuginfod::instance().status();
    QString text;
    if (!d.fetching.isEmpty()) {
        QStringList shown = d.fetching.mid(0, 2);
        if (d.fetching.size() > 2)
            shown << tr("%n more", nullptr, int(d.fetching.size() - 2));
        text = tr("Fetching symbols: %1").arg(shown.join(QStringLiteral(", ")));
    } else if (d.failed > 0) {
        text = tr("Symbols: %n not found", nullptr, int(d.failed));
    }
    m_statusSymbols->setVisible(!text.isEmpty());
    m_statusSymbols->setText(text);
    m_statusSymbols->setToolTip(tr("debuginfod (DEBUGINFOD_URLS): %1 debug file(s) fetched, %2 failed%3")
                                    .arg(d.fetched)
                                    .arg(d.failed)
                                    .arg(d.lastError.isEmpty() ? QString() : tr("; last: %1").arg(d.lastError)));
}

QString MainWindow::alertsTitle() const
{
    const QLocale locale;
    const int kept = m_alerts->rowCount();
    const quint64 total = m_alerts->total();
    QString title = quint64(kept) == total
        ? tr("Alerts (%1)").arg(locale.toString(total))
        : tr("Alerts: newest %1 kept of %2 raised").arg(locale.toString(kept), locale.toString(total));
    if (m_alertsProxy->isFiltering())
        title += tr(", %1 shown").arg(locale.toString(m_alertsProxy->rowCount()));
    return title;
}

void MainWindow::updateAlertsTitle()
{
    const QString title = alertsTitle();
    if (m_alertsTitle->text() != title)
        setSteadyText(m_alertsTitle, title);
}

void MainWindow::updateAlertProcesses(const DashboardSnapshot& s)
{
    // The process filter offers the processes the dashboard knows, once each.
    for (const ProcessInfo& p : s.processes) {
        if (m_alertProcess->findData(p.name) < 0)
            m_alertProcess->addItem(p.name, p.name);
    }
}

void MainWindow::updateRangeLabel(const DashboardSnapshot& s)
{
    QString text;
    if (m_statsToMs > m_statsFromMs) {
        const auto time
            = [](qint64 ms) { return QDateTime::fromMSecsSinceEpoch(ms).toString(QStringLiteral("HH:mm:ss")); };
        text = tr("statistics over the selected range %1 – %2 (%3 s)")
                   .arg(time(m_statsFromMs), time(m_statsToMs))
                   .arg((m_statsToMs - m_statsFromMs + 500) / 1000);
        if (s.statsRangeBeyondHeld)
            text += tr("; seconds older than %1 min are no longer held").arg(StatsWindow::MaxSeconds / 60);
    } else if (m_paused) {
        text = tr("paused");
    }
    if (m_rangeLabel->text() != text)
        m_rangeLabel->setText(text);
    m_rangeReset->setVisible(m_statsToMs > m_statsFromMs);
}

} // namespace perfdash
