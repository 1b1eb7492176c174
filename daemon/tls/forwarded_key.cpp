#include "tls/forwarded_key.hpp"

#include <openssl/core_dispatch.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/params.h>
#include <openssl/provider.h>
#include <openssl/rsa.h>

#include <cstring>
#include <mutex>

namespace certd::tls {
namespace {

constexpr const char* kProviderName = "certd-forward";
constexpr const char* kProperties = "provider=certd-forward";
constexpr const char* kKeyIdParam = "certd-key-id";

thread_local SignGate* threadGate = nullptr;

enum class Kind { Rsa, Ec, Ed25519, Ed448 };

const char* defaultName(Kind kind)
{
    switch (kind) {
    case Kind::Rsa:
        return "RSA";
    case Kind::Ec:
        return "EC";
    case Kind::Ed25519:
        return "ED25519";
    case Kind::Ed448:
        break;
    }
    return "ED448";
}

// The key object: an id for the key holder and the public half, in the default provider.
struct ForwardKey {
    Kind kind = Kind::Rsa;
    std::string keyId; // empty: a public key imported only to be compared (EVP_PKEY_eq)
    EVP_PKEY* pub = nullptr;
    ~ForwardKey() { EVP_PKEY_free(pub); }
};

// ---- key management ----------------------------------------------------------------------

template <Kind K>
void* keyNew(void* /*provctx*/)
{
    auto* key = new (std::nothrow) ForwardKey;
    if (key != nullptr)
        key->kind = K;
    return key;
}

void keyFree(void* keydata)
{
    delete static_cast<ForwardKey*>(keydata);
}

int keyHas(const void* keydata, int /*selection*/)
{
    // The private half is "there" in the only sense that matters: it can sign.
    const auto* key = static_cast<const ForwardKey*>(keydata);
    return key != nullptr && key->pub != nullptr;
}

int keyMatch(const void* a, const void* b, int /*selection*/)
{
    const auto* x = static_cast<const ForwardKey*>(a);
    const auto* y = static_cast<const ForwardKey*>(b);
    return x->pub != nullptr && y->pub != nullptr && EVP_PKEY_eq(x->pub, y->pub) == 1;
}

int keyImport(void* keydata, int /*selection*/, const OSSL_PARAM params[])
{
    auto* key = static_cast<ForwardKey*>(keydata);
    if (const OSSL_PARAM* p = OSSL_PARAM_locate_const(params, kKeyIdParam)) {
        const char* id = nullptr;
        if (OSSL_PARAM_get_utf8_string_ptr(p, &id) != 1)
            return 0;
        key->keyId = id;
    }
    EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_name(nullptr, defaultName(key->kind), "provider=default");
    EVP_PKEY* pub = nullptr;
    const bool ok = ctx != nullptr && EVP_PKEY_fromdata_init(ctx) == 1 &&
                    EVP_PKEY_fromdata(ctx, &pub, EVP_PKEY_PUBLIC_KEY, const_cast<OSSL_PARAM*>(params)) == 1;
    EVP_PKEY_CTX_free(ctx);
    if (!ok)
        return 0;
    EVP_PKEY_free(key->pub);
    key->pub = pub;
    return 1;
}

int keyExport(void* keydata, int selection, OSSL_CALLBACK* callback, void* arg)
{
    // Never the private half (there is none here): an export that asks for it fails, so that
    // OpenSSL does not sign with a public-only copy in another provider but with this one.
    const auto* key = static_cast<const ForwardKey*>(keydata);
    if ((selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY) != 0 || key->pub == nullptr)
        return 0;
    return EVP_PKEY_export(key->pub, selection, callback, arg);
}

const EVP_KEYMGMT* defaultKeymgmt(Kind kind)
{
    static EVP_KEYMGMT* cache[4] = {};
    static std::once_flag once;
    std::call_once(once, [] {
        for (const Kind k : {Kind::Rsa, Kind::Ec, Kind::Ed25519, Kind::Ed448})
            cache[static_cast<int>(k)] = EVP_KEYMGMT_fetch(nullptr, defaultName(k), "provider=default");
    });
    return cache[static_cast<int>(kind)];
}

// The public parameters of each kind (what keyImport passes on to the default provider).
template <Kind K>
const OSSL_PARAM* publicTypes(bool withKeyId)
{
    static const OSSL_PARAM kRsa[] = {
        OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_N, nullptr, 0),
        OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_E, nullptr, 0),
        OSSL_PARAM_utf8_string(kKeyIdParam, nullptr, 0),
        OSSL_PARAM_END,
    };
    static const OSSL_PARAM kEc[] = {
        OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, nullptr, 0),
        OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PUB_KEY, nullptr, 0),
        OSSL_PARAM_utf8_string(kKeyIdParam, nullptr, 0),
        OSSL_PARAM_END,
    };
    static const OSSL_PARAM kEd[] = {
        OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PUB_KEY, nullptr, 0),
        OSSL_PARAM_utf8_string(kKeyIdParam, nullptr, 0),
        OSSL_PARAM_END,
    };
    const OSSL_PARAM* list = K == Kind::Rsa ? kRsa : K == Kind::Ec ? kEc : kEd;
    if (withKeyId)
        return list;
    // Without the key id.
    static const OSSL_PARAM kRsaPublic[] = {kRsa[0], kRsa[1], OSSL_PARAM_END};
    static const OSSL_PARAM kEcPublic[] = {kEc[0], kEc[1], OSSL_PARAM_END};
    static const OSSL_PARAM kEdPublic[] = {kEd[0], OSSL_PARAM_END};
    return K == Kind::Rsa ? kRsaPublic : K == Kind::Ec ? kEcPublic : kEdPublic;
}

