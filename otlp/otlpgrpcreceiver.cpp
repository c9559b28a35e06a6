// SPDX-License-Identifier: GPL-3.0-or-later
#include "otlp/otlpgrpcreceiver.h"

#include "core/errors.h"
#include "http/httpaddress.h"
#include "otlp/otlpingest.h"
#include "otlp/otlpprotobuf.h"
#include "otlp/otlpreceiver.h"

#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/resource_quota.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>
#include <grpcpp/support/byte_buffer.h>

#include <QTcpServer>

#include <atomic>
#include <chrono>
#include <climits>
#include <condition_variable>
#include <mutex>
#include <vector>

namespace perfdash {

namespace {

constexpr std::string_view TraceMethod = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";
constexpr std::string_view MetricsMethod = "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export";

enum class Signal { Traces, Metrics };

QByteArray toBytes(const grpc::ByteBuffer& buffer)
{
    std::vector<grpc::Slice> slices;
    QByteArray bytes;
    if (!buffer.Dump(&slices).ok())
        return bytes;
    bytes.reserve(qsizetype(buffer.Length()));
    for (const grpc::Slice& s : slices)
        bytes.append(reinterpret_cast<const char*>(s.begin()), qsizetype(s.size()));
    return bytes;
}

grpc::ByteBuffer toBuffer(const QByteArray& bytes)
{
    grpc::Slice slice(bytes.constData(), size_t(bytes.size()));
    return grpc::ByteBuffer(&slice, 1);
}

} // namespace

/// What the calls share with the receiver: limits, counters, and the decoders' buffers (used on
/// the ingest thread only). Held by every call as well as the receiver: a call's last step may run
/// after close() returned to a caller that then destroys the receiver.
struct OtlpGrpcReceiver::Counters
{
    OtlpGrpcReceiver* owner = nullptr;
    OtlpReceiver* http = nullptr;
    Limits limits;
    std::atomic<quint64> calls { 0 };
    std::atomic<quint64> requests { 0 };
    std::atomic<quint64> badRequests { 0 };
    std::atomic<quint64> unimplemented { 0 };
    std::atomic<quint64> tooLarge { 0 };
    std::atomic<quint64> refusedCalls { 0 };
    std::atomic<quint64> refusedMemory { 0 };
    std::atomic<quint64> cancelled { 0 };
    std::atomic<quint64> rejectedSpans { 0 };
    std::atomic<quint64> rejectedPoints { 0 };
    std::atomic<int> callsInFlight { 0 };
    std::atomic<qint64> bytesInFlight { 0 };
    std::atomic<unsigned> said { 0 };
    std::mutex doneMutex; // with callsDone: close() waits for the last call's OnDone
    std::condition_variable callsDone;
    otlp::Traces traces; // reused on the ingest thread: their vectors keep their capacity
    otlp::Metrics metrics;

    enum Said : unsigned { BadRequest = 1, Unimplemented = 2, TooLarge = 4, Calls = 8, Memory = 16 };
    /// A refusal said once per kind until a call goes through: an exporter misconfigured and
    /// retrying is one line, and every refusal is counted still.
    void say(Said kind, const QString& message)
    {
        if (said.fetch_or(kind) & kind)
            return;
        Q_EMIT owner->problem(message);
    }
    /// Counts a refused call in @p counter, says why once per kind, and gives the status to answer.
    grpc::Status refuse(std::atomic<quint64>& counter, Said kind, grpc::StatusCode code, const QString& why)
    {
        counter.fetch_add(1, std::memory_order_relaxed);
        say(kind, QStringLiteral("OTLP/gRPC: ") + why);
        return grpc::Status(code, why.toStdString());
    }
    /// A call's reactor is done (OnDone): the last one wakes close().
    void callDone()
    {
        std::lock_guard lock(doneMutex);
        if (callsInFlight.fetch_sub(1) == 1)
            callsDone.notify_all();
    }
    /// Takes @p bytes of the in-flight budget; false when they do not fit.
    bool reserve(qint64 bytes)
    {
        qint64 held = bytesInFlight.load();
        do {
            if (held + bytes > limits.maxBytesInFlight)
                return false;
        } while (!bytesInFlight.compare_exchange_weak(held, held + bytes));
        return true;
    }
};

/// One unary Export call. gRPC's generic service sees every call as a stream of raw messages: this
/// reads the one message, hands it to the ingest thread, and answers from there.
class GrpcCall final : public grpc::ServerGenericBidiReactor
{
public:
    GrpcCall(std::shared_ptr<OtlpGrpcReceiver::Counters> state, Signal signal)
        : m_state(std::move(state))
        , m_signal(signal)
    {
        StartRead(&m_request);
    }

