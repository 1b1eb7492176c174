#include "link.hpp"

#include <unistd.h>

#include <set>

#ifndef CERTD_LIBEXECDIR
#define CERTD_LIBEXECDIR "/usr/libexec"
#endif

namespace certd::terminator {

Link::Link(Manager& manager, const Config& config, Supervisor& supervisor)
    : manager_(manager), config_(config), supervisor_(supervisor)
{
}

tls::DesiredState Link::desired(bool flush) const
{
    tls::DesiredState state;
    state.profile = config_.tlsProfile;
    state.backend = config_.backend;
    state.proxyProtocol = config_.proxyProtocol;
    state.flush = flush;
    state.handshakeTimeout = config_.terminator.handshakeTimeout;
    state.idleTimeout = config_.terminator.idleTimeout;
    state.maxConnections = config_.terminator.maxConnections;
    state.workers = config_.terminator.workers;
    std::set<std::string> served;
    for (const auto& [address, entry] : manager_.addresses()) {
        const std::string id = manager_.certificateForAddress(address);
        if (id.empty())
            continue;
        state.listeners.push_back({address, config_.port, id});
        if (served.insert(id).second)
            state.certificates.push_back({id, manager_.servedChainPem(id), manager_.privateKeyPkcs8(id)});
    }
    return state;
}

Changes Link::sync(bool flush)
{
    auto state = desired(flush);
    std::vector<std::pair<std::string, std::string>> chains;
    for (const auto& c : state.certificates)
        chains.emplace_back(c.id, c.chainPem);
    auto signature = std::make_pair(state.listeners, chains);
    if (!flush && sent_ && *sent_ == signature)
        return {};
    const auto statuses = supervisor_.apply(state);
    sent_ = std::move(signature);
    return record(statuses);
}

Changes Link::refreshStatuses()
{
    return record(supervisor_.listenerStatus());
}

Changes Link::record(const std::vector<tls::ListenerStatus>& statuses)
{
    Changes changes;
    for (const auto& s : statuses)
        changes.merge(manager_.setAddressStatus(s.address, s.state, s.error));
    return changes;
}

std::filesystem::path terminatorBinary(const Config& config)
{
    if (!config.terminator.binary.empty())
        return config.terminator.binary;
    std::error_code ec;
    const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
    if (!ec) {
        const auto beside = self.parent_path() / "certd-tls";
        if (::access(beside.c_str(), X_OK) == 0)
            return beside;
    }
    return std::filesystem::path(CERTD_LIBEXECDIR) / "certd-tls";
}

} // namespace certd::terminator
