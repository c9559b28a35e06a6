// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <QMenu>

namespace perfdash {

class OtlpReceiver;

/**
 * The window's OpenTelemetry menu: receive OTLP/HTTP on or off (at a chosen address, 127.0.0.1:4318
 * unless changed), hide internal spans, and what the receiver counted. Both toggles are remembered
 * (QSettings otlp/enabled, otlp/address, otlp/hideInternal) and applied at start, unless the
 * command line's --otlp already decided.
 */
class OtlpMenu : public QMenu
{
    Q_OBJECT
public:
    explicit OtlpMenu(OtlpReceiver* receiver, bool fromCommandLine, QWidget* parent = nullptr);

    QAction* receiveAction() const { return m_receive; }
    QAction* hideInternalAction() const { return m_hideInternal; }

Q_SIGNALS:
    /// For the status bar: listening, stopped, or why it could not listen.
    void message(const QString& text);

private:
    void setReceiving(bool on);
    void chooseAddress();
    void updateStatus();

    OtlpReceiver* m_receiver;
    QAction* m_receive;
    QAction* m_address;
    QAction* m_hideInternal;
    QAction* m_status;
};

} // namespace perfdash
