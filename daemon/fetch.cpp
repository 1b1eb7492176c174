#include "fetch.hpp"

#include "error.hpp"

#include <curl/curl.h>

#include <memory>
#include <mutex>

namespace certd {
namespace {

struct Sink {
    Bytes data;
    std::size_t limit = 0;
    bool tooLarge = false;
};

std::size_t onData(char* ptr, std::size_t size, std::size_t count, void* user)
{
    auto* sink = static_cast<Sink*>(user);
    const std::size_t n = size * count;
    if (sink->data.size() + n > sink->limit) {
        sink->tooLarge = true;
        return 0; // aborts the transfer
    }
    sink->data.insert(sink->data.end(), ptr, ptr + n);
    return n;
}

// libcurl calls this about once a second even while nothing arrives.
int onProgress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t)
{
    return static_cast<const std::atomic<bool>*>(user)->load() ? 1 : 0;
}

using CurlPtr = std::unique_ptr<CURL, decltype([](CURL* c) { curl_easy_cleanup(c); })>;

} // namespace

Bytes fetchUrl(const std::string& url, const FetchLimits& limits)
{
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
    if (url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0)
        throw Error(ErrorCode::FetchFailed, "issuer URL '" + url + "' is not http or https");
    CurlPtr curl(curl_easy_init());
    if (!curl)
        throw Error(ErrorCode::Internal, "cannot initialise libcurl");
    Sink sink;
    sink.limit = limits.maxBytes;
    curl_easy_setopt(curl.get(), CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl.get(), CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl.get(), CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl.get(), CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(curl.get(), CURLOPT_MAXREDIRS, limits.maxRedirects);
    curl_easy_setopt(curl.get(), CURLOPT_TIMEOUT_MS, limits.timeoutMs);
    curl_easy_setopt(curl.get(), CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl.get(), CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(limits.maxBytes));
    curl_easy_setopt(curl.get(), CURLOPT_WRITEFUNCTION, onData);
    curl_easy_setopt(curl.get(), CURLOPT_WRITEDATA, &sink);
    curl_easy_setopt(curl.get(), CURLOPT_USERAGENT, "certd");
    if (limits.cancel) {
        curl_easy_setopt(curl.get(), CURLOPT_XFERINFOFUNCTION, onProgress);
        curl_easy_setopt(curl.get(), CURLOPT_XFERINFODATA, limits.cancel);
        curl_easy_setopt(curl.get(), CURLOPT_NOPROGRESS, 0L);
    }
    const CURLcode rc = curl_easy_perform(curl.get());
    if (sink.tooLarge || rc == CURLE_FILESIZE_EXCEEDED)
        throw Error(ErrorCode::FetchFailed,
                    "issuer at '" + url + "' is larger than " + std::to_string(limits.maxBytes) + " bytes");
    if (rc == CURLE_ABORTED_BY_CALLBACK)
        throw Error(ErrorCode::FetchFailed, "download of '" + url + "' stopped: certd is shutting down");
    if (rc != CURLE_OK)
        throw Error(ErrorCode::FetchFailed,
                    "cannot fetch issuer from '" + url + "': " + curl_easy_strerror(rc));
    long status = 0;
    curl_easy_getinfo(curl.get(), CURLINFO_RESPONSE_CODE, &status);
    if (status != 200)
        throw Error(ErrorCode::FetchFailed,
                    "issuer URL '" + url + "' answered HTTP " + std::to_string(status));
    return std::move(sink.data);
}

} // namespace certd