    void OnReadDone(bool ok) override
    {
        auto& st = *m_state;
        if (!ok) { // no message: cancelled, the connection closed or aged out, or gRPC refused its size
            st.cancelled.fetch_add(1, std::memory_order_relaxed);
            Finish(grpc::Status(grpc::StatusCode::CANCELLED, "the call ended before its message"));
            return;
        }
        const qint64 size = qint64(m_request.Length());
        if (size > st.limits.maxMessageBytes) {
            Finish(st.refuse(st.tooLarge, OtlpGrpcReceiver::Counters::TooLarge, grpc::StatusCode::RESOURCE_EXHAUSTED,
                OtlpGrpcReceiver::tr("message of %1 bytes over the limit of %2")
                    .arg(size)
                    .arg(st.limits.maxMessageBytes)));
            return;
        }
        if (!st.reserve(size)) {
            Finish(st.refuse(st.refusedMemory, OtlpGrpcReceiver::Counters::Memory, grpc::StatusCode::RESOURCE_EXHAUSTED,
                OtlpGrpcReceiver::tr("the messages in flight hold %1 bytes: try again later")
                    .arg(st.limits.maxBytesInFlight)));
            return;
        }
        QByteArray bytes = toBytes(m_request);
        m_request.Clear();
        // Nothing of this call is touched after answer(): once it finishes, gRPC may delete it.
        st.http->runOnIngestThread(
            [this, size, bytes = std::move(bytes)](OtlpIngest& ingest) { answer(ingest, bytes, size); });
    }

    void OnDone() override
    {
        m_state->callDone();
        delete this;
    }

private:
    /// On the ingest thread: decode, apply, give back the @p size bytes it held, answer.
    void answer(OtlpIngest& ingest, const QByteArray& bytes, qint64 size)
    {
        auto& st = *m_state;
        const auto giveBack = [&st, size] { st.bytesInFlight.fetch_sub(size); }; // before answering
        otlp::DecodeOptions options;
        options.attributesFromNs = ingest.attributesFromNs();
        QString error;
        const bool decoded = m_signal == Signal::Traces
            ? otlp::decodeTracesProtobuf(bytes, st.traces, &error, options)
            : otlp::decodeMetricsProtobuf(bytes, st.metrics, &error, options);
        if (!decoded) {
            st.badRequests.fetch_add(1, std::memory_order_relaxed);
            st.say(OtlpGrpcReceiver::Counters::BadRequest,
                OtlpGrpcReceiver::tr(
                    "OTLP/gRPC: bad request: %1 (said once until a request goes through; all are counted)")
                    .arg(error));
            giveBack();
            Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, error.toStdString()));
            return;
        }
        QByteArray reply;
        if (m_signal == Signal::Traces) {
            const OtlpIngest::Result r = ingest.applyTraces(st.traces);
            st.rejectedSpans.fetch_add(r.rejected, std::memory_order_relaxed);
            reply = otlp::encodeTraceResponseProtobuf(qint64(r.rejected), r.message);
        } else {
            const OtlpIngest::Result r = ingest.applyMetrics(st.metrics);
            st.rejectedPoints.fetch_add(r.rejected, std::memory_order_relaxed);
            reply = otlp::encodeMetricsResponseProtobuf(qint64(r.rejected), r.message);
        }
        st.requests.fetch_add(1, std::memory_order_relaxed);
        st.said.store(0); // one request went through: the next refusal of each kind is said again
        m_response = toBuffer(reply);
        giveBack();
        StartWriteAndFinish(&m_response, grpc::WriteOptions(), grpc::Status::OK);
    }

    std::shared_ptr<OtlpGrpcReceiver::Counters> m_state;
    Signal m_signal;
    grpc::ByteBuffer m_request;
    grpc::ByteBuffer m_response;
};

