// SPDX-License-Identifier: GPL-3.0-or-later
// The round steps of a value axis, one table for the arithmetic (models/chartaxes) and for the
// chart that draws it (widgets/ChartsPanel), so that both are held to the same cases.
#pragma once

#include <QTest>

/// Columns "max" (the data's largest value) and "step" (the round step of five ticks up to it).
inline void addRoundStepRows()
{
    QTest::addColumn<double>("max");
    QTest::addColumn<double>("step");
    QTest::newRow("178 ms") << 178.0 << 50.0; // not 187.5
    QTest::newRow("1.8 %") << 1.8 << 0.5; // not 1.875
    QTest::newRow("9") << 9.0 << 2.0;
    QTest::newRow("1200") << 1200.0 << 500.0;
}
