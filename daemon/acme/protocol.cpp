#include "acme/protocol.hpp"

#include "error.hpp"
#include "log.hpp"
#include "text.hpp"

#include <curl/curl.h>
#include <nlohmann/json.hpp>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <mutex>
#include <thread>

namespace certd::acme {
namespace {

using Json = nlohmann::json;

using EcdsaSigPtr = pki::OsslPtr<ECDSA_SIG, ECDSA_SIG_free>;

// Each refusal comes with a fresh nonce; a server that refuses this often in a row is broken.
constexpr unsigned kMaxBadNonceRetries = 12;
constexpr const char* kBadNonce = "urn:ietf:params:acme:error:badNonce";

std::string lower(std::string s)
{
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
    return s;
}

std::string trim(std::string s)
{
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back())))
        s.pop_back();
    std::size_t start = 0;
    while (start < s.size() && std::isspace(static_cast<unsigned char>(s[start])))
        ++start;
    return s.substr(start);
}

// The media type without parameters, lower case: "application/json; charset=utf-8" → "application/json".
std::string mediaType(const std::string& contentType)
{
    return lower(trim(contentType.substr(0, contentType.find(';'))));
}

Json parseJson(const std::string& body, const std::string& url, const char* what)
{
    try {
        return Json::parse(body);
    } catch (const Json::exception&) {
        throw Error(ErrorCode::AcmeFailed, std::string("the ACME server's answer to the ") + what + " (" +
                                               url + ") is not valid JSON");
    }
}

std::string stringMember(const Json& object, const char* name)
{
    const auto it = object.find(name);
    return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// "type: detail" of a problem document (RFC 7807), or "" when `object` is none.
std::string problemText(const Json& problem)
{
    if (!problem.is_object())
        return {};
    std::string type = stringMember(problem, "type");
    const std::string detail = stringMember(problem, "detail");
    const std::string prefix = "urn:ietf:params:acme:error:";
    if (type.rfind(prefix, 0) == 0)
        type = type.substr(prefix.size());
    return detail.empty() ? type : type.empty() ? detail : type + ": " + detail;
}

Bytes bignumBytes(EVP_PKEY* key, const char* param, std::size_t width)
{
    BIGNUM* raw = nullptr;
    if (EVP_PKEY_get_bn_param(key, param, &raw) != 1)
        throwOpenSsl(ErrorCode::Internal, "ACME account key");
    pki::BignumPtr bn(raw);
    Bytes out(width);
    if (BN_bn2binpad(bn.get(), out.data(), static_cast<int>(width)) != static_cast<int>(width))
        throwOpenSsl(ErrorCode::Internal, "ACME account key");
    return out;
}

void requireP256(EVP_PKEY* key)
{
    char group[32] = {};
    std::size_t length = 0;
    if (EVP_PKEY_get_base_id(key) != EVP_PKEY_EC ||
        EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group, &length) != 1 ||
        std::string(group) != "prime256v1")
        throw Error(ErrorCode::InvalidArgument, "an ACME account key must be ECDSA P-256 (ES256)");
}

int onProgress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t)
{
    const auto* cancel = static_cast<const std::atomic<bool>*>(user);
    return cancel != nullptr && cancel->load() ? 1 : 0;
}

} // namespace

std::string base64Url(ByteView data)
{
    static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    std::string out;
    out.reserve((data.size() + 2) / 3 * 4);
    std::size_t i = 0;
    for (; i + 2 < data.size(); i += 3) {
        const std::uint32_t v = (data[i] << 16) | (data[i + 1] << 8) | data[i + 2];
        out += kAlphabet[(v >> 18) & 63];
        out += kAlphabet[(v >> 12) & 63];
        out += kAlphabet[(v >> 6) & 63];
        out += kAlphabet[v & 63];
    }
    if (i + 1 == data.size()) {
        const std::uint32_t v = data[i] << 16;
        out += kAlphabet[(v >> 18) & 63];
        out += kAlphabet[(v >> 12) & 63];
    } else if (i + 2 == data.size()) {
        const std::uint32_t v = (data[i] << 16) | (data[i + 1] << 8);
        out += kAlphabet[(v >> 18) & 63];
        out += kAlphabet[(v >> 12) & 63];
        out += kAlphabet[(v >> 6) & 63];
    }
    return out;
}

