#include "tls/proxy_header.hpp"
#include "tls/wire.hpp"

#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>

using namespace certd;
using namespace certd::tls;

TEST_CASE("a snapshot survives encoding, keys and all")
{
    wire::Snapshot in;
    in.generation = 42;
    in.state.profile = TlsProfile::Modern;
    in.state.backend.kind = Backend::Kind::Unix;
    in.state.backend.path = "/run/app.sock";
    in.state.proxyProtocol = ProxyProtocol::V2;
    in.state.flush = true;
    in.state.handshakeTimeout = std::chrono::milliseconds(1234);
    in.state.idleTimeout = std::chrono::milliseconds(56789);
    in.state.maxConnections = 77;
    in.state.workers = 3;
    in.state.certificates.push_back({"abc", "-----BEGIN CERTIFICATE-----\n", SecureBytes{1, 2, 3}});
    in.state.listeners.push_back({"127.0.0.2", 8443, "abc"});
    in.state.listeners.push_back({"::1", 443, "abc"});
    in.state.httpChallengePort = 8080;
    AcmeChallenge alpn;
    alpn.serverName = "2.0.0.127.in-addr.arpa";
    alpn.address = "127.0.0.2";
    alpn.certificate = {"acme-1", "-----BEGIN CERTIFICATE-----\n", SecureBytes{9, 8}};
    in.state.challenges.push_back(alpn);
    AcmeChallenge http;
    http.kind = AcmeChallenge::Kind::Http01;
    http.token = "tok";
    http.keyAuthorization = "tok.thumb";
    in.state.challenges.push_back(http);

    const auto out = wire::decodeSnapshot(wire::encodeSnapshot(in));
    CHECK(out.generation == 42);
    CHECK(out.state.profile == TlsProfile::Modern);
    CHECK(out.state.backend == in.state.backend);
    CHECK(out.state.proxyProtocol == ProxyProtocol::V2);
    CHECK(out.state.flush);
    CHECK(out.state.handshakeTimeout.count() == 1234);
    CHECK(out.state.idleTimeout.count() == 56789);
    CHECK(out.state.maxConnections == 77);
    CHECK(out.state.workers == 3);
    REQUIRE(out.state.certificates.size() == 1);
    CHECK(out.state.certificates[0].id == "abc");
    CHECK(out.state.certificates[0].keyPkcs8 == SecureBytes{1, 2, 3});
    CHECK(out.state.listeners == in.state.listeners);
    CHECK(out.state.httpChallengePort == 8080);
    REQUIRE(out.state.challenges.size() == 2);
    CHECK(out.state.challenges[0].kind == AcmeChallenge::Kind::TlsAlpn01);
    CHECK(out.state.challenges[0].serverName == alpn.serverName);
    CHECK(out.state.challenges[0].address == "127.0.0.2");
    CHECK(out.state.challenges[0].certificate.id == "acme-1");
    CHECK(out.state.challenges[0].certificate.chainPem == alpn.certificate.chainPem);
    CHECK(out.state.challenges[0].certificate.keyPkcs8 == SecureBytes{9, 8});
    CHECK(out.state.challenges[1].kind == AcmeChallenge::Kind::Http01);
    CHECK(out.state.challenges[1].token == "tok");
    CHECK(out.state.challenges[1].keyAuthorization == "tok.thumb");
}

TEST_CASE("a truncated snapshot is refused as Malformed, never read past its end")
{
    wire::Snapshot in;
    in.state.listeners.push_back({"127.0.0.2", 8443, "abc"});
    const auto bytes = wire::encodeSnapshot(in);
    for (std::size_t cut = 0; cut < bytes.size(); ++cut) {
        try {
            wire::decodeSnapshot(ByteView(bytes.data(), cut));
            FAIL("decoded a truncated snapshot at " << cut);
        } catch (const Error& e) {
            CHECK(e.code() == ErrorCode::Malformed);
        }
    }
}

TEST_CASE("an ack carries per-listener status and rejected certificates by error name")
{
    wire::Ack in;
    in.generation = 7;
    ListenerStatus s;
    s.address = "127.0.0.3";
    s.port = 443;
    s.state = ListenerState::Listening;
    s.error = "certificate x: key mismatch; still serving certificate y";
    s.errorCode = ErrorCode::KeyMismatch;
    s.servingCertificateId = "y";
    in.listeners.push_back(s);
    in.certificates.push_back({"x", ErrorCode::KeyMismatch, "certificate x: key mismatch"});
    const auto out = wire::decodeAck(wire::encodeAck(in));
    CHECK(out.generation == 7);
    REQUIRE(out.listeners.size() == 1);
    CHECK(out.listeners[0].state == ListenerState::Listening);
    CHECK(out.listeners[0].errorCode == ErrorCode::KeyMismatch);
    CHECK(out.listeners[0].servingCertificateId == "y");
    REQUIRE(out.certificates.size() == 1);
    CHECK(out.certificates[0].code == ErrorCode::KeyMismatch);
}

