// SPDX-License-Identifier: GPL-3.0-or-later
#include "widgets/otlpmenu.h"

#include "http/httpaddress.h"
#include "otlp/otlpreceiver.h"

#include <QInputDialog>
#include <QSettings>

namespace perfdash {

namespace {
QString savedAddress()
{
    return QSettings().value(QStringLiteral("otlp/address"), QStringLiteral("127.0.0.1:4318")).toString();
}

/// An address as --otlp takes it, refused with the same words.
bool parseAddress(const QString& text, QHostAddress* host, quint16* port, QString* error)
{
    return parseHttpAddress(text, QStringLiteral("--otlp"), QStringLiteral("[HOST:]PORT"), host, port, error);
}
} // namespace

OtlpMenu::OtlpMenu(OtlpReceiver* receiver, bool fromCommandLine, QWidget* parent)
    : QMenu(tr("&OpenTelemetry"), parent)
    , m_receiver(receiver)
{
    m_receive = addAction(tr("Receive OTLP/HTTP"));
    m_receive->setCheckable(true);
    m_receive->setStatusTip(
        tr("Serve /v1/traces and /v1/metrics: services instrumented with OpenTelemetry show up live"));
    m_address = addAction(tr("Address…"), this, &OtlpMenu::chooseAddress);
    m_hideInternal = addAction(tr("Hide internal spans"));
    m_hideInternal->setCheckable(true);
    m_hideInternal->setStatusTip(tr("Leave spans of kind INTERNAL (middlewares, handlers) out of the operations; "
                                    "they are still counted"));
    addSeparator();
    m_status = addAction(QString());
    m_status->setEnabled(false);
    QAction* note = addAction(tr("Percentiles of histogram metrics are as precise as the sender's buckets"));
    note->setEnabled(false);

    const QSettings settings;
    m_hideInternal->setChecked(settings.value(QStringLiteral("otlp/hideInternal"), false).toBool());
    m_receiver->setHideInternalSpans(m_hideInternal->isChecked());
    connect(m_hideInternal, &QAction::toggled, this, [this](bool on) {
        m_receiver->setHideInternalSpans(on);
        QSettings().setValue(QStringLiteral("otlp/hideInternal"), on);
    });
    if (!fromCommandLine && settings.value(QStringLiteral("otlp/enabled"), false).toBool())
        setReceiving(true);
    m_receive->setChecked(m_receiver->isListening());
    // Only what the user does is remembered, not what a command line asked for once.
    connect(m_receive, &QAction::triggered, this, [this](bool on) {
        setReceiving(on);
        QSettings().setValue(QStringLiteral("otlp/enabled"), m_receiver->isListening());
    });
    connect(this, &QMenu::aboutToShow, this, &OtlpMenu::updateStatus);
    updateStatus();
}

void OtlpMenu::setReceiving(bool on)
{
    if (!on) {
        m_receiver->close();
        Q_EMIT message(tr("OTLP receiver stopped"));
    } else if (!m_receiver->isListening()) {
        QHostAddress host;
        quint16 port = 0;
        QString error;
        if (!parseAddress(savedAddress(), &host, &port, &error) || !m_receiver->listen(host, port, &error))
            Q_EMIT message(error);
        else
            Q_EMIT message(tr("Receiving OTLP/HTTP on %1").arg(m_receiver->address()));
    }
    m_receive->setChecked(m_receiver->isListening());
    updateStatus();
}

void OtlpMenu::chooseAddress()
{
    bool ok = false;
    const QString text = QInputDialog::getText(parentWidget(), tr("OTLP/HTTP address"),
        tr("[HOST:]PORT to listen on (a port alone is 127.0.0.1):"), QLineEdit::Normal, savedAddress(), &ok);
    if (!ok)
        return;
    QHostAddress host;
    quint16 port = 0;
    QString error;
    if (!parseAddress(text.trimmed(), &host, &port, &error)) {
        Q_EMIT message(error);
        return;
    }
    QSettings().setValue(QStringLiteral("otlp/address"), text.trimmed());
    if (m_receiver->isListening()) { // move to the new address now
        m_receiver->close();
        setReceiving(true);
    }
}

void OtlpMenu::updateStatus()
{
    if (!m_receiver->isListening()) {
        m_status->setText(tr("Not receiving (would listen on %1)").arg(savedAddress()));
        return;
    }
    const OtlpReceiver::Stats s = m_receiver->stats();
    m_status->setText(tr("On %1: %2 spans (%3 hidden), %4 metric points; %5 rejected, %6 refused requests")
                          .arg(m_receiver->address())
                          .arg(s.spans)
                          .arg(s.hiddenSpans)
                          .arg(s.points)
                          .arg(s.rejectedSpans + s.rejectedPoints)
                          .arg(s.badRequests + s.unsupported + s.tooLarge + s.refusedConnections + s.timedOut));
}

} // namespace perfdash
