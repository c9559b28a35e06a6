// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "core/clock.h"

#include <QFuture>
#include <QHash>
#include <QMutex>
#include <QPromise>

#include <list>
#include <memory>
#include <optional>

namespace perfdash {

struct CacheMetrics
{
    int size = 0;
    quint64 hits = 0;
    quint64 misses = 0;
    quint64 evictions = 0; ///< removed to make room (least recently used first)
    quint64 expirations = 0; ///< found past their time to live
    quint64 computations = 0; ///< getOrCompute() calls that ran the callable
};

/**
 * A cache with a time to live and a maximum size, evicting the least recently used entry when
 * full. getOrCompute() runs the callable once for concurrent misses of the same key: the others
 * get the same QFuture. A computation that throws is not cached; everyone waiting on it gets the
 * exception. Thread-safe. K needs qHash(); time comes from a Clock, so tests control it.
 */
template <typename K, typename V> class TtlCache
{
public:
    TtlCache(qint64 ttlMs, int maxSize, Clock* clock = Clock::system())
        : m_ttlNs(ttlMs * 1'000'000)
        , m_maxSize(std::max(1, maxSize))
        , m_clock(clock)
    {
    }

    std::optional<V> get(const K& key)
    {
        QMutexLocker lock(&m_mutex);
        return lookupLocked(key);
    }

    void put(const K& key, V value)
    {
        QMutexLocker lock(&m_mutex);
        putLocked(key, std::move(value));
    }

    bool remove(const K& key)
    {
        QMutexLocker lock(&m_mutex);
        auto it = m_entries.find(key);
        if (it == m_entries.end())
            return false;
        m_lru.erase(it->position);
        m_entries.erase(it);
        return true;
    }

    void clear()
    {
        QMutexLocker lock(&m_mutex);
        m_entries.clear();
        m_lru.clear();
    }

    /// The cached value, or the result of @p compute (which returns V), computed once per key
    /// however many threads miss at the same time.
    template <typename F> QFuture<V> getOrCompute(const K& key, F&& compute)
    {
        QMutexLocker lock(&m_mutex);
        if (std::optional<V> cached = lookupLocked(key)) {
            QPromise<V> ready;
            ready.start();
            ready.addResult(std::move(*cached));
            ready.finish();
            return ready.future();
        }
        if (auto running = m_inFlight.constFind(key); running != m_inFlight.constEnd())
            return *running; // someone is computing it right now
        auto promise = std::make_shared<QPromise<V>>();
        promise->start();
        QFuture<V> future = promise->future();
        m_inFlight.insert(key, future);
        ++m_computations;
        lock.unlock();

        std::optional<V> value;
        std::exception_ptr error;
        try {
            value.emplace(std::forward<F>(compute)());
        } catch (...) {
            error = std::current_exception();
        }
        lock.relock();
        m_inFlight.remove(key);
        if (value)
            putLocked(key, *value);
        lock.unlock();
        if (value)
            promise->addResult(std::move(*value));
        else
            promise->setException(error);
        promise->finish();
        return future;
    }

    int size() const
    {
        QMutexLocker lock(&m_mutex);
        return int(m_entries.size());
    }

    CacheMetrics metrics() const
    {
        QMutexLocker lock(&m_mutex);
        return { int(m_entries.size()), m_hits, m_misses, m_evictions, m_expirations, m_computations };
    }

private:
    struct Entry
    {
        V value;
        qint64 expiresAtNs;
        typename std::list<K>::iterator position;
    };

    std::optional<V> lookupLocked(const K& key)
    {
        auto it = m_entries.find(key);
        if (it == m_entries.end()) {
            ++m_misses;
            return std::nullopt;
        }
        if (m_clock->monotonicNs() >= it->expiresAtNs) {
            m_lru.erase(it->position);
            m_entries.erase(it);
            ++m_expirations;
            ++m_misses;
            return std::nullopt;
        }
        m_lru.splice(m_lru.begin(), m_lru, it->position); // most recently used first
        ++m_hits;
        return it->value;
    }

    void putLocked(const K& key, V value)
    {
        const qint64 expires = m_clock->monotonicNs() + m_ttlNs;
        if (auto it = m_entries.find(key); it != m_entries.end()) {
            it->value = std::move(value);
            it->expiresAtNs = expires;
            m_lru.splice(m_lru.begin(), m_lru, it->position);
            return;
        }
        while (int(m_entries.size()) >= m_maxSize) {
            m_entries.remove(m_lru.back());
            m_lru.pop_back();
            ++m_evictions;
        }
        m_lru.push_front(key);
        m_entries.insert(key, Entry { std::move(value), expires, m_lru.begin() });
    }

    const qint64 m_ttlNs;
    const int m_maxSize;
    Clock* m_clock;
    mutable QMutex m_mutex;
    QHash<K, Entry> m_entries;
    std::list<K> m_lru;
    QHash<K, QFuture<V>> m_inFlight;
    quint64 m_hits = 0;
    quint64 m_misses = 0;
    quint64 m_evictions = 0;
    quint64 m_expirations = 0;
    quint64 m_computations = 0;
};

} // namespace perfdash
