#pragma once

#include "bytes.hpp"
#include "secure_memory.hpp"

#include <sys/types.h>

#include <filesystem>
#include <string>

namespace certd {

// Prefix of the temporary files writeFileAtomic() creates; load-time cleanup removes them.
inline constexpr std::string_view kTempPrefix = ".tmp-";

// Writes `data` to directory/name so that a crash at any instant leaves either
// the old file or the new one: temp file in the same directory (O_EXCL, final
// `mode` from creation), write, fsync, rename, fsync the directory.
// Throws Error(Internal) with the path and errno text; the old file is intact.
// With SyncDirectory::Later the rename is not yet durable: the caller fsyncs the directory
// once for several files (syncDirectory()) before anything may rely on them. With
// SyncDirectory::WithFileSystem neither the file nor its name is: the caller makes many files
// durable at once with syncFileSystem().
enum class SyncDirectory { Now, Later, WithFileSystem };
void writeFileAtomic(const std::filesystem::path& directory, const std::string& name, ByteView data,
                     mode_t mode, SyncDirectory sync = SyncDirectory::Now);

// Reads a whole file; throws Error(Internal) naming the path.
Bytes readFile(const std::filesystem::path& path);
SecureBytes readSecretFile(const std::filesystem::path& path);

// Removes directory/name (if present) and fsyncs the directory.
void removeFileDurably(const std::filesystem::path& directory, const std::string& name);
// Removes directory/name without syncing (batch removals, then one syncDirectory()).
// Returns false if it was not there; throws Error(Internal) on any other failure.
bool removeFile(const std::filesystem::path& directory, const std::string& name);

// Creates the directory (and parents) with `mode` if missing; throws Error(Internal).
void ensureDirectory(const std::filesystem::path& directory, mode_t mode);

// fsync(2) of a directory.
void syncDirectory(const std::filesystem::path& directory);
// syncfs(2) of the file system holding `directory`: every file written there, and every
// name, is durable once it returns (it also writes back other dirty data of that file system).
void syncFileSystem(const std::filesystem::path& directory);

} // namespace certd