template <Kind K>
const OSSL_PARAM* keyImportTypes(int /*selection*/)
{
    return publicTypes<K>(true);
}

template <Kind K>
const OSSL_PARAM* keyExportTypes(int /*selection*/)
{
    return publicTypes<K>(false);
}

int keyGetParams(void* keydata, OSSL_PARAM params[])
{
    const auto* key = static_cast<const ForwardKey*>(keydata);
    return key->pub != nullptr && EVP_PKEY_get_params(key->pub, params) == 1 ? 1 : 0;
}

template <Kind K>
const OSSL_PARAM* keyGettableParams(void* /*provctx*/)
{
    return EVP_KEYMGMT_gettable_params(defaultKeymgmt(K));
}

template <Kind K>
const char* keyOperationName(int /*operation*/)
{
    switch (K) {
    case Kind::Rsa:
        return "RSA";
    case Kind::Ec:
        return "ECDSA";
    case Kind::Ed25519:
        return "ED25519";
    case Kind::Ed448:
        break;
    }
    return "ED448";
}

template <Kind K>
const OSSL_DISPATCH kKeymgmtFunctions[] = {
    {OSSL_FUNC_KEYMGMT_NEW, reinterpret_cast<void (*)()>(keyNew<K>)},
    {OSSL_FUNC_KEYMGMT_FREE, reinterpret_cast<void (*)()>(keyFree)},
    {OSSL_FUNC_KEYMGMT_HAS, reinterpret_cast<void (*)()>(keyHas)},
    {OSSL_FUNC_KEYMGMT_MATCH, reinterpret_cast<void (*)()>(keyMatch)},
    {OSSL_FUNC_KEYMGMT_IMPORT, reinterpret_cast<void (*)()>(keyImport)},
    {OSSL_FUNC_KEYMGMT_IMPORT_TYPES, reinterpret_cast<void (*)()>(keyImportTypes<K>)},
    {OSSL_FUNC_KEYMGMT_EXPORT, reinterpret_cast<void (*)()>(keyExport)},
    {OSSL_FUNC_KEYMGMT_EXPORT_TYPES, reinterpret_cast<void (*)()>(keyExportTypes<K>)},
    {OSSL_FUNC_KEYMGMT_GET_PARAMS, reinterpret_cast<void (*)()>(keyGetParams)},
    {OSSL_FUNC_KEYMGMT_GETTABLE_PARAMS, reinterpret_cast<void (*)()>(keyGettableParams<K>)},
    {OSSL_FUNC_KEYMGMT_QUERY_OPERATION_NAME, reinterpret_cast<void (*)()>(keyOperationName<K>)},
    {0, nullptr},
};

// ---- signatures --------------------------------------------------------------------------

