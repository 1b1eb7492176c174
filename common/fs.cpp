#include "fs.hpp"

#include "error.hpp"
#include "unique_fd.hpp"

#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace certd {
namespace {

[[noreturn]] void throwErrno(const std::string& what, const std::filesystem::path& path, int error)
{
    throw Error(ErrorCode::Internal, what + " " + path.string() + ": " + std::strerror(error));
}

// `what` and `subject` name the failure: "cannot write /x/state.yaml: ...".
UniqueFd openDirectory(const std::filesystem::path& directory, const std::string& what,
                       const std::filesystem::path& subject)
{
    UniqueFd fd(::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd)
        throwErrno(what, subject, errno);
    return fd;
}

// getrandom() rather than a PRNG, whose state a forked child would share with its parent.
std::string tempName(const std::filesystem::path& target)
{
    std::uint8_t random[8] = {};
    if (::getrandom(random, sizeof(random), 0) != static_cast<ssize_t>(sizeof(random)))
        throwErrno("cannot write", target, errno);
    return std::string(kTempPrefix) + toHex(random);
}

// 0 on success, else the errno of the first failure.
int writeAll(int fd, ByteView data)
{
    while (!data.empty()) {
        const ssize_t n = ::write(fd, data.data(), data.size());
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return errno;
        }
        if (n == 0)
            return EIO;
        data = data.subspan(static_cast<std::size_t>(n));
    }
    return 0;
}

template <typename Buffer>
Buffer readWhole(const std::filesystem::path& path)
{
    const UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
    if (!fd)
        throwErrno("cannot read", path, errno);
    struct stat st = {};
    if (::fstat(fd.get(), &st) != 0)
        throwErrno("cannot read", path, errno);
    // The size is a hint only; read until end of file, growing as needed, so
    // the buffer (a wiping one for secrets) is never reallocated when it is right.
    Buffer out(static_cast<std::size_t>(st.st_size) + 1);
    std::size_t used = 0;
    for (;;) {
        if (used == out.size())
            out.resize(out.size() * 2 + 4096);
        const ssize_t n = ::read(fd.get(), out.data() + used, out.size() - used);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            throwErrno("cannot read", path, errno);
        }
        if (n == 0)
            break;
        used += static_cast<std::size_t>(n);
    }
    out.resize(used);
    return out;
}

} // namespace

void writeFileAtomic(const std::filesystem::path& directory, const std::string& name, ByteView data,
                     mode_t mode, SyncDirectory sync)
{
    const std::filesystem::path target = directory / name;
    const UniqueFd dir = openDirectory(directory, "cannot write", target);

    std::string temp;
    UniqueFd file;
    for (int attempt = 0; !file; ++attempt) {
        temp = tempName(target);
        // The final mode from creation: a key is never readable by others, not even briefly.
        file.reset(
            ::openat(dir.get(), temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode));
        if (!file && (errno != EEXIST || attempt == 16))
            throwErrno("cannot write", target, errno);
    }

    int error = 0;
    // fchmod: the umask may have narrowed the mode given to openat().
    if (::fchmod(file.get(), mode) != 0)
        error = errno;
    if (error == 0)
        error = writeAll(file.get(), data);
    if (error == 0 && sync != SyncDirectory::WithFileSystem && ::fsync(file.get()) != 0)
        error = errno;
    if (error == 0 && ::close(file.release()) != 0)
        error = errno;
    if (error == 0 && ::renameat(dir.get(), temp.c_str(), dir.get(), name.c_str()) != 0)
        error = errno;
    if (error != 0) {
        ::unlinkat(dir.get(), temp.c_str(), 0);
        throwErrno("cannot write", target, error);
    }
    if (sync == SyncDirectory::Now && ::fsync(dir.get()) != 0)
        throwErrno("cannot write", target, errno);
}

Bytes readFile(const std::filesystem::path& path)
{
    return readWhole<Bytes>(path);
}

SecureBytes readSecretFile(const std::filesystem::path& path)
{
    return readWhole<SecureBytes>(path);
}

bool removeFile(const std::filesystem::path& directory, const std::string& name)
{
    const std::filesystem::path path = directory / name;
    if (::unlink(path.c_str()) == 0)
        return true;
    if (errno == ENOENT)
        return false;
    throwErrno("cannot remove", path, errno);
}

void removeFileDurably(const std::filesystem::path& directory, const std::string& name)
{
    if (removeFile(directory, name))
        syncDirectory(directory);
}

void ensureDirectory(const std::filesystem::path& directory, mode_t mode)
{
    std::filesystem::path partial;
    for (const auto& component : directory) {
        partial /= component;
        struct stat st = {};
        if (::stat(partial.c_str(), &st) == 0) {
            if (!S_ISDIR(st.st_mode))
                throwErrno("cannot create directory", partial, ENOTDIR);
            continue;
        }
        if (errno != ENOENT || ::mkdir(partial.c_str(), mode) != 0)
            throwErrno("cannot create directory", partial, errno);
        // mkdir() applies the umask: make the mode exact, and the new entry durable.
        if (::chmod(partial.c_str(), mode) != 0)
            throwErrno("cannot create directory", partial, errno);
        syncDirectory(partial.has_parent_path() ? partial.parent_path() : std::filesystem::path("."));
    }
}

void syncDirectory(const std::filesystem::path& directory)
{
    const UniqueFd fd = openDirectory(directory, "cannot sync directory", directory);
    if (::fsync(fd.get()) != 0)
        throwErrno("cannot sync directory", directory, errno);
}

void syncFileSystem(const std::filesystem::path& directory)
{
    const UniqueFd fd = openDirectory(directory, "cannot sync the file system of", directory);
    if (::syncfs(fd.get()) != 0)
        throwErrno("cannot sync the file system of", directory, errno);
}

} // namespace certd
