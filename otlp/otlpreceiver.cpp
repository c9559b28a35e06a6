// SPDX-License-Identifier: GPL-3.0-or-later
#include "otlp/otlpreceiver.h"

#include "http/gunzip.h"
#include "http/httpaddress.h"
#include "otlp/otlpingest.h"
#include "otlp/otlpjson.h"
#include "otlp/otlpprotobuf.h"
#include "otlp_common.pb.h"

#include <QHttpServer>
#include <QHttpServerRequest>
#include <QHttpServerResponse>
#include <QJsonDocument>
#include <QJsonObject>
#include <QMutex>

namespace perfdash {

namespace {

enum class Encoding { Json, Protobuf };
enum class Signal { Traces, Metrics };

using Status = QHttpServerResponse::StatusCode;

QByteArray header(const QHttpServerRequest& request, QByteArrayView name)
{
    const auto headers = request.headers();
    for (const auto& [key, value] : headers) {
        if (QByteArrayView(key).compare(name, Qt::CaseInsensitive) == 0)
            return value;
    }
    return {};
}

QByteArray mimeOf(Encoding e)
{
    return e == Encoding::Json ? QByteArrayLiteral("application/json") : QByteArrayLiteral("application/x-protobuf");
}

/// An error as OTLP/HTTP wants it: a google.rpc.Status in the request's encoding.
QHttpServerResponse statusResponse(Encoding e, Status status, int grpcCode, const QString& message)
{
    QByteArray body;
    if (e == Encoding::Json) {
        body = QJsonDocument(
            QJsonObject { { QStringLiteral("code"), grpcCode }, { QStringLiteral("message"), message } })
                   .toJson(QJsonDocument::Compact);
    } else {
        otlp::pb::RpcStatus s;
        s.set_code(grpcCode);
        s.set_message(message.toStdString());
        body = QByteArray::fromStdString(s.SerializeAsString());
    }
    return QHttpServerResponse(mimeOf(e), body, status);
}

QByteArray successJson(Signal signal, const OtlpIngest::Result& r)
{
    if (!r.rejected && r.message.isEmpty())
        return QByteArrayLiteral("{}");
    QJsonObject partial { { signal == Signal::Traces ? QStringLiteral("rejectedSpans")
                                                     : QStringLiteral("rejectedDataPoints"),
                              QString::number(r.rejected) },
        { QStringLiteral("errorMessage"), r.message } };
    return QJsonDocument(QJsonObject { { QStringLiteral("partialSuccess"), partial } }).toJson(QJsonDocument::Compact);
}

} // namespace

class OtlpReceiver::Worker : public QObject
{
public:
    Worker(OtlpReceiver* owner, OtlpIngest* ingest, const Limits& limits)
        : m_owner(owner)
        , m_ingest(ingest)
        , m_limits(limits)
    {
    }

    bool listen(const QHostAddress& host, quint16 port, QString* error)
    {
        close();
        m_tcp = new LimitedTcpServer(m_limits.http, QStringLiteral("OTLP"), tr("the receiver's refusals"), this);
        connect(m_tcp, &LimitedTcpServer::limitHit, m_owner, &OtlpReceiver::problem);
        if (!m_tcp->listen(host, port)) {
            *error = tr("OTLP: cannot listen on %1:%2: %3").arg(host.toString()).arg(port).arg(m_tcp->errorString());
            delete m_tcp;
            m_tcp = nullptr;
            return false;
        }
        m_http = new QHttpServer(this);
        const auto handler = [this](Signal signal) {
            return [this, signal](const QHttpServerRequest& request) { return handle(signal, request); };
        };
        m_http->route(QStringLiteral("/v1/traces"), QHttpServerRequest::Method::Post, handler(Signal::Traces));
        m_http->route(QStringLiteral("/v1/metrics"), QHttpServerRequest::Method::Post, handler(Signal::Metrics));
        const auto notPost = [this](const QHttpServerRequest&) {
            m_unsupported.fetch_add(1, std::memory_order_relaxed);
            QHttpServerResponse r(
                QByteArrayLiteral("text/plain"), QByteArrayLiteral("OTLP/HTTP takes POST\n"), Status::MethodNotAllowed);
            r.setHeader(QByteArrayLiteral("Allow"), QByteArrayLiteral("POST"));
            return r;
        };
        m_http->route(QStringLiteral("/v1/traces"), QHttpServerRequest::Method::AnyKnown, notPost);
        m_http->route(QStringLiteral("/v1/metrics"), QHttpServerRequest::Method::AnyKnown, notPost);
        m_http->bind(m_tcp);
        return true;
    }

    void close()
    {
        delete m_http; // its sockets first: they are the TCP server's children
        m_http = nullptr;
        delete m_tcp;
        m_tcp = nullptr;
    }

