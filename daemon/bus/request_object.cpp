// org.certd1.Request at /org/certd1/request/<id>: the handlers of its vtable.

#include "objects.hpp"
#include "tree.hpp"

namespace certd::bus {

namespace {

void deleteRequest(Call& call)
{
    call.service.mutate(call.callee(), call.result<>(), "DeleteRequest", call.path, Right::Manage,
                        [&] { call.service.manager().deleteRequest(call.id); });
}

const RequestEntry& entry(Service& s, const std::string& id)
{
    return s.manager().shownRequest(id);
}
const StoredRequest& stored(Service& s, const std::string& id)
{
    return s.manager().shownStoredRequest(id);
}

std::string friendlyName(Service& s, const std::string& id)
{
    return stored(s, id).friendlyName;
}
std::string subject(Service& s, const std::string& id)
{
    return entry(s, id).info.subject;
}
std::vector<sdbus::Struct<std::string, std::string>> subjectAlternativeNames(Service& s,
                                                                             const std::string& id)
{
    std::vector<sdbus::Struct<std::string, std::string>> out;
    for (const auto& san : entry(s, id).info.subjectAltNames)
        out.emplace_back(san.type == pki::SubjectAltName::Type::Ip ? "IP" : "DNS", san.value);
    return out;
}
sdbus::ObjectPath key(Service& s, const std::string& id)
{
    return sdbus::ObjectPath(keyPath(stored(s, id).keyId));
}
std::string requestPem(Service& s, const std::string& id)
{
    return entry(s, id).pem;
}
std::string state(Service& s, const std::string& id)
{
    return std::string(requestStateName(stored(s, id).state));
}
sdbus::ObjectPath certificate(Service& s, const std::string& id)
{
    const auto& certificateId = stored(s, id).certificateId;
    return sdbus::ObjectPath(certificateId.empty() ? "/" : certificatePath(certificateId));
}
uint64_t created(Service& s, const std::string& id)
{
    return stored(s, id).createdUSec;
}

constexpr auto kConst = SD_BUS_VTABLE_PROPERTY_CONST;
constexpr auto kChanges = SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE;

} // namespace

// In the order of dbus/org.certd1.Request.xml.
const sd_bus_vtable kRequestVtable[] = {
    SD_BUS_VTABLE_START(0),
    SD_BUS_METHOD("Delete", "", "", method<deleteRequest>, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_PROPERTY("FriendlyName", "s", property<friendlyName>, 0, kChanges),
    SD_BUS_PROPERTY("Subject", "s", property<subject>, 0, kConst),
    SD_BUS_PROPERTY("SubjectAlternativeNames", "a(ss)", property<subjectAlternativeNames>, 0, kConst),
    SD_BUS_PROPERTY("Key", "o", property<key>, 0, kChanges),
    SD_BUS_PROPERTY("RequestPem", "s", property<requestPem>, 0, kConst),
    SD_BUS_PROPERTY("State", "s", property<state>, 0, kChanges),
    SD_BUS_PROPERTY("Certificate", "o", property<certificate>, 0, kChanges),
    SD_BUS_PROPERTY("CreatedUSec", "t", property<created>, 0, kConst),
    SD_BUS_VTABLE_END};

} // namespace certd::bus