struct SignContext {
    ForwardKey* key = nullptr; // the EVP_PKEY_CTX holds the key while the operation lasts
    std::string digest;        // "" for EdDSA
    int padding = RSA_PKCS1_PADDING;
    int saltLength = RSA_PSS_SALTLEN_DIGEST;
    std::string mgf1Digest;
    Bytes message; // digest_sign_update()
};

void* sigNew(void* /*provctx*/, const char* /*propq*/)
{
    return new (std::nothrow) SignContext;
}

void sigFree(void* ctx)
{
    delete static_cast<SignContext*>(ctx);
}

void* sigDup(void* ctx)
{
    return new (std::nothrow) SignContext(*static_cast<SignContext*>(ctx));
}

int sigSetParams(void* vctx, const OSSL_PARAM params[])
{
    auto* ctx = static_cast<SignContext*>(vctx);
    if (params == nullptr)
        return 1;
    if (const OSSL_PARAM* p = OSSL_PARAM_locate_const(params, OSSL_SIGNATURE_PARAM_DIGEST)) {
        const char* name = nullptr;
        if (OSSL_PARAM_get_utf8_string_ptr(p, &name) != 1)
            return 0;
        ctx->digest = name;
    }
    if (const OSSL_PARAM* p = OSSL_PARAM_locate_const(params, OSSL_SIGNATURE_PARAM_PAD_MODE)) {
        if (p->data_type == OSSL_PARAM_UTF8_STRING) {
            const char* name = nullptr;
            if (OSSL_PARAM_get_utf8_string_ptr(p, &name) != 1)
                return 0;
            if (std::strcmp(name, OSSL_PKEY_RSA_PAD_MODE_PKCSV15) == 0)
                ctx->padding = RSA_PKCS1_PADDING;
            else if (std::strcmp(name, OSSL_PKEY_RSA_PAD_MODE_PSS) == 0)
                ctx->padding = RSA_PKCS1_PSS_PADDING;
            else
                return 0;
        } else if (OSSL_PARAM_get_int(p, &ctx->padding) != 1) {
            return 0;
        }
    }
    if (const OSSL_PARAM* p = OSSL_PARAM_locate_const(params, OSSL_SIGNATURE_PARAM_PSS_SALTLEN)) {
        if (p->data_type == OSSL_PARAM_UTF8_STRING) {
            const char* name = nullptr;
            if (OSSL_PARAM_get_utf8_string_ptr(p, &name) != 1)
                return 0;
            if (std::strcmp(name, OSSL_PKEY_RSA_PSS_SALT_LEN_DIGEST) == 0)
                ctx->saltLength = RSA_PSS_SALTLEN_DIGEST;
            else
                ctx->saltLength = std::atoi(name);
        } else if (OSSL_PARAM_get_int(p, &ctx->saltLength) != 1) {
            return 0;
        }
    }
    if (const OSSL_PARAM* p = OSSL_PARAM_locate_const(params, OSSL_SIGNATURE_PARAM_MGF1_DIGEST)) {
        const char* name = nullptr;
        if (OSSL_PARAM_get_utf8_string_ptr(p, &name) != 1)
            return 0;
        ctx->mgf1Digest = name;
    }
    return 1;
}

const OSSL_PARAM* sigSettableParams(void* /*ctx*/, void* /*provctx*/)
{
    static const OSSL_PARAM kSettable[] = {
        OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_DIGEST, nullptr, 0),
        OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_PAD_MODE, nullptr, 0),
        OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_PSS_SALTLEN, nullptr, 0),
        OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_MGF1_DIGEST, nullptr, 0),
        OSSL_PARAM_END,
    };
    return kSettable;
}

int sigGetParams(void* vctx, OSSL_PARAM params[])
{
    const auto* ctx = static_cast<const SignContext*>(vctx);
    if (OSSL_PARAM* p = OSSL_PARAM_locate(params, OSSL_SIGNATURE_PARAM_DIGEST))
        if (OSSL_PARAM_set_utf8_string(p, ctx->digest.c_str()) != 1)
            return 0;
    return 1;
}

const OSSL_PARAM* sigGettableParams(void* /*ctx*/, void* /*provctx*/)
{
    static const OSSL_PARAM kGettable[] = {
        OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_DIGEST, nullptr, 0),
        OSSL_PARAM_END,
    };
    return kGettable;
}

