// SPDX-License-Identifier: GPL-3.0-or-later
#include "otlp/otlpdata.h"

namespace perfdash::otlp {

quint64 Metrics::pointCount() const noexcept
{
    quint64 n = 0;
    for (const ResourceMetrics& r : resources) {
        for (const Metric& m : r.metrics)
            n += m.numbers.size() + m.histograms.size() + m.exponentials.size();
    }
    return n;
}

QString attributeText(const QVariant& value)
{
    if (value.typeId() == QMetaType::QVariantList) {
        QStringList parts;
        const QVariantList list = value.toList();
        for (const QVariant& v : list)
            parts.append(attributeText(v));
        return u'[' + parts.join(u',') + u']';
    }
    if (value.typeId() == QMetaType::QVariantMap) {
        QStringList parts;
        const QVariantMap map = value.toMap();
        for (auto it = map.cbegin(); it != map.cend(); ++it)
            parts.append(it.key() + u'=' + attributeText(it.value()));
        return u'{' + parts.join(u',') + u'}';
    }
    if (value.typeId() == QMetaType::QByteArray)
        return QString::fromLatin1(value.toByteArray().toBase64());
    return value.toString();
}

void applyResourceAttribute(Resource& r, const QString& key, const QVariant& value)
{
    if (key == u"service.name")
        r.serviceName = attributeText(value);
    else if (key == u"service.namespace")
        r.serviceNamespace = attributeText(value);
    else if (key == u"service.instance.id")
        r.instanceId = attributeText(value);
    else if (key == u"host.name")
        r.hostName = attributeText(value);
    else if (key == u"process.pid") {
        bool ok = false;
        const qint64 pid = value.toLongLong(&ok);
        r.pid = ok && pid > 0 && pid < (qint64(1) << 31) ? pid : 0;
    } else if (key == u"process.command_args" && value.typeId() == QMetaType::QVariantList) {
        r.commandLine.clear();
        const QVariantList args = value.toList();
        for (const QVariant& a : args)
            r.commandLine.append(attributeText(a));
    } else if ((key == u"process.command_line" || key == u"process.executable.path") && r.commandLine.isEmpty())
        r.commandLine = QStringList { attributeText(value) };
}

} // namespace perfdash::otlp
