// SPDX-License-Identifier: GPL-3.0-or-later
// Test helper: an instrumented process whose operations the scope ring tests know to the
// microsecond. It prints "ready" once connected, then waits for "go" on stdin (the dashboard has
// started tracing it by then) and runs its mode; every timed operation prints a line
//   op NAME TID T0 T1 T2 T3
// with CLOCK_MONOTONIC nanoseconds read before and after the scope's begin (T0, T1) and before
// and after its end (T2, T3): the scope's own readings lie between.
//   scenario   an operation "test.session" open from before tracing until "end" on stdin; inside
//              it, 20 x test.outer (with test.inner nested) and 20 x test.before, test.short
//              (150 us), test.after; 200 us of work outside them between rounds. Says "scenario"
//              before waiting for "end", "done" after.
//   overrun N  N empty "test.tiny" scopes as fast as it can, then a timed "test.last"; "done".
//              Prints "tiny T0 T1": after the first scope and after the last.
//   threads N  N threads alive at once, each one timed "test.thread", then they all end; "wave";
//              3 s later the same again; "done" (with more threads than the client has rings,
//              some find none; the second wave's threads get the rings the first gave back).
#include <perfdash/perfdash.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <mutex>
#include <string>
#include <sys/syscall.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace {
long long now()
{
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1'000'000'000LL + ts.tv_nsec;
}

void spin(long long ns)
{
    const long long until = now() + ns;
    volatile unsigned x = 1;
    while (now() < until)
        x = x * 1664525u + 1013904223u;
}

std::mutex g_print;

struct Timed
{
    const char* name;
    long long t0 = 0, t1 = 0, t2 = 0, t3 = 0;
    void print() const
    {
        std::lock_guard lock(g_print);
        std::printf("op %s %ld %lld %lld %lld %lld\n", name, long(::syscall(SYS_gettid)), t0, t1, t2, t3);
    }
};

template <typename F> void timed(const char* name, F&& body)
{
    const perfdash::OpId op = perfdash::operation(name); // before t0: a name's first use takes a lock
    Timed t { name };
    t.t0 = now();
    {
        perfdash::Scope scope(op);
        t.t1 = now();
        body();
        t.t2 = now();
    }
    t.t3 = now();
    t.print();
}

bool waitLine(const char* expected)
{
    char line[64];
    while (std::fgets(line, sizeof line, stdin)) {
        if (std::strncmp(line, expected, std::strlen(expected)) == 0)
            return true;
    }
    return false;
}

void say(const char* what)
{
    std::lock_guard lock(g_print);
    std::printf("%s\n", what);
    std::fflush(stdout);
}

/// Until the dashboard has taken what was recorded so far (a flush answered).
void waitConnected()
{
    while (perfdash::flush(1000) != PERFDASH_OK)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
}

int scenario()
{
    // Begun before tracing: the dashboard learns of it when it ends.
    const perfdash::OpId sessionOp = perfdash::operation("test.session");
    Timed session { "test.session" };
    session.t0 = now();
    auto* scope = new perfdash::Scope(sessionOp);
    session.t1 = now();
    waitConnected();
    say("ready");
    if (!waitLine("go"))
        return 1;
    for (int round = 0; round < 20; ++round) {
        timed("test.outer", [] {
            spin(300'000);
            timed("test.inner", [] { spin(300'000); });
            spin(300'000);
        });
        spin(200'000); // outside any operation but the session
        timed("test.before", [] { spin(500'000); });
        timed("test.short", [] { spin(150'000); });
        timed("test.after", [] { spin(500'000); });
        spin(200'000);
    }
    say("scenario");
    if (!waitLine("end"))
        return 1;
    session.t2 = now();
    delete scope;
    session.t3 = now();
    session.print();
    perfdash::flush(1000);
    say("done");
    waitLine("quit");
    return 0;
}

int overrun(long n)
{
    waitConnected();
    const perfdash::OpId tiny = perfdash::operation("test.tiny");
    say("ready");
    if (!waitLine("go"))
        return 1;
    {
        perfdash::Scope scope(tiny); // claims the thread's ring
    }
    // After the first scope, before the others: an instant whose records the rest overwrite,
    // however long the thread waits for a core anywhere in the loop.
    const long long t0 = now();
    for (long i = 1; i < n; ++i) {
        perfdash::Scope scope(tiny);
    }
    const long long t1 = now();
    {
        std::lock_guard lock(g_print);
        std::printf("tiny %lld %lld\n", t0, t1);
    }
    timed("test.last", [] { spin(200'000); });
    say("done");
    waitLine("quit");
    return 0;
}

int threads(int n)
{
    waitConnected();
    perfdash::operation("test.thread");
    say("ready");
    if (!waitLine("go"))
        return 1;
    // Two waves: the second after the first's rings were given back (2 s after their threads ended).
    for (int wave = 0; wave < 2; ++wave) {
        std::mutex mutex;
        std::condition_variable changed;
        int finished = 0;
        std::vector<std::thread> list;
        for (int i = 0; i < n; ++i)
            list.emplace_back([&] {
                timed("test.thread", [] { spin(50'000); });
                std::unique_lock lock(mutex);
                ++finished;
                changed.notify_all();
                changed.wait(lock, [&] { return finished == n; }); // all alive at once
            });
        for (auto& t : list)
            t.join();
        say(wave == 0 ? "wave" : "waves");
        if (wave == 0)
            std::this_thread::sleep_for(std::chrono::milliseconds(3000));
    }
    perfdash::flush(5000);
    say("done");
    waitLine("quit");
    return 0;
}
} // namespace

int main(int argc, char** argv)
{
    std::setvbuf(stdout, nullptr, _IOLBF, 0);
    const std::string mode = argc > 1 ? argv[1] : "";
    if (mode == "scenario")
        return scenario();
    if (mode == "overrun" && argc > 2)
        return overrun(std::atol(argv[2]));
    if (mode == "threads" && argc > 2)
        return threads(std::atoi(argv[2]));
    std::fprintf(stderr, "usage: perfdash_test_scopetarget scenario | overrun N | threads N\n");
    return 2;
}
