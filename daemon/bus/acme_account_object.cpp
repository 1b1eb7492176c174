// org.certd1.AcmeAccount at /org/certd1/acme_account/<id of its key>: the handlers of its
// vtable. An account is what its orders stored (Manager::acmeAccounts); it has no state of its own.

#include "objects.hpp"
#include "tree.hpp"

namespace certd::bus {

namespace {

// The account's first order: orders of one account share its server, contact and URL.
const StoredAcmeOrder& firstOrder(Service& s, const std::string& id)
{
    const auto accounts = s.manager().acmeAccounts();
    const auto it = accounts.find(id);
    if (it == accounts.end())
        throw Error(ErrorCode::NotFound, "no ACME account " + id);
    return s.manager().acmeOrder(it->second.front());
}

std::string directoryUrl(Service& s, const std::string& id)
{
    return firstOrder(s, id).directoryUrl;
}
std::string contact(Service& s, const std::string& id)
{
    return firstOrder(s, id).contact;
}
std::string url(Service& s, const std::string& id)
{
    return firstOrder(s, id).accountUrl;
}
sdbus::ObjectPath key(Service& s, const std::string& id)
{
    return sdbus::ObjectPath(keyPath(firstOrder(s, id).accountKeyId)); // its id is the key's
}
std::vector<sdbus::ObjectPath> orders(Service& s, const std::string& id)
{
    const auto accounts = s.manager().acmeAccounts();
    std::vector<sdbus::ObjectPath> paths;
    if (const auto it = accounts.find(id); it != accounts.end())
        for (const auto& order : it->second)
            paths.emplace_back(acmeOrderPath(order));
    return paths;
}

constexpr auto kConst = SD_BUS_VTABLE_PROPERTY_CONST;
constexpr auto kChanges = SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE;

} // namespace

// In the order of dbus/org.certd1.AcmeAccount.xml.
const sd_bus_vtable kAcmeAccountVtable[] = {
    SD_BUS_VTABLE_START(0),
    SD_BUS_PROPERTY("DirectoryUrl", "s", property<directoryUrl>, 0, kConst),
    SD_BUS_PROPERTY("Contact", "s", property<contact>, 0, kConst),
    SD_BUS_PROPERTY("Url", "s", property<url>, 0, kChanges),
    SD_BUS_PROPERTY("Key", "o", property<key>, 0, kConst),
    SD_BUS_PROPERTY("Orders", "ao", property<orders>, 0, kChanges),
    SD_BUS_VTABLE_END};

} // namespace certd::bus