int sigInit(SignContext* ctx, void* provkey, const char* mdname, const OSSL_PARAM params[])
{
    ctx->key = static_cast<ForwardKey*>(provkey);
    if (ctx->key == nullptr || ctx->key->keyId.empty())
        return 0; // a comparison-only key cannot sign
    ctx->digest = mdname != nullptr ? mdname : "";
    ctx->padding = RSA_PKCS1_PADDING;
    ctx->saltLength = RSA_PSS_SALTLEN_DIGEST;
    ctx->mgf1Digest.clear();
    ctx->message.clear();
    return sigSetParams(ctx, params);
}

int sigSignInit(void* ctx, void* provkey, const OSSL_PARAM params[])
{
    return sigInit(static_cast<SignContext*>(ctx), provkey, nullptr, params);
}

int sigDigestSignInit(void* ctx, const char* mdname, void* provkey, const OSSL_PARAM params[])
{
    return sigInit(static_cast<SignContext*>(ctx), provkey, mdname, params);
}

// The digests TLS signs with, fetched once (a fetch per handshake would cost more than the hash).
const EVP_MD* digest(sign::Hash hash)
{
    static EVP_MD* cache[4] = {};
    static std::once_flag once;
    std::call_once(once, [] {
        for (const auto h : {sign::Hash::Sha256, sign::Hash::Sha384, sign::Hash::Sha512})
            cache[static_cast<int>(h)] = EVP_MD_fetch(nullptr, sign::hashName(h), "provider=default");
    });
    return cache[static_cast<int>(hash)];
}

// Asks the thread's gate for the signature of `input` (a digest, or the message for EdDSA).
int forward(SignContext* ctx, unsigned char* sig, size_t* siglen, size_t sigsize, const unsigned char* input,
            size_t inputLength, bool isDigest)
{
    const ForwardKey& key = *ctx->key;
    const auto maxSize = static_cast<size_t>(EVP_PKEY_get_size(key.pub));
    if (sig == nullptr) {
        *siglen = maxSize;
        return 1;
    }
    sign::Request request;
    request.keyId = key.keyId;
    const bool edDsa = key.kind == Kind::Ed25519 || key.kind == Kind::Ed448;
    if (edDsa) {
        request.scheme = sign::Scheme::EdDsa;
        request.hash = sign::Hash::None;
        request.input.assign(input, input + inputLength);
    } else {
        const auto hash = sign::hashFromName(ctx->digest.empty() ? "SHA256" : ctx->digest);
        if (!hash)
            return 0; // not a digest TLS signs with
        request.hash = *hash;
        if (key.kind == Kind::Ec) {
            request.scheme = sign::Scheme::Ecdsa;
        } else if (ctx->padding == RSA_PKCS1_PSS_PADDING) {
            const auto size = static_cast<int>(sign::hashSize(*hash));
            if ((ctx->saltLength != RSA_PSS_SALTLEN_DIGEST && ctx->saltLength != size) ||
                (!ctx->mgf1Digest.empty() && sign::hashFromName(ctx->mgf1Digest) != hash))
                return 0; // TLS uses salt = digest length and MGF1 with the same hash, nothing else
            request.scheme = sign::Scheme::RsaPss;
        } else if (ctx->padding == RSA_PKCS1_PADDING) {
            request.scheme = sign::Scheme::RsaPkcs1;
        } else {
            return 0;
        }
        if (isDigest) {
            if (inputLength != sign::hashSize(*hash))
                return 0;
            request.input.assign(input, input + inputLength);
        } else {
            request.input.resize(EVP_MAX_MD_SIZE);
            unsigned int length = 0;
            const EVP_MD* md = digest(*hash);
            if (md == nullptr ||
                EVP_Digest(input, inputLength, request.input.data(), &length, md, nullptr) != 1)
                return 0;
            request.input.resize(length);
        }
    }
    if (threadGate == nullptr)
        return 0; // a signature outside a worker's handshake: nobody to ask
    const auto signature = threadGate->sign(std::move(request));
    if (!signature || signature->size() > sigsize || signature->size() > maxSize)
        return 0;
    std::memcpy(sig, signature->data(), signature->size());
    *siglen = signature->size();
    return 1;
}