    QHttpServerResponse handle(Signal signal, const QHttpServerRequest& request)
    {
        const QByteArray type = header(request, "content-type");
        const qsizetype semicolon = type.indexOf(';');
        const QByteArray media = (semicolon < 0 ? type : type.left(semicolon)).trimmed().toLower();
        Encoding encoding = Encoding::Protobuf;
        if (media == "application/json")
            encoding = Encoding::Json;
        else if (media != "application/x-protobuf" && media != "application/protobuf") {
            m_unsupported.fetch_add(1, std::memory_order_relaxed);
            const QString why = tr("unsupported Content-Type '%1': send application/x-protobuf or application/json")
                                    .arg(QString::fromLatin1(type));
            say(Said::Unsupported, QStringLiteral("OTLP: ") + why);
            return QHttpServerResponse(QByteArrayLiteral("text/plain"), why.toUtf8(), Status::UnsupportedMediaType);
        }
        QByteArray body = request.body();
        const QByteArray contentEncoding = header(request, "content-encoding").trimmed().toLower();
        if (contentEncoding == "gzip" || contentEncoding == "deflate") {
            QByteArray inflated;
            switch (gunzip(body, m_limits.maxInflatedBytes, inflated)) {
            case GunzipResult::Ok:
                body = std::move(inflated);
                break;
            case GunzipResult::TooLarge:
                m_tooLarge.fetch_add(1, std::memory_order_relaxed);
                say(Said::Inflated,
                    tr("OTLP: a gzip body inflates past %1 bytes: refused").arg(m_limits.maxInflatedBytes));
                return statusResponse(encoding, Status::PayloadTooLarge, 8,
                    tr("body inflates past %1 bytes").arg(m_limits.maxInflatedBytes));
            case GunzipResult::Invalid:
                return badRequest(encoding, tr("Content-Encoding gzip, but the body is not gzip data"));
            }
        } else if (!contentEncoding.isEmpty() && contentEncoding != "identity") {
            m_unsupported.fetch_add(1, std::memory_order_relaxed);
            return statusResponse(encoding, Status::UnsupportedMediaType, 3,
                tr("unsupported Content-Encoding '%1': send gzip or identity")
                    .arg(QString::fromLatin1(contentEncoding)));
        }

        otlp::DecodeOptions options;
        options.attributesFromNs = m_ingest->attributesFromNs();
        QString error;
        OtlpIngest::Result result;
        if (signal == Signal::Traces) {
            const bool ok = encoding == Encoding::Json ? m_json.decodeTraces(body, m_traces, &error, options)
                                                       : otlp::decodeTracesProtobuf(body, m_traces, &error, options);
            if (!ok)
                return badRequest(encoding, error);
            result = m_ingest->applyTraces(m_traces);
            m_rejectedSpans.fetch_add(result.rejected, std::memory_order_relaxed);
        } else {
            const bool ok = encoding == Encoding::Json ? m_json.decodeMetrics(body, m_metrics, &error, options)
                                                       : otlp::decodeMetricsProtobuf(body, m_metrics, &error, options);
            if (!ok)
                return badRequest(encoding, error);
            result = m_ingest->applyMetrics(m_metrics);
            m_rejectedPoints.fetch_add(result.rejected, std::memory_order_relaxed);
        }
        m_requests.fetch_add(1, std::memory_order_relaxed);
        m_said = 0; // one request went through: the next refusal of each kind is said again
        QByteArray reply;
        if (encoding == Encoding::Json)
            reply = successJson(signal, result);
        else if (signal == Signal::Traces)
            reply = otlp::encodeTraceResponseProtobuf(qint64(result.rejected), result.message);
        else
            reply = otlp::encodeMetricsResponseProtobuf(qint64(result.rejected), result.message);
        return QHttpServerResponse(mimeOf(encoding), reply, Status::Ok);
    }

    QHttpServerResponse badRequest(Encoding encoding, const QString& why)
    {
        m_badRequests.fetch_add(1, std::memory_order_relaxed);
        say(Said::BadRequest,
            tr("OTLP: bad request: %1 (said once until a request goes through; all are counted)").arg(why));
        return statusResponse(encoding, Status::BadRequest, 3, why); // 3: INVALID_ARGUMENT
    }

    enum Said : unsigned { BadRequest = 1, Unsupported = 2, Inflated = 4 };
    /// A refusal said once per kind until a request goes through: a misconfigured exporter sending
    /// every second is one line, and every refusal is counted still.
    void say(Said kind, const QString& message)
    {
        if (m_said & kind)
            return;
        m_said |= kind;
        Q_EMIT m_owner->problem(message);
    }

