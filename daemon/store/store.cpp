#include "store/store.hpp"

#include "error.hpp"
#include "fs.hpp"
#include "store/state_codec.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <functional>
#include <optional>

namespace certd {
namespace {

constexpr const char* kStateFile = "state.yaml";
constexpr mode_t kStateMode = 0600;
constexpr mode_t kDirectoryMode = 0700;

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

Store::Store(std::filesystem::path directory) : directory_(std::move(directory))
{
    ensureDirectory(directory_, kDirectoryMode);
    for (const Kind kind : kKinds)
        ensureDirectory(blobDirectory(directory_, kind), kDirectoryMode);
    scanFiles();

    const std::filesystem::path statePath = directory_ / kStateFile;
    struct stat st = {};
    if (::lstat(statePath.c_str(), &st) == 0) {
        const Bytes text = readFile(statePath);
        state_ = parseState({reinterpret_cast<const char*>(text.data()), text.size()}, statePath.string());
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
        writeFileAtomic(directory_, kStateFile, asBytes(serializeState(state_)), kStateMode);
    }

    removeBrokenReferences(
        state_, [&](Kind kind, const std::string& id) { return stored_[slot(kind)].contains(id); },
        [&](const std::string& problem) { loadReport_.push_back("dropped " + problem); });
    removeUnreferenced(&loadReport_);
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
            } else if (name == kStateFile ||
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
            if (removed)
                syncDirectory(directory);
        } catch (const Error& e) {
            if (report)
                report->push_back(e.what());
        }
    }
}

void Store::commit(Transaction&& transaction)
{
    StoreState next = std::move(transaction.state_);
    validateState(next);

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
            return stored_[slot(kind)].contains(id) || puts[slot(kind)].contains(id);
        },
        [](const std::string& problem) { throw Error(ErrorCode::InvalidArgument, problem); });

    // Blobs before the state that names them: a crash in between leaves
    // orphans, which the next open removes.
    for (const Kind kind : kKinds) {
        auto& stored = stored_[slot(kind)];
        for (const auto& [id, data] : puts[slot(kind)]) {
            if (stored.contains(id) || !holds(next, kind, id))
                continue;
            writeFileAtomic(blobDirectory(directory_, kind), fileName(kind, id), data, info(kind).mode);
            stored.insert(id);
        }
    }
    writeFileAtomic(directory_, kStateFile, asBytes(serializeState(next)), kStateMode);
    state_ = std::move(next);
    // The commit is durable; failing to remove a blob now must not undo that.
    removeUnreferenced(nullptr);
}

Bytes Store::certificateDer(const std::string& id) const
{
    return readFile(heldBlobPath(state_, directory_, Kind::Certificate, id));
}

SecureBytes Store::keyPkcs8(const std::string& id) const
{
    return readSecretFile(heldBlobPath(state_, directory_, Kind::Key, id));
}

std::string Store::requestPem(const std::string& id) const
{
    const Bytes pem = readFile(heldBlobPath(state_, directory_, Kind::Request, id));
    return std::string(pem.begin(), pem.end());
}

} // namespace certd