Bytes fromBase64Url(const std::string& text)
{
    Bytes out;
    std::uint32_t acc = 0;
    int bits = 0;
    for (const char c : text) {
        int v = -1;
        if (c >= 'A' && c <= 'Z')
            v = c - 'A';
        else if (c >= 'a' && c <= 'z')
            v = c - 'a' + 26;
        else if (c >= '0' && c <= '9')
            v = c - '0' + 52;
        else if (c == '-' || c == '+')
            v = 62;
        else if (c == '_' || c == '/')
            v = 63;
        else if (c == '=')
            break;
        else
            throw Error(ErrorCode::InvalidArgument, "not base64url text");
        acc = (acc << 6) | static_cast<std::uint32_t>(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out.push_back(static_cast<std::uint8_t>((acc >> bits) & 0xff));
        }
    }
    return out;
}

Identifier parseIdentifier(const std::string& text)
{
    unsigned char buf[16];
    char canonical[INET6_ADDRSTRLEN];
    if (inet_pton(AF_INET, text.c_str(), buf) == 1) {
        inet_ntop(AF_INET, buf, canonical, sizeof canonical);
        return {Identifier::Type::Ip, canonical};
    }
    if (inet_pton(AF_INET6, text.c_str(), buf) == 1) {
        inet_ntop(AF_INET6, buf, canonical, sizeof canonical);
        return {Identifier::Type::Ip, canonical};
    }
    const std::string name = lower(text);
    const bool wildcard = name.rfind("*.", 0) == 0;
    const std::string rest = wildcard ? name.substr(2) : name;
    bool ok = !rest.empty() && rest.size() <= 253 && rest.front() != '.' && rest.back() != '.' &&
              rest.find("..") == std::string::npos && rest.find('.') != std::string::npos;
    for (const char c : rest)
        ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.');
    if (!ok)
        throw Error(ErrorCode::InvalidArgument,
                    "identifiers: '" + text + "' is neither a DNS name (with a dot) nor an IP address");
    return {Identifier::Type::Dns, name};
}

std::string validationServerName(const Identifier& id)
{
    if (id.type == Identifier::Type::Dns)
        return id.value;
    unsigned char buf[16];
    std::string out;
    if (inet_pton(AF_INET, id.value.c_str(), buf) == 1) {
        for (int i = 3; i >= 0; --i)
            out += std::to_string(buf[i]) + ".";
        return out + "in-addr.arpa";
    }
    if (inet_pton(AF_INET6, id.value.c_str(), buf) == 1) {
        static constexpr char kHex[] = "0123456789abcdef";
        for (int i = 15; i >= 0; --i) {
            out += kHex[buf[i] & 15];
            out += '.';
            out += kHex[buf[i] >> 4];
            out += '.';
        }
        return out + "ip6.arpa";
    }
    throw Error(ErrorCode::InvalidArgument, "'" + id.value + "' is not an IP address");
}

std::string jwkOf(EVP_PKEY* key)
{
    requireP256(key);
    const Bytes x = bignumBytes(key, OSSL_PKEY_PARAM_EC_PUB_X, 32);
    const Bytes y = bignumBytes(key, OSSL_PKEY_PARAM_EC_PUB_Y, 32);
    return R"({"crv":"P-256","kty":"EC","x":")" + base64Url(x) + R"(","y":")" + base64Url(y) + "\"}";
}

std::string jwkThumbprint(EVP_PKEY* key)
{
    return base64Url(pki::sha256(asBytes(jwkOf(key))));
}