    OtlpReceiver* m_owner;
    OtlpIngest* m_ingest;
    unsigned m_said = 0;
    Limits m_limits;
    LimitedTcpServer* m_tcp = nullptr;
    QHttpServer* m_http = nullptr;
    otlp::JsonDecoder m_json;
    otlp::Traces m_traces; // reused: their vectors keep their capacity
    otlp::Metrics m_metrics;
    std::atomic<quint64> m_requests { 0 };
    std::atomic<quint64> m_badRequests { 0 };
    std::atomic<quint64> m_unsupported { 0 };
    std::atomic<quint64> m_tooLarge { 0 };
    std::atomic<quint64> m_rejectedSpans { 0 };
    std::atomic<quint64> m_rejectedPoints { 0 };
};

OtlpReceiver::OtlpReceiver(MetricsStore* store, QObject* parent)
    : QObject(parent)
    , m_worker(nullptr)
    , m_ingest(std::make_unique<OtlpIngest>(store))
{
    m_thread.setObjectName(QStringLiteral("perfdash-otlp"));
    m_ingestContext.moveToThread(&m_thread);
    m_thread.start();
}

OtlpReceiver::~OtlpReceiver()
{
    close();
    m_thread.quit();
    m_thread.wait();
}

void OtlpReceiver::setLimits(const Limits& limits)
{
    m_limits = limits;
}

bool OtlpReceiver::listen(const QHostAddress& host, quint16 port, QString* error)
{
    close();
    bool ok = false;
    QString why;
    m_worker = new Worker(this, m_ingest.get(), m_limits);
    m_worker->moveToThread(&m_thread);
    QMetaObject::invokeMethod(
        m_worker, [&] { ok = m_worker->listen(host, port, &why); }, Qt::BlockingQueuedConnection);
    if (!ok) {
        close();
        if (error)
            *error = why;
    }
    return ok;
}

void OtlpReceiver::close()
{
    if (!m_worker)
        return;
    m_closed = stats(); // the counts outlive the listener
    m_closed.openConnections = 0;
    m_closed.bytesInFlight = 0;
    Worker* worker = m_worker;
    QMetaObject::invokeMethod(
        worker, [worker] { delete worker; }, Qt::BlockingQueuedConnection);
    m_worker = nullptr;
}

bool OtlpReceiver::isListening() const
{
    return m_worker != nullptr;
}

quint16 OtlpReceiver::port() const
{
    return m_worker && m_worker->m_tcp ? m_worker->m_tcp->serverPort() : 0;
}

QString OtlpReceiver::address() const
{
    if (!m_worker || !m_worker->m_tcp)
        return {};
    return formatHttpAddress(m_worker->m_tcp->serverAddress(), port());
}

void OtlpReceiver::setHideInternalSpans(bool hide)
{
    m_ingest->setHideInternalSpans(hide);
}

bool OtlpReceiver::hideInternalSpans() const
{
    return m_ingest->hideInternalSpans();
}

OtlpReceiver::Stats OtlpReceiver::stats() const
{
    Stats s = m_closed;
    const OtlpIngest::Stats i = m_ingest->stats();
    s.spans = i.spans;
    s.hiddenSpans = i.hiddenSpans;
    s.points = i.points;
    if (m_worker) {
        s.rejectedSpans += m_worker->m_rejectedSpans.load();
        s.rejectedPoints += m_worker->m_rejectedPoints.load();
        s.requests += m_worker->m_requests.load();
        s.badRequests += m_worker->m_badRequests.load();
        s.unsupported += m_worker->m_unsupported.load();
        s.tooLarge += m_worker->m_tooLarge.load();
        if (m_worker->m_tcp) {
            const LimitedTcpServer::Stats t = m_worker->m_tcp->stats();
            s.tooLarge += t.oversized;
            s.refusedConnections += t.refusedLimit;
            s.refusedDescriptors += t.refusedDescriptors;
            s.timedOut += t.timedOut;
            s.closedIdle += t.closedIdle;
            s.refusedMemory += t.refusedMemory;
            s.bytesInFlight = t.bytesInFlight;
            s.openConnections = t.open;
            s.acceptedConnections += t.accepted;
        }
    }
    return s;
}

void OtlpReceiver::runOnIngestThread(std::function<void(OtlpIngest&)> work)
{
    QMetaObject::invokeMethod(
        &m_ingestContext, [ingest = m_ingest.get(), work = std::move(work)] { work(*ingest); }, Qt::QueuedConnection);
}

ListenerRefusals OtlpReceiver::refusals() const
{
    const Stats s = stats();
    ListenerRefusals r;
    r.name = "otlp";
    r.title = QStringLiteral("OTLP");
    r.open = s.openConnections;
    r.accepted = s.acceptedConnections;
    r.reasons = {
        { "limit", tr("over the connection limit"), s.refusedConnections },
        { "descriptors", tr("no descriptor"), s.refusedDescriptors },
        { "memory", tr("requests in flight over their memory"), s.refusedMemory },
        { "timed_out", tr("timed out"), s.timedOut - std::min(s.timedOut, s.closedIdle) },
        { "too_large", tr("too large"), s.tooLarge },
        { "bad_request", tr("bad requests"), s.badRequests },
        { "unsupported", tr("unsupported"), s.unsupported },
    };
    r.rejectedItems = {
        { "spans", tr("spans rejected"), s.rejectedSpans },
        { "data_points", tr("data points rejected"), s.rejectedPoints },
    };
    return r;
}

} // namespace perfdash
