#include "tls/wire.hpp"

#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <type_traits>

namespace certd::tls {

std::string_view listenerStateName(ListenerState state)
{
    switch (state) {
    case ListenerState::Listening:
        return "listening";
    case ListenerState::Pending:
        return "pending";
    case ListenerState::Error:
        break;
    }
    return "error";
}

std::optional<ListenerState> parseListenerState(std::string_view name)
{
    for (const auto state : {ListenerState::Listening, ListenerState::Pending, ListenerState::Error})
        if (listenerStateName(state) == name)
            return state;
    return std::nullopt;
}

namespace wire {
namespace {

template <typename Buffer>
class Writer {
public:
    template <typename T>
    requires std::is_integral_v<T>
    void integer(T v)
    {
        const auto* p = reinterpret_cast<const std::uint8_t*>(&v);
        out.insert(out.end(), p, p + sizeof v);
    }
    void bytes(ByteView b)
    {
        integer(static_cast<std::uint32_t>(b.size()));
        out.insert(out.end(), b.begin(), b.end());
    }
    void string(const std::string& s) { bytes(asBytes(s)); }
    Buffer out;
};

class Reader {
public:
    explicit Reader(ByteView in) : in_(in) {}
    template <typename T>
    requires std::is_integral_v<T> T integer()
    {
        need(sizeof(T));
        T v;
        std::memcpy(&v, in_.data() + pos_, sizeof v);
        pos_ += sizeof v;
        return v;
    }
    ByteView bytes()
    {
        const auto n = integer<std::uint32_t>();
        need(n);
        ByteView v = in_.subspan(pos_, n);
        pos_ += n;
        return v;
    }
    std::string string()
    {
        const auto v = bytes();
        return {reinterpret_cast<const char*>(v.data()), v.size()};
    }
    // A count of items each at least `minItem` bytes long: bounds allocations on bad input.
    std::uint32_t count(std::size_t minItem)
    {
        const auto n = integer<std::uint32_t>();
        need(static_cast<std::size_t>(n) * minItem);
        return n;
    }
    void end() const
    {
        if (pos_ != in_.size())
            throw Error(ErrorCode::Malformed, "terminator message: trailing bytes");
    }

private:
    void need(std::size_t n) const
    {
        if (in_.size() - pos_ < n)
            throw Error(ErrorCode::Malformed, "terminator message: truncated");
    }
    ByteView in_;
    std::size_t pos_ = 0;
};

template <typename W>
void writeStatus(W& w, const ListenerStatus& s)
{
    w.string(s.address);
    w.integer(s.port);
    w.string(std::string(listenerStateName(s.state)));
    w.string(s.error);
    w.string(s.errorCode ? std::string(errorName(*s.errorCode)) : std::string());
    w.string(s.servingCertificateId);
}

std::optional<ErrorCode> readErrorCode(Reader& r)
{
    const std::string name = r.string();
    if (name.empty())
        return std::nullopt;
    return errorCodeFromName(name).value_or(ErrorCode::Internal);
}

} // namespace

SecureBytes encodeSnapshot(const Snapshot& snapshot)
{
    Writer<SecureBytes> w;
    const DesiredState& s = snapshot.state;
    w.integer(snapshot.generation);
    w.integer(static_cast<std::uint8_t>(s.profile));
    w.integer(static_cast<std::uint8_t>(s.backend.kind));
    w.string(s.backend.host);
    w.integer(s.backend.port);
    w.string(s.backend.path.string());
    w.integer(static_cast<std::uint8_t>(s.proxyProtocol));
    w.integer(static_cast<std::uint8_t>(s.flush));
    w.integer(static_cast<std::int64_t>(s.handshakeTimeout.count()));
    w.integer(static_cast<std::int64_t>(s.idleTimeout.count()));
    w.integer(static_cast<std::uint32_t>(s.maxConnections));
    w.integer(static_cast<std::uint32_t>(s.workers));
    w.integer(static_cast<std::uint32_t>(s.certificates.size()));
    for (const auto& c : s.certificates) {
        w.string(c.id);
        w.string(c.chainPem);
        w.bytes(c.keyPkcs8);
    }
    w.integer(static_cast<std::uint32_t>(s.listeners.size()));
    for (const auto& l : s.listeners) {
        w.string(l.address);
        w.integer(l.port);
        w.string(l.certificateId);
    }
    w.integer(s.httpChallengePort);
    w.integer(static_cast<std::uint32_t>(s.challenges.size()));
    for (const auto& c : s.challenges) {
        w.integer(static_cast<std::uint8_t>(c.kind));
        w.string(c.serverName);
        w.string(c.address);
        w.string(c.certificate.id);
        w.string(c.certificate.chainPem);
        w.bytes(c.certificate.keyPkcs8);
        w.string(c.token);
        w.string(c.keyAuthorization);
    }
    return std::move(w.out);
}

Snapshot decodeSnapshot(ByteView body)
{
    Reader r(body);
    Snapshot snapshot;
    DesiredState& s = snapshot.state;
    snapshot.generation = r.integer<std::uint64_t>();
    const auto profile = r.integer<std::uint8_t>();
    if (profile > static_cast<std::uint8_t>(TlsProfile::Modern))
        throw Error(ErrorCode::Malformed, "terminator message: bad TLS profile");
    s.profile = static_cast<TlsProfile>(profile);
    const auto kind = r.integer<std::uint8_t>();
    if (kind > static_cast<std::uint8_t>(Backend::Kind::Unix))
        throw Error(ErrorCode::Malformed, "terminator message: bad backend kind");
    s.backend.kind = static_cast<Backend::Kind>(kind);
    s.backend.host = r.string();
    s.backend.port = r.integer<std::uint16_t>();
    s.backend.path = r.string();
    const auto proxy = r.integer<std::uint8_t>();
    if (proxy > static_cast<std::uint8_t>(ProxyProtocol::V2))
        throw Error(ErrorCode::Malformed, "terminator message: bad PROXY protocol setting");
    s.proxyProtocol = static_cast<ProxyProtocol>(proxy);
    s.flush = r.integer<std::uint8_t>() != 0;
    s.handshakeTimeout = std::chrono::milliseconds(r.integer<std::int64_t>());
    s.idleTimeout = std::chrono::milliseconds(r.integer<std::int64_t>());
    s.maxConnections = r.integer<std::uint32_t>();
    s.workers = r.integer<std::uint32_t>();
    for (auto n = r.count(12); n > 0; --n) {
        CertificateMaterial c;
        c.id = r.string();
        c.chainPem = r.string();
        const auto key = r.bytes();
        c.keyPkcs8.assign(key.begin(), key.end());
        s.certificates.push_back(std::move(c));
    }
    for (auto n = r.count(10); n > 0; --n) {
        ListenerSpec l;
        l.address = r.string();
        l.port = r.integer<std::uint16_t>();
        l.certificateId = r.string();
        s.listeners.push_back(std::move(l));
    }
    s.httpChallengePort = r.integer<std::uint16_t>();
    for (auto n = r.count(29); n > 0; --n) {
        AcmeChallenge c;
        const auto challengeKind = r.integer<std::uint8_t>();
        if (challengeKind > static_cast<std::uint8_t>(AcmeChallenge::Kind::Http01))
            throw Error(ErrorCode::Malformed, "terminator message: bad ACME challenge kind");
        c.kind = static_cast<AcmeChallenge::Kind>(challengeKind);
        c.serverName = r.string();
        c.address = r.string();
        c.certificate.id = r.string();
        c.certificate.chainPem = r.string();
        const auto key = r.bytes();
        c.certificate.keyPkcs8.assign(key.begin(), key.end());
        c.token = r.string();
        c.keyAuthorization = r.string();
        s.challenges.push_back(std::move(c));
    }
    r.end();
    return snapshot;
}

Bytes encodeAck(const Ack& ack)
{
    Writer<Bytes> w;
    w.integer(ack.generation);
    w.integer(static_cast<std::uint32_t>(ack.listeners.size()));
    for (const auto& l : ack.listeners)
        writeStatus(w, l);
    w.integer(static_cast<std::uint32_t>(ack.certificates.size()));
    for (const auto& c : ack.certificates) {
        w.string(c.id);
        w.string(std::string(errorName(c.code)));
        w.string(c.message);
    }
    w.string(ack.error);
    return std::move(w.out);
}

Ack decodeAck(ByteView body)
{
    Reader r(body);
    Ack ack;
    ack.generation = r.integer<std::uint64_t>();
    for (auto n = r.count(22); n > 0; --n) {
        ListenerStatus s;
        s.address = r.string();
        s.port = r.integer<std::uint16_t>();
        const auto state = parseListenerState(r.string());
        if (!state)
            throw Error(ErrorCode::Malformed, "unknown listener state in an acknowledgement");
        s.state = *state;
        s.error = r.string();
        s.errorCode = readErrorCode(r);
        s.servingCertificateId = r.string();
        ack.listeners.push_back(std::move(s));
    }
    for (auto n = r.count(12); n > 0; --n) {
        CertificateError c;
        c.id = r.string();
        c.code = readErrorCode(r).value_or(ErrorCode::Internal);
        c.message = r.string();
        ack.certificates.push_back(std::move(c));
    }
    ack.error = r.string();
    r.end();
    return ack;
}

Bytes encodeSockets(const std::vector<std::string>& endpoints)
{
    Writer<Bytes> w;
    w.integer(static_cast<std::uint32_t>(endpoints.size()));
    for (const auto& e : endpoints)
        w.string(e);
    return std::move(w.out);
}

std::vector<std::string> decodeSockets(ByteView body)
{
    Reader r(body);
    std::vector<std::string> endpoints;
    for (auto n = r.count(4); n > 0; --n)
        endpoints.push_back(r.string());
    r.end();
    return endpoints;
}

namespace {

[[noreturn]] void throwErrno(const char* what)
{
    throw Error(ErrorCode::Internal, std::string("terminator socket: ") + what + ": " + std::strerror(errno));
}

// Waits until fd is ready for `events` or the deadline passes (throws then).
void waitFor(int fd, short events, const Deadline& deadline)
{
    for (;;) {
        int timeout = -1;
        if (deadline) {
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                *deadline - std::chrono::steady_clock::now());
            if (left.count() <= 0)
                throw Error(ErrorCode::Internal, "terminator socket: timed out");
            timeout = static_cast<int>(left.count()) + 1;
        }
        pollfd p{fd, events, 0};
        const int r = ::poll(&p, 1, timeout);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            throwErrno("poll");
        if (r > 0)
            return;
    }
}

} // namespace

void sendFrame(int fd, MessageType type, ByteView body, std::span<const int> fds, Deadline deadline)
{
    if (body.size() > kMaxBody || fds.size() > kMaxFdsPerFrame)
        throw Error(ErrorCode::Internal, "terminator socket: frame too large");
    std::uint8_t header[kHeaderSize];
    const std::uint32_t fields[3] = {static_cast<std::uint32_t>(type),
                                     static_cast<std::uint32_t>(body.size()),
                                     static_cast<std::uint32_t>(fds.size())};
    std::memcpy(header, fields, sizeof header);

    std::size_t sent = 0; // of header + body
    const std::size_t total = kHeaderSize + body.size();
    bool fdsSent = fds.empty();
    while (sent < total) {
        iovec iov[2];
        int iovcnt = 0;
        if (sent < kHeaderSize) {
            iov[iovcnt++] = {header + sent, kHeaderSize - sent};
            if (!body.empty())
                iov[iovcnt++] = {const_cast<std::uint8_t*>(body.data()), body.size()};
        } else {
            iov[iovcnt++] = {const_cast<std::uint8_t*>(body.data()) + (sent - kHeaderSize), total - sent};
        }
        msghdr msg{};
        msg.msg_iov = iov;
        msg.msg_iovlen = static_cast<std::size_t>(iovcnt);
        alignas(cmsghdr) std::uint8_t control[CMSG_SPACE(sizeof(int) * kMaxFdsPerFrame)];
        if (!fdsSent) {
            msg.msg_control = control;
            msg.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
            cmsghdr* c = CMSG_FIRSTHDR(&msg);
            c->cmsg_level = SOL_SOCKET;
            c->cmsg_type = SCM_RIGHTS;
            c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
            std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
        }
        const ssize_t n = ::sendmsg(fd, &msg, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN) {
                waitFor(fd, POLLOUT, deadline);
                continue;
            }
            throwErrno("send");
        }
        fdsSent = true;
        sent += static_cast<std::size_t>(n);
    }
}

