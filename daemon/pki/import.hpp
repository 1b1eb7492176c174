#pragma once

#include "spec.hpp"

#include <vector>

namespace certd::pki {

// Everything found in one uploaded file, in file order.
struct ImportedBundle {
    std::vector<X509Ptr> certificates;
    std::vector<EvpPkeyPtr> keys;
    std::vector<Warning> warnings;
};

// Detects the format from the bytes (never a file name): PEM with any number
// of blocks (CERTIFICATE, TRUSTED CERTIFICATE, PKCS7, PRIVATE KEY, ENCRYPTED
// PRIVATE KEY, RSA/EC PRIVATE KEY incl. DEK-Info encryption), DER X.509, DER
// PKCS#7, DER PKCS#8 (plain or encrypted), PKCS#12 (incl. legacy RC2/3DES),
// DER legacy RSA/EC keys. Tolerates CRLF, a UTF-8 BOM and text around blocks.
// Private keys must be RSA, EC, Ed25519 or Ed448; any other makes it Unsupported.
// An empty passphrase means "none given" (an empty one is still tried).
// Throws Error with EmptyInput, Malformed, PassphraseRequired, BadPassphrase
// or Unsupported.
//
// Key derivation (PBKDF2/PBE) is what a hostile encrypted file can make slow: each
// encrypted part may ask for at most kMaxKdfRounds, and the whole file for at most
// `kdfRoundBudget`, counting every password attempt; beyond either, Unsupported before
// any derivation. (10 million rounds take about 28 s on a 2-core appliance; NSS, the
// heaviest real writer, uses 600,000 per part.)
inline constexpr long kMaxKdfRounds = 10'000'000;
ImportedBundle parseImport(ByteView data, const Secret& passphrase, long kdfRoundBudget = kMaxKdfRounds);

} // namespace certd::pki
