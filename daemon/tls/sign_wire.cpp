#include "tls/sign_wire.hpp"

#include "error.hpp"

#include <openssl/rsa.h>

#include <fcntl.h>
#include <sys/socket.h>

#include <cerrno>

#include <algorithm>
#include <cctype>
#include <cstring>

namespace certd::tls::sign {
namespace {

// Record: u32 length of what follows, then the fields.
// Request: u64 id, u8 scheme, u8 hash, u16 key id length, u16 input length, key id, input.
// Reply:   u64 id, u8 status, u8 0, u16 signature length, signature.
constexpr std::size_t kRequestFixed = 8 + 1 + 1 + 2 + 2;
constexpr std::size_t kReplyFixed = 8 + 1 + 1 + 2;

template <typename T>
void put(Bytes& out, T v)
{
    const auto* p = reinterpret_cast<const std::uint8_t*>(&v);
    out.insert(out.end(), p, p + sizeof v);
}

template <typename T>
T get(const std::uint8_t*& p)
{
    T v;
    std::memcpy(&v, p, sizeof v);
    p += sizeof v;
    return v;
}

// The body of the first record when it is complete, else nullopt; throws when its length is absurd.
std::optional<std::uint32_t> recordLength(const Bytes& in, std::size_t offset, std::size_t fixed)
{
    if (in.size() < offset + 4)
        return std::nullopt;
    std::uint32_t length;
    std::memcpy(&length, in.data() + offset, 4);
    if (length < fixed || length > kMaxRecord)
        throw Error(ErrorCode::Malformed, "signing channel: record of " + std::to_string(length) + " bytes");
    if (in.size() < offset + 4 + std::size_t{length})
        return std::nullopt;
    return length;
}

bool validScheme(std::uint8_t v)
{
    return v >= static_cast<std::uint8_t>(Scheme::RsaPkcs1) && v <= static_cast<std::uint8_t>(Scheme::EdDsa);
}

} // namespace

std::size_t hashSize(Hash hash)
{
    switch (hash) {
    case Hash::Sha256:
        return 32;
    case Hash::Sha384:
        return 48;
    case Hash::Sha512:
        return 64;
    case Hash::None:
        break;
    }
    return 0;
}

const char* hashName(Hash hash)
{
    switch (hash) {
    case Hash::Sha256:
        return "SHA256";
    case Hash::Sha384:
        return "SHA384";
    case Hash::Sha512:
        return "SHA512";
    case Hash::None:
        break;
    }
    return nullptr;
}

std::optional<Hash> hashFromName(const std::string& name)
{
    std::string n;
    for (const char c : name)
        if (c != '-')
            n.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
    if (n == "SHA256" || n == "SHA2256")
        return Hash::Sha256;
    if (n == "SHA384" || n == "SHA2384")
        return Hash::Sha384;
    if (n == "SHA512" || n == "SHA2512")
        return Hash::Sha512;
    return std::nullopt;
}

bool passChannel(int broker, int channel)
{
    char byte = 'c';
    iovec iov{&byte, 1};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(c), &channel, sizeof channel);
    return ::sendmsg(broker, &msg, MSG_DONTWAIT | MSG_NOSIGNAL) == 1;
}

