#pragma once

// A thin, typed C++ client for certd's D-Bus API (org.certd1 on the system bus).
// No D-Bus types appear here: object paths are plain strings, a{sv} arguments are
// structs with optional fields. Every failure is thrown as certd::Error carrying the
// same ErrorCode the daemon used (see daemon/error.hpp).

#include "error.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace certd::client {

inline constexpr const char* kBusName = "org.certd1";
inline constexpr const char* kManagerPath = "/org/certd1";
inline constexpr const char* kCertificatePathPrefix = "/org/certd1/certificate/";
inline constexpr const char* kRequestPathPrefix = "/org/certd1/request/";
inline constexpr const char* kKeyPathPrefix = "/org/certd1/key/";
inline constexpr const char* kAddressPathPrefix = "/org/certd1/address/";
inline constexpr const char* kAcmeOrderPathPrefix = "/org/certd1/acme_order/";
inline constexpr const char* kAcmeAccountPathPrefix = "/org/certd1/acme_account/";
// The object path meaning "none" (a certificate without key, a pending request).
inline constexpr const char* kNoObject = "/";

// Thrown (as a certd::Error with ErrorCode::Internal) when the bus or certd on it
// cannot be reached at all, so a caller can tell "not running" from "refused".
class UnreachableError : public Error {
public:
    explicit UnreachableError(const std::string& detail);
};

// A (code, text) pair: a stable machine code and a sentence for people.
struct Warning {
    std::string code;
    std::string text;
};

// A subject alternative name: type "DNS" or "IP", and its value.
struct AltName {
    std::string type;
    std::string value;
};

// One result of Certificate.Check.
struct Finding {
    std::string severity; // "error", "warning" or "info"
    std::string code;
    std::string text;
};

// The spec of CreateSelfSigned / CreateRequest; unset fields are not sent.
struct CertificateSpec {
    std::optional<std::string> friendlyName;
    std::optional<std::string> keyType; // rsa2048|rsa3072|rsa4096|ec-p256|ec-p384|ed25519|ed448
    std::optional<std::string> key;     // object path of an existing key
    std::optional<std::string> country;
    std::optional<std::string> state;
    std::optional<std::string> locality;
    std::optional<std::string> organization;
    std::optional<std::string> organizationalUnit;
    std::optional<std::string> commonName;
    std::vector<std::string> subjectAltNames; // "DNS:…", "IP:…", bare = DNS; empty: not sent
    std::optional<std::uint32_t> days;        // self-signed validity
    std::optional<std::string> copyFrom;      // object path of a certificate (re-key)
};

struct ImportOptions {
    std::optional<std::string> friendlyName;
};

// Certificate.Export options; unset fields take the daemon's defaults.
struct ExportOptions {
    std::optional<std::string> format; // auto|der|pem|pkcs7|pkcs8|pkcs12
    std::optional<bool> includeCertificate;
    std::optional<bool> includePrivateKey;
    std::optional<bool> includeChain;
    std::optional<std::string> passphrase;
};

// The object a Create* call made, with the daemon's warnings.
struct CreateResult {
    std::string path;
    std::vector<Warning> warnings;
};

struct ImportResult {
    std::vector<std::string> objects; // certificates, keys and completed requests
    std::vector<Warning> warnings;
};

// Properties of org.certd1.Certificate.
struct Certificate {
    std::string path;
    std::string id; // last element of the path
    std::string friendlyName;
    std::string subject;
    std::string issuer;
    std::string issuedTo;
    std::string issuedBy;
    std::string serialNumber;
    std::string signatureAlgorithm;
    std::uint64_t notBeforeUSec = 0;
    std::uint64_t notAfterUSec = 0;
    std::string publicKey;
    std::vector<AltName> subjectAltNames;
    std::vector<std::string> authorityInfoAccess;
    std::string fingerprintSha256;
    std::string key = kNoObject;
    bool hasPrivateKey = false;
    std::string kind; // server|intermediate|root
    std::vector<std::string> chain;
    std::string chainMode; // automatic|manual
    std::vector<Warning> warnings;
    std::vector<std::string> addresses;
    bool isFactoryDefault = false;
};

// Properties of org.certd1.Request.
struct Request {
    std::string path;
    std::string id;
    std::string friendlyName;
    std::string subject;
    std::vector<AltName> subjectAltNames;
    std::string key = kNoObject;
    std::string requestPem;
    std::string state; // pending|completed
    std::string certificate = kNoObject;
    std::uint64_t createdUSec = 0;
};

// Properties of org.certd1.Key.
struct Key {
    std::string path;
    std::string id;
    std::string algorithm; // RSA|EC
    std::uint32_t bits = 0;
    std::string fingerprintSha256;
    std::vector<std::string> certificates;
    std::vector<std::string> requests;
};

// Properties of org.certd1.Address.
struct Address {
    std::string path;
    std::string address;
    std::uint16_t port = 0;
    std::string certificate = kNoObject;
    std::string origin; // configured|discovered
    std::string state;  // listening|pending|error
    std::string error;
};

// Manager.CreateAcmeOrder's spec; unset or empty fields are not sent.
struct AcmeOrderSpec {
    std::string directoryUrl;
    std::vector<std::string> identifiers;
    std::optional<std::string> challenge; // tls-alpn-01 (default) | http-01
    std::optional<std::string> keyType;
    std::optional<std::string> key; // object path of an existing key
    std::optional<std::string> contact;
    std::vector<std::uint8_t> caBundle; // PEM
    std::vector<std::string> assign;
    std::optional<std::string> friendlyName;
    std::optional<std::uint32_t> renewPercent;
    std::optional<std::uint32_t> renewAfterSeconds;
    std::optional<std::string> eabKid;
    std::optional<std::string> eabHmacKey;
};

