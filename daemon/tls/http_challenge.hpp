#pragma once

// certd-tls's ACME http-01 responder (RFC 8555 §8.3): plain HTTP on the sockets certd bound at
// acme_http_port, only while an order needs it. GET /.well-known/acme-challenge/<token> gets
// the key authorization of that token (200, text/plain); anything else 404, a malformed or
// oversized request (4 KiB) 400; one request per connection, 5 s to send it. Its own thread
// with poll(): the TLS workers never wait for it, and it never touches a TLS connection.

#include "unique_fd.hpp"

#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>

namespace certd::tls {

class HttpChallengeResponder {
public:
    HttpChallengeResponder();
    ~HttpChallengeResponder();
    HttpChallengeResponder(const HttpChallengeResponder&) = delete;
    HttpChallengeResponder& operator=(const HttpChallengeResponder&) = delete;

    // From a snapshot: `added` are new listening sockets (by endpoint name); sockets not in
    // `wanted` are closed; `tokens` (token → key authorization) replace the previous ones.
    void update(std::map<std::string, UniqueFd>&& added, const std::set<std::string>& wanted,
                std::map<std::string, std::string> tokens);

    // What a request gets (for the unit tests): the whole HTTP response.
    static std::string respond(const std::string& request, const std::map<std::string, std::string>& tokens);

private:
    void run();

    std::mutex mutex_;
    std::map<std::string, UniqueFd> sockets_;   // listening, by endpoint name
    std::map<std::string, std::string> tokens_; // token → key authorization
    UniqueFd wake_;                             // eventfd: sockets changed, or stop
    std::atomic<bool> stopping_{false};
    std::thread thread_;
};

} // namespace certd::tls
