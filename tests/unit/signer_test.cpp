// certd's signer (terminator/signer.hpp) over a real broker and channel: it signs with the keys
// it was given and nothing else, answers batches in order, and drops a channel that sends
// garbage. The terminator's side of these channels is tested in unit-tls and the integration
// tests; this is what a compromised terminator could ask of it.

#include "pki/key.hpp"
#include "terminator/signer.hpp"
#include "tls/sign_wire.hpp"

#include <doctest/doctest.h>

#include <poll.h>
#include <sys/socket.h>

#include <cstring>

using namespace certd;
using namespace certd::tls;

namespace {

pki::EvpPkeyPtr p256()
{
    return pki::EvpPkeyPtr(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
}

// A channel to the signer, as a certd-tls worker opens one: through the broker.
UniqueFd openChannel(terminator::Signer& signer)
{
    const UniqueFd broker = signer.newBroker();
    int pair[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) == 0);
    UniqueFd ours(pair[0]);
    const UniqueFd theirs(pair[1]);
    REQUIRE(sign::passChannel(broker.get(), theirs.get()));
    return ours;
}

// Reads until `count` replies are in (or the signer closed the channel, or 30 s passed).
std::vector<sign::Reply> replies(int fd, std::size_t count)
{
    std::vector<sign::Reply> out;
    Bytes in;
    std::size_t offset = 0;
    while (out.size() < count) {
        pollfd p{fd, POLLIN, 0};
        REQUIRE(::poll(&p, 1, 30'000) == 1);
        std::uint8_t buffer[4096];
        const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
        if (n <= 0)
            break;
        in.insert(in.end(), buffer, buffer + n);
        while (auto r = sign::takeReply(in, offset))
            out.push_back(std::move(*r));
    }
    return out;
}

sign::Reply ask(int fd, const sign::Request& request)
{
    Bytes out;
    sign::appendRequest(out, request);
    REQUIRE(::send(fd, out.data(), out.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(out.size()));
    auto r = replies(fd, 1);
    REQUIRE(r.size() == 1);
    CHECK(r.front().id == request.id);
    return r.front();
}

sign::Request ecdsa(std::uint64_t id, const std::string& key)
{
    return {id, key, sign::Scheme::Ecdsa, sign::Hash::Sha256, Bytes(32, static_cast<std::uint8_t>(id))};
}

bool verifies(EVP_PKEY* key, const sign::Request& request, const sign::Reply& reply)
{
    pki::EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, key, nullptr));
    return EVP_PKEY_verify_init(ctx.get()) == 1 &&
           EVP_PKEY_verify(ctx.get(), reply.signature.data(), reply.signature.size(), request.input.data(),
                           request.input.size()) == 1;
}

} // namespace

TEST_CASE("the signer signs with the bound keys only")
{
    const auto bound = p256();
    const auto other = p256();
    terminator::Signer signer(2);
    signer.setKeys({{"bound", pki::privateKeyToPkcs8Der(bound.get())}}, std::chrono::milliseconds(0));
    const UniqueFd channel = openChannel(signer);

    const auto request = ecdsa(1, "bound");
    const auto reply = ask(channel.get(), request);
    REQUIRE(reply.status == sign::Status::Ok);
    CHECK(verifies(bound.get(), request, reply));

    // A key of the store that no address serves: unknown to the signer.
    CHECK(ask(channel.get(), ecdsa(2, "other")).status == sign::Status::UnknownKey);
    // Not what TLS does with an EC key.
    auto rsa = ecdsa(3, "bound");
    rsa.scheme = sign::Scheme::RsaPkcs1;
    CHECK(ask(channel.get(), rsa).status == sign::Status::Refused);

    // Unbound with no grace: refused at once.
    signer.setKeys({{"other", pki::privateKeyToPkcs8Der(other.get())}}, std::chrono::milliseconds(0));
    CHECK(ask(channel.get(), ecdsa(4, "bound")).status == sign::Status::UnknownKey);
    CHECK(ask(channel.get(), ecdsa(5, "other")).status == sign::Status::Ok);

    // Unbound with a grace period: it signs on meanwhile.
    signer.setKeys({}, std::chrono::hours(1));
    CHECK(ask(channel.get(), ecdsa(6, "other")).status == sign::Status::Ok);
    const auto counters = signer.counters();
    CHECK(counters.signatures == 3);
    CHECK(counters.refused == 3);
    CHECK(counters.channels == 1);
}

TEST_CASE("a batch of requests in one write gets every reply, in order, over several channels")
{
    const auto key = p256();
    terminator::Signer signer(2);
    signer.setKeys({{"k", pki::privateKeyToPkcs8Der(key.get())}}, std::chrono::milliseconds(0));
    std::vector<UniqueFd> channels(3);
    for (auto& channel : channels)
        channel = openChannel(signer);
    for (auto& channel : channels) {
        Bytes out;
        std::vector<sign::Request> sent;
        sent.reserve(100);
        for (std::uint64_t id = 1; id <= 100; ++id) {
            sent.push_back(ecdsa(id, "k"));
            sign::appendRequest(out, sent.back());
        }
        REQUIRE(::send(channel.get(), out.data(), out.size(), MSG_NOSIGNAL) ==
                static_cast<ssize_t>(out.size()));
        const auto got = replies(channel.get(), sent.size());
        REQUIRE(got.size() == sent.size());
        for (std::size_t i = 0; i < got.size(); ++i) {
            CHECK(got[i].id == sent[i].id);
            REQUIRE(got[i].status == sign::Status::Ok);
            CHECK(verifies(key.get(), sent[i], got[i]));
        }
    }
    CHECK(signer.counters().channels == 3);
}

TEST_CASE("a channel that sends garbage is closed; the others go on")
{
    const auto key = p256();
    terminator::Signer signer(1);
    signer.setKeys({{"k", pki::privateKeyToPkcs8Der(key.get())}}, std::chrono::milliseconds(0));
    const UniqueFd bad = openChannel(signer);
    const UniqueFd good = openChannel(signer);
    const std::uint8_t garbage[] = {0xff, 0xff, 0xff, 0x7f, 1, 2, 3, 4};
    REQUIRE(::send(bad.get(), garbage, sizeof garbage, MSG_NOSIGNAL) == sizeof garbage);
    CHECK(replies(bad.get(), 1).empty()); // end of stream
    CHECK(ask(good.get(), ecdsa(1, "k")).status == sign::Status::Ok);
}
