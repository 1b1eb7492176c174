// fuzz-import: an uploaded file through pki::parseImport, the parser Manager::importData
// (the bus method Import) calls, then through what importData and the store do with each
// certificate and key it returns.
//
// Input: one mode byte, then the file. Mode % 3 picks the passphrase: 0 none, 1 the one the
// corpus's encrypted seeds use (kPassphrase), 2 a wrong one.
//
// Findings: a crash or sanitizer report; an exception other than certd::Error; an error code
// parseImport does not promise; an Internal error afterwards (the daemon's "this is a bug");
// a certificate or key the store would write but could not read back the same.

#include "fuzz.hpp"

#include "error.hpp"
#include "pki/certificate.hpp"
#include "pki/chain.hpp"
#include "pki/import.hpp"
#include "pki/key.hpp"

#include <string>
#include <vector>

using namespace certd;

namespace {

constexpr std::string_view kPassphrase = "fuzz-passphrase";
constexpr std::string_view kWrongPassphrase = "not-the-passphrase";

// 2030-01-01: warnings do not depend on the day the fuzzer runs.
constexpr std::uint64_t kNowUSec = 1'893'456'000ULL * 1'000'000ULL;

bool promisedByParseImport(ErrorCode code)
{
    switch (code) {
    case ErrorCode::EmptyInput:
    case ErrorCode::Malformed:
    case ErrorCode::PassphraseRequired:
    case ErrorCode::BadPassphrase:
    case ErrorCode::Unsupported:
        return true;
    default:
        return false;
    }
}

void storeRoundTrip(EVP_PKEY* key)
{
    const SecureBytes der = pki::privateKeyToPkcs8Der(key);
    pki::EvpPkeyPtr back;
    try {
        back = pki::privateKeyFromPkcs8Der(der);
    } catch (const Error& e) {
        fuzz::fail("an imported key's PKCS#8 does not load back", e.what());
    }
    fuzz::require(pki::sameKey(key, back.get()), "an imported key's PKCS#8 loads back as another key");
}

void storeRoundTrip(X509* cert)
{
    const Bytes der = pki::certificateDer(cert);
    pki::X509Ptr back;
    try {
        back = pki::certificateFromDer(der);
    } catch (const Error& e) {
        fuzz::fail("an imported certificate's DER does not load back", e.what());
    }
    fuzz::require(X509_cmp(cert, back.get()) == 0, "an imported certificate loads back as another one");
}

// What Manager::importData, the store and Manager::recomputeDerived do with an import.
void useBundle(const pki::ImportedBundle& bundle)
{
    for (const auto& key : bundle.keys) {
        (void)pki::keyId(key.get());
        (void)pki::spkiSha256Hex(key.get());
        (void)pki::publicKeyDescription(key.get());
        storeRoundTrip(key.get());
    }
    std::vector<X509*> pool;
    for (const auto& cert : bundle.certificates) {
        pool.push_back(cert.get());
        (void)pki::classify(cert.get());
        (void)pki::certificateId(cert.get());
        (void)pki::spkiSha256Hex(X509_get0_pubkey(cert.get()));
        (void)pki::describeCertificate(cert.get());
        storeRoundTrip(cert.get());
    }
    for (X509* cert : pool) {
        const pki::ChainResult chain = pki::buildChain(cert, pool);
        (void)pki::certificateWarnings(cert, chain, {!bundle.keys.empty(), kNowUSec, 30});
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    if (size == 0)
        return 0;
    const int mode = data[0] % 3;
    const Secret passphrase(mode == 1 ? kPassphrase : mode == 2 ? kWrongPassphrase : std::string_view());
    const ByteView file(data + 1, size - 1);

    pki::ImportedBundle bundle;
    try {
        bundle = pki::parseImport(file, passphrase);
    } catch (const Error& e) {
        if (!promisedByParseImport(e.code()))
            fuzz::fail("parseImport threw an error code it does not promise", e.what());
        return 0;
    }
    try {
        useBundle(bundle);
    } catch (const Error& e) {
        // Other codes are answers a user can act on; Internal means certd has a bug.
        if (e.code() == ErrorCode::Internal)
            fuzz::fail("an accepted import fails later with Internal", e.what());
    }
    return 0;
}
