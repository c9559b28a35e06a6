// SPDX-License-Identifier: GPL-3.0-or-later
#include "toolkit/circuitbreaker.h"

#include <QSignalSpy>
#include <QTest>

using namespace perfdash;
using State = CircuitBreaker::State;

namespace {
int failing()
{
    throw std::runtime_error("down");
}
} // namespace

class TestCircuitBreaker : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void transitions()
    {
        ManualScheduler scheduler;
        CircuitBreaker breaker(CircuitBreakerConfig { 3, 1000, 500, 1, 2 }, &scheduler);
        QSignalSpy changed(&breaker, &CircuitBreaker::stateChanged);

        // Failures a whole window apart do not open it.
        for (int i = 0; i < 4; ++i) {
            QVERIFY_THROWS_EXCEPTION(std::runtime_error, breaker.call(failing));
            scheduler.advance(1000); // the previous failure leaves the window
        }
        QCOMPARE(breaker.state(), State::Closed);

        // Three within the window do.
        for (int i = 0; i < 3; ++i)
            QVERIFY_THROWS_EXCEPTION(std::runtime_error, breaker.call(failing));
        QCOMPARE(breaker.state(), State::Open);
        QCOMPARE(changed.count(), 1);
        QCOMPARE(changed.at(0).at(1).value<State>(), State::Open);
        QVERIFY_THROWS_EXCEPTION(CircuitOpenError, breaker.call([] { return 1; }));
        QCOMPARE(breaker.call([] { return 1; }, [] { return -1; }), -1); // the fallback answers
        QCOMPARE(breaker.metrics().rejected, quint64(2));
        QCOMPARE(breaker.metrics().fallbacks, quint64(1));

        // After the cool-down it is half-open: one trial at a time.
        scheduler.advance(499);
        QCOMPARE(breaker.state(), State::Open);
        scheduler.advance(1);
        QCOMPARE(breaker.state(), State::HalfOpen);
        QVERIFY(breaker.tryAcquire());
        QVERIFY(!breaker.tryAcquire()); // the second concurrent trial is refused
        breaker.recordSuccess();
        QCOMPARE(breaker.state(), State::HalfOpen); // needs two successes
        QCOMPARE(breaker.call([] { return 2; }), 2);
        QCOMPARE(breaker.state(), State::Closed);

        // A failed trial opens it again.
        for (int i = 0; i < 3; ++i)
            QVERIFY_THROWS_EXCEPTION(std::runtime_error, breaker.call(failing));
        scheduler.advance(500);
        QCOMPARE(breaker.state(), State::HalfOpen);
        QCOMPARE(breaker.call(failing, [] { return 0; }), 0);
        QCOMPARE(breaker.state(), State::Open);

        const QList<State> seen { State::Open, State::HalfOpen, State::Closed, State::Open, State::HalfOpen,
            State::Open };
        QCOMPARE(changed.count(), seen.size());
        for (int i = 0; i < seen.size(); ++i)
            QCOMPARE(changed.at(i).at(1).value<State>(), seen[i]);
        QCOMPARE(breaker.metrics().stateChanges, quint64(seen.size()));
        breaker.reset();
        QCOMPARE(breaker.state(), State::Closed);
    }
};

QTEST_GUILESS_MAIN(TestCircuitBreaker)
#include "tst_circuitbreaker.moc"
