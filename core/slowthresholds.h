// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <QList>
#include <QString>

#include <mutex>
#include <optional>

namespace perfdash {

/// One `--slow 'PATTERN:DURATION'`: instances of the operations @p pattern matches (the patterns
/// of `--budget`: a name, or `*` and `?` wildcards) are slow at or over @p slowNs.
struct SlowRule
{
    QString pattern;
    quint64 slowNs = 0;
    bool operator==(const SlowRule&) const = default;
};

/**
 * The slow threshold of every operation: the rule whose pattern names it exactly, else the longest
 * wildcard pattern that matches it, else the default (the window's "Slow" threshold, 100 ms unless
 * changed). The same choice as PerformanceMonitor::thresholdsFor(), kept apart from any monitor so
 * that the profiler's threads can ask (thread-safe).
 */
class SlowThresholds
{
public:
    /// `PATTERN:DURATION` (e.g. `http.GET /users:50ms`, `db.*:5ms`); nullopt with a sentence.
    static std::optional<SlowRule> parse(const QString& text, QString* error);

    void setDefault(quint64 slowNs);
    quint64 defaultNs() const;
    void setRules(const QList<SlowRule>& rules);
    QList<SlowRule> rules() const;
    /// 0: no threshold (nothing is slow).
    quint64 thresholdFor(const QString& operation) const;
    /// Changes with every setDefault()/setRules(): a cache of thresholdFor() is stale when it moved.
    quint64 generation() const;

private:
    mutable std::mutex m_mutex;
    quint64 m_default = 100'000'000;
    QList<SlowRule> m_rules;
    quint64 m_generation = 0;
};

} // namespace perfdash
