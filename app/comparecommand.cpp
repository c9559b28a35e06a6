// SPDX-License-Identifier: GPL-3.0-or-later
#include "app/comparecommand.h"

#include "app/cliutil.h"
#include "capture/comparison.h"
#include "widgets/comparisonwindow.h"

#include <QApplication>
#include <QCoreApplication>
#include <QTextStream>
#include <QTimer>

#include <cstring>

namespace perfdash {

int runCompare(int argc, char** argv)
{
    bool gui = false;
    for (int i = 2; i < argc; ++i)
        gui = gui || std::strcmp(argv[i], "--gui") == 0;
    if (!gui) {
        QCoreApplication app(argc, argv);
        QTextStream out(stdout), err(stderr);
        return compareCaptures(QCoreApplication::arguments().mid(2), out, err);
    }
    QApplication app(argc, argv);
    brandGuiApplication();
    // The window takes the report's options and judges with them: the same verdicts.
    CompareArguments compare;
    QString error;
    if (!parseCompareArguments(QCoreApplication::arguments().mid(2), &compare, &error))
        fail(QStringLiteral("compare: ") + error);
    const QString screenshot = compare.screenshot;
    ComparisonWindow* window = ComparisonWindow::open(compare.files[0], compare.files[1], &error, compare.options);
    if (!window)
        fail(error);
    window->show();
    if (!screenshot.isEmpty()) {
        QTimer::singleShot(500, &app, [&] {
            QString saveError;
            const bool saved = savePng(window->grab(), screenshot, &saveError);
            if (!saved)
                say(saveError);
            QCoreApplication::exit(saved ? 0 : 1);
        });
    }
    return app.exec();
}

} // namespace perfdash
