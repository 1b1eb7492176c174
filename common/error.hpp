#pragma once

#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace certd {

// Every failure certd reports; one table (error.cpp) maps each code to its
// org.certd1.Error.* name, for the daemon's bus wrapper and the client alike.
// (OpenSSL failures: pki::throwOpenSsl in daemon/pki/ossl.hpp.)
enum class ErrorCode {
    InvalidArgument,    // a named argument is malformed or out of range
    NotFound,           // no such object
    InvalidCertificate, // the data parses but is not a usable certificate
    EmptyInput,         // nothing to import
    Malformed,          // data is truncated or not in any known format
    PassphraseRequired, // the data is encrypted and no passphrase was given
    BadPassphrase,      // the passphrase given does not decrypt the data
    KeyMismatch,        // a key does not belong to the certificate
    NoPrivateKey,       // the certificate has no private key on this appliance
    InUse,              // the object is still referenced
    AccessDenied,       // the caller lacks the right for this action
    Unsupported,        // understood, but not something certd handles
    FetchFailed,        // an issuer download failed (network, HTTP status, size or time limit)
    CheckFailed,        // a pre-flight check found errors; the caller may override with force
    Busy,               // the caller already has as many slow calls in progress as certd takes
    TooLarge,           // the reply would exceed the bus's message size limit
    AcmeFailed,         // an ACME server refused an order or answered what RFC 8555 does not allow
    Internal,           // a bug or an environment failure (disk, OpenSSL)
};

// The D-Bus error name, e.g. "org.certd1.Error.BadPassphrase".
std::string_view errorName(ErrorCode code);
// The inverse of errorName(); nullopt for names certd does not define.
std::optional<ErrorCode> errorCodeFromName(std::string_view name);

class Error : public std::runtime_error {
public:
    Error(ErrorCode code, const std::string& message);
    ErrorCode code() const noexcept { return code_; }

private:
    ErrorCode code_;
};

} // namespace certd