int sigSign(void* ctx, unsigned char* sig, size_t* siglen, size_t sigsize, const unsigned char* tbs,
            size_t tbslen)
{
    auto* c = static_cast<SignContext*>(ctx);
    const bool edDsa = c->key->kind == Kind::Ed25519 || c->key->kind == Kind::Ed448;
    return forward(c, sig, siglen, sigsize, tbs, tbslen, !edDsa);
}

int sigDigestSign(void* ctx, unsigned char* sig, size_t* siglen, size_t sigsize, const unsigned char* tbs,
                  size_t tbslen)
{
    return forward(static_cast<SignContext*>(ctx), sig, siglen, sigsize, tbs, tbslen, false);
}

int sigDigestSignUpdate(void* ctx, const unsigned char* data, size_t length)
{
    auto* c = static_cast<SignContext*>(ctx);
    if (c->message.size() + length > std::size_t{64} * 1024)
        return 0; // more than any handshake signs
    c->message.insert(c->message.end(), data, data + length);
    return 1;
}

int sigDigestSignFinal(void* ctx, unsigned char* sig, size_t* siglen, size_t sigsize)
{
    auto* c = static_cast<SignContext*>(ctx);
    return forward(c, sig, siglen, sigsize, c->message.data(), c->message.size(), false);
}

const OSSL_DISPATCH kSignatureFunctions[] = {
    {OSSL_FUNC_SIGNATURE_NEWCTX, reinterpret_cast<void (*)()>(sigNew)},
    {OSSL_FUNC_SIGNATURE_FREECTX, reinterpret_cast<void (*)()>(sigFree)},
    {OSSL_FUNC_SIGNATURE_DUPCTX, reinterpret_cast<void (*)()>(sigDup)},
    {OSSL_FUNC_SIGNATURE_SIGN_INIT, reinterpret_cast<void (*)()>(sigSignInit)},
    {OSSL_FUNC_SIGNATURE_SIGN, reinterpret_cast<void (*)()>(sigSign)},
    {OSSL_FUNC_SIGNATURE_DIGEST_SIGN_INIT, reinterpret_cast<void (*)()>(sigDigestSignInit)},
    {OSSL_FUNC_SIGNATURE_DIGEST_SIGN_UPDATE, reinterpret_cast<void (*)()>(sigDigestSignUpdate)},
    {OSSL_FUNC_SIGNATURE_DIGEST_SIGN_FINAL, reinterpret_cast<void (*)()>(sigDigestSignFinal)},
    {OSSL_FUNC_SIGNATURE_DIGEST_SIGN, reinterpret_cast<void (*)()>(sigDigestSign)},
    {OSSL_FUNC_SIGNATURE_SET_CTX_PARAMS, reinterpret_cast<void (*)()>(sigSetParams)},
    {OSSL_FUNC_SIGNATURE_SETTABLE_CTX_PARAMS, reinterpret_cast<void (*)()>(sigSettableParams)},
    {OSSL_FUNC_SIGNATURE_GET_CTX_PARAMS, reinterpret_cast<void (*)()>(sigGetParams)},
    {OSSL_FUNC_SIGNATURE_GETTABLE_CTX_PARAMS, reinterpret_cast<void (*)()>(sigGettableParams)},
    {0, nullptr},
};

// ---- the provider ------------------------------------------------------------------------

// The same names as the default provider's, so that EVP_PKEY_is_a() and TLS's key type checks
// see an ordinary RSA, EC, Ed25519 or Ed448 key.
const OSSL_ALGORITHM kKeymgmtAlgorithms[] = {
    {"RSA:rsaEncryption:1.2.840.113549.1.1.1", kProperties, kKeymgmtFunctions<Kind::Rsa>, nullptr},
    {"EC:id-ecPublicKey:1.2.840.10045.2.1", kProperties, kKeymgmtFunctions<Kind::Ec>, nullptr},
    {"ED25519:1.3.101.112", kProperties, kKeymgmtFunctions<Kind::Ed25519>, nullptr},
    {"ED448:1.3.101.113", kProperties, kKeymgmtFunctions<Kind::Ed448>, nullptr},
    {nullptr, nullptr, nullptr, nullptr},
};
const OSSL_ALGORITHM kSignatureAlgorithms[] = {
    {"RSA:rsaEncryption:1.2.840.113549.1.1.1", kProperties, kSignatureFunctions, nullptr},
    {"ECDSA", kProperties, kSignatureFunctions, nullptr},
    {"ED25519:1.3.101.112", kProperties, kSignatureFunctions, nullptr},
    {"ED448:1.3.101.113", kProperties, kSignatureFunctions, nullptr},
    {nullptr, nullptr, nullptr, nullptr},
};

