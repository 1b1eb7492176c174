#include "store/store.hpp"

#include "error.hpp"
#include "fs.hpp"
#include "store/journal.hpp"
#include "store/state_codec.hpp"
#include "unique_fd.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <functional>
#include <optional>
#include <utility>

namespace certd {
namespace {

constexpr const char* kStateFile = "state.yaml";
constexpr const char* kJournalFile = "state.journal";
constexpr mode_t kStateMode = 0600;
// The journal is folded into a new state.yaml once it is larger than the snapshot (and than
// this): each change then costs its record plus, amortised, about as much again.
constexpr std::uint64_t kMinJournalCompaction = 64ULL * 1024;
constexpr mode_t kDirectoryMode = 0700;
// A flush that writes this many blob files or more makes them (and their names) durable with
// one syncfs instead of an fsync per file and per directory: cheaper for a big group, but it
// also writes back whatever else is dirty on that file system, so small groups do not.
constexpr std::size_t kSyncFileSystemAt = 4;

enum class Kind : std::size_t { Certificate, Key, Request };
constexpr std::array<Kind, 3> kKinds{Kind::Certificate, Kind::Key, Kind::Request};

struct KindInfo {
    const char* noun;
    const char* directory;
    const char* extension;
    mode_t mode;
};
constexpr std::array<KindInfo, 3> kKindInfo{{
    {"certificate", "certs", ".der", 0644},
    {"key", "keys", ".key", 0600},
    {"request", "requests", ".csr", 0644},
}};

// The index of a kind in per-kind arrays (kKindInfo, Store::stored_).
std::size_t slot(Kind kind)
{
    return static_cast<std::size_t>(kind);
}

const KindInfo& info(Kind kind)
{
    return kKindInfo[slot(kind)];
}

std::string fileName(Kind kind, const std::string& id)
{
    return id + info(kind).extension;
}

// As the operator sees it relative to the store: "certs/<id>.der".
std::string relativePath(Kind kind, const std::string& id)
{
    return std::string(info(kind).directory) + "/" + fileName(kind, id);
}

std::filesystem::path blobDirectory(const std::filesystem::path& store, Kind kind)
{
    return store / info(kind).directory;
}

bool holds(const StoreState& state, Kind kind, const std::string& id)
{
    switch (kind) {
    case Kind::Certificate:
        return state.certificates.contains(id);
    case Kind::Key:
        return state.keys.contains(id);
    case Kind::Request:
        return state.requests.contains(id);
    }
    return false;
}

// Ids of `kind` in the state, in order.
template <typename Fn>
void forEachId(const StoreState& state, Kind kind, Fn&& fn)
{
    const auto visit = [&](const auto& entries) {
        for (const auto& entry : entries)
            fn(entry.first);
    };
    switch (kind) {
    case Kind::Certificate:
        return visit(state.certificates);
    case Kind::Key:
        return visit(state.keys);
    case Kind::Request:
        return visit(state.requests);
    }
}

// The file of a blob the state holds; Error(NotFound) for any other id.
std::filesystem::path heldBlobPath(const StoreState& state, const std::filesystem::path& store, Kind kind,
                                   const std::string& id)
{
    if (!holds(state, kind, id))
        throw Error(ErrorCode::NotFound,
                    std::string("no ") + info(kind).noun + " " + inQuotes(id) + " in the store");
    return blobDirectory(store, kind) / fileName(kind, id);
}

// Entries that name a blob or an entry that is not there, dependencies first, so
// dropping a key also drops the requests made with it. `onBroken` gets a
// description of each before it is erased; commit() throws from it, so that
// nothing is erased there, and open() records it and carries on.
void removeBrokenReferences(StoreState& state, const std::function<bool(Kind, const std::string&)>& hasBlob,
                            const std::function<void(const std::string&)>& onBroken)
{
    const auto missingBlob = [&](Kind kind, const std::string& id) {
        if (hasBlob(kind, id))
            return false;
        onBroken(std::string(info(kind).noun) + " " + inQuotes(id) + ": " + relativePath(kind, id) +
                 " does not exist");
        return true;
    };
    std::erase_if(state.certificates,
                  [&](const auto& entry) { return missingBlob(Kind::Certificate, entry.first); });
    std::erase_if(state.keys, [&](const auto& entry) { return missingBlob(Kind::Key, entry.first); });
    std::erase_if(state.requests, [&](const auto& entry) {
        if (missingBlob(Kind::Request, entry.first))
            return true;
        if (state.keys.contains(entry.second.keyId))
            return false;
        onBroken("request " + inQuotes(entry.first) + ": its key " + inQuotes(entry.second.keyId) +
                 " is not in the store");
        return true;
    });
    std::erase_if(state.bindings, [&](const auto& entry) {
        if (state.certificates.contains(entry.second))
            return false;
        onBroken("binding of " + inQuotes(entry.first) + ": certificate " + inQuotes(entry.second) +
                 " is not in the store");
        return true;
    });
    if (!state.factoryCertificate.empty() && !state.certificates.contains(state.factoryCertificate)) {
        onBroken("factory certificate " + inQuotes(state.factoryCertificate) + " is not in the store");
        state.factoryCertificate.clear();
    }
}

} // namespace

// ---- Transaction ----

void Store::Transaction::putCertificate(const std::string& id, ByteView der)
{
    requireValidId("certificate", id);
    certificates_[id] = Bytes(der.begin(), der.end());
}

void Store::Transaction::putKey(const std::string& id, ByteView pkcs8)
{
    requireValidId("key", id);
    keys_[id] = SecureBytes(pkcs8.begin(), pkcs8.end());
}

void Store::Transaction::putRequest(const std::string& id, std::string_view pem)
{
    requireValidId("request", id);
    requests_[id] = std::string(pem);
}

// ---- Store ----

Store::Store(std::filesystem::path directory, std::optional<KeySeal> seal)
    : directory_(std::move(directory)), seal_(std::move(seal))
{
    ensureDirectory(directory_, kDirectoryMode);
    for (const Kind kind : kKinds)
        ensureDirectory(blobDirectory(directory_, kind), kDirectoryMode);
    scanFiles();
    checkSealedKeys();

    const std::filesystem::path statePath = directory_ / kStateFile;
    struct stat st = {};
    if (::lstat(statePath.c_str(), &st) == 0) {
        const Bytes text = readFile(statePath);
        snapshotBytes_ = text.size();
        state_ = parseState({reinterpret_cast<const char*>(text.data()), text.size()}, statePath.string(),
                            &generation_);
        loadJournal();
    } else if (errno != ENOENT) {
        throw Error(ErrorCode::Internal, "cannot read " + statePath.string() + ": " + std::strerror(errno));
    } else {
        // A state.yaml is written before any blob, so blobs without one mean it
        // was lost, not that a first commit was interrupted.
        std::size_t blobs = 0;
        for (const auto& ids : stored_)
            blobs += ids.size();
        if (blobs > 0)
            throw Error(ErrorCode::Internal,
                        statePath.string() + " is missing but the store holds " + std::to_string(blobs) +
                            " keys, certificates and requests; restore state.yaml from a "
                            "backup, or move the store away to start empty");
        const std::string text = serializeState(state_, generation_);
        writeFileAtomic(directory_, kStateFile, asBytes(text), kStateMode);
        snapshotBytes_ = text.size();
        removeFileDurably(directory_, kJournalFile);
    }

    // Dropped entries stay in the files (an operator may restore the blob); the next flush
    // writes a state.yaml without them, so that no journal record has to name them.
    const std::size_t reported = loadReport_.size();
    removeBrokenReferences(
        state_, [&](Kind kind, const std::string& id) { return stored_[slot(kind)].contains(id); },
        [&](const std::string& problem) { loadReport_.push_back("dropped " + problem); });
    snapshotNext_ = snapshotNext_ || loadReport_.size() != reported;
    removeUnreferenced(&loadReport_);
    sealPlainKeys();
}

void Store::checkSealedKeys()
{
    std::size_t sealed = 0;
    for (const auto& id : stored_[slot(Kind::Key)]) {
        const SecureBytes data =
            readSecretFile(blobDirectory(directory_, Kind::Key) / fileName(Kind::Key, id));
        if (!KeySeal::isSealed(data)) {
            plainKeys_.push_back(id);
            continue;
        }
        ++sealed;
        if (seal_)
            seal_->open(id, data); // throws, naming the file, when this KEK does not open it
    }
    if (sealed > 0 && !seal_)
        throw Error(
            ErrorCode::Internal,
            std::to_string(sealed) + " key file(s) in " + (directory_ / "keys").string() +
                " are sealed and certd has no key-encryption key: give it the credential " +
                kKeyEncryptionCredential +
                " (LoadCredentialEncrypted= in certd.service; docs/security.md). Nothing was changed");
}

void Store::sealPlainKeys()
{
    if (!seal_ || plainKeys_.empty())
        return;
    const std::filesystem::path directory = blobDirectory(directory_, Kind::Key);
    std::size_t sealed = 0;
    for (const auto& id : plainKeys_) {
        if (!stored_[slot(Kind::Key)].contains(id))
            continue; // removed as unreferenced
        const SecureBytes plain =
            readSecretFile(blobDirectory(directory_, Kind::Key) / fileName(Kind::Key, id));
        // Each file replaced atomically (temp file, fsync, rename): plain or sealed, never neither.
        writeFileAtomic(directory, fileName(Kind::Key, id), seal_->seal(id, plain), info(Kind::Key).mode,
                        SyncDirectory::Later);
        ++sealed;
    }
    syncDirectory(directory);
    plainKeys_.clear();
    if (sealed > 0)
        loadReport_.push_back("sealed " + std::to_string(sealed) +
                              " plain key file(s) under the key-encryption key (credential " +
                              kKeyEncryptionCredential + ")");
}

void Store::loadJournal()
{
    const std::filesystem::path path = directory_ / kJournalFile;
    struct stat st = {};
    if (::lstat(path.c_str(), &st) != 0) {
        if (errno == ENOENT)
            return;
        throw Error(ErrorCode::Internal, "cannot read " + path.string() + ": " + std::strerror(errno));
    }
    const Bytes data = readFile(path);
    const JournalContents contents = decodeJournal(data);
    std::size_t applied = 0;
    std::size_t stale = 0;
    for (const JournalRecord& record : contents.records) {
        if (record.generation != generation_) {
            ++stale;
            continue;
        }
        applyDelta(state_, parseDelta(record.payload, path.string()));
        ++applied;
    }
    if (applied > 0) {
        try {
            validateState(state_);
        } catch (const Error& e) {
            throw Error(ErrorCode::Internal,
                        path.string() + ": " + e.what() +
                            "; repair or remove the file, or restore the store from a backup");
        }
    }
    if (contents.intactBytes < data.size())
        loadReport_.push_back("removed an incomplete record (" +
                              std::to_string(data.size() - contents.intactBytes) +
                              " bytes) from the end of " + kJournalFile + " (left by an interrupted write)");
    if (stale > 0)
        loadReport_.push_back("removed " + std::to_string(stale) + " records of " + kJournalFile +
                              " already in " + kStateFile + " (left by an interrupted compaction)");

    // Fold the journal into state.yaml now: it starts empty, and a torn tail is gone.
    try {
        if (applied > 0)
            writeSnapshot();
        else
            removeFileDurably(directory_, kJournalFile);
        journalBytes_ = 0;
    } catch (const Error& e) {
        // A read-only store still opens; the next flush writes a state.yaml of a new
        // generation, which leaves this journal behind whatever it holds.
        loadReport_.push_back(e.what());
        snapshotNext_ = true;
    }
}

void Store::writeSnapshot()
{
    const std::string text = serializeState(state_, generation_ + 1);
    writeFileAtomic(directory_, kStateFile, asBytes(text), kStateMode);
    // From here the journal's records are of an older generation: ignored if it survives.
    ++generation_;
    snapshotBytes_ = text.size();
    journalBytes_ = 0;
    snapshotNext_ = false;
    ++counters_.snapshots;
    try {
        removeFile(directory_, kJournalFile);
    } catch (const Error&) {
        // Harmless: the next append truncates it, and open ignores its generation.
    }
}

void Store::appendJournal(const Bytes& record)
{
    const std::filesystem::path path = directory_ / kJournalFile;
    const auto failed = [&](int error) {
        throw Error(ErrorCode::Internal, "cannot write " + path.string() + ": " + std::strerror(error));
    };
    const UniqueFd dir(::open(directory_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!dir)
        failed(errno);
    const bool fresh = journalBytes_ == 0;
    // Opened per append, not held: a held writable descriptor would keep the file system
    // from being remounted read-only.
    UniqueFd fd(::openat(dir.get(), kJournalFile,
                         O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW | (fresh ? O_TRUNC : 0), kStateMode));
    if (!fd)
        failed(errno);
    int error = 0;
    if (fresh && ::fchmod(fd.get(), kStateMode) != 0)
        error = errno;
    std::size_t done = 0;
    while (error == 0 && done < record.size()) {
        const ssize_t n = ::pwrite(fd.get(), record.data() + done, record.size() - done,
                                   static_cast<off_t>(journalBytes_ + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            error = n < 0 ? errno : EIO;
        else
            done += static_cast<std::size_t>(n);
    }
    if (error == 0 && ::fdatasync(fd.get()) != 0)
        error = errno;
    // A new file's name is durable only with its directory.
    if (error == 0 && fresh && ::fsync(dir.get()) != 0)
        error = errno;
    if (error != 0) {
        // Cut the journal back, so that the next record follows the last good one; if even
        // that fails, the next flush writes a new state.yaml, which leaves the journal behind.
        const bool restored = fresh ? ::unlinkat(dir.get(), kJournalFile, 0) == 0
                                    : ::ftruncate(fd.get(), static_cast<off_t>(journalBytes_)) == 0;
        if (!restored)
            snapshotNext_ = true;
        failed(error);
    }
    journalBytes_ += record.size();
    ++counters_.journalRecords;
}

void Store::scanFiles()
{
    // Each location: the directory (relative to the store) and the blob kind it holds.
    std::vector<std::pair<std::string, std::optional<Kind>>> locations{{"", std::nullopt}};
    for (const Kind kind : kKinds)
        locations.emplace_back(info(kind).directory, kind);

    for (const auto& [relative, kind] : locations) {
        const std::filesystem::path directory = relative.empty() ? directory_ : directory_ / relative;
        const std::string prefix = relative.empty() ? "" : relative + "/";
        std::error_code ec;
        std::filesystem::directory_iterator it(directory, ec);
        bool removed = false;
        for (; !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
            const std::string name = it->path().filename().string();
            if (name.starts_with(kTempPrefix)) {
                try {
                    removed |= removeFile(directory, name);
                    loadReport_.push_back("removed temporary file " + prefix + name +
                                          " (left by an interrupted write)");
                } catch (const Error& e) {
                    loadReport_.push_back(e.what());
                }
                continue;
            }
            if (kind) {
                const std::string extension = info(*kind).extension;
                const std::string id = name.size() > extension.size() && name.ends_with(extension)
                                           ? name.substr(0, name.size() - extension.size())
                                           : std::string();
                std::error_code typeError;
                if (isValidId(id) &&
                    it->symlink_status(typeError).type() == std::filesystem::file_type::regular) {
                    stored_[slot(*kind)].insert(id);
                    continue;
                }
            } else if (name == kStateFile || name == kJournalFile || name == kCacheFile ||
                       std::any_of(kKindInfo.begin(), kKindInfo.end(),
                                   [&](const KindInfo& k) { return name == k.directory; })) {
                continue;
            }
            loadReport_.push_back("left unexpected file " + prefix + name + " alone");
        }
        if (ec)
            throw Error(ErrorCode::Internal,
                        "cannot read directory " + directory.string() + ": " + ec.message());
        if (removed)
            syncDirectory(directory);
    }
}

void Store::removeUnreferenced(std::vector<std::string>* report)
{
    for (const Kind kind : kKinds) {
        auto& ids = stored_[slot(kind)];
        const std::filesystem::path directory = blobDirectory(directory_, kind);
        bool removed = false;
        for (auto it = ids.begin(); it != ids.end();) {
            if (holds(state_, kind, *it)) {
                ++it;
                continue;
            }
            try {
                removeFile(directory, fileName(kind, *it));
                removed = true;
                if (report)
                    report->push_back("removed unreferenced " + std::string(info(kind).noun) + " file " +
                                      relativePath(kind, *it));
                it = ids.erase(it);
            } catch (const Error& e) {
                if (report)
                    report->push_back(e.what());
                ++it;
            }
        }
        try {
            // After a flush, not synced: the record that dropped the blob is durable, so a
            // file that comes back after a crash is unreferenced, and removed at the next open.
            if (removed && report)
                syncDirectory(directory);
        } catch (const Error& e) {
            if (report)
                report->push_back(e.what());
        }
    }
}

void Store::commit(Transaction&& transaction)
{
    stage(std::move(transaction));
    if (!deferred_)
        flush();
}

void Store::stage(Transaction&& transaction)
{
    if (transaction.base_ != version_)
        throw Error(ErrorCode::Internal,
                    "a store transaction was begun before another was staged; begin again");
    StoreState& next = transaction.state_;
    validateState(next);
    if (seal_)
        for (auto& [id, pkcs8] : transaction.keys_)
            pkcs8 = seal_->seal(id, pkcs8); // written (and staged) sealed; keyPkcs8() opens it

    // The blobs of the transaction, by kind and id.
    std::array<std::map<std::string, ByteView>, 3> puts;
    for (const auto& [id, der] : transaction.certificates_)
        puts[slot(Kind::Certificate)].emplace(id, der);
    for (const auto& [id, pkcs8] : transaction.keys_)
        puts[slot(Kind::Key)].emplace(id, pkcs8);
    for (const auto& [id, pem] : transaction.requests_)
        puts[slot(Kind::Request)].emplace(id, asBytes(pem));

    removeBrokenReferences(
        next,
        [&](Kind kind, const std::string& id) {
            return stored_[slot(kind)].contains(id) || stagedBlobs_[slot(kind)].contains(id) ||
                   puts[slot(kind)].contains(id);
        },
        [](const std::string& problem) { throw Error(ErrorCode::InvalidArgument, problem); });

    // Only blobs the new state names, not stored yet nor staged by an earlier transaction.
    for (const Kind kind : kKinds)
        for (const auto& [id, data] : puts[slot(kind)])
            if (holds(next, kind, id) && !stored_[slot(kind)].contains(id))
                stagedBlobs_[slot(kind)].emplace(id, data);
    if (durable_)
        state_ = std::move(next);
    else
        durable_ = std::exchange(state_, std::move(next));
    // The views in stagedBlobs_ point into the maps' nodes, which a move leaves in place.
    transaction.state_ = StoreState{};
    stagedData_.push_back(std::move(transaction));
    ++staged_;
    ++version_;
}

void Store::discardStaged()
{
    if (!durable_)
        return;
    state_ = std::move(*durable_);
    durable_.reset();
    for (auto& blobs : stagedBlobs_)
        blobs.clear();
    stagedData_.clear();
    staged_ = 0;
    ++version_;
}

void Store::compact()
{
    snapshotNext_ = true;
    if (!durable_)
        durable_ = state_; // nothing staged: a flush of no change, which writes the snapshot
    flush();
}

void Store::flush()
{
    if (!durable_)
        return;
    try {
        // Blobs before the record that names them: a crash in between leaves orphans,
        // which the next open removes. One fsync per file and one per directory; a group
        // with many files writes them all, then makes them durable with one syncfs.
        const auto isNew = [&](Kind kind, const std::string& id) {
            return !stored_[slot(kind)].contains(id) && holds(state_, kind, id);
        };
        std::size_t newBlobs = 0;
        for (const Kind kind : kKinds)
            for (const auto& item : stagedBlobs_[slot(kind)])
                newBlobs += isNew(kind, item.first) ? 1 : 0;
        const bool oneSync = newBlobs >= kSyncFileSystemAt;
        for (const Kind kind : kKinds) {
            bool written = false;
            for (const auto& [id, data] : stagedBlobs_[slot(kind)]) {
                if (!isNew(kind, id))
                    continue;
                writeFileAtomic(blobDirectory(directory_, kind), fileName(kind, id), data, info(kind).mode,
                                oneSync ? SyncDirectory::WithFileSystem : SyncDirectory::Later);
                stored_[slot(kind)].insert(id);
                written = true;
            }
            if (written && !oneSync)
                syncDirectory(blobDirectory(directory_, kind));
        }
        if (oneSync) {
            syncFileSystem(directory_);
            ++counters_.fileSystemSyncs;
        }
        const StateDelta delta = diffStates(*durable_, state_);
        if (!delta.empty() || snapshotNext_) {
            const Bytes record =
                delta.empty() ? Bytes{} : encodeJournalRecord(generation_, serializeDelta(delta));
            if (snapshotNext_ ||
                journalBytes_ + record.size() > std::max(kMinJournalCompaction, snapshotBytes_))
                writeSnapshot();
            else
                appendJournal(record);
        }
    } catch (...) {
        discardStaged();
        throw;
    }
    durable_.reset();
    for (auto& blobs : stagedBlobs_)
        blobs.clear();
    stagedData_.clear();
    staged_ = 0;
    // The flush is durable; failing to remove a blob now must not undo that.
    removeUnreferenced(nullptr);
}

const ByteView* Store::stagedBlob(std::size_t kind, const std::string& id) const
{
    const auto it = stagedBlobs_[kind].find(id);
    return it == stagedBlobs_[kind].end() || stored_[kind].contains(id) ? nullptr : &it->second;
}

Bytes Store::certificateDer(const std::string& id) const
{
    const auto path = heldBlobPath(state_, directory_, Kind::Certificate, id);
    if (const ByteView* staged = stagedBlob(slot(Kind::Certificate), id))
        return {staged->begin(), staged->end()};
    return readFile(path);
}

SecureBytes Store::keyPkcs8(const std::string& id) const
{
    const auto path = heldBlobPath(state_, directory_, Kind::Key, id);
    SecureBytes data;
    if (const ByteView* staged = stagedBlob(slot(Kind::Key), id))
        data.assign(staged->begin(), staged->end());
    else
        data = readSecretFile(path);
    if (!KeySeal::isSealed(data))
        return data;
    if (!seal_)
        throw Error(ErrorCode::Internal, path.string() + " is sealed and certd has no key-encryption key");
    return seal_->open(id, data);
}

std::string Store::requestPem(const std::string& id) const
{
    const auto path = heldBlobPath(state_, directory_, Kind::Request, id);
    if (const ByteView* staged = stagedBlob(slot(Kind::Request), id))
        return {staged->begin(), staged->end()};
    const Bytes pem = readFile(path);
    return std::string(pem.begin(), pem.end());
}

} // namespace certd
