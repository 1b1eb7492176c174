// certd-tls's ACME challenges: tls-alpn-01 selection in the client-hello callback (a real
// listener, real handshakes in memory) and the http-01 responder's answers.

#include "acme/challenge.hpp"
#include "tls/http_challenge.hpp"
#include "tls/listen_socket.hpp"
#include "tls/terminator.hpp"
#include "tls_test_support.hpp"

#include <doctest/doctest.h>

using namespace certd;
using namespace certd::tls;

namespace {

constexpr const char* kAcmeTls1 = "\x0a"
                                  "acme-tls/1";
constexpr const char* kHttp11 = "\x08"
                                "http/1.1";

bool hasAcmeIdentifier(X509* cert)
{
    const pki::OsslPtr<ASN1_OBJECT, ASN1_OBJECT_free> oid(OBJ_txt2obj("1.3.6.1.5.5.7.1.31", 1));
    return X509_get_ext_by_OBJ(cert, oid.get(), -1) >= 0;
}

struct Fixture {
    test::Chain chain;
    std::shared_ptr<const CertificateContext> served =
        buildCertificateContext({"leaf", test::pem(chain.leaf.get()), test::pkcs8(chain.leafKey.get())});
    TicketKeys keys;
    pki::SslCtxPtr front = buildFrontContext(TlsProfile::Intermediate, false);
    pki::SslCtxPtr clientCtx{SSL_CTX_new(TLS_client_method())};
    Listener listener{"127.0.0.2:443", UniqueFd(), keys, buildFrontContext(TlsProfile::Intermediate, false)};

    Fixture() { listener.setCertificate(served); }

    void challenges(const std::vector<AcmeChallenge>& list)
    {
        auto out = std::make_shared<Challenges>();
        for (const auto& c : list)
            out->push_back({c.serverName, !c.address.empty(),
                            buildChallengeContext(c.certificate, TlsProfile::Intermediate)});
        listener.setChallenges(out);
    }

    // ALPN list in wire form ("" for none), SNI ("" for none).
    test::Handshake connect(const std::string& alpn, const std::string& sni)
    {
        return test::handshakeWith(listener, front.get(), clientCtx.get(), [&](SSL* client) {
            if (!alpn.empty())
                REQUIRE(SSL_set_alpn_protos(client, reinterpret_cast<const unsigned char*>(alpn.data()),
                                            static_cast<unsigned>(alpn.size())) == 0);
            if (!sni.empty())
                REQUIRE(SSL_set_tlsext_host_name(client, sni.c_str()) == 1);
        });
    }
};

} // namespace

TEST_CASE("tls-alpn-01: only acme-tls/1 with a matching name gets the challenge certificate")
{
    Fixture f;
    const auto named = acme::tlsAlpnChallenge(acme::parseIdentifier("www.example.com"), "t.k", "");
    f.challenges({named});

    const auto challenge = f.connect(kAcmeTls1, "www.example.com");
    REQUIRE(challenge.done);
    CHECK(challenge.alpn == "acme-tls/1");
    CHECK(hasAcmeIdentifier(challenge.peer.get()));

    // SNI compares without case.
    CHECK(hasAcmeIdentifier(f.connect(kAcmeTls1, "WWW.Example.Com").peer.get()));

    // The same name without acme-tls/1 (http/1.1 or no ALPN), acme-tls/1 for another name or
    // none: the ordinary certificate.
    for (const auto& hello :
         std::vector<std::pair<std::string, std::string>>{{kHttp11, "www.example.com"},
                                                          {"", "www.example.com"},
                                                          {kAcmeTls1, "other.example.com"},
                                                          {kAcmeTls1, ""}}) {
        const std::string& sni = hello.second;
        CAPTURE(sni);
        const auto ordinary = f.connect(hello.first, sni);
        REQUIRE(ordinary.done);
        CHECK_FALSE(hasAcmeIdentifier(ordinary.peer.get()));
        CHECK(X509_cmp(ordinary.peer.get(), f.chain.leaf.get()) == 0);
        CHECK(ordinary.alpn != "acme-tls/1");
    }
    // acme-tls/1 among other protocols (RFC 8737: a CA offers it alone): the ordinary certificate.
    for (const auto& list : {std::string(kHttp11) + kAcmeTls1, std::string(kAcmeTls1) + kHttp11}) {
        const auto both = f.connect(list, "www.example.com");
        REQUIRE(both.done);
        CHECK_FALSE(hasAcmeIdentifier(both.peer.get()));
        CHECK(both.alpn == "http/1.1");
    }

    // Withdrawn: acme-tls/1 gets the ordinary certificate again.
    f.challenges({});
    CHECK_FALSE(hasAcmeIdentifier(f.connect(kAcmeTls1, "www.example.com").peer.get()));
}

TEST_CASE("tls-alpn-01 for an IP address: its reverse name or no SNI, on its own listener only")
{
    Fixture f;
    f.challenges({acme::tlsAlpnChallenge(acme::parseIdentifier("127.0.0.2"), "t.k", "127.0.0.2")});
    CHECK(hasAcmeIdentifier(f.connect(kAcmeTls1, "2.0.0.127.in-addr.arpa").peer.get()));
    CHECK(hasAcmeIdentifier(f.connect(kAcmeTls1, "").peer.get()));
    CHECK_FALSE(hasAcmeIdentifier(f.connect(kAcmeTls1, "3.0.0.127.in-addr.arpa").peer.get()));
    CHECK_FALSE(hasAcmeIdentifier(f.connect("", "").peer.get()));
}

TEST_CASE("http-01 answers: the token's key authorization, 404, 405, 400")
{
    const std::map<std::string, std::string> tokens{{"tok", "tok.thumb"}};
    const auto ok = HttpChallengeResponder::respond(
        "GET /.well-known/acme-challenge/tok HTTP/1.1\r\nHost: x\r\n\r\n", tokens);
    CHECK(ok.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
    CHECK(ok.find("Content-Length: 9\r\n") != std::string::npos);
    CHECK(ok.substr(ok.size() - 9) == "tok.thumb");
    const auto head =
        HttpChallengeResponder::respond("HEAD /.well-known/acme-challenge/tok HTTP/1.0\r\n\r\n", tokens);
    CHECK(head.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
    CHECK(head.substr(head.size() - 4) == "\r\n\r\n");
    CHECK(HttpChallengeResponder::respond("GET /.well-known/acme-challenge/other HTTP/1.1\r\n\r\n", tokens)
              .rfind("HTTP/1.1 404", 0) == 0);
    CHECK(HttpChallengeResponder::respond("GET / HTTP/1.1\r\n\r\n", tokens).rfind("HTTP/1.1 404", 0) == 0);
    CHECK(HttpChallengeResponder::respond("POST /.well-known/acme-challenge/tok HTTP/1.1\r\n\r\n", tokens)
              .rfind("HTTP/1.1 405", 0) == 0);
    for (const char* bad : {"\r\n\r\n", "GET\r\n\r\n", "GET /x\r\n\r\n", "GET /x FTP/1.0\r\n\r\n", "garbage"})
        CHECK(HttpChallengeResponder::respond(bad, tokens).rfind("HTTP/1.1 400", 0) == 0);
}