ReceivedChannel takeChannel(int broker)
{
    ReceivedChannel result;
    char byte = 0;
    iovec iov{&byte, 1};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    ssize_t n;
    do {
        n = ::recvmsg(broker, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    } while (n < 0 && errno == EINTR);
    if (n < 0 && errno == EAGAIN) {
        result.wouldBlock = true;
        return result;
    }
    if (n <= 0) {
        result.closed = true;
        return result;
    }
    const cmsghdr* c = CMSG_FIRSTHDR(&msg);
    if (c == nullptr || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS ||
        c->cmsg_len != CMSG_LEN(sizeof(int)))
        return result;
    int received = -1;
    std::memcpy(&received, CMSG_DATA(c), sizeof received);
    result.fd.reset(received);
    ::fcntl(received, F_SETFL, ::fcntl(received, F_GETFL) | O_NONBLOCK);
    return result;
}

void appendRequest(Bytes& out, const Request& request)
{
    const auto length =
        static_cast<std::uint32_t>(kRequestFixed + request.keyId.size() + request.input.size());
    put(out, length);
    put(out, request.id);
    put(out, static_cast<std::uint8_t>(request.scheme));
    put(out, static_cast<std::uint8_t>(request.hash));
    put(out, static_cast<std::uint16_t>(request.keyId.size()));
    put(out, static_cast<std::uint16_t>(request.input.size()));
    out.insert(out.end(), request.keyId.begin(), request.keyId.end());
    out.insert(out.end(), request.input.begin(), request.input.end());
}

void appendReply(Bytes& out, const Reply& reply)
{
    const auto length = static_cast<std::uint32_t>(kReplyFixed + reply.signature.size());
    put(out, length);
    put(out, reply.id);
    put(out, static_cast<std::uint8_t>(reply.status));
    put(out, std::uint8_t{0});
    put(out, static_cast<std::uint16_t>(reply.signature.size()));
    out.insert(out.end(), reply.signature.begin(), reply.signature.end());
}

std::optional<Request> takeRequest(const Bytes& in, std::size_t& offset)
{
    const auto length = recordLength(in, offset, kRequestFixed);
    if (!length)
        return std::nullopt;
    const std::uint8_t* p = in.data() + offset + 4;
    Request r;
    r.id = get<std::uint64_t>(p);
    const auto scheme = get<std::uint8_t>(p);
    const auto hash = get<std::uint8_t>(p);
    const auto keyIdLength = get<std::uint16_t>(p);
    const auto inputLength = get<std::uint16_t>(p);
    if (!validScheme(scheme) || hash > static_cast<std::uint8_t>(Hash::Sha512) || keyIdLength == 0 ||
        keyIdLength > kMaxKeyId || inputLength > kMaxInput ||
        kRequestFixed + keyIdLength + inputLength != *length)
        throw Error(ErrorCode::Malformed, "signing channel: malformed request");
    r.scheme = static_cast<Scheme>(scheme);
    r.hash = static_cast<Hash>(hash);
    r.keyId.assign(reinterpret_cast<const char*>(p), keyIdLength);
    p += keyIdLength;
    r.input.assign(p, p + inputLength);
    offset += 4 + std::size_t{*length};
    return r;
}

std::optional<Reply> takeReply(const Bytes& in, std::size_t& offset)
{
    const auto length = recordLength(in, offset, kReplyFixed);
    if (!length)
        return std::nullopt;
    const std::uint8_t* p = in.data() + offset + 4;
    Reply r;
    r.id = get<std::uint64_t>(p);
    const auto status = get<std::uint8_t>(p);
    p += 1;
    const auto signatureLength = get<std::uint16_t>(p);
    if (status > static_cast<std::uint8_t>(Status::Failed) || signatureLength > kMaxSignature ||
        kReplyFixed + signatureLength != *length)
        throw Error(ErrorCode::Malformed, "signing channel: malformed reply");
    r.status = static_cast<Status>(status);
    r.signature.assign(p, p + signatureLength);
    offset += 4 + std::size_t{*length};
    return r;
}

EVP_PKEY_CTX* prepareSign(EVP_PKEY* key, Scheme scheme, Hash hash)
{
    if (scheme == Scheme::EdDsa || hash == Hash::None)
        return nullptr;
    EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_pkey(nullptr, key, nullptr);
    EVP_MD* md = EVP_MD_fetch(nullptr, hashName(hash), nullptr);
    bool ok = ctx != nullptr && md != nullptr && EVP_PKEY_sign_init(ctx) == 1 &&
              EVP_PKEY_CTX_set_signature_md(ctx, md) == 1;
    if (ok && scheme == Scheme::RsaPkcs1)
        ok = EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) == 1;
    if (ok && scheme == Scheme::RsaPss)
        ok = EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PSS_PADDING) == 1 &&
             EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, md) == 1 &&
             EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx, RSA_PSS_SALTLEN_DIGEST) == 1;
    EVP_MD_free(md);
    if (!ok) {
        EVP_PKEY_CTX_free(ctx);
        return nullptr;
    }
    return ctx;
}

KeyKind keyKind(EVP_PKEY* key)
{
    if (EVP_PKEY_is_a(key, "RSA") == 1)
        return KeyKind::Rsa;
    if (EVP_PKEY_is_a(key, "EC") == 1)
        return KeyKind::Ec;
    if (EVP_PKEY_is_a(key, "ED25519") == 1 || EVP_PKEY_is_a(key, "ED448") == 1)
        return KeyKind::EdDsa;
    return KeyKind::Other;
}

Reply signWith(EVP_PKEY* key, KeyKind kind, const Request& request, EVP_PKEY_CTX* prepared)
{
    Reply reply;
    reply.id = request.id;
    reply.status = Status::Refused;
    const bool rsa = kind == KeyKind::Rsa;
    const bool ec = kind == KeyKind::Ec;
    const bool edDsa = kind == KeyKind::EdDsa;
    switch (request.scheme) {
    case Scheme::RsaPkcs1:
    case Scheme::RsaPss:
        if (!rsa)
            return reply;
        break;
    case Scheme::Ecdsa:
        if (!ec)
            return reply;
        break;
    case Scheme::EdDsa:
        if (!edDsa || request.hash != Hash::None || request.input.empty())
            return reply;
        break;
    }
    if (request.scheme != Scheme::EdDsa &&
        (request.hash == Hash::None || request.input.size() != hashSize(request.hash)))
        return reply;

    reply.status = Status::Failed;
    std::size_t length = static_cast<std::size_t>(EVP_PKEY_get_size(key));
    reply.signature.resize(length);
    bool ok = false;
    if (request.scheme == Scheme::EdDsa) {
        EVP_MD_CTX* md = EVP_MD_CTX_new();
        ok = md != nullptr &&
             EVP_DigestSignInit_ex(md, nullptr, nullptr, nullptr, nullptr, key, nullptr) == 1 &&
             EVP_DigestSign(md, reply.signature.data(), &length, request.input.data(),
                            request.input.size()) == 1;
        EVP_MD_CTX_free(md);
    } else {
        EVP_PKEY_CTX* ctx = prepared != nullptr ? prepared : prepareSign(key, request.scheme, request.hash);
        ok = ctx != nullptr && EVP_PKEY_sign(ctx, reply.signature.data(), &length, request.input.data(),
                                             request.input.size()) == 1;
        if (ctx != prepared)
            EVP_PKEY_CTX_free(ctx);
    }
    if (!ok) {
        reply.signature.clear();
        return reply;
    }
    reply.signature.resize(length);
    reply.status = Status::Ok;
    return reply;
}

} // namespace certd::tls::sign
