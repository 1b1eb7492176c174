#include "tls/http_challenge.hpp"

#include "log.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <vector>

namespace certd::tls {
namespace {

constexpr std::size_t kMaxRequest = 4096;
constexpr auto kRequestTimeout = std::chrono::seconds(5);
constexpr std::size_t kMaxConnections = 64;
constexpr std::string_view kPrefix = "/.well-known/acme-challenge/";

std::string response(int status, const char* reason, const std::string& body)
{
    return "HTTP/1.1 " + std::to_string(status) + " " + reason +
           "\r\nContent-Type: text/plain\r\nContent-Length: " + std::to_string(body.size()) +
           "\r\nConnection: close\r\n\r\n" + body;
}

struct Connection {
    UniqueFd fd;
    std::string request;
    std::chrono::steady_clock::time_point deadline;
};

} // namespace

std::string HttpChallengeResponder::respond(const std::string& request,
                                            const std::map<std::string, std::string>& tokens)
{
    // "GET /.well-known/acme-challenge/<token> HTTP/1.1"; the headers do not matter.
    const auto lineEnd = request.find("\r\n");
    const std::string line = request.substr(0, lineEnd);
    const auto space1 = line.find(' ');
    const auto space2 = line.rfind(' ');
    if (lineEnd == std::string::npos || space1 == std::string::npos || space2 == space1 ||
        line.compare(space2 + 1, 7, "HTTP/1.") != 0)
        return response(400, "Bad Request", "");
    const std::string method = line.substr(0, space1);
    const std::string target = line.substr(space1 + 1, space2 - space1 - 1);
    if (method != "GET" && method != "HEAD")
        return response(405, "Method Not Allowed", "");
    if (target.rfind(kPrefix, 0) != 0)
        return response(404, "Not Found", "");
    const auto it = tokens.find(target.substr(kPrefix.size()));
    if (it == tokens.end())
        return response(404, "Not Found", "");
    const std::string whole = response(200, "OK", it->second);
    return method == "HEAD" ? whole.substr(0, whole.size() - it->second.size()) : whole;
}

HttpChallengeResponder::HttpChallengeResponder() : wake_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC))
{
    thread_ = std::thread([this] { run(); });
}

HttpChallengeResponder::~HttpChallengeResponder()
{
    stopping_ = true;
    const std::uint64_t one = 1;
    [[maybe_unused]] const auto n = ::write(wake_.get(), &one, sizeof one);
    thread_.join();
}

void HttpChallengeResponder::update(std::map<std::string, UniqueFd>&& added,
                                    const std::set<std::string>& wanted,
                                    std::map<std::string, std::string> tokens)
{
    {
        std::lock_guard lock(mutex_);
        for (auto& [name, fd] : added) {
            log::info("certd-tls: answering ACME http-01 on " + name);
            sockets_[name] = std::move(fd);
        }
        std::erase_if(sockets_, [&](const auto& entry) { return !wanted.contains(entry.first); });
        tokens_ = std::move(tokens);
    }
    const std::uint64_t one = 1;
    [[maybe_unused]] const auto n = ::write(wake_.get(), &one, sizeof one);
}

void HttpChallengeResponder::run()
{
    std::vector<Connection> connections;
    while (!stopping_) {
        std::vector<pollfd> fds{{wake_.get(), POLLIN, 0}};
        std::vector<int> listening;
        {
            std::lock_guard lock(mutex_);
            for (const auto& [name, fd] : sockets_)
                listening.push_back(fd.get());
        }
        // A listening socket is only polled while there is room for a connection.
        if (connections.size() < kMaxConnections)
            for (const int fd : listening)
                fds.push_back({fd, POLLIN, 0});
        const std::size_t firstConnection = fds.size();
        for (const auto& c : connections)
            fds.push_back({c.fd.get(), POLLIN, 0});
        const int r = ::poll(fds.data(), fds.size(), 1000);
        if (r < 0 && errno != EINTR)
            break;
        if (fds[0].revents & POLLIN) {
            std::uint64_t value = 0;
            [[maybe_unused]] const auto n = ::read(wake_.get(), &value, sizeof value);
            // The sockets may have changed: the pollfds below are stale, poll again.
            continue;
        }
        for (std::size_t i = 1; i < firstConnection; ++i) {
            if (!(fds[i].revents & POLLIN))
                continue;
            UniqueFd client(::accept4(fds[i].fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
            if (client && connections.size() < kMaxConnections)
                connections.push_back(
                    {std::move(client), {}, std::chrono::steady_clock::now() + kRequestTimeout});
        }
        std::map<std::string, std::string> tokens;
        {
            std::lock_guard lock(mutex_);
            tokens = tokens_;
        }
        const auto now = std::chrono::steady_clock::now();
        std::vector<bool> done(connections.size(), false);
        for (std::size_t i = 0; i < connections.size(); ++i) {
            Connection& c = connections[i];
            const std::size_t slot = firstConnection + i;
            if (slot < fds.size() && (fds[slot].revents & (POLLIN | POLLHUP | POLLERR))) {
                char buf[1024];
                const ssize_t n = ::recv(c.fd.get(), buf, sizeof buf, 0);
                if (n <= 0) {
                    done[i] = true;
                    continue;
                }
                c.request.append(buf, static_cast<std::size_t>(n));
            }
            std::string answer;
            if (c.request.find("\r\n\r\n") != std::string::npos)
                answer = respond(c.request, tokens);
            else if (c.request.size() > kMaxRequest)
                answer = response(400, "Bad Request", "");
            else if (now >= c.deadline)
                done[i] = true; // too slow: closed without an answer
            if (!answer.empty()) {
                // A few hundred bytes into a fresh socket's buffer: one send, never a wait.
                [[maybe_unused]] const auto sent =
                    ::send(c.fd.get(), answer.data(), answer.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
                done[i] = true;
            }
        }
        for (std::size_t i = connections.size(); i-- > 0;)
            if (done[i])
                connections.erase(connections.begin() + static_cast<std::ptrdiff_t>(i));
    }
}

} // namespace certd::tls
