// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <QHostAddress>
#include <QString>

namespace perfdash {

/**
 * Parses the address an HTTP endpoint listens on: "HOST:PORT", "[V6]:PORT" or "PORT" (then
 * 127.0.0.1: what it serves stays on this machine unless asked); HOST is an IP address or
 * "localhost". False with a sentence in @p error that names @p option ("--otlp") and how it is
 * written (@p form: "[HOST:]PORT").
 */
bool parseHttpAddress(
    const QString& text, const QString& option, const QString& form, QHostAddress* host, quint16* port, QString* error);

/// "127.0.0.1:4317", "[::1]:4317": an address as people and gRPC write it.
QString formatHttpAddress(const QHostAddress& host, quint16 port);

} // namespace perfdash
