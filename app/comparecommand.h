// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

namespace perfdash {

/// `perfdash compare BASE NEW [...]`: the report on stdout (capture/comparison.h), or with --gui
/// the comparison window (and --screenshot FILE); the exit status says the verdict.
int runCompare(int argc, char** argv);

} // namespace perfdash
