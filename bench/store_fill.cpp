// Fills a certd store with N self-signed certificates (each with its EC key) in
// one transaction, for the store-scale benchmark. Usage: store-fill DIR N
#include "pki/certificate.hpp"
#include "pki/key.hpp"
#include "store/store.hpp"

#include <chrono>
#include <cstdio>
#include <string>

int main(int argc, char** argv)
{
    if (argc != 3) {
        std::fprintf(stderr, "usage: store-fill DIR N\n");
        return 2;
    }
    using namespace certd;
    Store store(argv[1]);
    const long n = std::stol(argv[2]);
    auto tx = store.begin();
    const auto now = static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                                    std::chrono::system_clock::now().time_since_epoch())
                                                    .count());
    for (long i = 0; i < n; ++i) {
        pki::CertificateSpec spec;
        spec.subject.commonName = "host" + std::to_string(i) + ".bench.example";
        spec.keyType = pki::KeyType::EcP256;
        pki::validateSpec(spec);
        auto key = pki::generateKey(pki::KeyType::EcP256);
        auto cert = pki::createSelfSigned(spec, key.get());
        const auto keyId = pki::keyId(key.get());
        const auto certId = pki::certificateId(cert.get());
        tx.putKey(keyId, pki::privateKeyToPkcs8Der(key.get()));
        tx.state().keys[keyId] = StoredKey{now};
        tx.putCertificate(certId, pki::certificateDer(cert.get()));
        tx.state().certificates[certId] =
            StoredCertificate{"bench " + std::to_string(i), ChainMode::Automatic, {}, now};
    }
    store.commit(std::move(tx));
    std::printf("filled %s with %ld certificates\n", argv[1], n);
    return 0;
}