/// A call finished at once with @p status (another method, over the call limit).
class GrpcRefusal final : public grpc::ServerGenericBidiReactor
{
public:
    GrpcRefusal(std::shared_ptr<OtlpGrpcReceiver::Counters> state, const grpc::Status& status)
        : m_state(std::move(state))
    {
        Finish(status);
    }
    void OnDone() override
    {
        m_state->callDone();
        delete this;
    }

private:
    std::shared_ptr<OtlpGrpcReceiver::Counters> m_state;
};

class OtlpGrpcReceiver::Service final : public grpc::CallbackGenericService
{
public:
    explicit Service(std::shared_ptr<Counters> state)
        : m_state(std::move(state))
    {
    }

    grpc::ServerGenericBidiReactor* CreateReactor(grpc::GenericCallbackServerContext* context) override
    {
        Counters& st = *m_state;
        st.calls.fetch_add(1, std::memory_order_relaxed);
        const int inFlight = st.callsInFlight.fetch_add(1) + 1; // given back by the reactor's OnDone
        const std::string& method = context->method();
        if (method != TraceMethod && method != MetricsMethod)
            return new GrpcRefusal(m_state,
                st.refuse(st.unimplemented, Counters::Unimplemented, grpc::StatusCode::UNIMPLEMENTED,
                    tr("OTLP/gRPC serves TraceService/Export and MetricsService/Export, not %1")
                        .arg(QString::fromStdString(method))));
        if (inFlight > st.limits.maxCalls)
            return new GrpcRefusal(m_state,
                st.refuse(st.refusedCalls, Counters::Calls, grpc::StatusCode::RESOURCE_EXHAUSTED,
                    tr("%1 calls in flight, the limit: try again later").arg(st.limits.maxCalls)));
        // Gzip (grpc-encoding) was undone by gRPC: what arrives is the message itself.
        return new GrpcCall(m_state, method == TraceMethod ? Signal::Traces : Signal::Metrics);
    }

    static QString tr(const char* text) { return OtlpGrpcReceiver::tr(text); }

private:
    std::shared_ptr<Counters> m_state;
};

OtlpGrpcReceiver::OtlpGrpcReceiver(OtlpReceiver* http, QObject* parent)
    : QObject(parent)
    , m_http(http)
    , m_counters(std::make_shared<Counters>())
{
    Q_ASSERT(http);
    m_counters->owner = this;
    m_counters->http = http;
}

OtlpGrpcReceiver::~OtlpGrpcReceiver()
{
    close();
}

void OtlpGrpcReceiver::setLimits(const Limits& limits)
{
    m_limits = limits;
}

