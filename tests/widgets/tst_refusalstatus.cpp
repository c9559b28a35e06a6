// SPDX-License-Identifier: GPL-3.0-or-later
// Every refusal of every listener is seen in the window, not only on stderr: OTLP's (a request it
// refused), another listener's (OTLP/gRPC, added by main()), and a client of the library told REJECT because the
// dashboard holds its limit of live processes.
#include "core/metricsstore.h"
#include "ipc/ingestserver.h"
#include "otlp/otlpreceiver.h"
#include "widgets/mainwindow.h"

#include <QCoreApplication>
#include <QLabel>
#include <QProcess>
#include <QStatusBar>
#include <QTcpSocket>
#include <QTemporaryDir>
#include <QTest>

using namespace perfdash;

namespace {
QString s(const char* text)
{
    return QString::fromUtf8(text);
}

const QLabel* statusLabelWith(MainWindow& window, const QString& word)
{
    for (const QLabel* label : window.statusBar()->findChildren<QLabel*>()) {
        if (label->text().contains(word))
            return label;
    }
    return nullptr;
}
} // namespace

class TestRefusalStatus : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void otlpAndProcessLimitRefusalsReachTheStatusBar()
    {
        QTemporaryDir dir;
        MetricsStore store;
        for (int i = 0; i < MetricsStore::MaxProcesses; ++i)
            QVERIFY(store.openProcess(2'000'000 + i, s("held-%1").arg(i), { s("held") }) != 0);
        IngestServer server(&store);
        QString error;
        QVERIFY2(server.listen(dir.filePath(s("full.sock")), &error), qPrintable(error));
        OtlpReceiver otlp(&store);
        QVERIFY2(otlp.listen(QHostAddress::LocalHost, 0, &error), qPrintable(error));
        MainWindow window(&store, &server);
        window.setHttpEndpoints(nullptr, &otlp);
        window.addListener([] { // another listener (--otlp-grpc), as main() adds it
            ListenerRefusals r;
            r.name = "otlp_grpc";
            r.title = QStringLiteral("OTLP/gRPC");
            r.reasons = { { "bad_request", QStringLiteral("bad requests"), 2 } };
            return r;
        });
        window.show();

        QTcpSocket request; // a request OTLP refuses: 415
        request.connectToHost(QHostAddress::LocalHost, otlp.port());
        QVERIFY(request.waitForConnected(10'000));
        request.write("POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\n{}");
        QTRY_COMPARE_WITH_TIMEOUT(otlp.stats().unsupported, quint64(1), 20'000);

        QProcess client; // the library's client, at the process limit
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.insert(s("PERFDASH_SOCKET"), server.socketPath());
        client.setProcessEnvironment(env);
        client.start(QCoreApplication::applicationDirPath() + s("/perfdash_test_client"), { s("refused"), s("10") });
        QVERIFY(client.waitForStarted(30'000));
        QTRY_COMPARE_WITH_TIMEOUT(server.stats().rejectedProcessLimit, quint64(1), 30'000);
        // waitForFinished() is false for a client that already ended while the line above waited.
        QVERIFY(client.state() == QProcess::NotRunning || client.waitForFinished(30'000));

        QTRY_VERIFY_WITH_TIMEOUT(statusLabelWith(window, s("4 refused")), 20'000);
        const QString tip = statusLabelWith(window, s("4 refused"))->toolTip();
        QVERIFY2(tip.contains(s("(1 told so)")), qPrintable(tip));
        QVERIFY2(tip.contains(s("OTLP 1 (unsupported 1)")), qPrintable(tip));
        QVERIFY2(tip.contains(s("OTLP/gRPC 2 (bad requests 2)")), qPrintable(tip));
    }
};

QTEST_MAIN(TestRefusalStatus)
#include "tst_refusalstatus.moc"
