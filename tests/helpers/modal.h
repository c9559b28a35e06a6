// SPDX-License-Identifier: GPL-3.0-or-later
// For widget tests: acting on the modal dialogs a window opens, and finding its menu actions.
#pragma once

#include <QAction>
#include <QApplication>
#include <QTimer>
#include <QWidget>

namespace perfdashtest {

/// Runs @p act on the next modal widget of type T once it shows (polled every 10 ms, never
/// slept); the caller then starts what opens it.
template <typename T, typename F> void onNextModal(F act)
{
    auto* timer = new QTimer;
    timer->setInterval(10);
    QObject::connect(timer, &QTimer::timeout, [timer, act] {
        if (auto* w = qobject_cast<T*>(QApplication::activeModalWidget()); w && w->isVisible()) {
            timer->stop();
            timer->deleteLater();
            act(w);
        }
    });
    timer->start();
}

/// The action of @p window whose text is @p text; null when none.
inline QAction* actionNamed(QWidget* window, const QString& text)
{
    for (QAction* a : window->findChildren<QAction*>()) {
        if (a->text() == text)
            return a;
    }
    return nullptr;
}

} // namespace perfdashtest
