// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/latencyhistogram.h"

#include <QTest>

#include <algorithm>
#include <cmath>
#include <memory>
#include <random>
#include <vector>

using perfdash::LatencyHistogram;

namespace {
enum class Shape { Uniform, LogNormal, Bimodal, Constant, Pareto, Sub100ns, BeyondOneHour, Exponential };

std::vector<quint64> generate(Shape shape, int n, quint64 seed)
{
    std::mt19937_64 rng(seed);
    std::vector<quint64> v;
    v.reserve(std::size_t(n));
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    std::lognormal_distribution<double> lognormal(std::log(2e6), 0.8); // median 2 ms
    std::normal_distribution<double> fast(200e3, 20e3), slow(40e6, 5e6);
    std::exponential_distribution<double> exponential(1.0 / 500e3);
    for (int i = 0; i < n; ++i) {
        double x = 0;
        switch (shape) {
        case Shape::Uniform:
            x = 1e3 + unit(rng) * 10e6;
            break;
        case Shape::LogNormal:
            x = lognormal(rng);
            break;
        case Shape::Bimodal:
            x = unit(rng) < 0.9 ? fast(rng) : slow(rng);
            break;
        case Shape::Constant:
            x = 123456789;
            break;
        case Shape::Pareto:
            x = 10e3 / std::pow(1.0 - unit(rng), 1.0 / 1.2);
            break; // alpha 1.2: heavy tail
        case Shape::Sub100ns:
            x = 1 + unit(rng) * 98;
            break;
        case Shape::BeyondOneHour:
            x = 3.6e12 + unit(rng) * 5 * 3.6e12;
            break; // 1 h to 6 h
        case Shape::Exponential:
            x = exponential(rng);
            break;
        }
        v.push_back(quint64(std::max(1.0, std::min(x, 3.0e13))));
    }
    return v;
}

quint64 exactQuantile(const std::vector<quint64>& sorted, double q)
{
    const auto rank = std::max<std::size_t>(1, std::size_t(std::ceil(q * double(sorted.size()) - 1e-9)));
    return sorted[rank - 1];
}
} // namespace

Q_DECLARE_METATYPE(Shape)

