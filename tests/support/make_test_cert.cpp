// Writes a certificate and its key (PEM, one file) from the in-process test
// factory, for integration tests that need lifetimes the openssl CLI cannot
// express. Usage: make-test-cert CN NOT_AFTER_SECONDS_FROM_NOW OUT.pem [NOT_BEFORE_SECONDS_FROM_NOW]
// NOT_BEFORE defaults to -3600 (an hour ago); a positive value makes a not-yet-valid certificate.
#include "cert_factory.hpp"
#include "pki/certificate.hpp"
#include "pki/export.hpp"

#include <cstdio>
#include <fstream>
#include <string>

int main(int argc, char** argv)
{
    if (argc != 4 && argc != 5) {
        std::fprintf(stderr, "usage: make-test-cert CN NOT_AFTER_SECONDS OUT.pem [NOT_BEFORE_SECONDS]\n");
        return 2;
    }
    certd::test::IssueOptions options;
    options.commonName = argv[1];
    options.dnsNames = {argv[1]};
    options.notBeforeOffsetSeconds = argc == 5 ? std::stol(argv[4]) : -3600;
    options.notAfterOffsetSeconds = std::stol(argv[2]);
    const auto made = certd::test::makeSelfSigned(options);
    certd::pki::ExportRequest request;
    request.format = certd::pki::ExportFormat::Pem;
    request.certificates = {made.cert.get()};
    request.key = made.key.get();
    const auto pem = certd::pki::exportObjects(request);
    std::ofstream(argv[3], std::ios::binary)
        .write(reinterpret_cast<const char*>(pem.data()), static_cast<std::streamsize>(pem.size()));
    return 0;
}