namespace {
Json parseObject(const std::string& text, const std::string& url, const char* what)
{
    Json json = parseJson(text, url, what);
    if (!json.is_object())
        throw Error(ErrorCode::AcmeFailed,
                    std::string("the ACME ") + what + " at " + url + " is not a JSON object");
    return json;
}
} // namespace

Order parseOrder(const std::string& url, const std::string& text)
{
    const Json json = parseObject(text, url, "order");
    Order order;
    order.url = url;
    order.status = stringMember(json, "status");
    order.finalizeUrl = stringMember(json, "finalize");
    order.certificateUrl = stringMember(json, "certificate");
    if (const auto it = json.find("authorizations"); it != json.end() && it->is_array())
        for (const auto& a : *it)
            if (a.is_string())
                order.authorizations.push_back(a.get<std::string>());
    if (const auto it = json.find("error"); it != json.end())
        order.error = problemText(*it);
    if (order.status.empty() || order.finalizeUrl.empty())
        throw Error(ErrorCode::AcmeFailed, "the ACME order at " + url + " has no status or no finalize URL");
    return order;
}

Authorization parseAuthorization(const std::string& url, const std::string& text)
{
    const Json json = parseObject(text, url, "authorization");
    Authorization authz;
    authz.url = url;
    authz.status = stringMember(json, "status");
    if (const auto it = json.find("identifier"); it != json.end() && it->is_object()) {
        authz.identifier.type =
            stringMember(*it, "type") == "ip" ? Identifier::Type::Ip : Identifier::Type::Dns;
        authz.identifier.value = lower(stringMember(*it, "value"));
    }
    if (const auto it = json.find("wildcard"); it != json.end() && it->is_boolean())
        authz.wildcard = it->get<bool>();
    if (const auto it = json.find("challenges"); it != json.end() && it->is_array())
        for (const auto& c : *it) {
            if (!c.is_object())
                continue;
            Challenge challenge{stringMember(c, "type"),
                                stringMember(c, "url"),
                                stringMember(c, "token"),
                                stringMember(c, "status"),
                                {}};
            if (const auto e = c.find("error"); e != c.end())
                challenge.error = problemText(*e);
            if (!challenge.error.empty())
                authz.error = challenge.error;
            authz.challenges.push_back(std::move(challenge));
        }
    if (authz.status.empty() || authz.identifier.value.empty())
        throw Error(ErrorCode::AcmeFailed,
                    "the ACME authorization at " + url + " has no status or no identifier");
    return authz;
}

// ---- HTTP

struct Client::Curl {
    CURL* handle = nullptr; // one handle for the whole run: its connection is kept alive
    ~Curl()
    {
        if (handle != nullptr)
            curl_easy_cleanup(handle);
    }
};

namespace {
struct Sink {
    std::string* body;
    std::string* contentType;
    std::string* location;
    std::string* nonce;
    std::optional<std::chrono::seconds>* retryAfter;
    std::size_t maxBody;
    bool tooLarge = false;
};

std::size_t writeBody(char* data, std::size_t size, std::size_t count, void* user)
{
    auto* sink = static_cast<Sink*>(user);
    const std::size_t n = size * count;
    if (sink->body->size() + n > sink->maxBody) {
        sink->tooLarge = true;
        return 0;
    }
    sink->body->append(data, n);
    return n;
}

std::size_t writeHeader(char* data, std::size_t size, std::size_t count, void* user)
{
    auto* sink = static_cast<Sink*>(user);
    const std::size_t n = size * count;
    const std::string line(data, n);
    const auto colon = line.find(':');
    if (colon == std::string::npos) {
        // A new status line (a redirect or 100-continue): forget the previous response's headers.
        if (line.rfind("HTTP/", 0) == 0) {
            sink->contentType->clear();
            sink->location->clear();
        }
        return n;
    }
    const std::string name = lower(trim(line.substr(0, colon)));
    const std::string value = trim(line.substr(colon + 1));
    if (name == "content-type")
        *sink->contentType = value;
    else if (name == "location")
        *sink->location = value;
    else if (name == "replay-nonce")
        *sink->nonce = value;
    else if (name == "retry-after") {
        char* end = nullptr;
        const long seconds = std::strtol(value.c_str(), &end, 10);
        if (end != value.c_str() && *end == '\0' && seconds >= 0)
            *sink->retryAfter = std::chrono::seconds(seconds);
    }
    return n;
}
} // namespace

