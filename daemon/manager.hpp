#pragma once

// The appliance's certificates, keys, requests and addresses as the operator
// sees them, on top of the durable store. Knows nothing of D-Bus: the bus glue
// (daemon/bus/) maps entries onto objects and Changes onto signals.

#include "pki/certificate.hpp"
#include "pki/chain.hpp"
#include "pki/export.hpp"
#include "store.hpp"

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace certd {

struct CertificateEntry {
    std::string id;
    pki::X509Ptr cert;
    pki::CertificateInfo info;
    pki::CertificateKind kind = pki::CertificateKind::Server;
    std::string keyId;              // empty: no private key on this appliance
    std::vector<std::string> chain; // issuer certificate ids, leaf's issuer first
    bool chainComplete = false;
    std::vector<pki::Warning> warnings;
};

struct KeyEntry {
    std::string id;
    std::string algorithm; // "RSA" / "EC"
    unsigned bits = 0;
    std::string spkiSha256;
};

struct RequestEntry {
    std::string id;
    pki::RequestInfo info;
    std::string pem;
};

struct AddressEntry {
    std::string address;             // canonical text, no brackets
    std::string origin;              // "configured" / "discovered"
    std::string state = "listening"; // "listening" / "pending" / "error"
    std::string error;
};

// What a mutation touched, for signals.
struct Changes {
    std::set<std::string> certificatesAdded, certificatesRemoved, certificatesChanged;
    std::set<std::string> keysAdded, keysRemoved, keysChanged;
    std::set<std::string> requestsAdded, requestsRemoved, requestsChanged;
    std::set<std::string> addressesAdded, addressesRemoved, addressesChanged;
    bool factoryChanged = false;
    void merge(const Changes& other);
    bool empty() const;
};

// What CreateSelfSigned / CreateRequest ask for, after the bus layer parsed a{sv}.
struct CreateSpec {
    pki::CertificateSpec spec;
    std::optional<std::string> keyId;    // use this stored key
    std::optional<std::string> copyFrom; // certificate id: copy subject and SANs, new key
};

struct ExportOptions {
    pki::ExportFormat format = pki::ExportFormat::Auto;
    bool includeCertificate = true;
    bool includePrivateKey = false;
    bool includeChain = false;
    pki::Secret passphrase;
};

struct Finding {
    std::string severity; // "error", "warning", "info"
    std::string code;
    std::string text;
};

struct ManagerOptions {
    pki::CertificateSpec factorySpec; // subject of the factory certificate
    pki::KeyType factoryKeyType = pki::KeyType::Rsa2048;
    unsigned expiringWithinDays = 30; // the "expiring-soon" warning
    std::vector<std::string> configuredAddresses;
    std::function<std::uint64_t()> clock; // microseconds since the epoch; defaults to the real time
    // Downloads an Authority Info Access URL; defaults to fetchUrl() (libcurl, bounded).
    std::function<pki::Bytes(const std::string& url)> fetch;
};

class Manager {
public:
    Manager(Store& store, ManagerOptions options);

    // Creates the factory default certificate unless the store has one.
    Changes ensureFactoryCertificate();

    const std::map<std::string, CertificateEntry>& certificates() const { return certificates_; }
    const std::map<std::string, KeyEntry>& keys() const { return keys_; }
    const std::map<std::string, RequestEntry>& requests() const { return requests_; }
    const std::map<std::string, AddressEntry>& addresses() const { return addresses_; }
    const StoreState& stored() const { return store_.state(); }
    const std::string& factoryCertificate() const { return store_.state().factoryCertificate; }

    const CertificateEntry& certificate(const std::string& id) const; // NotFound
    const KeyEntry& key(const std::string& id) const;
    const RequestEntry& request(const std::string& id) const;
    const AddressEntry& address(const std::string& address) const;

    // The certificate serving an address: its binding, else the factory certificate.
    std::string certificateForAddress(const std::string& address) const;
    // Addresses served by a certificate (the factory certificate serves the unbound ones).
    std::vector<std::string> addressesOf(const std::string& certificateId) const;
    std::vector<std::string> certificatesOfKey(const std::string& keyId) const;
    std::vector<std::string> requestsOfKey(const std::string& keyId) const;
    std::string friendlyName(const std::string& certificateId) const;

    struct Created {
        std::string id;
        std::vector<pki::Warning> warnings;
        Changes changes;
    };
    Created createSelfSigned(CreateSpec spec);
    Created createRequest(CreateSpec spec);

    struct Imported {
        std::vector<std::string> certificates, keys, requests; // created or updated
        std::vector<pki::Warning> warnings;
        Changes changes;
    };
    Imported importData(pki::ByteView data, const pki::Secret& passphrase, const std::string& friendlyName);

    // Binding changes run a pre-flight check: error findings refuse (CheckFailed) unless
    // `force`; warning findings are returned.
    struct Bound {
        Changes changes;
        std::vector<pki::Warning> warnings;
        std::vector<std::string> moved; // replaceCertificate: the addresses that moved
    };
    Bound assign(const std::string& address, const std::string& certificateId, bool force = false);
    Bound setAddresses(const std::string& certificateId, const std::vector<std::string>& addresses,
                       bool force = false);
    Bound replaceCertificate(const std::string& oldId, const std::string& newId, bool force = false);
    Changes setFriendlyName(const std::string& certificateId, const std::string& name);
    Changes setChain(const std::string& certificateId, const std::string& mode, pki::ByteView pem);
    Changes deleteCertificate(const std::string& id);
    Changes deleteKey(const std::string& id);
    Changes deleteRequest(const std::string& id);

    struct Fetched {
        std::vector<std::string> certificates; // imported issuers, nearest first
        Changes changes;
    };
    // Follows caIssuers URLs from the top of the chain until a root, a certificate
    // without AIA, or kMaxFetchHops; imports what it finds.
    Fetched fetchIssuers(const std::string& id);

    pki::SecureBytes exportCertificate(const std::string& id, const ExportOptions& options) const;
    // Pre-flight findings: hostnames not covered (RFC 6125), the certificate's warnings with
    // a severity, and root-changed for every served address whose root would change.
    std::vector<Finding> check(const std::string& id, const std::vector<std::string>& hostnames) const;
    // The id of the top of a certificate's chain (itself when it has no issuers here).
    std::string rootOf(const std::string& id) const;

    // What the terminator serves for a certificate: leaf then issuers, PEM; and its key.
    std::string servedChainPem(const std::string& certificateId) const;
    pki::SecureBytes privateKeyPkcs8(const std::string& certificateId) const;
    // Records what the terminator reports for an address ("listening", "pending", "error").
    Changes setAddressStatus(const std::string& address, const std::string& state, const std::string& error);

    // Address model: discovery adds and removes; configured ones stay.
    Changes addressAppeared(const std::string& address);
    Changes addressVanished(const std::string& address);

    // Re-evaluates time-dependent warnings; returns the certificates whose warnings changed.
    Changes refreshWarnings();

    // Canonical text of an IP literal ("[::1]" and "::1" -> "::1"); nullopt if not one.
    static std::optional<std::string> canonicalAddress(const std::string& text);

private:
    std::uint64_t now() const;
    void loadFromStore();
    CertificateEntry& addCertificateEntry(const std::string& id, pki::X509Ptr cert);
    void addKeyEntry(const std::string& id, EVP_PKEY* key);
    void addRequestEntry(const std::string& id, std::string pem);
    // Recomputes key links and chains; warnings only where those changed, for
    // new certificates, or for all when `allWarnings` (time moved on). Records what changed.
    void recomputeDerived(Changes& changes, bool allWarnings = false);
    std::string findIssuer(const CertificateEntry& entry) const;
    pki::EvpPkeyPtr loadPrivateKey(const std::string& keyId) const;
    // Shared by the create calls: applies copy_from, validates, returns the key to use.
    pki::EvpPkeyPtr prepareCreate(CreateSpec& spec, Created& created) const;
    // Adds the key to the transaction unless stored already; records the change.
    void stageKey(Store::Transaction& tx, const std::string& keyId, EVP_PKEY* key, Changes& changes) const;
    const std::string& requireAddress(const std::string& text, std::string& canonical) const;
    void requirePrivateKey(const CertificateEntry& entry) const;
    // Findings for serving `id` on `addresses` (instead of what serves them now); throws
    // CheckFailed on error findings unless `force`; returns the rest as warnings.
    std::vector<pki::Warning> preflight(const std::string& id, const std::vector<std::string>& addresses,
                                        std::vector<Finding> extra, bool force) const;
    std::vector<Finding> findingsOf(const CertificateEntry& entry) const;
    std::vector<Finding> rootChanges(const std::string& id, const std::vector<std::string>& addresses) const;
    void markBindingChanges(const StoreState& before, Changes& changes);
    // Removes keys no certificate or request uses any more (from the transaction state).
    static void dropUnusedKeys(StoreState& state, const std::set<std::string>& candidates);
    void forgetRemoved(const StoreState& before, Changes& changes);

    Store& store_;
    ManagerOptions options_;
    std::map<std::string, CertificateEntry> certificates_;
    std::map<std::string, KeyEntry> keys_;
    std::map<std::string, RequestEntry> requests_;
    std::map<std::string, AddressEntry> addresses_;
    std::map<std::string, std::string> keyBySpki_;            // spki sha256 -> key id
    std::multimap<unsigned long, std::string> bySubjectHash_; // X509 subject name hash -> certificate id
    std::map<std::string, std::string> issuerOf_;             // certificate id -> issuer id ("" = not found)
    std::map<std::string, std::vector<std::string>> certificatesByKey_; // key id -> certificate ids
};

} // namespace certd
