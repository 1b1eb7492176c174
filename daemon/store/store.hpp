#pragma once

// The durable store (DESIGN §5). It knows files and state, nothing of D-Bus
// and nothing of X.509: callers hand it ids and bytes.
//
// Layout of the directory (0700; keys/, certs/, requests/ 0700 too):
//   keys/<id>.key       PKCS#8 DER, 0600 from creation
//   certs/<id>.der      DER, 0644 (public data; the 0700 directory keeps others out)
//   requests/<id>.csr   PEM, 0644
//   state.yaml          everything else, 0600
// Ids are 1 to 128 of [A-Za-z0-9_-] (hex digests qualify), so never a path.

#include "bytes.hpp"
#include "secure_memory.hpp"
#include "store/state.hpp"

#include <array>
#include <cstdint>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace certd {

class Store {
public:
    // A set of changes applied all at once by commit().
    class Transaction {
    public:
        // The state as it will be after commit; edit freely.
        StoreState& state() { return state_; }
        // The data of a blob the new state names. Ids name content: a blob whose
        // id is already stored is not rewritten, and one the new state does not
        // name is not written. Throw Error(InvalidArgument) for a malformed id.
        void putCertificate(const std::string& id, ByteView der);
        void putKey(const std::string& id, ByteView pkcs8);
        void putRequest(const std::string& id, std::string_view pem);

    private:
        friend class Store;
        explicit Transaction(StoreState state) : state_(std::move(state)) {}
        StoreState state_;
        std::map<std::string, Bytes> certificates_;
        std::map<std::string, SecureBytes> keys_;
        std::map<std::string, std::string> requests_;
    };

    // Opens (creating, mode 0700) the store in `directory`: loads state.yaml,
    // removes temp files and blobs that state.yaml does not reference, and
    // drops (from memory) entries whose blob is missing, and what depended on them.
    // Throws Error(Internal) on an unreadable store, naming the file and why;
    // also when state.yaml is missing beside stored blobs (a lost state file
    // is not an empty store: restore it rather than have the blobs deleted).
    explicit Store(std::filesystem::path directory);

    const std::filesystem::path& directory() const { return directory_; }
    const StoreState& state() const { return state_; }
    // What open cleaned up or dropped, one line each, for the journal.
    const std::vector<std::string>& loadReport() const { return loadReport_; }

    // Error(NotFound) for an id the state does not hold.
    Bytes certificateDer(const std::string& id) const;
    SecureBytes keyPkcs8(const std::string& id) const;
    std::string requestPem(const std::string& id) const;

    Transaction begin() const { return Transaction(state_); }
    // Makes the transaction durable: blobs first (keys 0600), then state.yaml,
    // then removal of blobs the new state no longer references. Returns only
    // when durable. Throws Error(InvalidArgument) if the new state references
    // a blob that neither exists nor is in the transaction, a binding or the
    // factory certificate naming an absent certificate, a request naming an
    // absent key, a malformed id, an unknown chain mode or request state, or
    // text that is not UTF-8; Error(Internal) on I/O failure; in both cases the
    // previous state stays, on disk and here. (A manual chain or a completed
    // request may name a certificate since removed; readers handle that.)
    void commit(Transaction&& transaction);

private:
    // Lists the blob directories into stored_, removing temporary files.
    void scanFiles();
    // Removes the stored blobs state_ does not name; failures go to `report`
    // (if given) and the blobs stay listed, to be retried by the next commit.
    void removeUnreferenced(std::vector<std::string>* report);

    std::filesystem::path directory_;
    StoreState state_;
    std::vector<std::string> loadReport_;
    // Ids whose blob file exists, per kind (certificates, keys, requests).
    std::array<std::set<std::string>, 3> stored_;
};

} // namespace certd