// Properties of org.certd1.AcmeOrder.
struct AcmeOrder {
    std::string path;
    std::string id;
    std::string friendlyName;
    std::string state; // pending|processing|valid|invalid|failed
    std::string errorName;
    std::string error;
    std::string certificate = kNoObject;
    std::vector<std::string> identifiers;
    std::string directoryUrl;
    std::string challenge;
    std::string accountUrl;
    std::string account = kNoObject; // its AcmeAccount
    std::uint64_t nextRenewalUSec = 0;
    std::uint64_t createdUSec = 0;
};

// Properties of org.certd1.AcmeAccount (id: the id of its key).
struct AcmeAccount {
    std::string path;
    std::string id;
    std::string directoryUrl;
    std::string contact;
    std::string url;
    std::string key = kNoObject;
    std::vector<std::string> orders;
};

// Everything certd exports, from one ObjectManager.GetManagedObjects call,
// each list in object path order.
struct Inventory {
    std::vector<Certificate> certificates;
    std::vector<Request> requests;
    std::vector<Key> keys;
    std::vector<Address> addresses;
    std::vector<AcmeOrder> acmeOrders;
    std::vector<AcmeAccount> acmeAccounts;
};

struct AddressBinding {
    std::string address;
    std::string state;
    std::string certificate;
};

// Manager.GetStatus; fields the daemon did not send keep their defaults.
struct Status {
    std::string hostname;
    std::string machineId;
    std::string version;
    std::uint64_t uptimeUSec = 0;
    std::vector<AddressBinding> addresses;
    std::string terminatorState;
    std::string terminatorError; // why certd-tls cannot be started; "" when nothing is wrong
    std::optional<std::uint64_t> soonestExpiryUSec;
    std::string soonestExpiry = kNoObject;
    std::uint32_t certificates = 0;
    std::uint32_t keys = 0;
    std::uint32_t requests = 0;
};

// One connection to the system bus (DBUS_SYSTEM_BUS_ADDRESS is honoured).
// Calls are synchronous with a generous timeout (key generation takes seconds).
// Not thread-safe: use one Client per thread.
class Client {
public:
    // Connects; throws UnreachableError when the bus cannot be reached.
    Client();
    ~Client();
    Client(Client&&) noexcept;
    Client& operator=(Client&&) noexcept;
    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;

    // --- org.certd1.Manager
    CreateResult createSelfSigned(const CertificateSpec& spec);
    CreateResult createRequest(const CertificateSpec& spec);
    ImportResult importData(const std::vector<std::uint8_t>& data, const std::string& passphrase,
                            const ImportOptions& options = {});
    // Binding calls run certd's pre-flight check: error findings refuse (CheckFailed)
    // unless `force`; the warning findings are returned.
    std::vector<Warning> assign(const std::string& address, const std::string& certificate,
                                bool force = false);
    // Returns the addresses moved; the pre-flight warnings go to `warnings` when given.
    std::vector<std::string> replaceCertificate(const std::string& oldCertificate,
                                                const std::string& newCertificate, bool force = false,
                                                std::vector<Warning>* warnings = nullptr);
    // Has certd read its configuration file again and apply it; returns once applied. A bad
    // file throws InvalidArgument ("FILE:LINE: KEY: reason") and changes nothing.
    void reload();
    Status getStatus();
    std::string version();
    std::string factoryCertificate();
    std::string terminatorState();
    CreateResult createAcmeOrder(const AcmeOrderSpec& spec);

    // --- org.freedesktop.DBus.ObjectManager: every object with its properties, one call.
    Inventory list();

    // --- All properties of one object (one Properties.GetAll call each).
    Certificate certificate(const std::string& path);
    Request request(const std::string& path);
    Key key(const std::string& path);
    Address address(const std::string& path);
    AcmeOrder acmeOrder(const std::string& path);

    // --- org.certd1.Certificate
    std::vector<std::uint8_t> exportCertificate(const std::string& certificate, const ExportOptions& options);
    void setFriendlyName(const std::string& certificate, const std::string& friendlyName);
    std::vector<Warning> setAddresses(const std::string& certificate,
                                      const std::vector<std::string>& addresses, bool force = false);
    // mode "automatic" (pem empty) or "manual" (pem: the issuers, leaf's issuer first).
    void setChain(const std::string& certificate, const std::string& mode,
                  const std::vector<std::uint8_t>& pem);
    // Returns the issuer certificates imported.
    std::vector<std::string> fetchIssuer(const std::string& certificate);
    std::vector<Finding> check(const std::string& certificate, const std::vector<std::string>& hostnames);
    void deleteCertificate(const std::string& certificate);

    // --- org.certd1.Request, org.certd1.Key, org.certd1.Address
    void deleteRequest(const std::string& request);
    void deleteKey(const std::string& key);
    // --- org.certd1.AcmeOrder
    void renewAcmeOrder(const std::string& order);
    void deleteAcmeOrder(const std::string& order);
    // Address.Assign on an address object (Manager.assign takes the address text instead).
    std::vector<Warning> assignAddress(const std::string& addressPath, const std::string& certificate,
                                       bool force = false);

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// The last element of an object path ("/org/certd1/certificate/ab12" -> "ab12").
inline std::string objectId(const std::string& path)
{
    return path.substr(path.rfind('/') + 1);
}

} // namespace certd::client
