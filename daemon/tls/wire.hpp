#pragma once

// The socketpair between certd and certd-tls: length-prefixed frames on a
// SOCK_STREAM unix socket; listening sockets ride along as SCM_RIGHTS on the
// first byte of a Sockets frame. Both ends are the same build, so integers go
// in host byte order.
//
//   certd → certd-tls: Signer (certd's signing broker, one fd; first on each connection),
//                      Sockets (endpoint names + their fds), Snapshot (generation + DesiredState)
//   certd-tls → certd: Hello (ready), Ack (generation applied + per-listener status)

#include "bytes.hpp"
#include "tls/desired_state.hpp"
#include "tls/listen_socket.hpp"
#include "unique_fd.hpp"

#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace certd::tls::wire {

enum class MessageType : std::uint32_t { Hello = 1, Sockets = 2, Snapshot = 3, Ack = 4, Signer = 5 };

inline constexpr std::size_t kHeaderSize = 12;      // type, body length, fd count
inline constexpr std::size_t kMaxBody = 64U << 20;  // a snapshot of thousands of certificates fits
inline constexpr std::size_t kMaxFdsPerFrame = 200; // below the kernel's SCM_MAX_FD (253)

struct Snapshot {
    std::uint64_t generation = 0;
    DesiredState state;
};

struct CertificateError {
    std::string id;
    ErrorCode code = ErrorCode::InvalidCertificate;
    std::string message;
};

struct Ack {
    std::uint64_t generation = 0;
    std::vector<ListenerStatus> listeners;
    std::vector<CertificateError> certificates; // entries of the snapshot that were rejected
    std::string error;                          // a problem not tied to one listener (backend)
};

// Body encodings. Decoders throw Error(Malformed) on truncated or inconsistent input.
SecureBytes encodeSnapshot(const Snapshot& snapshot);
Snapshot decodeSnapshot(ByteView body);
Bytes encodeAck(const Ack& ack);
Ack decodeAck(ByteView body);
Bytes encodeSockets(const std::vector<std::string>& endpoints);
std::vector<std::string> decodeSockets(ByteView body);

struct Frame {
    MessageType type = MessageType::Hello;
    SecureBytes body;
    std::vector<UniqueFd> fds;
};

using Deadline = std::optional<std::chrono::steady_clock::time_point>;

// Writes one whole frame. On a non-blocking fd, waits for room with poll() until `deadline`
// (nullopt: no limit). Throws Error(Internal) on a write error, a closed peer or the deadline.
void sendFrame(int fd, MessageType type, ByteView body, std::span<const int> fds = {},
               Deadline deadline = std::nullopt);

// Reassembles frames from a stream socket, collecting the fds that arrive with them.
class FrameReader {
public:
    enum class Fill { Data, WouldBlock, Eof };
    // One recvmsg(). Throws Error(Internal) on a socket error or a truncated fd list.
    Fill fill(int fd);
    // The next complete frame, if any. Throws Error(Malformed) on a bad header.
    std::optional<Frame> next();

private:
    SecureBytes buffer_; // may hold key material
    std::deque<UniqueFd> fds_;
};

} // namespace certd::tls::wire
