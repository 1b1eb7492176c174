#pragma once

// The signing channel between certd-tls and the key holder (certd's signer threads), DESIGN §2's
// sign(key_id, algorithm, digest) seam: certd-tls holds certificates and public keys only, and
// each private-key operation of a handshake goes over one of these channels as a request.
//
// Each certd-tls worker owns one channel (a SOCK_STREAM socketpair): it creates the pair and
// hands one end to certd through the broker socket (SOCK_SEQPACKET) that certd sent it over
// the control connection. Requests and replies are length-prefixed records, written and read
// in batches (all a worker has queued in one write; all a read brought, signed, in one write).
// Both ends are the same build, so integers go in host byte order.

#include "bytes.hpp"
#include "unique_fd.hpp"

#include <openssl/evp.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace certd::tls::sign {

// Only what TLS 1.2 and 1.3 signatures need.
enum class Scheme : std::uint8_t {
    RsaPkcs1 = 1, // RSASSA-PKCS1-v1_5 over a digest (TLS 1.2 rsa_pkcs1_*)
    RsaPss = 2,   // RSASSA-PSS over a digest, MGF1 with the same hash, salt = digest length
    Ecdsa = 3,    // ECDSA over a digest (DER signature)
    EdDsa = 4,    // Ed25519 / Ed448 over the whole message
};
enum class Hash : std::uint8_t { None = 0, Sha256 = 1, Sha384 = 2, Sha512 = 3 };

enum class Status : std::uint8_t {
    Ok = 0,
    UnknownKey = 1, // no key of a certificate bound to an address has this id
    Refused = 2,    // an algorithm, digest size or message TLS does not need for this key
    Failed = 3,     // the signature operation itself failed
};

// Digest size in bytes; 0 for None.
std::size_t hashSize(Hash hash);
// "SHA256"..., for EVP fetches; nullptr for None.
const char* hashName(Hash hash);
// From an OpenSSL digest name ("SHA256", "SHA2-256", "sha384"...); nullopt if not one TLS signs with.
std::optional<Hash> hashFromName(const std::string& name);

// The longest a handshake waits for its signature before it fails with an alert.
inline constexpr std::chrono::milliseconds kTimeout{2000};

inline constexpr std::size_t kMaxInput = 1024;     // an EdDSA message of a TLS handshake is < 300 bytes
inline constexpr std::size_t kMaxKeyId = 128;      // store ids are 1 to 128 characters
inline constexpr std::size_t kMaxSignature = 1024; // RSA 8192
inline constexpr std::size_t kMaxRecord = std::size_t{2} * 1024; // larger than any valid record

struct Request {
    std::uint64_t id = 0;
    std::string keyId; // the certificate id whose key signs
    Scheme scheme = Scheme::Ecdsa;
    Hash hash = Hash::Sha256;
    Bytes input; // the digest, or the message for EdDsa
};

struct Reply {
    std::uint64_t id = 0;
    Status status = Status::Failed;
    Bytes signature;
};

// The broker: a worker passes one end of its channel (one byte carrying the fd, SCM_RIGHTS,
// without blocking); false when the broker refused it (certd gone: the next one sends a new
// broker), errno saying why.
bool passChannel(int broker, int channel);
// The next channel on the broker (non-blocking, close-on-exec): `fd` set, or `wouldBlock`
// (none waits), or `closed` (the terminator holding the other end is gone). A message without
// exactly one fd yields neither fd nor a flag: read on.
struct ReceivedChannel {
    UniqueFd fd;
    bool wouldBlock = false;
    bool closed = false;
};
ReceivedChannel takeChannel(int broker);

// Appends one record to `out`.
void appendRequest(Bytes& out, const Request& request);
void appendReply(Bytes& out, const Reply& reply);

// Reads the record at `in[offset]` and moves `offset` past it: nullopt when `in` does not hold a
// whole one there yet (the caller erases the consumed prefix once per batch). Throws
// Error(Malformed) on a record no peer of this build would write.
std::optional<Request> takeRequest(const Bytes& in, std::size_t& offset);
std::optional<Reply> takeReply(const Bytes& in, std::size_t& offset);

// The key holder's half: the signature `request` asks for, made with `key` (a private key of
// the certificate it names), refusing whatever a TLS handshake does not need: a scheme of
// another key type, a digest of the wrong size, RSA-PSS with another salt length.
// `prepared` (optional): a context from prepareSign() for this key, scheme and hash.
enum class KeyKind { Rsa, Ec, EdDsa, Other };
KeyKind keyKind(EVP_PKEY* key); // asks OpenSSL by name: worth keeping with the key
Reply signWith(EVP_PKEY* key, KeyKind kind, const Request& request, EVP_PKEY_CTX* prepared = nullptr);
inline Reply signWith(EVP_PKEY* key, const Request& request)
{
    return signWith(key, keyKind(key), request);
}

// An EVP_PKEY_sign context for `key` with the scheme's padding and digest set, for any number of
// signWith() calls of that scheme and hash (the set-up costs more than an ECDSA signature).
// Null for EdDSA, which signs whole messages, and when OpenSSL refuses.
EVP_PKEY_CTX* prepareSign(EVP_PKEY* key, Scheme scheme, Hash hash);

} // namespace certd::tls::sign
