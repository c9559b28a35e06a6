// SPDX-License-Identifier: GPL-3.0-or-later
// The window's OpenTelemetry menu: the receive and hide-internal toggles drive the receiver and
// are remembered across runs (QSettings in test mode).
#include "core/metricsstore.h"
#include "otlp/otlpreceiver.h"
#include "widgets/otlpmenu.h"

#include "tests/helpers/windowtests.h"

#include <QAction>
#include <QApplication>
#include <QSettings>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTest>

using namespace perfdash;

class TestOtlpMenu : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase() { perfdashtest::useTestSettings(QStringLiteral("tst_otlpmenu")); }
    void init()
    {
        QSettings().clear();
        QSettings().setValue(QStringLiteral("otlp/address"), QStringLiteral("127.0.0.1:0")); // any free port
    }

    void receiveToggleIsRemembered()
    {
        MetricsStore store;
        {
            OtlpReceiver receiver(&store);
            OtlpMenu menu(&receiver, false);
            QVERIFY(!receiver.isListening()); // off until asked
            QVERIFY(!menu.receiveAction()->isChecked());
            QSignalSpy message(&menu, &OtlpMenu::message);
            menu.receiveAction()->trigger();
            QVERIFY(receiver.isListening());
            QVERIFY(menu.receiveAction()->isChecked());
            QVERIFY(message.size() == 1 && message.at(0).at(0).toString().contains(u"127.0.0.1:"));
            QCOMPARE(QSettings().value(QStringLiteral("otlp/enabled")).toBool(), true);
        }
        {
            OtlpReceiver receiver(&store); // the next run
            OtlpMenu menu(&receiver, false);
            QVERIFY(receiver.isListening());
            QVERIFY(menu.receiveAction()->isChecked());
            menu.receiveAction()->trigger();
            QVERIFY(!receiver.isListening());
            QCOMPARE(QSettings().value(QStringLiteral("otlp/enabled")).toBool(), false);
        }
        OtlpReceiver receiver(&store);
        OtlpMenu menu(&receiver, false);
        QVERIFY(!receiver.isListening());
    }

    void commandLineDecides()
    {
        QSettings().setValue(QStringLiteral("otlp/enabled"), true);
        MetricsStore store;
        OtlpReceiver receiver(&store);
        OtlpMenu menu(&receiver, true); // --otlp or its absence on the command line: not overridden
        QVERIFY(!receiver.isListening());
        QVERIFY(!menu.receiveAction()->isChecked());
    }

    void listenFailureIsSaid()
    {
        QSettings().setValue(QStringLiteral("otlp/address"), QStringLiteral("not an address"));
        MetricsStore store;
        OtlpReceiver receiver(&store);
        OtlpMenu menu(&receiver, false);
        QSignalSpy message(&menu, &OtlpMenu::message);
        menu.receiveAction()->trigger();
        QVERIFY(!receiver.isListening());
        QVERIFY(!menu.receiveAction()->isChecked());
        QCOMPARE(message.size(), 1);
        QVERIFY(message.at(0).at(0).toString().contains(u"--otlp"));
        QCOMPARE(QSettings().value(QStringLiteral("otlp/enabled")).toBool(), false);
    }

    void hideInternalIsRemembered()
    {
        MetricsStore store;
        {
            OtlpReceiver receiver(&store);
            OtlpMenu menu(&receiver, false);
            QVERIFY(!receiver.hideInternalSpans());
            menu.hideInternalAction()->trigger();
            QVERIFY(receiver.hideInternalSpans());
        }
        OtlpReceiver receiver(&store);
        OtlpMenu menu(&receiver, false);
        QVERIFY(menu.hideInternalAction()->isChecked());
        QVERIFY(receiver.hideInternalSpans());
    }
};

QTEST_MAIN(TestOtlpMenu)
#include "tst_otlpmenu.moc"
