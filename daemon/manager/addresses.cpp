// Manager: appliance addresses and what each serves — bindings, their pre-flight check,
// discovery, and the state the terminator reports.

#include "manager/manager.hpp"

#include "error.hpp"
#include "text.hpp"

#include <algorithm>

namespace certd {
namespace {

// RFC 6125 §6.4: a wildcard is the whole leftmost label and matches exactly one label.
bool dnsNameMatches(const std::string& pattern, const std::string& host)
{
    const std::string p = asciiLower(pattern), h = asciiLower(host);
    if (p.rfind("*.", 0) != 0)
        return p == h;
    const auto dot = h.find('.');
    if (dot == std::string::npos || dot == 0)
        return false;
    return h.substr(dot) == p.substr(1);
}

// Whether a certificate's SANs answer for `host` (an IP literal or a DNS name).
bool covers(const pki::CertificateInfo& info, const std::string& type, const std::string& host)
{
    const auto ip = type == "IP" ? canonicalIp(host, Brackets::Accept) : std::nullopt;
    return std::any_of(info.subjectAlternativeNames.begin(), info.subjectAlternativeNames.end(),
                       [&](const auto& san) {
                           if (type == "IP")
                               return san.first == "IP" && canonicalIp(san.second, Brackets::Accept) == ip;
                           return san.first == "DNS" && dnsNameMatches(san.second, host);
                       });
}

Severity severityOf(const std::string& code)
{
    using namespace pki::warning;
    if (code == kExpired || code == kNotYetValid || code == kNoPrivateKey)
        return Severity::Error;
    return Severity::Warning;
}

} // namespace

const AddressEntry& Manager::address(const std::string& text) const
{
    std::string canonical;
    return addresses_.at(requireAddress(text, canonical));
}

const std::string& Manager::requireAddress(const std::string& text, std::string& canonical) const
{
    const auto c = canonicalIp(text, Brackets::Accept);
    if (!c)
        throw Error(ErrorCode::InvalidArgument, "address: '" + text + "' is not an IP address");
    if (!addresses_.count(*c))
        throw Error(ErrorCode::NotFound,
                    "address " + *c + " is not an appliance address (configure it or let discovery find it)");
    canonical = *c;
    return canonical;
}

std::string Manager::certificateForAddress(const std::string& address) const
{
    const auto& bindings = store_.state().bindings;
    const auto it = bindings.find(address);
    if (it != bindings.end() && certificates_.count(it->second))
        return it->second;
    return store_.state().factoryCertificate;
}

std::vector<std::string> Manager::addressesOf(const std::string& certificateId) const
{
    std::vector<std::string> out;
    for (const auto& [address, entry] : addresses_)
        if (certificateForAddress(address) == certificateId)
            out.push_back(address);
    return out;
}

void Manager::markBindingChanges(const StoreState& before, Changes& changes)
{
    const StoreState& after = store_.state();
    for (const auto& item : addresses_) {
        const std::string& address = item.first;
        auto served = [&](const StoreState& s) {
            const auto it = s.bindings.find(address);
            return it != s.bindings.end() && certificates_.count(it->second) ? it->second
                                                                             : s.factoryCertificate;
        };
        const std::string was = served(before), is = served(after);
        if (was == is)
            continue;
        changes.addressesChanged.insert(address);
        for (const auto& id : {was, is})
            if (certificates_.count(id) && !changes.certificatesAdded.count(id))
                changes.certificatesChanged.insert(id);
    }
}

void Manager::commitBindings(Store::Transaction&& tx)
{
    const StoreState before = store_.state();
    if (tx.state() == before)
        return;
    commit(std::move(tx));
    Changes changes;
    markBindingChanges(before, changes);
    record(changes);
}

Manager::Bound Manager::assign(const std::string& address, const std::string& certificateId, bool force)
{
    std::string canonical;
    requireAddress(address, canonical);
    requirePrivateKey(certificate(certificateId));
    Bound bound;
    bound.warnings = preflight(certificateId, {canonical}, {}, force);
    auto tx = store_.begin();
    if (certificateId == store_.state().factoryCertificate)
        tx.state().bindings.erase(canonical);
    else
        tx.state().bindings[canonical] = certificateId;
    commitBindings(std::move(tx));
    return bound;
}

Manager::Bound Manager::setAddresses(const std::string& certificateId,
                                     const std::vector<std::string>& addresses, bool force)
{
    requirePrivateKey(certificate(certificateId));
    std::set<std::string> wanted;
    for (const auto& a : addresses) {
        std::string canonical;
        wanted.insert(requireAddress(a, canonical));
    }
    Bound bound;
    bound.warnings = preflight(certificateId, {wanted.begin(), wanted.end()}, {}, force);
    auto tx = store_.begin();
    auto& bindings = tx.state().bindings;
    if (certificateId == store_.state().factoryCertificate) {
        for (const auto& a : addressesOf(certificateId))
            if (!wanted.count(a))
                throw Error(ErrorCode::InvalidArgument,
                            "addresses: the factory certificate serves every unassigned address; assign " +
                                a + " to another certificate instead of removing it here");
        for (const auto& a : wanted)
            bindings.erase(a);
    } else {
        std::erase_if(bindings,
                      [&](const auto& b) { return b.second == certificateId && !wanted.count(b.first); });
        for (const auto& a : wanted)
            bindings[a] = certificateId;
    }
    commitBindings(std::move(tx));
    return bound;
}

Manager::Bound Manager::replaceCertificate(const std::string& oldId, const std::string& newId, bool force)
{
    const auto& oldEntry = certificate(oldId);
    const auto& newEntry = certificate(newId);
    requirePrivateKey(newEntry);
    if (oldId == newId)
        throw Error(ErrorCode::InvalidArgument, "new_certificate: it is the same as old_certificate");
    // A renewal must answer for every name the old certificate answered for.
    std::vector<Finding> extra;
    for (const auto& [type, value] : oldEntry.info.subjectAlternativeNames) {
        // (A wildcard SAN covers itself: dnsNameMatches compares the labels after it.)
        if (!covers(newEntry.info, type, value))
            extra.push_back({Severity::Error, "san-not-covered",
                             "the new certificate does not cover " + type + ":" + value +
                                 ", which the old one did; clients using that name would fail"});
    }
    Bound bound;
    bound.moved = addressesOf(oldId);
    bound.warnings = preflight(newId, bound.moved, std::move(extra), force);
    auto tx = store_.begin();
    for (const auto& a : bound.moved) {
        if (newId == store_.state().factoryCertificate)
            tx.state().bindings.erase(a);
        else
            tx.state().bindings[a] = newId;
    }
    commitBindings(std::move(tx));
    return bound;
}

std::vector<Finding> Manager::findingsOf(const CertificateEntry& entry) const
{
    std::vector<Finding> findings;
    for (const auto& w : entry.warnings)
        findings.push_back({severityOf(w.code), w.code, w.text});
    return findings;
}

std::vector<Finding> Manager::rootChanges(const std::string& id,
                                          const std::vector<std::string>& addresses) const
{
    std::vector<Finding> findings;
    const std::string root = rootOf(id);
    for (const auto& address : addresses) {
        const std::string serving = certificateForAddress(address);
        if (serving.empty() || serving == id || !certificates_.count(serving) || rootOf(serving) == root)
            continue;
        findings.push_back({Severity::Warning, "root-changed",
                            address + " is served under root '" + certificate(rootOf(serving)).info.subject +
                                "'; this certificate chains to '" + certificate(root).info.subject +
                                "': clients that pinned the old root will fail to connect"});
    }
    return findings;
}

std::vector<pki::Warning> Manager::preflight(const std::string& id, const std::vector<std::string>& addresses,
                                             std::vector<Finding> findings, bool force) const
{
    for (auto& f : findingsOf(certificate(id)))
        findings.push_back(std::move(f));
    for (auto& f : rootChanges(id, addresses))
        findings.push_back(std::move(f));
    std::string errors;
    std::vector<pki::Warning> warnings;
    for (const auto& f : findings) {
        if (f.severity == Severity::Error && !force)
            errors += (errors.empty() ? "" : "; ") + f.code + ": " + f.text;
        else
            warnings.push_back({f.code, f.text});
    }
    if (!errors.empty())
        throw Error(ErrorCode::CheckFailed,
                    "pre-flight check failed: " + errors + " (pass force to override)");
    return warnings;
}

std::vector<Finding> Manager::check(const std::string& id, const std::vector<std::string>& hostnames) const
{
    const auto& entry = certificate(id);
    std::vector<Finding> findings;
    for (const auto& host : hostnames)
        if (!covers(entry.info, parseIp(host, Brackets::Accept) ? "IP" : "DNS", host))
            findings.push_back({Severity::Error, "hostname-not-covered",
                                "'" + host + "' is not among the certificate's subject alternative names"});
    for (auto& f : findingsOf(entry))
        findings.push_back(std::move(f));
    std::vector<std::string> served;
    for (const auto& [address, unused] : addresses_)
        served.push_back(address);
    // Check moves nothing: a different root is information here; Assign warns about it.
    for (auto& f : rootChanges(id, served)) {
        f.severity = Severity::Info;
        findings.push_back(std::move(f));
    }
    return findings;
}

void Manager::addressAppeared(const std::string& text)
{
    const auto canonical = canonicalIp(text, Brackets::Accept);
    if (!canonical)
        return;
    discovered_.insert(*canonical); // a configured one too: it stays when the configuration drops it
    if (addresses_.count(*canonical))
        return;
    addresses_[*canonical] =
        AddressEntry{*canonical, AddressOrigin::Discovered, tls::ListenerState::Listening, {}};
    Changes changes;
    changes.addressesAdded.insert(*canonical);
    const std::string serving = certificateForAddress(*canonical);
    if (certificates_.count(serving))
        changes.certificatesChanged.insert(serving);
    record(changes);
}

void Manager::addressVanished(const std::string& text)
{
    const auto canonical = canonicalIp(text, Brackets::Accept);
    if (!canonical)
        return;
    discovered_.erase(*canonical);
    const auto it = addresses_.find(*canonical);
    if (it == addresses_.end() || it->second.origin != AddressOrigin::Discovered)
        return;
    const std::string serving = certificateForAddress(*canonical);
    addresses_.erase(it);
    // The binding stays in the store: when the address comes back it serves the same certificate.
    Changes changes;
    changes.addressesRemoved.insert(*canonical);
    if (certificates_.count(serving))
        changes.certificatesChanged.insert(serving);
    record(changes);
}

void Manager::setConfiguredAddresses(const std::vector<std::string>& addresses)
{
    std::set<std::string> wanted;
    for (const auto& text : addresses) {
        const auto canonical = canonicalIp(text, Brackets::Accept);
        if (!canonical)
            throw Error(ErrorCode::InvalidArgument, "addresses: '" + text + "' is not an IP address");
        wanted.insert(*canonical);
    }
    Changes changes;
    // A served address's certificate lists it among its Addresses: announce that one too.
    auto touch = [&](const std::string& address) {
        const std::string serving = certificateForAddress(address);
        if (certificates_.count(serving) && !changes.certificatesAdded.count(serving))
            changes.certificatesChanged.insert(serving);
    };
    for (auto it = addresses_.begin(); it != addresses_.end();) {
        AddressEntry& entry = it->second;
        if (entry.origin != AddressOrigin::Configured || wanted.count(it->first)) {
            ++it;
        } else if (discovered_.count(it->first)) {
            entry.origin = AddressOrigin::Discovered;
            changes.addressesChanged.insert((it++)->first);
        } else {
            touch(it->first);
            changes.addressesRemoved.insert(it->first);
            it = addresses_.erase(it);
        }
    }
    for (const auto& address : wanted) {
        const auto it = addresses_.find(address);
        if (it != addresses_.end()) {
            if (it->second.origin == AddressOrigin::Discovered) {
                it->second.origin = AddressOrigin::Configured;
                changes.addressesChanged.insert(address);
            }
            continue;
        }
        addresses_[address] =
            AddressEntry{address, AddressOrigin::Configured, tls::ListenerState::Listening, {}};
        changes.addressesAdded.insert(address);
        touch(address);
    }
    record(changes);
}

void Manager::setAddressStatus(const std::string& address, tls::ListenerState state, const std::string& error)
{
    const auto it = addresses_.find(address);
    if (it == addresses_.end() || (it->second.state == state && it->second.error == error))
        return;
    it->second.state = state;
    it->second.error = error;
    Changes changes;
    changes.addressesChanged.insert(address);
    record(changes);
}

} // namespace certd
