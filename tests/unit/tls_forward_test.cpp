// Forwarded signing (issue 13): certd-tls serves certificates whose private keys it does not
// hold. Handshakes through the provider of forwarded_key.cpp, for every key type and TLS
// version, with the signature made by the key holder's code (sign::signWith), synchronously and
// with the handshake parked (SSL_MODE_ASYNC) until the signature comes back.

#include "tls/forwarded_key.hpp"
#include "tls/sign_wire.hpp"
#include "tls_test_support.hpp"

#include <openssl/async.h>
#include <openssl/core_names.h>
#include <openssl/rsa.h>

#include <utility>
#include <vector>

using namespace certd;
using namespace certd::tls;
using namespace certd::tls::test;

namespace {

// Stands in for a worker: signs with the real key, at once or after the job was paused.
class TestGate : public SignGate {
public:
    explicit TestGate(EVP_PKEY* key) : key_(key) { setThreadSignGate(this); }
    ~TestGate() override { setThreadSignGate(nullptr); }
    TestGate(const TestGate&) = delete;
    TestGate& operator=(const TestGate&) = delete;

    bool park = false;   // pause the async job, complete() signs
    bool refuse = false; // the key holder fails every request
    std::vector<sign::Request> requests;
    int pauses = 0;

    std::optional<Bytes> sign(sign::Request request) override
    {
        requests.push_back(request);
        if (park) {
            REQUIRE(ASYNC_get_current_job() != nullptr);
            parked_ = std::move(request);
            ++pauses;
            ASYNC_pause_job();
            return std::exchange(result_, std::nullopt);
        }
        return answer(request);
    }
    void complete()
    {
        REQUIRE(parked_);
        result_ = answer(*parked_);
        parked_.reset();
    }

private:
    std::optional<Bytes> answer(const sign::Request& request) const
    {
        if (refuse)
            return std::nullopt;
        const auto reply = sign::signWith(key_, request);
        if (reply.status != sign::Status::Ok)
            return std::nullopt;
        return reply.signature;
    }
    EVP_PKEY* key_;
    std::optional<sign::Request> parked_;
    std::optional<Bytes> result_;
};

struct KeyCase {
    const char* name;
    const char* sigalgs; // what the client offers
    pki::EvpPkeyPtr (*generate)();
};

pki::EvpPkeyPtr rsa2048()
{
    return pki::EvpPkeyPtr(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{2048}));
}
pki::EvpPkeyPtr p256()
{
    return pki::EvpPkeyPtr(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
}
pki::EvpPkeyPtr p384()
{
    return pki::EvpPkeyPtr(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384"));
}
pki::EvpPkeyPtr ed25519()
{
    return pki::EvpPkeyPtr(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
}
pki::EvpPkeyPtr ed448()
{
    return pki::EvpPkeyPtr(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED448"));
}

const KeyCase kCases[] = {
    {"rsa2048", "RSA-PSS+SHA256:RSA+SHA256", rsa2048},
    {"p256", "ECDSA+SHA256", p256},
    {"p384", "ECDSA+SHA384", p384},
    {"ed25519", "ed25519", ed25519},
    {"ed448", "ed448", ed448},
};

struct Served {
    pki::EvpPkeyPtr rootKey = p256();
    pki::EvpPkeyPtr leafKey;
    pki::X509Ptr root;
    pki::X509Ptr leaf;
    std::shared_ptr<const CertificateContext> context;
    explicit Served(pki::EvpPkeyPtr key) : leafKey(std::move(key))
    {
        root = makeCert("Forward Root", rootKey.get(), nullptr, nullptr, true);
        leaf = makeCert("leaf.example", leafKey.get(), root.get(), rootKey.get(), false);
        // No key in the material: the context gets a forwarded key.
        context = buildCertificateContext({"cert-1", pem(leaf.get()) + pem(root.get()), {}});
    }
};

} // namespace

TEST_CASE("a forwarded key holds the public half only")
{
    for (const auto& c : kCases) {
        CAPTURE(c.name);
        const auto key = c.generate();
        const auto cert = makeCert("leaf.example", key.get(), nullptr, nullptr, false);
        const auto forwarded = forwardedKey(cert.get(), "cert-1");
        REQUIRE(forwarded);
        CHECK(EVP_PKEY_eq(forwarded.get(), key.get()) == 1);
        CHECK(EVP_PKEY_get_bits(forwarded.get()) == EVP_PKEY_get_bits(key.get()));
        CHECK(EVP_PKEY_get_size(forwarded.get()) == EVP_PKEY_get_size(key.get()));
        BIGNUM* secret = nullptr;
        for (const char* name :
             {OSSL_PKEY_PARAM_PRIV_KEY, OSSL_PKEY_PARAM_RSA_D, OSSL_PKEY_PARAM_RSA_FACTOR1}) {
            CHECK(EVP_PKEY_get_bn_param(forwarded.get(), name, &secret) == 0);
            BN_free(secret);
            secret = nullptr;
        }
        // Nor can it be exported with a private part, to this provider or any other.
        EVP_PKEY* copy = nullptr;
        OSSL_PARAM* params = nullptr;
        CHECK(EVP_PKEY_todata(forwarded.get(), EVP_PKEY_KEYPAIR, &params) == 0);
        OSSL_PARAM_free(params);
        EVP_PKEY_free(copy);
        ERR_clear_error();
    }
}

TEST_CASE("handshakes with a forwarded key, every key type, TLS 1.3 and 1.2, signed by the key holder")
{
    for (const auto& c : kCases) {
        for (const int version : {TLS1_3_VERSION, TLS1_2_VERSION}) {
            CAPTURE(c.name);
            CAPTURE(version);
            Served served(c.generate());
            TestGate gate(served.leafKey.get());
            const auto result = handshake(served.context, c.sigalgs, version, served.root.get());
            REQUIRE_MESSAGE(result.done, result.error);
            CHECK(result.verifyResult == X509_V_OK);
            REQUIRE(result.peer);
            CHECK(X509_cmp(result.peer.get(), served.leaf.get()) == 0);
            REQUIRE(gate.requests.size() == 1); // one signature per full handshake
            CHECK(gate.requests.front().keyId == "cert-1");
        }
    }
}

TEST_CASE("RSA: PKCS#1 v1.5 for TLS 1.2 clients that ask for it, PSS otherwise")
{
    Served served(rsa2048());
    TestGate gate(served.leafKey.get());
    REQUIRE(handshake(served.context, "RSA+SHA384", TLS1_2_VERSION, served.root.get()).done);
    REQUIRE(handshake(served.context, "rsa_pss_rsae_sha512", TLS1_2_VERSION, served.root.get()).done);
    REQUIRE(handshake(served.context, "RSA-PSS+SHA256:RSA+SHA256", TLS1_3_VERSION, served.root.get()).done);
    REQUIRE(gate.requests.size() == 3);
    CHECK(gate.requests[0].scheme == sign::Scheme::RsaPkcs1);
    CHECK(gate.requests[0].hash == sign::Hash::Sha384);
    CHECK(gate.requests[1].scheme == sign::Scheme::RsaPss);
    CHECK(gate.requests[1].hash == sign::Hash::Sha512);
    CHECK(gate.requests[2].scheme == sign::Scheme::RsaPss);
    CHECK(gate.requests[2].hash == sign::Hash::Sha256);
    for (const auto& r : gate.requests)
        CHECK(r.input.size() == sign::hashSize(r.hash)); // a digest goes over, not the transcript
}

TEST_CASE("a handshake parks while its signature is away and completes when it comes back")
{
    for (const auto& c : kCases) {
        CAPTURE(c.name);
        Served served(c.generate());
        TestGate gate(served.leafKey.get());
        gate.park = true;
        const auto result = handshake(served.context, c.sigalgs, TLS1_3_VERSION, served.root.get(),
                                      TlsProfile::Intermediate, [&] { gate.complete(); });
        REQUIRE_MESSAGE(result.done, result.error);
        CHECK(gate.pauses == 1);
        CHECK(result.verifyResult == X509_V_OK);
    }
}

TEST_CASE("no signature, no handshake: the client gets an alert")
{
    Served served(p256());
    TestGate gate(served.leafKey.get());
    gate.refuse = true;
    const auto result = handshake(served.context, "ECDSA+SHA256", TLS1_3_VERSION, served.root.get());
    CHECK_FALSE(result.done);
    CAPTURE(result.error);
    CHECK(result.error.find("client: ") != std::string::npos);
    CHECK(result.error.substr(result.error.find("client: ")).find("alert") != std::string::npos);
}

TEST_CASE("the key holder signs only what TLS needs")
{
    const auto rsa = rsa2048();
    const auto ec = p256();
    const auto ed = ed25519();
    sign::Request r;
    r.keyId = "k";
    r.input.assign(32, 0x5a);
    r.hash = sign::Hash::Sha256;
    for (const auto scheme : {sign::Scheme::RsaPkcs1, sign::Scheme::RsaPss}) {
        r.scheme = scheme;
        CHECK(sign::signWith(rsa.get(), r).status == sign::Status::Ok);
        CHECK(sign::signWith(ec.get(), r).status == sign::Status::Refused); // not this key's scheme
    }
    r.scheme = sign::Scheme::Ecdsa;
    const auto ecdsa = sign::signWith(ec.get(), r);
    REQUIRE(ecdsa.status == sign::Status::Ok);
    {
        pki::EvpPkeyCtxPtr verify(EVP_PKEY_CTX_new_from_pkey(nullptr, ec.get(), nullptr));
        REQUIRE(EVP_PKEY_verify_init(verify.get()) == 1);
        CHECK(EVP_PKEY_verify(verify.get(), ecdsa.signature.data(), ecdsa.signature.size(), r.input.data(),
                              r.input.size()) == 1);
    }
    CHECK(sign::signWith(rsa.get(), r).status == sign::Status::Refused);
    r.input.assign(20, 0x5a); // a SHA-1-sized digest under a SHA-256 label
    CHECK(sign::signWith(ec.get(), r).status == sign::Status::Refused);
    r.hash = sign::Hash::None; // no raw RSA or ECDSA over arbitrary bytes
    r.scheme = sign::Scheme::RsaPkcs1;
    CHECK(sign::signWith(rsa.get(), r).status == sign::Status::Refused);
    r.scheme = sign::Scheme::EdDsa;
    r.input.assign(100, 0x20);
    CHECK(sign::signWith(ed.get(), r).status == sign::Status::Ok);
    CHECK(sign::signWith(ec.get(), r).status == sign::Status::Refused);
    r.hash = sign::Hash::Sha256;
    CHECK(sign::signWith(ed.get(), r).status == sign::Status::Refused);
}

TEST_CASE("signing channel records survive a round trip and reject garbage")
{
    Bytes buffer;
    sign::Request request{7, "cert-1", sign::Scheme::RsaPss, sign::Hash::Sha384, Bytes(48, 1)};
    sign::appendRequest(buffer, request);
    sign::appendReply(buffer, {7, sign::Status::Ok, Bytes(256, 2)});
    std::size_t offset = 0;
    const auto back = sign::takeRequest(buffer, offset);
    REQUIRE(back);
    CHECK(back->id == 7);
    CHECK(back->keyId == "cert-1");
    CHECK(back->scheme == sign::Scheme::RsaPss);
    CHECK(back->input == request.input);
    const auto reply = sign::takeReply(buffer, offset);
    REQUIRE(reply);
    CHECK(reply->signature.size() == 256);
    CHECK(offset == buffer.size());
    CHECK_FALSE(sign::takeReply(buffer, offset)); // nothing more yet

    Bytes partial(buffer.begin(), buffer.begin() + 10);
    offset = 0;
    CHECK_FALSE(sign::takeRequest(partial, offset));
    CHECK(offset == 0);
    Bytes huge{0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0};
    offset = 0;
    CHECK_THROWS_AS(sign::takeRequest(huge, offset), Error);
}
