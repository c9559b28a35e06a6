// SPDX-License-Identifier: GPL-3.0-or-later
// For QtTest cases that need root (a tmpfs to mount, a read-only remount, perf's permissions): CI
// runs the suite as root, where such a case must run; anyone else skips it.
#pragma once

#include <QTest>

#include <unistd.h>

/// Goes on when @p ready; otherwise fails as root (there it must run) and skips as anyone else,
/// saying @p why (a string literal). Returns from the test function either way.
#define SKIP_OR_FAIL_AS_ROOT(ready, why)                                                                               \
    do {                                                                                                               \
        if (!(ready)) {                                                                                                \
            QVERIFY2(::geteuid() != 0, "as root (CI) this must run: " why);                                            \
            QSKIP(why);                                                                                                \
        }                                                                                                              \
    } while (0)
