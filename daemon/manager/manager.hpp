#pragma once

// The appliance's certificates, keys, requests and addresses as the operator sees them, on
// top of the durable store. Knows nothing of D-Bus and nothing of the terminator process.
//
// Every mutation commits to the store first, then updates the in-memory model and records
// what it touched; takeChanges() hands that on (ChangeFlow: terminator, then subscribers).
// One class, its definitions split by noun: manager.cpp (model, derived state, lookups),
// certificates.cpp, requests.cpp, keys.cpp, import.cpp, addresses.cpp.

#include "manager/changes.hpp"
#include "manager/description_cache.hpp"
#include "manager/model.hpp"
#include "pki/import.hpp"
#include "store/store.hpp"
#include "terminator/state.hpp"

#include <atomic>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace certd {

class Manager {
public:
    Manager(Store& store, ManagerOptions options);

    // Creates the factory default certificate unless the store has one.
    void ensureFactoryCertificate();

    // ---- reading
    const std::map<std::string, CertificateEntry>& certificates() const { return certificates_; }
    const std::map<std::string, KeyEntry>& keys() const { return keys_; }
    const std::map<std::string, RequestEntry>& requests() const { return requests_; }
    const std::map<std::string, AddressEntry>& addresses() const { return addresses_; }
    const StoreState& stored() const { return store_.state(); }
    const std::string& factoryCertificate() const { return store_.state().factoryCertificate; }

    const CertificateEntry& certificate(const std::string& id) const; // NotFound
    const KeyEntry& key(const std::string& id) const;
    const RequestEntry& request(const std::string& id) const;
    const StoredRequest& storedRequest(const std::string& id) const;
    const AddressEntry& address(const std::string& address) const;
    // What the bus shows: an object that a mutation removed stays on the bus until the settle
    // that makes the removal durable (ChangeFlow), and reads as it was until then.
    const CertificateEntry& shownCertificate(const std::string& id) const; // NotFound
    const KeyEntry& shownKey(const std::string& id) const;
    const RequestEntry& shownRequest(const std::string& id) const;
    const StoredRequest& shownStoredRequest(const std::string& id) const;

    // The certificate serving an address: its binding, else the factory certificate.
    std::string certificateForAddress(const std::string& address) const;
    // Addresses served by a certificate (the factory certificate serves the unbound ones).
    std::vector<std::string> addressesOf(const std::string& certificateId) const;
    std::vector<std::string> certificatesOfKey(const std::string& keyId) const;
    std::vector<std::string> requestsOfKey(const std::string& keyId) const;
    std::string friendlyName(const std::string& certificateId) const;
    ChainMode chainMode(const std::string& certificateId) const;
    // The id of the top of a certificate's chain (itself when it has no issuers here).
    std::string rootOf(const std::string& id) const;

    // What the terminator serves for a certificate: leaf then issuers, PEM; and its key.
    std::string servedChainPem(const std::string& certificateId) const;
    SecureBytes privateKeyPkcs8(const std::string& certificateId) const;

    // ---- what changed
    // Everything mutations touched since the last call, and forgets it.
    Changes takeChanges();
    bool hasChanges() const { return !pending_.empty(); }
    // What takeChanges() would hand on, left in place.
    const Changes& pendingChanges() const { return pending_; }

    // ---- certificates
    struct Created {
        std::string id;
        std::vector<pki::Warning> warnings;
    };
    Created createSelfSigned(CreateSpec spec);
    void setFriendlyName(const std::string& certificateId, const std::string& name);
    // Manual: `pem` lists the issuers, leaf's issuer first; automatic: `pem` must be empty.
    void setChain(const std::string& certificateId, ChainMode mode, ByteView pem);
    void deleteCertificate(const std::string& id);
    SecureBytes exportCertificate(const std::string& id, const ExportOptions& options) const;
    // Follows caIssuers URLs from the top of the chain until a root, a certificate without
    // AIA, or kMaxFetchHops; imports what it finds. Returns the imported issuers, nearest first.
    std::vector<std::string> fetchIssuers(const std::string& id);

