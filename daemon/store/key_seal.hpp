#pragma once

// Private keys sealed at rest (issue 13, opt-in): with a key-encryption key (KEK) from a
// systemd credential, the store writes each keys/<id>.key as AES-256-GCM under the KEK, so a
// copied state directory reveals no key. systemd decrypts the credential for certd at start
// (LoadCredentialEncrypted=; `systemd-creds encrypt` binds it to the TPM2 where there is one,
// to the host's credential key otherwise).
//
// Sealed file: "CERTDKEY" (8 bytes), version 1 (1 byte), a random 12-byte nonce, the
// ciphertext of the PKCS#8 DER, the 16-byte GCM tag. The key id is the additional data, so a
// sealed file moved to another id does not open. A plain file is PKCS#8 DER, which starts with
// a SEQUENCE (0x30): the two never look alike.

#include "bytes.hpp"
#include "secure_memory.hpp"

#include <optional>
#include <string>

namespace certd {

// The credential's name: $CREDENTIALS_DIRECTORY/certd-kek.
inline constexpr const char* kKeyEncryptionCredential = "certd-kek";

class KeySeal {
public:
    // The KEK: HKDF-SHA256 of the credential (at least 32 bytes, e.g. `head -c 32 /dev/urandom`).
    // Throws Error(InvalidArgument) for a shorter one.
    explicit KeySeal(ByteView credential);

    SecureBytes seal(const std::string& id, ByteView pkcs8) const;
    // The PKCS#8 DER inside a sealed file. Throws Error(Internal) naming the key when this KEK
    // does not open it (another credential, a damaged or swapped file).
    SecureBytes open(const std::string& id, ByteView sealed) const;
    static bool isSealed(ByteView data);

private:
    SecureBytes kek_;
};

// $CREDENTIALS_DIRECTORY/certd-kek when systemd passed it, else nullopt. Throws Error(Internal)
// when the file is there but unreadable.
std::optional<SecureBytes> loadKeyEncryptionCredential();

} // namespace certd
