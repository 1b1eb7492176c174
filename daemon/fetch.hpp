#pragma once

// Bounded HTTP(S) downloads of issuer certificates (Authority Info Access), via libcurl.

#include "pki/ossl.hpp"

#include <atomic>
#include <cstddef>
#include <string>

namespace certd {

struct FetchLimits {
    std::size_t maxBytes = std::size_t{64} * 1024;
    long timeoutMs = 10000;
    long maxRedirects = 3;
    // When set and it turns true, the download stops within about a second (FetchFailed):
    // certd is shutting down.
    const std::atomic<bool>* cancel = nullptr;
};

// GET `url` (http or https only). Throws Error(FetchFailed) naming the URL and
// the reason (unreachable, HTTP status, too large, too slow).
Bytes fetchUrl(const std::string& url, const FetchLimits& limits = {});

} // namespace certd
