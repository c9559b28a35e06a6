// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <QByteArray>
#include <QList>
#include <QString>

namespace perfdash {

/**
 * What one listener refused, by reason: the same numbers for /metrics
 * (`perfdash_<name>_refused_total{reason}`), the headless summary and the window, so that no
 * refusal is only a line on stderr. Filled by the listener (OtlpReceiver::refusals()).
 */
struct ListenerRefusals
{
    struct Reason
    {
        QByteArray label; ///< the /metrics label value: "limit", "timed_out", ...
        QString words; ///< the same for people: "over the connection limit"
        quint64 count = 0;
    };
    QByteArray name; ///< the /metrics prefix: "otlp"
    QString title; ///< for people: "OTLP"
    int open = 0; ///< connections open now
    quint64 accepted = 0; ///< connections accepted so far
    QList<Reason> reasons; ///< connections and requests refused, each reason always listed
    QList<Reason> rejectedItems; ///< data inside accepted requests refused (spans, data points)

    quint64 total() const
    {
        quint64 sum = 0;
        for (const Reason& r : reasons)
            sum += r.count;
        return sum;
    }
    /// "OTLP 6 (timed out 3, too large 1, ...)": the reasons that happened; "OTLP 0" when none.
    QString describe() const
    {
        QStringList parts;
        for (const Reason& r : reasons) {
            if (r.count > 0)
                parts << QStringLiteral("%1 %2").arg(r.words).arg(r.count);
        }
        for (const Reason& r : rejectedItems) {
            if (r.count > 0)
                parts << QStringLiteral("%1 %2").arg(r.words).arg(r.count);
        }
        const QString head = QStringLiteral("%1 %2").arg(title).arg(total());
        return parts.isEmpty() ? head : head + QStringLiteral(" (") + parts.join(QStringLiteral(", ")) + u')';
    }
};

} // namespace perfdash
