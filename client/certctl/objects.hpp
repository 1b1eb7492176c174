#pragma once

// certd's objects as certctl shows them: JSON forms, tables, field lists, display order.

#include "certctl/json.hpp"
#include "certctl/output.hpp"
#include "client.hpp"

#include <map>
#include <string>
#include <vector>

namespace certd::certctl {

// Maps object paths to display names ("Appliance", or the id when unnamed).
class NameIndex {
public:
    NameIndex() = default;
    explicit NameIndex(const client::Inventory& inventory);
    void add(const std::string& path, const std::string& friendlyName);
    std::string name(const std::string& path) const;

private:
    std::map<std::string, std::string, std::less<>> names_;
};

Json toJson(const client::Certificate& c);
Json toJson(const client::Request& r);
Json toJson(const client::Key& k);
Json toJson(const client::Address& a);
Json toJson(const client::Status& s);
Json toJson(const std::vector<client::Warning>& warnings);
Json toJson(const std::vector<client::Finding>& findings);

// The appliance's certificate list: Friendly Name, Issued To, Issued By, Expiration,
// Alternative Names, IP Addresses (bound appliance addresses), Private Key, Warnings.
Table certificateTable(const std::vector<client::Certificate>& certificates);
Table requestTable(const std::vector<client::Request>& requests);
Table keyTable(const std::vector<client::Key>& keys, const NameIndex& names);
Table addressTable(const std::vector<client::Address>& addresses, const NameIndex& names);
Table findingTable(const std::vector<client::Finding>& findings);

Fields certificateFields(const client::Certificate& c, const NameIndex& names);
Fields requestFields(const client::Request& r, const NameIndex& names);
Fields keyFields(const client::Key& k, const NameIndex& names);
Fields statusFields(const client::Status& s, const NameIndex& names);
Table bindingTable(const std::vector<client::AddressBinding>& bindings, const NameIndex& names);

// Certificates sorted for people: by friendly name (ignoring case), then id.
void sortForDisplay(std::vector<client::Certificate>& certificates);
// Addresses in numeric order, IPv4 before IPv6.
void sortForDisplay(std::vector<client::Address>& addresses);
// Requests oldest first; keys by id.
void sortForDisplay(std::vector<client::Request>& requests);
void sortForDisplay(std::vector<client::Key>& keys);

} // namespace certd::certctl
