// Writes a three-level test PKI (root -> intermediate -> leaf) whose Authority
// Info Access caIssuers URLs are chosen at run time (an HTTP server's port is only
// known once it listens), for the FetchIssuer integration tests.
//
// Usage: make-test-pki OUT_DIR LABEL LEAF_AIA_URL INTERMEDIATE_AIA_URL
//   (an empty URL: no AIA extension on that certificate)
// Writes, all PEM:
//   root.pem          "LABEL Root CA", self-signed CA
//   intermediate.pem  "LABEL Intermediate CA", issued by the root, AIA -> INTERMEDIATE_AIA_URL
//   leaf.pem          "LABEL.example.com" (SAN the same), issued by the intermediate, AIA -> LEAF_AIA_URL
//   leaf.key          the leaf's private key (PKCS#8)
//   leaf-noaia.pem    "noaia.LABEL.example.com", issued by the intermediate, no AIA
//   stranger.pem      a CA named exactly like the intermediate ("LABEL Intermediate CA") but with
//                     another key, issued by another root: it did not issue the leaf
#include "cert_factory.hpp"
#include "pki/certificate.hpp"
#include "pki/export.hpp"

#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <string>

namespace {

using certd::test::IssueOptions;
using certd::test::TestCert;

bool writeFile(const std::filesystem::path& path, const void* data, std::size_t size)
{
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(static_cast<const char*>(data), static_cast<std::streamsize>(size));
    out.close();
    if (!out) {
        std::fprintf(stderr, "make-test-pki: cannot write %s\n", path.c_str());
        return false;
    }
    return true;
}

bool writeCert(const std::filesystem::path& path, const TestCert& c)
{
    const std::string pem = certd::pki::certificatePem(c.cert.get());
    return writeFile(path, pem.data(), pem.size());
}

IssueOptions caOptions(const std::string& cn, long days)
{
    IssueOptions o;
    o.commonName = cn;
    o.ca = true;
    o.notAfterOffsetSeconds = days * 86400;
    return o;
}

} // namespace

int main(int argc, char** argv)
{
    if (argc != 5) {
        std::fprintf(stderr, "usage: make-test-pki OUT_DIR LABEL LEAF_AIA_URL INTERMEDIATE_AIA_URL\n");
        return 2;
    }
    try {
        const std::filesystem::path dir = argv[1];
        const std::string label = argv[2];
        const std::string leafUrl = argv[3], intermediateUrl = argv[4];
        std::filesystem::create_directories(dir);

        // Fresh keys (makeSelfSigned/issue draw a new EC key when none is given), so two
        // runs never share a key and their certificates never chain into each other.
        const TestCert root = certd::test::makeSelfSigned(caOptions(label + " Root CA", 3650));

        IssueOptions io = caOptions(label + " Intermediate CA", 1825);
        if (!intermediateUrl.empty())
            io.caIssuersUrls = {intermediateUrl};
        const TestCert intermediate = certd::test::issue(root, io);

        IssueOptions lo;
        lo.commonName = label + ".example.com";
        lo.dnsNames = {lo.commonName};
        if (!leafUrl.empty())
            lo.caIssuersUrls = {leafUrl};
        const TestCert leaf = certd::test::issue(intermediate, lo);

        IssueOptions no;
        no.commonName = "noaia." + label + ".example.com";
        no.dnsNames = {no.commonName};
        const TestCert noaia = certd::test::issue(intermediate, no);

        const TestCert otherRoot = certd::test::makeSelfSigned(caOptions(label + " Other Root CA", 3650));
        const TestCert stranger = certd::test::issue(otherRoot, caOptions(label + " Intermediate CA", 1825));

        certd::pki::ExportRequest keyOnly;
        keyOnly.format = certd::pki::ExportFormat::Pem;
        keyOnly.key = leaf.key.get();
        const auto keyPem = certd::pki::exportObjects(keyOnly);

        const bool ok = writeCert(dir / "root.pem", root) &&
                        writeCert(dir / "intermediate.pem", intermediate) &&
                        writeCert(dir / "leaf.pem", leaf) && writeCert(dir / "leaf-noaia.pem", noaia) &&
                        writeCert(dir / "stranger.pem", stranger) &&
                        writeFile(dir / "leaf.key", keyPem.data(), keyPem.size());
        return ok ? 0 : 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "make-test-pki: %s\n", e.what());
        return 1;
    }
}
