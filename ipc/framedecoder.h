// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "ipc/protocol.h"

#include <QByteArray>
#include <QList>

#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace perfdash::protocol {

/**
 * Turns the bytes of one connection into messages. It takes bytes, not a socket: feeding a
 * stream one byte at a time or all at once gives the same messages. The first byte picks the
 * protocol ('{' NDJSON, 'P' binary). Memory is bounded: a frame or line over 1 MiB is fatal,
 * and at most MaxOperations names are defined per connection.
 *
 * Problems come in two kinds. Fatal ones (framing lost, wrong version, no hello) set error();
 * the connection must be closed, and rejectReason() says what to tell the peer. Others (one
 * malformed line or frame) are counted in malformed(), described in lastProblem(), and decoding
 * goes on.
 */
class FrameDecoder
{
public:
    enum class Mode { Unknown, Binary, Ndjson };

    FrameDecoder();
    ~FrameDecoder();
    FrameDecoder(const FrameDecoder&) = delete;
    FrameDecoder& operator=(const FrameDecoder&) = delete;

    /// Decodes what @p bytes complete and appends the messages to @p out. Nothing after a fatal error.
    void feed(QByteArrayView bytes, std::vector<Message>& out);

    Mode mode() const noexcept { return m_mode; }
    bool failed() const noexcept { return !m_error.isEmpty(); }
    QString error() const { return m_error; }
    /// For a version mismatch: the sentence for the peer, in a REJECT frame.
    QString rejectReason() const { return m_reject; }
    quint64 malformed() const noexcept { return m_malformed; }
    /// SYNC frames seen so far: each asks the server to say how many bytes it has read.
    quint64 syncs() const noexcept { return m_syncs; }
    QString lastProblem() const { return m_lastProblem; }
    bool helloSeen() const noexcept { return m_helloSeen; }
    /// Bytes held waiting for the rest of a frame or line.
    qsizetype buffered() const noexcept { return m_buffer.size() - m_offset; }

private:
    void decodeBinary(std::vector<Message>& out);
    void decodeFrame(quint8 type, QByteArrayView body, std::vector<Message>& out);
    void decodeLines(std::vector<Message>& out);
    void decodeLine(QByteArrayView line, std::vector<Message>& out);
    void fail(QString error, QString reject = {});
    void problem(QString what);
    bool checkVersion(quint16 version, const char* protocolName);
    QString operationName(std::string_view utf8, bool* valid);

    struct Json;
    std::unique_ptr<Json> m_json;
    Mode m_mode = Mode::Unknown;
    QByteArray m_buffer;
    qsizetype m_offset = 0;
    qsizetype m_scanned = 0; // NDJSON: bytes already searched for a newline
    QString m_error;
    QString m_reject;
    QString m_lastProblem;
    quint64 m_malformed = 0;
    quint64 m_syncs = 0;
    quint64 m_lines = 0;
    bool m_prefaceSeen = false;
    bool m_helloSeen = false;
    QList<QString> m_operations; // binary: names by id
    // NDJSON: names seen, so that a name is converted to QString once.
    struct Hash
    {
        using is_transparent = void;
        std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view> {}(s); }
    };
    std::unordered_map<std::string, QString, Hash, std::equal_to<>> m_names;
};

} // namespace perfdash::protocol