const OSSL_ALGORITHM* queryOperation(void* /*provctx*/, int operation, int* noCache)
{
    *noCache = 0;
    switch (operation) {
    case OSSL_OP_KEYMGMT:
        return kKeymgmtAlgorithms;
    case OSSL_OP_SIGNATURE:
        return kSignatureAlgorithms;
    default:
        return nullptr;
    }
}

const OSSL_DISPATCH kProviderFunctions[] = {
    {OSSL_FUNC_PROVIDER_QUERY_OPERATION, reinterpret_cast<void (*)()>(queryOperation)},
    {0, nullptr},
};

int providerInit(const OSSL_CORE_HANDLE* /*handle*/, const OSSL_DISPATCH* /*in*/, const OSSL_DISPATCH** out,
                 void** provctx)
{
    *out = kProviderFunctions;
    *provctx = nullptr;
    return 1;
}

Kind kindOf(EVP_PKEY* key)
{
    if (EVP_PKEY_is_a(key, "RSA"))
        return Kind::Rsa;
    if (EVP_PKEY_is_a(key, "EC"))
        return Kind::Ec;
    if (EVP_PKEY_is_a(key, "ED25519"))
        return Kind::Ed25519;
    if (EVP_PKEY_is_a(key, "ED448"))
        return Kind::Ed448;
    throw Error(ErrorCode::InvalidCertificate,
                std::string("a ") + EVP_PKEY_get0_type_name(key) + " key cannot sign TLS handshakes");
}

} // namespace

void setThreadSignGate(SignGate* gate)
{
    threadGate = gate;
}

void registerForwardingProvider()
{
    static std::once_flag once;
    // Loaded for the life of the process; kept here so that they stay referenced.
    static OSSL_PROVIDER* loaded[2] = {};
    std::call_once(once, [] {
        if (OSSL_PROVIDER_add_builtin(nullptr, kProviderName, providerInit) != 1 ||
            (loaded[0] = OSSL_PROVIDER_load(nullptr, "default")) == nullptr ||
            (loaded[1] = OSSL_PROVIDER_load(nullptr, kProviderName)) == nullptr ||
            EVP_set_default_properties(nullptr, "?provider!=certd-forward") != 1)
            throwOpenSsl(ErrorCode::Internal, "the key forwarding provider");
    });
}

pki::EvpPkeyPtr forwardedKey(X509* certificate, const std::string& keyId)
{
    registerForwardingProvider();
    EVP_PKEY* pub = X509_get0_pubkey(certificate);
    if (pub == nullptr)
        throw Error(ErrorCode::InvalidCertificate, "the certificate's public key is unreadable");
    const Kind kind = kindOf(pub);
    OSSL_PARAM* exported = nullptr;
    if (EVP_PKEY_todata(pub, EVP_PKEY_PUBLIC_KEY, &exported) != 1)
        throwOpenSsl(ErrorCode::InvalidCertificate, "the certificate's public key");
    std::string id = keyId;
    const OSSL_PARAM extra[] = {
        OSSL_PARAM_construct_utf8_string(kKeyIdParam, id.data(), 0),
        OSSL_PARAM_construct_end(),
    };
    OSSL_PARAM* params = OSSL_PARAM_merge(exported, extra);
    EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_name(nullptr, defaultName(kind), kProperties);
    EVP_PKEY* key = nullptr;
    const bool ok = params != nullptr && ctx != nullptr && EVP_PKEY_fromdata_init(ctx) == 1 &&
                    EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params) == 1;
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_free(exported);
    if (!ok)
        throwOpenSsl(ErrorCode::Internal, "forwarded key for certificate " + keyId);
    return pki::EvpPkeyPtr(key);
}

} // namespace certd::tls
