// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/slowthresholds.h"

#include "core/globpattern.h"
#include "core/headlessgate.h"

namespace perfdash {

std::optional<SlowRule> SlowThresholds::parse(const QString& text, QString* error)
{
    // The duration follows the last ':' (a name may hold colons: "redis:GET").
    const qsizetype colon = text.lastIndexOf(QLatin1Char(':'));
    const QString pattern = colon > 0 ? text.left(colon).trimmed() : QString();
    const auto bad = [&](const QString& why) {
        *error = QStringLiteral("--slow '%1': %2 (the form is 'PATTERN:DURATION', e.g. 'http.GET /users:50ms')")
                     .arg(text, why);
        return std::nullopt;
    };
    if (pattern.isEmpty())
        return bad(QStringLiteral("no pattern before ':'"));
    const std::optional<quint64> ns = HeadlessGate::parseDurationNs(text.mid(colon + 1).trimmed());
    if (!ns || *ns == 0)
        return bad(QStringLiteral("'%1' is not a duration over zero such as 800us, 5ms or 1.5s")
                       .arg(text.mid(colon + 1).trimmed()));
    return SlowRule { pattern, *ns };
}

void SlowThresholds::setDefault(quint64 slowNs)
{
    const std::lock_guard lock(m_mutex);
    m_default = slowNs;
    ++m_generation;
}

quint64 SlowThresholds::defaultNs() const
{
    const std::lock_guard lock(m_mutex);
    return m_default;
}

void SlowThresholds::setRules(const QList<SlowRule>& rules)
{
    const std::lock_guard lock(m_mutex);
    m_rules = rules;
    ++m_generation;
}

QList<SlowRule> SlowThresholds::rules() const
{
    const std::lock_guard lock(m_mutex);
    return m_rules;
}

quint64 SlowThresholds::thresholdFor(const QString& operation) const
{
    const std::lock_guard lock(m_mutex);
    quint64 result = m_default;
    qsizetype best = -1;
    for (const SlowRule& rule : m_rules) {
        if (rule.pattern == operation)
            return rule.slowNs;
        if (rule.pattern.size() > best && !isLiteralPattern(rule.pattern) && globMatch(rule.pattern, operation)) {
            best = rule.pattern.size();
            result = rule.slowNs;
        }
    }
    return result;
}

quint64 SlowThresholds::generation() const
{
    const std::lock_guard lock(m_mutex);
    return m_generation;
}

} // namespace perfdash
