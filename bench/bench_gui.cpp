// SPDX-License-Identifier: GPL-3.0-or-later
// How late a 1 ms QTimer on the GUI thread fires while the window refreshes at 10 Hz and
// perfdash-demo streams 100 operations at full rate. Target: never more than 16 ms late.
// Run: QT_QPA_PLATFORM=offscreen build/bin/bench_gui [SECONDS] [DEMO_THREADS] [nice]   (or under xvfb-run -a)
#include "core/metricsstore.h"
#include "ipc/ingestserver.h"
#include "widgets/mainwindow.h"

#include <QApplication>
#include <QElapsedTimer>
#include <QEvent>
#include <QMetaEnum>
#include <QProcess>
#include <QTemporaryDir>
#include <QThread>
#include <QTimer>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <vector>

using namespace perfdash;

namespace {
/// Times every event the GUI thread handles, so that a stall names its cause: the receiver's class
/// and the event's type. Only outermost deliveries count (nested ones are part of their parent).
class TimingApplication final : public QApplication
{
public:
    using QApplication::QApplication;

    struct Stall
    {
        double ms;
        double cpuMs; ///< of which the thread ran; the rest it waited for a core
        QByteArray what;
    };

    bool notify(QObject* receiver, QEvent* event) override
    {
        if (QThread::currentThread() != thread()) // notify() sees every thread's events
            return QApplication::notify(receiver, event);
        if (m_depth++ > 0 || !m_timing) {
            const bool handled = QApplication::notify(receiver, event);
            --m_depth;
            return handled;
        }
        QElapsedTimer timer;
        timer.start();
        const qint64 cpuStart = threadCpuNs();
        const int type = event->type();
        QByteArray what = QByteArray(receiver->metaObject()->className()) + " '" + receiver->objectName().toUtf8()
            + "' event " + QByteArray::number(type) + ' ' + eventName(type);
        if (const auto* qtimer = qobject_cast<const QTimer*>(receiver))
            what += " (" + QByteArray::number(qtimer->interval()) + " ms timer)";
        if (const QObject* parent = receiver->parent())
            what += " in " + QByteArray(parent->metaObject()->className());
        const bool handled = QApplication::notify(receiver, event);
        --m_depth;
        if (const double ms = double(timer.nsecsElapsed()) / 1e6; ms > 4.0)
            m_stalls.push_back({ ms, double(threadCpuNs() - cpuStart) / 1e6, what });
        return handled;
    }

    void startTiming() { m_timing = true; }
    /// The event's type by its name (MetaCall: a queued slot or a functor timer; UpdateRequest: a
    /// repaint of the window; Timer: a QObject's timer).
    static QByteArray eventName(int type)
    {
        const char* name = QMetaEnum::fromType<QEvent::Type>().valueToKey(type);
        return name ? QByteArray("(") + name + ')' : QByteArray();
    }
    /// The longest handlers, longest first.
    std::vector<Stall> worst(std::size_t n)
    {
        std::sort(m_stalls.begin(), m_stalls.end(), [](const Stall& a, const Stall& b) { return a.ms > b.ms; });
        m_stalls.resize(std::min(n, m_stalls.size()));
        return m_stalls;
    }