    // ---- requests
    Created createRequest(CreateSpec spec);
    void deleteRequest(const std::string& id);

    // ---- keys
    void deleteKey(const std::string& id);

    // ---- import
    struct Imported {
        std::vector<std::string> certificates, keys, requests; // created or updated
        std::vector<pki::Warning> warnings;
    };
    Imported importData(ByteView data, const Secret& passphrase, const std::string& friendlyName);

    // ---- slow calls, in three steps (the bus layer runs the middle one on a worker thread):
    // prepare (loop thread: reads the model, captures the inputs), build (any thread: pure,
    // touches no Manager state: key generation, signing, parsing, downloads, encryption) and
    // commit (loop thread: re-checks what may have changed meanwhile, then commits as the
    // one-step call would). The one-step calls above are the three steps in a row.
    struct PendingCreate {
        CreateSpec spec;
        bool selfSigned = false;
        pki::EvpPkeyPtr existingKey;   // spec.keyId's key, read from the store by prepare
        Created created;               // warnings so far
        ParsedKey key;                 // built
        ParsedCertificate certificate; // built, self-signed
        std::string requestPem;        // built, request
    };
    PendingCreate prepareCreate(CreateSpec spec, bool selfSigned) const;
    static void buildCreate(PendingCreate& pending);
    // NotFound when the key named by `key` was deleted while the key or request was being made.
    Created commitCreate(PendingCreate pending);

    struct ParsedImport {
        std::vector<ParsedKey> keys;
        std::vector<ParsedCertificate> certificates;
        std::vector<pki::Warning> warnings;
    };
    static ParsedImport parseImportData(ByteView data, const Secret& passphrase);
    // Imports like importData(); what is stored already by then is re-imported (idempotent).
    Imported commitImport(ParsedImport parsed, const std::string& friendlyName);

    struct PendingFetch {
        std::string id;   // the certificate FetchIssuer was called on
        pki::X509Ptr top; // a copy of the top of the chain
        std::string topSubject;
        std::vector<std::string> urls;
        std::function<Bytes(const std::string& url)> fetch; // ManagerOptions::fetch
        const std::atomic<bool>* cancel = nullptr;          // FetchLimits::cancel
        bool nothingToDo = false;                           // the chain is complete
        std::string pem;                                    // built: the issuers, nearest first
    };
    PendingFetch prepareFetch(const std::string& id) const;
    static void buildFetch(PendingFetch& pending);
    std::vector<std::string> commitFetch(PendingFetch pending);

    struct PendingExport {
        ExportOptions options;
        std::vector<pki::X509Ptr> certificates; // copies: leaf, then the chain if asked for
        pki::EvpPkeyPtr key;
        std::string friendlyName;
    };
    PendingExport prepareExport(const std::string& id, const ExportOptions& options) const;
    static SecureBytes buildExport(const PendingExport& pending);

    // ---- ACME orders: acme::Service runs the protocol; the Manager keeps what it reached
    const std::map<std::string, StoredAcmeOrder>& acmeOrders() const { return store_.state().acmeOrders; }
    const StoredAcmeOrder& acmeOrder(const std::string& id) const; // NotFound
    // Stores a new order with the keys made for it (account key, certificate key); returns its id.
    std::string createAcmeOrder(const StoredAcmeOrder& order, const std::vector<ParsedKey>& newKeys);
    // Replaces what is stored of an order, adding `newKeys`; a key the order no longer names and
    // nothing else uses is dropped. NotFound when the order was deleted meanwhile.
    void updateAcmeOrder(const std::string& id, const StoredAcmeOrder& order,
                         const std::vector<ParsedKey>& newKeys = {});
    // Forgets the order (not its certificates) and the keys only it used.
    void deleteAcmeOrder(const std::string& id);
    // The ACME accounts: what orders registered (an account key and its URL at the server),
    // by account key id, each with the ids of the orders that use it. Orders share an account
    // (acme::Service gives a new order the account of one with the same server, contact and
    // ca_bundle), and an account lives as long as one of its orders.
    std::map<std::string, std::vector<std::string>> acmeAccounts() const;
    // A stored private key, parsed (an ACME account key or an order's certificate key).
    pki::EvpPkeyPtr acmeKey(const std::string& keyId) const { return loadPrivateKey(keyId); }

