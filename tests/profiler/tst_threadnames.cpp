// SPDX-License-Identifier: GPL-3.0-or-later
// Thread names from /proc/PID/task/TID/comm: read when asked, cached, read again once old, and
// kept when the thread is gone.
#include "profiler/threadnames.h"

#include <QTest>

#include <condition_variable>
#include <mutex>
#include <thread>

#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

using namespace perfdash;

class TestThreadNames : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void namesCachedAndRenewed();
};

void TestThreadNames::namesCachedAndRenewed()
{
    std::mutex mutex;
    std::condition_variable changed;
    int step = 0;
    qint64 tid = 0;
    std::thread thread([&] {
        pthread_setname_np(pthread_self(), "orders-db");
        std::unique_lock lock(mutex);
        tid = qint64(syscall(SYS_gettid));
        step = 1;
        changed.notify_all();
        changed.wait(lock, [&] { return step == 2; });
        pthread_setname_np(pthread_self(), "renamed");
        step = 3;
        changed.notify_all();
        changed.wait(lock, [&] { return step == 4; });
    });
    const auto waitFor = [&](int value) {
        std::unique_lock lock(mutex);
        changed.wait(lock, [&] { return step == value; });
    };
    waitFor(1);
    ThreadNames cached(getpid(), std::chrono::hours(1));
    ThreadNames fresh(getpid(), std::chrono::milliseconds(0));
    QCOMPARE(cached.name(tid), QStringLiteral("orders-db"));
    QCOMPARE(fresh.name(tid), QStringLiteral("orders-db"));
    QCOMPARE(cached.reads(), 1);
    {
        std::lock_guard lock(mutex);
        step = 2;
    }
    changed.notify_all();
    waitFor(3);
    QCOMPARE(cached.name(tid), QStringLiteral("orders-db")); // from the cache: no file read
    QCOMPARE(cached.reads(), 1);
    QCOMPARE(fresh.name(tid), QStringLiteral("renamed")); // old at once: read again
    {
        std::lock_guard lock(mutex);
        step = 4;
    }
    changed.notify_all();
    thread.join();
    QCOMPARE(fresh.name(tid), QStringLiteral("renamed")); // gone: the last name read
    QCOMPARE(fresh.name(999999999, QStringLiteral("fallback")), QStringLiteral("fallback"));
}

QTEST_GUILESS_MAIN(TestThreadNames)
#include "tst_threadnames.moc"