    static qint64 threadCpuNs()
    {
        timespec ts {};
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
        return qint64(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
    }

private:
    int m_depth = 0;
    bool m_timing = false;
    std::vector<Stall> m_stalls;
};
} // namespace

int main(int argc, char** argv)
{
    TimingApplication app(argc, argv);
    QCoreApplication::setOrganizationName(QStringLiteral("perfdash-bench"));
    const double seconds = argc > 1 ? std::atof(argv[1]) : 30.0;
    const int demoThreads = argc > 2 ? std::atoi(argv[2]) : 2;
    // "nice": the demo yields the CPU to the dashboard, which tells our own stalls from starvation.
    const bool niceDemo = argc > 3 && std::strcmp(argv[3], "nice") == 0;
    QTemporaryDir dir;
    const QString path = dir.filePath(QStringLiteral("bench.sock"));
    MetricsStore store;
    IngestServer server(&store);
    QString error;
    if (!server.listen(path, &error)) {
        std::fprintf(stderr, "bench_gui: %s\n", qPrintable(error));
        return 2;
    }
    store.start();
    MainWindow window(&store, &server);
    window.resize(1400, 880);
    window.show();

    QProcess demo;
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    env.insert(QStringLiteral("PERFDASH_SOCKET"), path);
    demo.setProcessEnvironment(env);
    demo.setProcessChannelMode(QProcess::ForwardedErrorChannel);
    QStringList demoArgs { QStringLiteral("--operations"), QStringLiteral("100"), QStringLiteral("--rate"),
        QStringLiteral("0"), QStringLiteral("--threads"), QString::number(demoThreads), QStringLiteral("--steady"),
        QStringLiteral("--duration"), QString::number(seconds + 5) };
    const QString demoProgram = QCoreApplication::applicationDirPath() + QStringLiteral("/perfdash-demo");
    if (niceDemo)
        demo.start(
            QStringLiteral("nice"), QStringList { QStringLiteral("-n"), QStringLiteral("19"), demoProgram } + demoArgs);
    else
        demo.start(demoProgram, demoArgs);
    if (!demo.waitForStarted()) {
        std::fprintf(stderr, "bench_gui: cannot start perfdash-demo\n");
        return 2;
    }

    std::vector<double> lateness;
    lateness.reserve(std::size_t(seconds * 1100));
    QElapsedTimer clock;
    QTimer probe;
    probe.setTimerType(Qt::PreciseTimer);
    probe.setInterval(1);
    qint64 last = -1;
    int refreshes = 0;
    qint64 guiCpuStart = 0;
    QObject::connect(&window, &MainWindow::refreshed, &app, [&] { ++refreshes; });
    QObject::connect(&probe, &QTimer::timeout, &app, [&] {
        const qint64 now = clock.nsecsElapsed();
        if (last >= 0)
            lateness.push_back(std::max(0.0, double(now - last) / 1e6 - 1.0));
        last = now;
    });
    QTimer::singleShot(2000, &app, [&] { // warm-up: the demo connects, names arrive
        clock.start();
        guiCpuStart = TimingApplication::threadCpuNs();
        probe.start();
        app.startTiming();
        QTimer::singleShot(std::chrono::milliseconds(qint64(seconds * 1000)), &app, [&] { app.quit(); });
    });
    app.exec();
    const double guiCpuPercent
        = 100.0 * double(TimingApplication::threadCpuNs() - guiCpuStart) / double(clock.nsecsElapsed());
    demo.terminate();
    demo.waitForFinished(5000);

    std::sort(lateness.begin(), lateness.end());
    const auto at
        = [&](double q) { return lateness.empty() ? 0.0 : lateness[std::size_t(q * double(lateness.size() - 1))]; };
    quint64 operations = 0;
    for (const ProcessInfo& p : store.processes())
        operations += p.operations;
    std::printf(
        "GUI thread, 1 ms timer for %.0f s: %zu ticks, lateness p50 %.2f ms, p99 %.2f ms, p99.9 %.2f ms, max %.2f ms "
        "(target: max < 16 ms: %s); %d refreshes (%.1f/s); GUI thread on a core %.1f%% of the time; "
        "%llu operations ingested\n",
        seconds, lateness.size(), at(0.5), at(0.99), at(0.999), at(1.0), at(1.0) < 16.0 ? "met" : "NOT met", refreshes,
        refreshes / seconds, guiCpuPercent, static_cast<unsigned long long>(operations));
    for (const auto& stall : app.worst(8))
        std::printf(
            "  GUI thread held %.1f ms (%.1f ms on a core) by %s\n", stall.ms, stall.cpuMs, stall.what.constData());
    return 0;
}