    // ---- addresses and bindings
    // Binding changes run a pre-flight check: error findings refuse (CheckFailed) unless
    // `force`; warning findings are returned.
    struct Bound {
        std::vector<pki::Warning> warnings;
        std::vector<std::string> moved; // replaceCertificate: the addresses that moved
    };
    Bound assign(const std::string& address, const std::string& certificateId, bool force = false);
    Bound setAddresses(const std::string& certificateId, const std::vector<std::string>& addresses,
                       bool force = false);
    Bound replaceCertificate(const std::string& oldId, const std::string& newId, bool force = false);
    // Pre-flight findings: hostnames not covered (RFC 6125), the certificate's warnings with
    // a severity, and root-changed for every served address whose root would change.
    std::vector<Finding> check(const std::string& id, const std::vector<std::string>& hostnames) const;
    // Address model: discovery adds and removes; configured ones stay.
    void addressAppeared(const std::string& address);
    void addressVanished(const std::string& address);
    // The configured addresses from now on (a reload): new ones are added; one no longer listed
    // becomes discovered if discovery reports it, else it goes. Its binding stays in the store,
    // as a vanished discovered address's does: listed again, it serves the same certificate.
    // Throws Error(InvalidArgument), changing nothing, when one is not an IP address.
    void setConfiguredAddresses(const std::vector<std::string>& addresses);
    // Records what the terminator reports for an address.
    void setAddressStatus(const std::string& address, tls::ListenerState state, const std::string& error);

    // ---- the terminator, as its supervisor reports it
    TerminatorState terminatorState() const { return terminatorState_; }
    const std::string& terminatorError() const { return terminatorError_; }
    void setTerminatorStatus(TerminatorState state, const std::string& error);

    // ---- durability (ManagerOptions::groupCommit)
    // Transactions staged and not yet durable.
    bool hasStaged() const { return store_.staged() > 0; }
    // Makes everything staged durable together. When that fails (Error(Internal), I/O), the
    // model goes back to the durable state and records what that undid, then the error is
    // rethrown: whoever acted on the staged state (replies) reports the failure.
    void flush();