FrameReader::Fill FrameReader::fill(int fd)
{
    std::uint8_t chunk[65536];
    iovec iov{chunk, sizeof chunk};
    alignas(cmsghdr) std::uint8_t control[CMSG_SPACE(sizeof(int) * 253)];
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    ssize_t n;
    do {
        n = ::recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
    } while (n < 0 && errno == EINTR);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return Fill::WouldBlock;
    if (n < 0)
        throwErrno("receive");
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        const std::size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (std::size_t i = 0; i < count; ++i) {
            int received;
            std::memcpy(&received, CMSG_DATA(c) + i * sizeof(int), sizeof received);
            fds_.emplace_back(received);
        }
    }
    buffer_.insert(buffer_.end(), chunk, chunk + n);
    wipe(chunk, static_cast<std::size_t>(n));
    if (msg.msg_flags & MSG_CTRUNC)
        throw Error(ErrorCode::Internal, "terminator socket: file descriptors were truncated");
    return n == 0 ? Fill::Eof : Fill::Data;
}

std::optional<Frame> FrameReader::next()
{
    if (buffer_.size() < kHeaderSize)
        return std::nullopt;
    std::uint32_t fields[3];
    std::memcpy(fields, buffer_.data(), sizeof fields);
    if (fields[1] > kMaxBody || fields[2] > kMaxFdsPerFrame || fields[0] < 1 || fields[0] > 5)
        throw Error(ErrorCode::Malformed, "terminator socket: bad frame header");
    if (buffer_.size() < kHeaderSize + fields[1])
        return std::nullopt;
    if (fds_.size() < fields[2])
        throw Error(ErrorCode::Malformed, "terminator socket: frame announces more fds than arrived");
    Frame frame;
    frame.type = static_cast<MessageType>(fields[0]);
    frame.body.assign(buffer_.begin() + kHeaderSize, buffer_.begin() + kHeaderSize + fields[1]);
    buffer_.erase(buffer_.begin(), buffer_.begin() + kHeaderSize + fields[1]);
    for (std::uint32_t i = 0; i < fields[2]; ++i) {
        frame.fds.push_back(std::move(fds_.front()));
        fds_.pop_front();
    }
    return frame;
}

} // namespace wire
} // namespace certd::tls
