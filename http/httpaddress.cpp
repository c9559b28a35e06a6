// SPDX-License-Identifier: GPL-3.0-or-later
#include "http/httpaddress.h"

#include "core/errors.h"

namespace perfdash {

bool parseHttpAddress(
    const QString& text, const QString& option, const QString& form, QHostAddress* host, quint16* port, QString* error)
{
    const qsizetype colon = text.lastIndexOf(u':');
    const QString hostText = colon >= 0 ? text.left(colon) : QStringLiteral("127.0.0.1");
    bool ok = false;
    const uint p = (colon >= 0 ? text.mid(colon + 1) : text).toUInt(&ok);
    if (!ok || p > 65535 || hostText.isEmpty()) {
        return failWith(error, QStringLiteral("%1 needs %2, not '%3'").arg(option, form, text));
    }
    const QString bare
        = hostText.startsWith(u'[') && hostText.endsWith(u']') ? hostText.mid(1, hostText.size() - 2) : hostText;
    QHostAddress address(QHostAddress::LocalHost);
    if (bare != u"localhost" && !address.setAddress(bare)) {
        return failWith(error, QStringLiteral("%1: '%2' is not an IP address").arg(option, hostText));
    }
    *host = address;
    *port = quint16(p);
    return true;
}

QString formatHttpAddress(const QHostAddress& host, quint16 port)
{
    const QString h
        = host.protocol() == QAbstractSocket::IPv6Protocol ? u'[' + host.toString() + u']' : host.toString();
    return h + u':' + QString::number(port);
}

} // namespace perfdash
