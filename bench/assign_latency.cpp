// Assign latency: with every appliance address configured, alternately assigns
// two certificates to each address through the client library and times each
// call. Assign returns only after certd-tls has acknowledged the new state, so
// this is the time from the call to "the next handshake gets the new
// certificate". Prints p50, p99 and max in milliseconds.
// Usage: assign-latency ROUNDS   (certd on DBUS_SYSTEM_BUS_ADDRESS)
#include "client.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

int main(int argc, char** argv)
{
    const int rounds = argc > 1 ? std::stoi(argv[1]) : 500;
    certd::client::Client c;
    std::vector<std::string> certs;
    for (const char* name : {"bench-a", "bench-b"}) {
        certd::client::CertificateSpec spec;
        spec.friendlyName = name;
        spec.keyType = "ec-p256";
        spec.commonName = std::string(name) + ".example.com";
        certs.push_back(c.createSelfSigned(spec).path);
    }
    const auto status = c.getStatus();
    std::vector<double> ms;
    for (int i = 0; i < rounds; ++i) {
        const auto& address = status.addresses[static_cast<std::size_t>(i) % status.addresses.size()].address;
        const auto& cert = certs[static_cast<std::size_t>(i / static_cast<int>(status.addresses.size())) % 2];
        const auto t0 = std::chrono::steady_clock::now();
        c.assign(address, cert, true);
        ms.push_back(
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
    std::sort(ms.begin(), ms.end());
    const auto at = [&](double q) {
        return ms[static_cast<std::size_t>(q * static_cast<double>(ms.size() - 1))];
    };
    std::printf("assign-latency: %zu addresses, %d assigns: p50 %.2f ms, p99 %.2f ms, max %.2f ms\n",
                status.addresses.size(), rounds, at(0.5), at(0.99), ms.back());
    return 0;
}