    // ---- time
    // Re-evaluates time-dependent warnings (the clock moved on).
    void refreshWarnings();
    // When a certificate gains "expiring-soon" from now on (a reload); re-evaluates warnings.
    void setExpiringWithinDays(unsigned days);

private:
    std::uint64_t now() const;
    void loadFromStore();
    // Commits `tx`, or stages it for the next flush() (groupCommit).
    void commit(Store::Transaction&& tx);
    // Back to the store's (durable) state after a failed flush; records what changed.
    void revertToDurable();
    // Drops a certificate and what indexes it; returns its entry.
    CertificateEntry forgetCertificate(const std::string& id);
    // Writes each key's description into the store where it is missing (older stores).
    void cacheKeyDescriptions();
    // Adds a certificate and its facts, unless from the description cache also to that.
    CertificateEntry& addCertificateEntry(const std::string& id, pki::CertificateFacts facts,
                                          const std::array<std::uint8_t, 32>& issuerVerified = {},
                                          bool cached = false);
    CertificateEntry& addCertificateEntry(ParsedCertificate parsed);
    // Queues the entry's facts for the description cache (written by recomputeDerived()).
    void cacheDescription(const CertificateEntry& entry);
    // Appends what cacheDescription() queued, or rewrites the cache when loadFromStore() found
    // it damaged or mostly dead.
    void writeDescriptionCache();
    // The stored certificate, parsed (a staged one reads from memory): the Manager holds none.
    pki::X509Ptr loadCertificate(const std::string& id) const;
    void addKeyEntry(const ParsedKey& parsed);
    void addRequestEntry(const std::string& id, std::string pem);
    // Recomputes key links and chains; warnings only where those changed, for new
    // certificates, or for all when `allWarnings` (time moved on). Records what changed.
    void recomputeDerived(Changes& changes, bool allWarnings = false);
    // Records in the entry (and the cache) the issuer identity a signature check confirmed.
    std::string findIssuer(CertificateEntry& entry);
    pki::EvpPkeyPtr loadPrivateKey(const std::string& keyId) const;
    // commitCreate's two kinds.
    Created commitSelfSigned(PendingCreate& pending);
    Created commitRequest(PendingCreate& pending);
    // Adds the key to the transaction unless stored already; records the change.
    void stageKey(Store::Transaction& tx, const ParsedKey& key, Changes& changes) const;
    const std::string& requireAddress(const std::string& text, std::string& canonical) const;
    void requirePrivateKey(const CertificateEntry& entry) const;
    // A file that holds certificates and a private key that belongs to none of them, nor to a
    // stored certificate or request, is the wrong key file: KeyMismatch naming the key.
    void refuseForeignKeys(const std::vector<ParsedCertificate>& certificates,
                           const std::vector<ParsedKey>& keys) const;
    // Findings for serving `id` on `addresses` (instead of what serves them now); throws
    // CheckFailed on error findings unless `force`; returns the rest as warnings.
    std::vector<pki::Warning> preflight(const std::string& id, const std::vector<std::string>& addresses,
                                        std::vector<Finding> extra, bool force) const;
    std::vector<Finding> findingsOf(const CertificateEntry& entry) const;
    std::vector<Finding> rootChanges(const std::string& id, const std::vector<std::string>& addresses) const;
    // Commits a binding change (unless it changes nothing) and records which addresses moved.
    void commitBindings(Store::Transaction&& tx);
    void markBindingChanges(const StoreState& before, Changes& changes);
    // Removes keys no certificate, request or ACME order uses any more (from the transaction state).
    static void dropUnusedKeys(StoreState& state, const std::set<std::string>& candidates);
    // After a commit that removed entries: forgets them and records what changed.
    void forgetRemoved(const StoreState& before, Changes& changes);
    // Records a mutation's changes for takeChanges().
    void record(const Changes& changes) { pending_.merge(changes); }

    Store& store_;
    ManagerOptions options_;
    DescriptionCache cache_;
    bool rewriteCache_ = false;
    std::map<std::string, CertificateEntry> certificates_;
    std::map<std::string, KeyEntry> keys_;
    std::map<std::string, RequestEntry> requests_;
    std::map<std::string, AddressEntry> addresses_;
    std::set<std::string> discovered_;             // what discovery reports present, configured or not
    std::map<std::string, std::string> keyBySpki_; // spki sha256 -> key id
    std::multimap<unsigned long, std::string> bySubjectHash_; // X509 subject name hash -> certificate id
    std::map<std::string, std::string> issuerOf_;             // certificate id -> issuer id ("" = not found)
    std::map<std::string, std::vector<std::string>> certificatesByKey_; // key id -> certificate ids
    TerminatorState terminatorState_ = TerminatorState::Stopped;
    std::string terminatorError_;
    Changes pending_;
    // Entries that mutations removed since the last settle (takeChanges()), with their stored
    // records: their bus objects read them until that settle retracts them (shown…()), and a
    // failed flush brings back those of staged transactions without reading the store.
    struct Parked {
        std::map<std::string, CertificateEntry> certificates;
        std::map<std::string, KeyEntry> keys;
        std::map<std::string, RequestEntry> requests;
        std::map<std::string, StoredCertificate> storedCertificates;
        std::map<std::string, StoredRequest> storedRequests;
    } parked_;
};

} // namespace certd