TEST_CASE("frames and their fds cross a socketpair intact, in order")
{
    int sv[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    UniqueFd a(sv[0]), b(sv[1]);
    int pipeFds[2];
    REQUIRE(::pipe(pipeFds) == 0);
    UniqueFd r(pipeFds[0]), w(pipeFds[1]);

    const Bytes big(300'000, 0x5A); // more than the socket buffer and one recvmsg chunk
    std::thread sender([&] {
        const auto names = wire::encodeSockets({"127.0.0.2:443"});
        const int fds[] = {w.get()};
        wire::sendFrame(a.get(), wire::MessageType::Sockets, names, fds);
        wire::sendFrame(a.get(), wire::MessageType::Snapshot, big);
    });

    wire::FrameReader reader;
    std::vector<wire::Frame> frames;
    while (frames.size() < 2) {
        REQUIRE(reader.fill(b.get()) == wire::FrameReader::Fill::Data);
        while (auto f = reader.next())
            frames.push_back(std::move(*f));
    }
    sender.join();
    CHECK(frames[0].type == wire::MessageType::Sockets);
    CHECK(wire::decodeSockets(frames[0].body) == std::vector<std::string>{"127.0.0.2:443"});
    REQUIRE(frames[0].fds.size() == 1);
    CHECK(::write(frames[0].fds[0].get(), "x", 1) == 1); // the received fd is the pipe's write end
    char c = 0;
    CHECK(::read(r.get(), &c, 1) == 1);
    CHECK(c == 'x');
    CHECK(frames[1].type == wire::MessageType::Snapshot);
    CHECK(frames[1].body.size() == big.size());
}

TEST_CASE("PROXY v2 header for IPv4 with ALPN and SNI TLVs, byte for byte")
{
    sockaddr_in client{}, local{};
    client.sin_family = local.sin_family = AF_INET;
    ::inet_pton(AF_INET, "192.0.2.1", &client.sin_addr);
    ::inet_pton(AF_INET, "127.0.0.2", &local.sin_addr);
    client.sin_port = htons(51000);
    local.sin_port = htons(443);
    const auto h = proxyV2Header(reinterpret_cast<sockaddr*>(&client), reinterpret_cast<sockaddr*>(&local),
                                 "http/1.1", "a.example");
    const Bytes expected = {
        0x0D, 0x0A, 0x0D, 0x0A,
        0x00, 0x0D, 0x0A, 0x51,
        0x55, 0x49, 0x54, 0x0A,         // signature
        0x21, 0x11, 0x00, 12 + 11 + 12, // v2 PROXY, TCP4, length
        192,  0,    2,    1,
        127,  0,    0,    2,
        0xC7, 0x38, 0x01, 0xBB, // addresses, ports
        0x01, 0x00, 0x08, 'h',
        't',  't',  'p',  '/',
        '1',  '.',  '1', // ALPN
        0x02, 0x00, 0x09, 'a',
        '.',  'e',  'x',  'a',
        'm',  'p',  'l',  'e', // authority (SNI)
    };
    CHECK(h == expected);
}

TEST_CASE("PROXY v2 header for IPv6 without TLVs, and LOCAL for anything else")
{
    sockaddr_in6 client{}, local{};
    client.sin6_family = local.sin6_family = AF_INET6;
    ::inet_pton(AF_INET6, "2001:db8::1", &client.sin6_addr);
    ::inet_pton(AF_INET6, "::1", &local.sin6_addr);
    client.sin6_port = htons(1);
    local.sin6_port = htons(2);
    const auto h =
        proxyV2Header(reinterpret_cast<sockaddr*>(&client), reinterpret_cast<sockaddr*>(&local), "", "");
    REQUIRE(h.size() == 16 + 36);
    CHECK(h[12] == 0x21);
    CHECK(h[13] == 0x21);
    CHECK(h[14] == 0);
    CHECK(h[15] == 36);
    CHECK(h[16] == 0x20);
    CHECK(h[17] == 0x01);
    CHECK(h[16 + 32 + 1] == 1);
    CHECK(h[16 + 34 + 1] == 2);

    const auto local2 = proxyV2Header(nullptr, nullptr, "h2", "x");
    CHECK(local2.size() == 16);
    CHECK(local2[12] == 0x20);
    CHECK(local2[13] == 0x00);
}

TEST_CASE("PROXY v2 header leaves out a TLV that would overflow its 16-bit length")
{
    sockaddr_in client{}, local{};
    client.sin_family = local.sin_family = AF_INET;
    const std::string alpn(40'000, 'a');
    const std::string serverName(40'000, 'b');
    // Found by fuzz-proxy-header: the length used to wrap, so a backend read the rest as data.
    const auto h = proxyV2Header(reinterpret_cast<sockaddr*>(&client), reinterpret_cast<sockaddr*>(&local),
                                 alpn, serverName);
    REQUIRE(h.size() == 16 + 12 + 3 + alpn.size());
    CHECK((h[14] << 8 | h[15]) == 12 + 3 + 40'000);
    CHECK(h[28] == kPp2TypeAlpn);
}