class TestLatencyHistogram : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void bucketLayout()
    {
        // Every value maps into a bucket whose bounds hold it, and the buckets tile the range.
        quint64 expectedLower = 0;
        for (int i = 0; i < LatencyHistogram::BucketCount; ++i) {
            QCOMPARE(LatencyHistogram::bucketLowerBound(i), expectedLower);
            const quint64 width = LatencyHistogram::bucketWidth(i);
            QCOMPARE(LatencyHistogram::bucketIndex(expectedLower), i);
            QCOMPARE(LatencyHistogram::bucketIndex(expectedLower + width - 1), i);
            if (i >= 128)
                QVERIFY2(double(width) / double(expectedLower) <= 1.0 / 64 + 1e-12, "bucket wider than 1/64");
            expectedLower += width;
        }
        QCOMPARE(expectedLower - 1, LatencyHistogram::MaxTrackableNs);
        QVERIFY(LatencyHistogram::MaxTrackableNs >= 3'600'000'000'000ull); // at least one hour
    }

    void accuracy_data()
    {
        QTest::addColumn<Shape>("shape");
        QTest::addColumn<int>("count");
        QTest::newRow("uniform") << Shape::Uniform << 200'000;
        QTest::newRow("log-normal") << Shape::LogNormal << 200'000;
        QTest::newRow("bimodal") << Shape::Bimodal << 200'000;
        QTest::newRow("constant") << Shape::Constant << 10'000;
        QTest::newRow("pareto heavy tail") << Shape::Pareto << 200'000;
        QTest::newRow("sub-100 ns") << Shape::Sub100ns << 50'000;
        QTest::newRow("beyond one hour") << Shape::BeyondOneHour << 50'000;
        QTest::newRow("exponential") << Shape::Exponential << 200'000;
        QTest::newRow("tiny sample") << Shape::LogNormal << 7;
    }
    void accuracy()
    {
        QFETCH(Shape, shape);
        QFETCH(int, count);
        std::vector<quint64> values = generate(shape, count, 42);
        auto h = std::make_unique<LatencyHistogram>();
        quint64 sum = 0; // at most 5e4 values of 3e13: no wrap
        for (quint64 v : values) {
            h->record(v);
            sum += v;
        }
        std::sort(values.begin(), values.end());
        QCOMPARE(h->count(), quint64(values.size()));
        QCOMPARE(h->minNs(), values.front());
        QCOMPARE(h->maxNs(), values.back());
        QCOMPARE(h->sumNs(), sum);
        QCOMPARE(h->overflowCount(), quint64(0));
        for (double q : { 0.0, 0.5, 0.9, 0.95, 0.99, 0.999, 1.0 }) {
            const double exact = double(exactQuantile(values, q));
            const double estimate = double(h->valueAtQuantile(q));
            const double error = std::abs(estimate - exact) / exact;
            QVERIFY2(error < 0.01,
                qPrintable(QStringLiteral("q=%1 exact=%2 estimate=%3 error=%4%")
                               .arg(q)
                               .arg(exact, 0, 'f', 0)
                               .arg(estimate, 0, 'f', 0)
                               .arg(error * 100)));
        }
        if (shape == Shape::Sub100ns || shape == Shape::Constant) {
            // Below 128 ns every bucket holds one value, and a constant sits on min == max: exact.
            for (double q : { 0.5, 0.9, 0.99 })
                QCOMPARE(h->valueAtQuantile(q), exactQuantile(values, q));
        }
    }

    void overflowIsCountedAndReported()
    {
        LatencyHistogram h;
        const quint64 tenHours = 36'000'000'000'000ull;
        h.record(1000);
        h.record(tenHours);
        h.record(tenHours * 2);
        QCOMPARE(h.count(), quint64(3));
        QCOMPARE(h.overflowCount(), quint64(2));
        QCOMPARE(h.maxNs(), tenHours * 2);
        QCOMPARE(h.minNs(), quint64(1000));
        QCOMPARE(h.sumNs(), 1000 + tenHours * 3);
        QCOMPARE(h.valueAtQuantile(1.0), tenHours * 2);
        QCOMPARE(h.valueAtQuantile(0.0), quint64(1000));
    }

    void mergeOfPartsEqualsWhole()
    {
        const std::vector<quint64> values = generate(Shape::LogNormal, 100'000, 7);
        auto whole = std::make_unique<LatencyHistogram>();
        std::vector<std::unique_ptr<LatencyHistogram>> parts;
        for (int i = 0; i < 4; ++i)
            parts.push_back(std::make_unique<LatencyHistogram>());
        for (std::size_t i = 0; i < values.size(); ++i) {
            whole->record(values[i]);
            parts[i % 4]->record(values[i]);
        }
        auto merged = std::make_unique<LatencyHistogram>();
        for (const auto& p : parts)
            merged->add(*p);
        QVERIFY(*merged == *whole);
        QCOMPARE(merged->valueAtQuantile(0.99), whole->valueAtQuantile(0.99));
    }

    void subtractUndoesAdd()
    {
        const std::vector<quint64> a = generate(Shape::Uniform, 10'000, 1);
        const std::vector<quint64> b = generate(Shape::Pareto, 10'000, 2);
        auto ha = std::make_unique<LatencyHistogram>();
        auto hb = std::make_unique<LatencyHistogram>();
        for (quint64 v : a)
            ha->record(v);
        for (quint64 v : b)
            hb->record(v);
        auto sum = std::make_unique<LatencyHistogram>(*ha);
        sum->add(*hb);
        QCOMPARE(sum->count(), quint64(20'000));
        sum->subtract(*hb);
        QCOMPARE(sum->count(), ha->count());
        QCOMPARE(sum->sumNs(), ha->sumNs());
        for (int i = 0; i < LatencyHistogram::BucketCount; ++i)
            QCOMPARE(sum->countAt(i), ha->countAt(i));
        QCOMPARE(sum->valueAtQuantile(0.5), ha->valueAtQuantile(0.5));
        // Bounds after subtraction are those of the remaining buckets: within one bucket of exact.
        QVERIFY(sum->minNs() <= ha->minNs());
        QVERIFY(sum->maxNs() >= ha->maxNs() && double(sum->maxNs()) <= double(ha->maxNs()) * (1 + 1.0 / 64));
        sum->subtract(*ha);
        QVERIFY(sum->isEmpty());
        QCOMPARE(sum->maxNs(), quint64(0));
    }

    void emptyAndReset()
    {
        LatencyHistogram h;
        QVERIFY(h.isEmpty());
        QCOMPARE(h.valueAtQuantile(0.5), quint64(0));
        QCOMPARE(h.minNs(), quint64(0));
        QCOMPARE(h.meanNs(), 0.0);
        h.recordMany(500, 4);
        QCOMPARE(h.count(), quint64(4));
        QCOMPARE(h.meanNs(), 500.0);
        h.reset();
        QVERIFY(h.isEmpty());
        QVERIFY(h == LatencyHistogram());
    }

    void quantileRankBoundaries()
    {
        // 100 values 1..100 ns: nearest rank gives exactly the q*100-th value.
        LatencyHistogram h;
        for (quint64 v = 1; v <= 100; ++v)
            h.record(v);
        QCOMPARE(h.valueAtQuantile(0.5), quint64(50));
        QCOMPARE(h.valueAtQuantile(0.95), quint64(95));
        QCOMPARE(h.valueAtQuantile(0.99), quint64(99));
        QCOMPARE(h.valueAtQuantile(0.999), quint64(100));
        QCOMPARE(h.valueAtQuantile(0.001), quint64(1));
    }
};

QTEST_GUILESS_MAIN(TestLatencyHistogram)
#include "tst_latencyhistogram.moc"