bool OtlpGrpcReceiver::listen(const QHostAddress& host, quint16 port, QString* error)
{
    close();
    const QString address = formatHttpAddress(host, port);
    {
        // gRPC logs why a port cannot be bound and returns no reason; the same bind, tried first,
        // gives the user one ("address already in use") in the words --otlp uses.
        QTcpServer probe;
        if (!probe.listen(host, port))
            return failWith(error, tr("OTLP/gRPC: cannot listen on %1: %2").arg(address, probe.errorString()));
    }
    m_counters->limits = m_limits;
    m_service = std::make_unique<Service>(m_counters);
    grpc::ServerBuilder builder;
    int bound = 0;
    builder.AddListeningPort(address.toStdString(), grpc::InsecureServerCredentials(), &bound);
    builder.RegisterCallbackGenericService(m_service.get());
    // Past this gRPC refuses a message itself, and the call cannot tell why it got none: set above
    // maxMessageBytes, so that what is over the limit is refused and counted as too large here.
    builder.SetMaxReceiveMessageSize(
        int(std::min<qint64>(std::max(m_limits.grpcMaxMessageBytes, m_limits.maxMessageBytes + 1), INT_MAX)));
    builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0); // a second server on this port fails, as --otlp's
    builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS, m_limits.maxStreamsPerConnection);
    builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_IDLE_MS, m_limits.idleTimeoutMs);
    builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_MS, m_limits.maxConnectionAgeMs);
    builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_GRACE_MS, m_limits.connectionAgeGraceMs);
    grpc::ResourceQuota quota("perfdash-otlp-grpc");
    quota.Resize(size_t(m_limits.quotaBytes));
    builder.SetResourceQuota(quota);
    m_server = builder.BuildAndStart();
    if (!m_server || bound == 0) {
        m_server.reset();
        m_service.reset();
        return failWith(error, tr("OTLP/gRPC: cannot listen on %1").arg(address));
    }
    m_host = host;
    m_port = quint16(bound);
    return true;
}

void OtlpGrpcReceiver::close()
{
    if (!m_server)
        return;
    // New calls are refused at once; those in flight get a while to be answered by the ingest
    // thread, then are cancelled (what was decoded is in the store either way).
    m_server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
    m_server->Wait();
    {
        // Each call's last step runs on the ingest thread, which is not this one: the calls still
        // finishing there are waited for, so that no call outlives the service and owner it uses.
        std::unique_lock lock(m_counters->doneMutex);
        m_counters->callsDone.wait_for(
            lock, std::chrono::seconds(30), [this] { return m_counters->callsInFlight.load() == 0; });
    }
    m_server.reset();
    m_service.reset();
    m_port = 0;
}

bool OtlpGrpcReceiver::isListening() const
{
    return m_server != nullptr;
}

quint16 OtlpGrpcReceiver::port() const
{
    return m_port;
}

QString OtlpGrpcReceiver::address() const
{
    return m_server ? formatHttpAddress(m_host, m_port) : QString();
}

OtlpGrpcReceiver::Stats OtlpGrpcReceiver::stats() const
{
    const Counters& c = *m_counters;
    Stats s;
    s.calls = c.calls.load();
    s.requests = c.requests.load();
    s.badRequests = c.badRequests.load();
    s.unimplemented = c.unimplemented.load();
    s.tooLarge = c.tooLarge.load();
    s.refusedCalls = c.refusedCalls.load();
    s.refusedMemory = c.refusedMemory.load();
    s.cancelled = c.cancelled.load();
    s.rejectedSpans = c.rejectedSpans.load();
    s.rejectedPoints = c.rejectedPoints.load();
    s.callsInFlight = c.callsInFlight.load();
    s.bytesInFlight = c.bytesInFlight.load();
    return s;
}

ListenerRefusals OtlpGrpcReceiver::refusals() const
{
    const Stats s = stats();
    ListenerRefusals r;
    r.name = "otlp_grpc";
    r.title = QStringLiteral("OTLP/gRPC");
    r.open = s.callsInFlight;
    r.accepted = s.calls;
    r.reasons = {
        { "limit", tr("over the call limit"), s.refusedCalls },
        { "memory", tr("messages in flight over their memory"), s.refusedMemory },
        { "too_large", tr("too large"), s.tooLarge },
        { "bad_request", tr("bad requests"), s.badRequests },
        { "unsupported", tr("unimplemented"), s.unimplemented },
        { "cancelled", tr("ended without their message"), s.cancelled },
    };
    r.rejectedItems = {
        { "spans", tr("spans rejected"), s.rejectedSpans },
        { "data_points", tr("data points rejected"), s.rejectedPoints },
    };
    return r;
}

} // namespace perfdash
