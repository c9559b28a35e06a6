// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/childprocess.h"

#include <QProcess>

#include <csignal>
#include <sys/prctl.h>
#include <unistd.h>

namespace perfdash {

namespace childprocess {
void endWithParent(QProcess& process)
{
    const pid_t parent = ::getpid();
    // Runs in the child between fork and exec: system calls only, nothing that allocates or locks.
    process.setChildProcessModifier([parent] {
        ::prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (::getppid() != parent) // the parent died before the line above: nobody will stop us
            ::_exit(127);
    });
}
} // namespace childprocess

} // namespace perfdash
