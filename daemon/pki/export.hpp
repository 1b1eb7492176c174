#pragma once

#include "ossl.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace certd::pki {

enum class ExportFormat { Auto, Der, Pem, Pkcs7, Pkcs8, Pkcs12 };

// "auto", "der", "pem", "pkcs7", "pkcs8", "pkcs12"; nullopt otherwise.
std::optional<ExportFormat> parseExportFormat(std::string_view name);

struct ExportRequest {
    ExportFormat format = ExportFormat::Auto;
    std::vector<X509*> certificates; // leaf first, then its chain when the chain is included
    EVP_PKEY* key = nullptr;         // only when the caller asked for (and may have) the key
    Secret passphrase;               // empty: unencrypted (PKCS#8) / empty password (PKCS#12)
    std::string friendlyName;        // PKCS#12 friendlyName attribute
};

// auto: one certificate -> DER; key alone -> PKCS#8; several certificates ->
// PKCS#7; certificate(s) and key -> PKCS#12. DER: exactly one certificate.
// PEM: every certificate then the key (PKCS#8, encrypted when a passphrase is
// given). PKCS#8: the key, AES-256-CBC PBES2 when a passphrase is given.
// PKCS#7: degenerate certs-only SignedData, DER. PKCS#12: AES-256-CBC, PBKDF2,
// SHA-256 MAC. Throws Error(InvalidArgument) for combinations a format cannot hold.
SecureBytes exportObjects(const ExportRequest& request);

} // namespace certd::pki
