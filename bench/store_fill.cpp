// Fills a certd store with N self-signed certificates (each with its EC key) for the
// store-scale benchmark. The files are laid out as the store lays them out, without an fsync
// each (N may be 50,000; this is a benchmark's set-up, not a durable write).
// Usage: store-fill DIR N
#include "fs.hpp"
#include "pki/certificate.hpp"
#include "pki/key.hpp"
#include "store/state_codec.hpp"
#include "store/store.hpp"
#include "unique_fd.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>

namespace {

void writePlain(const std::filesystem::path& path, certd::ByteView data, mode_t mode)
{
    const certd::UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode));
    if (!fd || ::fchmod(fd.get(), mode) != 0 ||
        ::write(fd.get(), data.data(), data.size()) != static_cast<ssize_t>(data.size())) {
        std::perror(path.c_str());
        std::exit(1);
    }
}

} // namespace

int main(int argc, char** argv)
{
    if (argc != 3) {
        std::fprintf(stderr, "usage: store-fill DIR N\n");
        return 2;
    }
    using namespace certd;
    const std::filesystem::path dir = argv[1];
    {
        const Store store(dir); // the directories, mode 0700
    }
    const long n = std::stol(argv[2]);
    StoreState state;
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
        writePlain(dir / "keys" / (keyId + ".key"), pki::privateKeyToPkcs8Der(key.get()), 0600);
        state.keys[keyId] =
            StoredKey{now, pki::keyAlgorithm(key.get()), static_cast<unsigned>(pki::keyBits(key.get())),
                      pki::spkiSha256Hex(key.get())};
        writePlain(dir / "certs" / (certId + ".der"), pki::certificateDer(cert.get()), 0644);
        state.certificates[certId] =
            StoredCertificate{"bench " + std::to_string(i), ChainMode::Automatic, {}, now};
    }
    writeFileAtomic(dir, "state.yaml", asBytes(serializeState(state)), 0600);
    ::sync();
    std::printf("filled %s with %ld certificates\n", argv[1], n);
    return 0;
}
