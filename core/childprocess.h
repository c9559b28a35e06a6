// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

class QProcess;

namespace perfdash {

namespace childprocess {
/**
 * Ties @p process, before it is started, to perfdash's life: the kernel sends it SIGTERM when the
 * thread that starts it ends (PR_SET_PDEATHSIG), however perfdash ends, `kill -9` included. A
 * perfdash that stops normally stops its children itself first; this is for the ends it cannot
 * see. Call it, and start the process, on the main thread: the signal follows the thread that
 * forked. A child whose parent died before it was tied does not run its program. Only the child
 * itself is tied: what it starts in turn is its own business (as is a program that ignores
 * SIGTERM, or one whose set-user-ID bit clears the setting at exec).
 */
void endWithParent(QProcess& process);
} // namespace childprocess

} // namespace perfdash
