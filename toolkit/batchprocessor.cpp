// SPDX-License-Identifier: GPL-3.0-or-later
#include "toolkit/batchprocessor.h"

namespace perfdash {

BatchProcessorBase::BatchProcessorBase(
    const BatchConfig& config, Scheduler* scheduler, PerformanceMonitor* monitor, QObject* parent)
    : QObject(parent)
    , m_config(config)
    , m_scheduler(scheduler ? scheduler : Scheduler::forCurrentThread())
    , m_monitor(monitor ? monitor : new PerformanceMonitor(this))
{
    m_config.maxSize = std::max(1, m_config.maxSize);
    m_config.maxDelayMs = std::max<qint64>(0, m_config.maxDelayMs);
    m_config.retryAttempts = std::max(0, m_config.retryAttempts);
}

BatchProcessorBase::~BatchProcessorBase()
{
    if (m_delayTask)
        m_scheduler->cancel(*m_delayTask);
    if (m_retryTask)
        m_scheduler->cancel(*m_retryTask);
}

void BatchProcessorBase::itemAdded(qsizetype waiting)
{
    // Only the first item of a batch (to start its delay) and a full batch need the owner's thread.
    if (waiting != 1 && waiting % m_config.maxSize != 0)
        return;
    if (QThread::currentThread() == thread())
        schedule();
    else
        QMetaObject::invokeMethod(this, &BatchProcessorBase::schedule, Qt::QueuedConnection);
}

void BatchProcessorBase::schedule()
{
    if (m_processing)
        return; // looked at again when the batch in flight is done
    if (readyForBatch())
        process();
    else
        armDelay();
}

bool BatchProcessorBase::readyForBatch() const
{
    QMutexLocker lock(&m_mutex);
    const qsizetype waiting = waitingLocked();
    return waiting >= m_config.maxSize || (waiting > 0 && oldestAddedAtLocked() + m_config.maxDelayMs <= now());
}

void BatchProcessorBase::armDelay()
{
    QMutexLocker lock(&m_mutex);
    if (m_delayTask || waitingLocked() == 0)
        return;
    const qint64 remaining = oldestAddedAtLocked() + m_config.maxDelayMs - now();
    lock.unlock();
    m_delayTask = m_scheduler->schedule(remaining, [this] {
        m_delayTask.reset();
        schedule();
    });
}

void BatchProcessorBase::flush()
{
    if (!m_processing)
        process();
}

void BatchProcessorBase::process()
{
    Q_ASSERT(!m_processing);
    if (m_delayTask) {
        m_scheduler->cancel(*m_delayTask);
        m_delayTask.reset();
    }
    // A loop, not recursion: a backlog of full batches runs one after another on a flat stack,
    // for at most a few milliseconds; then the event loop gets its turn and the rest follows.
    const qint64 started = m_monitor->clock()->monotonicNs();
    do {
        if (m_monitor->clock()->monotonicNs() - started > MaxLoopNs) {
            if (!m_delayTask)
                m_delayTask = m_scheduler->schedule(0, [this] {
                    m_delayTask.reset();
                    schedule();
                });
            return;
        }
        QMutexLocker lock(&m_mutex);
        m_batchSize = takeBatchLocked();
        lock.unlock();
        if (m_batchSize == 0)
            return;
        m_processing = true;
        m_attempt = 0;
        m_batchStartNs = m_monitor->clock()->monotonicNs();
        if (!attempt())
            return; // a retry is scheduled; it carries on from there
    } while (readyForBatch());
    armDelay();
}

bool BatchProcessorBase::attempt()
{
    m_retryTask.reset();
    std::exception_ptr error;
    try {
        runBatch();
    } catch (...) {
        error = std::current_exception();
    }
    if (error && m_attempt < m_config.retryAttempts) {
        ++m_attempt;
        {
            QMutexLocker lock(&m_mutex);
            ++m_retries;
        }
        m_retryTask = m_scheduler->schedule(m_config.retryDelayMs * m_attempt, [this] {
            if (attempt())
                schedule(); // items that arrived during the retries
        });
        return false;
    }

    QString message;
    if (error) {
        try {
            std::rethrow_exception(error);
        } catch (const std::exception& e) {
            message = QString::fromUtf8(e.what());
        } catch (...) {
            message = QStringLiteral("unknown exception");
        }
    }
    // Counted before the futures resolve, so whoever waits on one sees the batch in metrics().
    m_monitor->finishOperation(QStringLiteral("batch.process"), m_batchStartNs, !error,
        { { QStringLiteral("batchSize"), qint64(m_batchSize) }, { QStringLiteral("attempts"), m_attempt + 1 } });
    quint64 resolved = 0, added = 0;
    {
        QMutexLocker lock(&m_mutex);
        ++m_batches;
        m_items += quint64(m_batchSize);
        m_resolved += quint64(m_batchSize);
        if (error) {
            ++m_failedBatches;
            m_failedItems += quint64(m_batchSize);
        }
        resolved = m_resolved;
        added = m_added;
    }
    if (error)
        failBatch(error);
    else
        resolveBatch();
    const int size = int(m_batchSize);
    m_processing = false;
    m_batchSize = 0;
    if (error)
        Q_EMIT batchFailed(message, size);
    Q_EMIT progress(resolved, added);
    return true;
}

qsizetype BatchProcessorBase::waiting() const
{
    QMutexLocker lock(&m_mutex);
    return waitingLocked();
}

BatchMetrics BatchProcessorBase::metrics() const
{
    BatchMetrics m;
    {
        QMutexLocker lock(&m_mutex);
        m.currentBatchSize = int(waitingLocked());
        m.processing = m_processing;
        m.batches = m_batches;
        m.items = m_items;
        m.retries = m_retries;
        m.failedBatches = m_failedBatches;
        m.failedItems = m_failedItems;
    }
    m.batchDuration = m_monitor->stats(QStringLiteral("batch.process"));
    return m;
}

} // namespace perfdash
