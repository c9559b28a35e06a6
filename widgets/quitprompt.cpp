// SPDX-License-Identifier: GPL-3.0-or-later
#include "widgets/quitprompt.h"

#include <QCoreApplication>
#include <QMessageBox>
#include <QPushButton>

namespace perfdash {

bool askQuitStoppingLaunched(QWidget* parent, int running)
{
    QMessageBox box(QMessageBox::Question, QCoreApplication::translate("perfdash", "Quit perfdash"),
        QCoreApplication::translate("perfdash",
            "%n program(s) launched from this window are still running; quitting stops them.", nullptr, running),
        QMessageBox::NoButton, parent);
    QPushButton* quit
        = box.addButton(QCoreApplication::translate("perfdash", "Quit and stop them"), QMessageBox::DestructiveRole);
    QPushButton* keep = box.addButton(QCoreApplication::translate("perfdash", "Keep running"), QMessageBox::RejectRole);
    quit->setObjectName(QStringLiteral("quit"));
    keep->setObjectName(QStringLiteral("keepRunning"));
    // Return presses the default button, Escape the escape button: both the safe one, as the
    // default's highlighted label says.
    box.setDefaultButton(keep);
    box.setEscapeButton(keep);
    box.exec();
    return box.clickedButton() == quit;
}

} // namespace perfdash