Client::Client(ServerOptions options, pki::EvpPkeyPtr accountKey, std::string accountUrl)
    : options_(std::move(options)), accountKey_(std::move(accountKey)), accountUrl_(std::move(accountUrl)),
      curl_(std::make_unique<Curl>())
{
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
    if (options_.directoryUrl.rfind("https://", 0) != 0)
        throw Error(ErrorCode::InvalidArgument,
                    "directory_url '" + options_.directoryUrl + "' is not an https URL (RFC 8555 §6.1)");
    jwk_ = jwkOf(accountKey_.get());
    thumbprint_ = jwkThumbprint(accountKey_.get());
    curl_->handle = curl_easy_init();
    if (curl_->handle == nullptr)
        throw Error(ErrorCode::Internal, "cannot initialise libcurl");
}

Client::~Client() = default;

Client::Response Client::http(const std::string& method, const std::string& url, const std::string& body)
{
    if (options_.cancel != nullptr && options_.cancel->load())
        throw Error(ErrorCode::FetchFailed, "the ACME order stopped: certd is shutting down");
    if (url.rfind("https://", 0) != 0)
        throw Error(ErrorCode::AcmeFailed, "the ACME server gave a URL that is not https: '" + url + "'");
    ++requests_;
    CURL* c = curl_->handle;
    curl_easy_reset(c);
    Response response;
    std::string nonce;
    Sink sink{&response.body, &response.contentType, &response.location,
              &nonce,         &response.retryAfter,  options_.maxBody};
    curl_easy_setopt(c, CURLOPT_URL, url.c_str());
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(options_.requestTimeout.count()));
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 10'000L);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "certd (ACME; RFC 8555)");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, writeBody);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, writeHeader);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &sink);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, onProgress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, options_.cancel);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, options_.cancel != nullptr ? 0L : 1L);
    curl_blob blob{};
    if (!options_.caBundlePem.empty()) {
        // Only this bundle: the system's trust store has no say over a private CA's server.
        blob.data = options_.caBundlePem.data();
        blob.len = options_.caBundlePem.size();
        blob.flags = CURL_BLOB_COPY;
        curl_easy_setopt(c, CURLOPT_CAINFO_BLOB, &blob);
        curl_easy_setopt(c, CURLOPT_CAPATH, nullptr);
    }
    curl_slist* headers = nullptr;
    if (method == "HEAD") {
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    } else if (method == "POST") {
        headers = curl_slist_append(headers, "Content-Type: application/jose+json");
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.c_str());
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
    }
    headers = curl_slist_append(headers, "Accept-Language: en");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    const CURLcode rc = curl_easy_perform(c);
    curl_slist_free_all(headers);
    if (!nonce.empty())
        nonce_ = nonce;
    if (sink.tooLarge)
        throw Error(ErrorCode::AcmeFailed, "the ACME server's answer from " + url + " is larger than " +
                                               std::to_string(options_.maxBody) + " bytes");
    if (rc == CURLE_ABORTED_BY_CALLBACK)
        throw Error(ErrorCode::FetchFailed, "the ACME order stopped: certd is shutting down");
    if (rc == CURLE_PEER_FAILED_VERIFICATION)
        throw Error(ErrorCode::FetchFailed,
                    "the ACME server at " + url + " is not trusted: " + curl_easy_strerror(rc) +
                        (options_.caBundlePem.empty() ? " (no ca_bundle given: the system's trust store)"
                                                      : " (against the order's ca_bundle)"));
    if (rc != CURLE_OK)
        throw Error(ErrorCode::FetchFailed,
                    "cannot reach the ACME server at " + url + ": " + curl_easy_strerror(rc));
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &response.status);
    response.replayNonce = nonce;
    return response;
}

