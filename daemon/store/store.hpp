#pragma once

// The durable store (DESIGN §5). It knows files and state, nothing of D-Bus
// and nothing of X.509: callers hand it ids and bytes.
//
// Layout of the directory (0700; keys/, certs/, requests/ 0700 too):
//   keys/<id>.key       PKCS#8 DER, 0600 from creation
//   certs/<id>.der      DER, 0644 (public data; the 0700 directory keeps others out)
//   requests/<id>.csr   PEM, 0644
//   state.yaml          everything else, 0600: a snapshot, continued by
//   state.journal       one record per flush (the entries it set and removed), 0600; replayed
//                       over state.yaml at open, then folded into a new state.yaml
//   certificates.cache  not the store's: the Manager's cache of certificate descriptions
//                       (manager/description_cache.hpp); never read here, left alone
// Ids are 1 to 128 of [A-Za-z0-9_-] (hex digests qualify), so never a path.
//
// Group commit: stage() several transactions, then one flush() makes them all durable with
// one fsync per new blob file, one per blob directory written to and one fdatasync of the
// journal, whatever the number of transactions. commit() is stage() + flush().

#include "bytes.hpp"
#include "secure_memory.hpp"
#include "store/key_seal.hpp"
#include "store/state.hpp"

#include <array>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
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
        Transaction(StoreState state, std::uint64_t base) : state_(std::move(state)), base_(base) {}
        StoreState state_;
        std::uint64_t base_; // Store::version_ at begin()
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
    //
    // With `seal` (a key-encryption key, store/key_seal.hpp) every key file is sealed: plain ones
    // found at open are sealed then (each file atomically: a crash leaves each plain or sealed,
    // both readable), and new ones are written sealed. Before anything is written, every sealed
    // key file must open: without `seal`, or with one that does not open them, open throws
    // Error(Internal) saying so and changes nothing.
    explicit Store(std::filesystem::path directory, std::optional<KeySeal> seal = std::nullopt);

    // The file the Manager keeps beside the store (see the layout above).
    static constexpr const char* kCacheFile = "certificates.cache";

    const std::filesystem::path& directory() const { return directory_; }
    // The state as of the last staged transaction: durable once flush() has returned.
    const StoreState& state() const { return state_; }
    // Transactions staged since the last flush().
    std::size_t staged() const { return staged_; }
    // What open cleaned up or dropped, one line each, for the journal.
    const std::vector<std::string>& loadReport() const { return loadReport_; }

    // Error(NotFound) for an id the state does not hold. A staged blob reads from memory.
    Bytes certificateDer(const std::string& id) const;
    SecureBytes keyPkcs8(const std::string& id) const;
    std::string requestPem(const std::string& id) const;

    // A transaction on state(), staged ones included. Stage or commit it before the next
    // transaction is staged: one begun earlier is refused (Error(Internal)), as it would undo
    // what was staged in between.
    Transaction begin() const { return {state_, version_}; }
    // Makes the transaction durable: stage() then flush() (only stage() while deferred()).
    // Returns only when durable.
    // Throws what stage() and flush() throw; on any error the previous state stays, on
    // disk and here (and so does nothing else that was staged: see flush()).
    void commit(Transaction&& transaction);
    // Checks the transaction and queues it: state() shows it at once, begin() builds on it,
    // nothing is written until flush(). Throws Error(InvalidArgument) if the new state references
    // a blob that neither exists nor is in the transaction, a binding or the
    // factory certificate naming an absent certificate, a request naming an
    // absent key, a malformed id, an unknown chain mode or request state, or
    // text that is not UTF-8; Error(Internal) on I/O failure; in both cases the
    // previous state stays, on disk and here. (A manual chain or a completed
    // request may name a certificate since removed; readers handle that.)
    // A refused transaction changes nothing, staged ones stay staged.
    void stage(Transaction&& transaction);
    // Makes everything staged durable together: the new blobs (each written, fsynced and
    // renamed, then one fsync per directory), then one journal record for the whole group
    // (one fdatasync), or a new state.yaml when the journal has grown past the snapshot.
    // Then removes blobs no longer referenced. Does nothing if nothing is staged. On
    // Error(Internal) (I/O) every staged transaction is dropped: state() is the durable state
    // again, and whoever acted on a staged state (the Manager's model, replies) must undo that.
    void flush();
    // Drops every staged transaction without writing anything; state() is the durable one again.
    void discardStaged();
    // flush(), writing a new state.yaml (and dropping the journal) instead of a journal record.
    void compact();
    // While deferred, commit() only stages, and whoever deferred calls flush(): group commit
    // for code that commits (the Manager's mutations) without changing it. Flush before
    // anything acts on the staged state outside certd (replies, the terminator, signals).
    void setDeferred(bool deferred) { deferred_ = deferred; }
    bool deferred() const { return deferred_; }

    // What the store wrote, for tests and benchmarks: journal appends and snapshots (state.yaml).
    struct Counters {
        std::uint64_t journalRecords = 0;
        std::uint64_t snapshots = 0;
        std::uint64_t fileSystemSyncs = 0; // flushes that made their blobs durable with one syncfs
    };
    const Counters& counters() const { return counters_; }
    std::uint64_t journalBytes() const { return journalBytes_; }

private:
    // Lists the blob directories into stored_, removing temporary files.
    void scanFiles();
    // Reads every key file: each sealed one must open with seal_ (none may be sealed without
    // one); remembers the plain ones for sealPlainKeys(). Writes nothing.
    void checkSealedKeys();
    // With seal_: seals the plain key files checkSealedKeys() found (those still stored).
    void sealPlainKeys();
    // Replays state.journal over state_ (the snapshot) and folds it into a new state.yaml.
    void loadJournal();
    // Writes state_ as a new state.yaml of the next generation, then drops the journal.
    void writeSnapshot();
    // Appends one record (fdatasync); on failure the journal is cut back to what it held.
    void appendJournal(const Bytes& record);
    // The blob of `kind` and id staged since the last flush, if any.
    const ByteView* stagedBlob(std::size_t kind, const std::string& id) const;
    // Removes the stored blobs state_ does not name; failures go to `report`
    // (if given) and the blobs stay listed, to be retried by the next commit.
    void removeUnreferenced(std::vector<std::string>* report);

    std::filesystem::path directory_;
    std::optional<KeySeal> seal_;
    std::vector<std::string> plainKeys_; // key files found unsealed at open
    StoreState state_;                   // with staged transactions
    std::optional<StoreState> durable_;  // while something is staged: the state on disk
    std::uint64_t version_ = 0;          // counts stages and roll-backs, to refuse stale transactions
    std::size_t staged_ = 0;
    // Blobs of staged transactions not yet written, per kind; views into stagedData_.
    std::array<std::map<std::string, ByteView>, 3> stagedBlobs_;
    std::vector<Transaction> stagedData_;
    std::vector<std::string> loadReport_;
    // Ids whose blob file exists, per kind (certificates, keys, requests).
    std::array<std::set<std::string>, 3> stored_;
    std::uint64_t generation_ = 0;    // of state.yaml, and of the journal records that follow it
    std::uint64_t journalBytes_ = 0;  // intact length of state.journal (0: absent)
    std::uint64_t snapshotBytes_ = 0; // size of state.yaml
    bool snapshotNext_ = false;       // the next flush writes state.yaml, not a journal record
    bool deferred_ = false;
    Counters counters_;
};

} // namespace certd
