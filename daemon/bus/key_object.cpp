// org.certd1.Key at /org/certd1/key/<id>: the handlers of its vtable.

#include "objects.hpp"
#include "tree.hpp"

namespace certd::bus {

namespace {

void deleteKey(Call& call)
{
    call.service.mutate(call.callee(), call.result<>(), "DeleteKey", call.path, Right::Manage,
                        [&] { call.service.manager().deleteKey(call.id); });
}

std::string algorithm(Service& s, const std::string& id)
{
    return s.manager().shownKey(id).algorithm;
}
uint32_t bits(Service& s, const std::string& id)
{
    return s.manager().shownKey(id).bits;
}
std::string fingerprint(Service& s, const std::string& id)
{
    return s.manager().shownKey(id).spkiSha256;
}
std::vector<sdbus::ObjectPath> certificates(Service& s, const std::string& id)
{
    std::vector<sdbus::ObjectPath> out;
    for (const auto& certificate : s.manager().certificatesOfKey(id))
        out.emplace_back(certificatePath(certificate));
    return out;
}
std::vector<sdbus::ObjectPath> requests(Service& s, const std::string& id)
{
    std::vector<sdbus::ObjectPath> out;
    for (const auto& request : s.manager().requestsOfKey(id))
        out.emplace_back(requestPath(request));
    return out;
}

} // namespace

// In the order of dbus/org.certd1.Key.xml.
const sd_bus_vtable kKeyVtable[] = {
    SD_BUS_VTABLE_START(0),
    SD_BUS_METHOD("Delete", "", "", method<deleteKey>, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_PROPERTY("Algorithm", "s", property<algorithm>, 0, SD_BUS_VTABLE_PROPERTY_CONST),
    SD_BUS_PROPERTY("Bits", "u", property<bits>, 0, SD_BUS_VTABLE_PROPERTY_CONST),
    SD_BUS_PROPERTY("FingerprintSHA256", "s", property<fingerprint>, 0, SD_BUS_VTABLE_PROPERTY_CONST),
    SD_BUS_PROPERTY("Certificates", "ao", property<certificates>, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
    SD_BUS_PROPERTY("Requests", "ao", property<requests>, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
    SD_BUS_VTABLE_END};

} // namespace certd::bus