void Client::loadDirectory()
{
    if (!directory_.empty())
        return;
    const Response r = http("GET", options_.directoryUrl, {});
    if (r.status != 200)
        throw Error(ErrorCode::AcmeFailed, "the ACME directory " + options_.directoryUrl + " answered HTTP " +
                                               std::to_string(r.status));
    if (mediaType(r.contentType) != "application/json")
        throw Error(ErrorCode::AcmeFailed, "the ACME directory " + options_.directoryUrl +
                                               " is not JSON (Content-Type '" + r.contentType + "')");
    const Json json = parseJson(r.body, options_.directoryUrl, "directory request");
    if (!json.is_object())
        throw Error(ErrorCode::AcmeFailed,
                    "the ACME directory " + options_.directoryUrl + " is not a JSON object");
    for (const char* name : {"newNonce", "newAccount", "newOrder"}) {
        const std::string url = stringMember(json, name);
        if (url.empty())
            throw Error(ErrorCode::AcmeFailed,
                        "the ACME directory " + options_.directoryUrl + " has no '" + name + "' URL");
        directory_[name] = url;
    }
}

std::string Client::freshNonce()
{
    loadDirectory();
    if (!nonce_.empty())
        return std::exchange(nonce_, {});
    const Response r = http("HEAD", directory_.at("newNonce"), {});
    if (r.replayNonce.empty())
        throw Error(ErrorCode::AcmeFailed, "the ACME server gave no Replay-Nonce at " +
                                               directory_.at("newNonce") + " (HTTP " +
                                               std::to_string(r.status) + ")");
    return std::exchange(nonce_, {});
}

std::string Client::signJws(const std::string& url, const std::string& payload, bool withJwk)
{
    Json header = {{"alg", "ES256"}, {"nonce", freshNonce()}, {"url", url}};
    if (withJwk)
        header["jwk"] = Json::parse(jwk_);
    else
        header["kid"] = accountUrl_;
    const std::string protectedB64 = base64Url(asBytes(header.dump()));
    const std::string payloadB64 = payload.empty() ? std::string() : base64Url(asBytes(payload));
    const std::string input = protectedB64 + "." + payloadB64;

    pki::EvpMdCtxPtr md(EVP_MD_CTX_new());
    std::size_t derLength = 0;
    if (!md || EVP_DigestSignInit(md.get(), nullptr, EVP_sha256(), nullptr, accountKey_.get()) != 1 ||
        EVP_DigestSign(md.get(), nullptr, &derLength, asBytes(input).data(), input.size()) != 1)
        throwOpenSsl(ErrorCode::Internal, "cannot sign an ACME request");
    Bytes der(derLength);
    if (EVP_DigestSign(md.get(), der.data(), &derLength, asBytes(input).data(), input.size()) != 1)
        throwOpenSsl(ErrorCode::Internal, "cannot sign an ACME request");
    // JWS wants r || s, 32 bytes each (RFC 7518 §3.4), not OpenSSL's DER ECDSA-Sig-Value.
    const unsigned char* p = der.data();
    EcdsaSigPtr sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(derLength)));
    if (!sig)
        throwOpenSsl(ErrorCode::Internal, "cannot read an ECDSA signature");
    Bytes raw(64);
    if (BN_bn2binpad(ECDSA_SIG_get0_r(sig.get()), raw.data(), 32) != 32 ||
        BN_bn2binpad(ECDSA_SIG_get0_s(sig.get()), raw.data() + 32, 32) != 32)
        throwOpenSsl(ErrorCode::Internal, "cannot encode an ECDSA signature");
    const Json jws = {{"protected", protectedB64}, {"payload", payloadB64}, {"signature", base64Url(raw)}};
    return jws.dump();
}

