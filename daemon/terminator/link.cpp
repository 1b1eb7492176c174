#include "link.hpp"

#include "tls/sign_wire.hpp"

#include <unistd.h>

#include <algorithm>

#ifndef CERTD_LIBEXECDIR
#define CERTD_LIBEXECDIR "/usr/libexec"
#endif

namespace certd::terminator {

Link::Link(Manager& manager, const Config& config, Supervisor& supervisor, Signer* signer)
    : manager_(manager), config_(config), supervisor_(supervisor), signer_(signer)
{
    supervisor_.onStateChanged = [this] { stateChanged(); };
    stateChanged();
}

void Link::setConfig(const Config& config)
{
    config_ = config;
    sent_.reset();
}

void Link::sync(bool flush)
{
    Listeners listeners;
    Chains chains;
    for (const auto& [address, entry] : manager_.addresses()) {
        const std::string id = manager_.certificateForAddress(address);
        if (id.empty())
            continue;
        listeners.push_back({address, config_.port, id});
        if (std::none_of(chains.begin(), chains.end(), [&](const auto& c) { return c.first == id; }))
            chains.emplace_back(id, manager_.servedChainPem(id));
    }
    if (!flush && challengesSent_ && sent_ && sent_->first == listeners && sent_->second == chains)
        return;

    tls::DesiredState state;
    state.profile = config_.tlsProfile;
    state.backend = config_.backend;
    state.proxyProtocol = config_.proxyProtocol;
    state.flush = flush;
    state.handshakeTimeout = config_.terminator.handshakeTimeout;
    state.idleTimeout = config_.terminator.idleTimeout;
    state.maxConnections = config_.terminator.maxConnections;
    state.workers = config_.terminator.workers;
    state.listeners = listeners;
    state.challenges = challenges_;
    const bool http01 = std::any_of(challenges_.begin(), challenges_.end(),
                                    [](const auto& c) { return c.kind == tls::AcmeChallenge::Kind::Http01; });
    state.httpChallengePort = http01 ? config_.acmeHttpPort : 0;
    std::map<std::string, SecureBytes> keys;
    for (const auto& [id, chainPem] : chains) {
        auto cached = keys_.find(id);
        SecureBytes key = cached != keys_.end() ? std::move(cached->second) : manager_.privateKeyPkcs8(id);
        state.certificates.push_back({id, chainPem, signer_ != nullptr ? SecureBytes() : key});
        keys.emplace(id, std::move(key));
    }
    keys_ = std::move(keys); // wipes the keys no longer served
    // Before the snapshot: the terminator may ask for a new certificate's signature as soon as it
    // has it. An unbound key signs on for handshakes that chose its certificate just before.
    if (signer_ != nullptr)
        signer_->setKeys(keys_, config_.terminator.handshakeTimeout + tls::sign::kTimeout);
    const auto statuses = supervisor_.apply(state);
    sent_.emplace(std::move(listeners), std::move(chains));
    challengesSent_ = true;
    record(statuses);
}

void Link::setChallenges(std::vector<tls::AcmeChallenge> challenges)
{
    challenges_ = std::move(challenges);
    challengesSent_ = false;
}

void Link::record(const std::vector<tls::ListenerStatus>& statuses)
{
    for (const auto& s : statuses)
        manager_.setAddressStatus(s.address, s.state, s.error);
}

void Link::stateChanged()
{
    manager_.setTerminatorStatus(supervisor_.state(), supervisor_.error());
    // After a restart the terminator serves the last state again; show what it reports.
    if (supervisor_.state() == TerminatorState::Running)
        record(supervisor_.listenerStatus());
}

std::filesystem::path terminatorBinary(const Config& config)
{
    if (!config.terminator.binary.empty())
        return config.terminator.binary;
    std::error_code ec;
    const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
    if (!ec) {
        auto beside = self.parent_path() / "certd-tls";
        if (::access(beside.c_str(), X_OK) == 0)
            return beside;
    }
    return std::filesystem::path(CERTD_LIBEXECDIR) / "certd-tls";
}

} // namespace certd::terminator
