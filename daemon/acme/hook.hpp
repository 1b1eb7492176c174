#pragma once

// dns-01 (RFC 8555 §8.4) through a program the operator provides (acme_dns_hook in certd.yaml):
// certd cannot know every DNS provider's API, the operator's script does. Called as
//
//   HOOK add    IDENTIFIER RECORD VALUE    publish TXT VALUE at RECORD; exit 0 once it is visible
//   HOOK remove IDENTIFIER RECORD VALUE    take it away again (after validation, also a failed one)
//
// IDENTIFIER is the order's name ("example.com", or "*.example.com" for a wildcard), RECORD the
// fully qualified record name ("_acme-challenge.example.com."), VALUE the base64url digest.
// No shell is involved; stdin is /dev/null; the environment is certd's.

#include <atomic>
#include <chrono>
#include <filesystem>
#include <string>

namespace certd::acme {

struct DnsRecord {
    std::string identifier;
    std::string name;
    std::string value;
};

// "_acme-challenge.example.com." for "example.com" and for "*.example.com".
std::string dnsRecordName(const std::string& identifier);

// Runs the hook in a process group of its own and waits for it (at most `timeout`, then SIGKILL
// to the group: what it started goes with it). Throws Error(AcmeFailed) naming the hook, its exit
// status and the first line it printed when it does not exit 0.
// When `cancel` turns true (certd stops), the hook has `graceOnCancel` left at most: 0 for
// publishing a record nobody will validate, a few seconds for taking one away again.
struct HookLimits {
    std::chrono::seconds timeout{120};
    const std::atomic<bool>* cancel = nullptr;
    std::chrono::seconds graceOnCancel{0};
};
void runDnsHook(const std::filesystem::path& hook, const std::string& action, const DnsRecord& record,
                const HookLimits& limits = {});

} // namespace certd::acme