Client::Response Client::post(const std::string& url, const std::string& payload, bool withJwk,
                              const char* what)
{
    for (unsigned attempt = 0;; ++attempt) {
        Response r = http("POST", url, signJws(url, payload, withJwk));
        const std::string type = mediaType(r.contentType);
        if (type == "application/problem+json") {
            const Json problem = parseJson(r.body, url, what);
            if (stringMember(problem, "type") == kBadNonce && attempt < kMaxBadNonceRetries) {
                ++badNonceRetries_; // RFC 8555 §6.5: retry with the nonce this answer carries
                log::info("ACME: " + url +
                          " refused the request's nonce (badNonce); retrying with a fresh one");
                continue;
            }
            throw Error(ErrorCode::AcmeFailed, std::string("the ACME server refused the ") + what + " (" +
                                                   url + ", HTTP " + std::to_string(r.status) +
                                                   "): " + problemText(problem));
        }
        if (r.status < 200 || r.status > 299)
            throw Error(ErrorCode::AcmeFailed, std::string("the ACME server answered the ") + what + " (" +
                                                   url + ") with HTTP " + std::to_string(r.status));
        return r;
    }
}

namespace {
void requireJson(const std::string& contentType, const std::string& url, const char* what)
{
    if (mediaType(contentType) != "application/json")
        throw Error(ErrorCode::AcmeFailed, std::string("the ACME server's answer to the ") + what + " (" +
                                               url + ") is not JSON (Content-Type '" + contentType + "')");
}
} // namespace

const std::string& Client::ensureAccount(const std::string& contact, const ExternalAccountBinding* eab)
{
    if (!accountUrl_.empty())
        return accountUrl_;
    loadDirectory();
    const std::string& url = directory_.at("newAccount");
    Json payload = {{"termsOfServiceAgreed", true}};
    if (!contact.empty())
        payload["contact"] = Json::array({contact.rfind("mailto:", 0) == 0 ? contact : "mailto:" + contact});
    if (eab != nullptr) {
        // RFC 8555 §7.3.4: the account's JWK, MACed with the CA's key under its key id.
        const Json header = {{"alg", "HS256"}, {"kid", eab->keyId}, {"url", url}};
        const std::string protectedB64 = base64Url(asBytes(header.dump()));
        const std::string payloadB64 = base64Url(asBytes(jwk_));
        const std::string input = protectedB64 + "." + payloadB64;
        unsigned char mac[EVP_MAX_MD_SIZE];
        unsigned int macLength = 0;
        if (HMAC(EVP_sha256(), eab->macKey.data(), static_cast<int>(eab->macKey.size()),
                 asBytes(input).data(), input.size(), mac, &macLength) == nullptr)
            throwOpenSsl(ErrorCode::Internal, "cannot MAC the external account binding");
        payload["externalAccountBinding"] = {
            {"protected", protectedB64}, {"payload", payloadB64}, {"signature", base64Url({mac, macLength})}};
    }
    const Response r = post(url, payload.dump(), true, "account registration");
    if (r.location.empty())
        throw Error(ErrorCode::AcmeFailed,
                    "the ACME server registered the account without a Location (" + url + ")");
    accountUrl_ = r.location;
    return accountUrl_;
}

Order Client::newOrder(const std::vector<Identifier>& identifiers)
{
    loadDirectory();
    Json ids = Json::array();
    for (const auto& id : identifiers)
        ids.push_back({{"type", id.type == Identifier::Type::Ip ? "ip" : "dns"}, {"value", id.value}});
    const std::string& url = directory_.at("newOrder");
    const Response r = post(url, Json{{"identifiers", ids}}.dump(), false, "new order");
    requireJson(r.contentType, url, "new order");
    if (r.location.empty())
        throw Error(ErrorCode::AcmeFailed,
                    "the ACME server created an order without a Location (" + url + ")");
    return parseOrder(r.location, r.body);
}

Order Client::getOrder(const std::string& url)
{
    const Response r = post(url, {}, false, "order request");
    requireJson(r.contentType, url, "order request");
    return parseOrder(url, r.body);
}

Authorization Client::getAuthorization(const std::string& url)
{
    const Response r = post(url, {}, false, "authorization request");
    requireJson(r.contentType, url, "authorization request");
    return parseAuthorization(url, r.body);
}

void Client::respond(const std::string& challengeUrl)
{
    const Response r = post(challengeUrl, "{}", false, "challenge response");
    requireJson(r.contentType, challengeUrl, "challenge response");
    parseJson(r.body, challengeUrl, "challenge response");
}

void Client::sleepFor(std::chrono::milliseconds delay, const std::string& what)
{
    const auto until = std::chrono::steady_clock::now() + delay;
    while (std::chrono::steady_clock::now() < until) {
        if (options_.cancel != nullptr && options_.cancel->load())
            throw Error(ErrorCode::FetchFailed,
                        "the ACME order stopped while waiting for " + what + ": certd is shutting down");
        std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(
            std::chrono::milliseconds(100), until - std::chrono::steady_clock::now()));
    }
}

namespace {
// Polling: the server's Retry-After, else 100 ms doubling to 5 s.
std::chrono::milliseconds nextDelay(std::optional<std::chrono::seconds> retryAfter, unsigned round)
{
    if (retryAfter)
        return std::clamp<std::chrono::milliseconds>(*retryAfter, std::chrono::milliseconds(100),
                                                     std::chrono::seconds(30));
    return std::min<std::chrono::milliseconds>(std::chrono::milliseconds(100) * (1u << std::min(round, 6u)),
                                               std::chrono::seconds(5));
}
} // namespace

Authorization Client::waitForAuthorization(const std::string& url)
{
    const auto deadline = std::chrono::steady_clock::now() + options_.pollTimeout;
    for (unsigned round = 0;; ++round) {
        const Response r = post(url, {}, false, "authorization request");
        requireJson(r.contentType, url, "authorization request");
        Authorization authz = parseAuthorization(url, r.body);
        if (authz.status != "pending")
            return authz;
        if (std::chrono::steady_clock::now() >= deadline)
            throw Error(ErrorCode::AcmeFailed,
                        "the ACME server did not validate " + authz.identifier.value + " within " +
                            std::to_string(options_.pollTimeout.count() / 1000) + " s");
        sleepFor(nextDelay(r.retryAfter, round), "the validation of " + authz.identifier.value);
    }
}

Order Client::waitForOrder(const std::string& url, bool untilReady)
{
    const auto deadline = std::chrono::steady_clock::now() + options_.pollTimeout;
    for (unsigned round = 0;; ++round) {
        const Response r = post(url, {}, false, "order request");
        requireJson(r.contentType, url, "order request");
        Order order = parseOrder(url, r.body);
        const bool waiting = untilReady ? order.status == "pending" : order.status == "processing";
        if (!waiting)
            return order;
        if (std::chrono::steady_clock::now() >= deadline)
            throw Error(ErrorCode::AcmeFailed, "the ACME order " + url + " stayed " + order.status + " for " +
                                                   std::to_string(options_.pollTimeout.count() / 1000) +
                                                   " s");
        sleepFor(nextDelay(r.retryAfter, round), "the order");
    }
}

Order Client::finalize(const std::string& finalizeUrl, ByteView csrDer)
{
    const Response r = post(finalizeUrl, Json{{"csr", base64Url(csrDer)}}.dump(), false, "finalize request");
    requireJson(r.contentType, finalizeUrl, "finalize request");
    return parseOrder(r.location.empty() ? finalizeUrl : r.location, r.body);
}

std::string Client::downloadCertificate(const std::string& url)
{
    const Response r = post(url, {}, false, "certificate download");
    if (mediaType(r.contentType) != "application/pem-certificate-chain")
        throw Error(ErrorCode::AcmeFailed, "the ACME server's certificate at " + url +
                                               " is not application/pem-certificate-chain (Content-Type '" +
                                               r.contentType + "')");
    return r.body;
}

std::string Client::keyAuthorization(const std::string& token) const
{
    return token + "." + thumbprint_;
}

} // namespace certd::acme
