// org.certd1.AcmeOrder at /org/certd1/acme_order/<id>: the handlers of its vtable.

#include "objects.hpp"
#include "tree.hpp"

namespace certd::bus {

namespace {

void renew(Call& call)
{
    call.service.mutate(call.callee(), call.result<>(), "RenewAcmeOrder", call.path, Right::Manage,
                        [&] { call.service.acme().renew(call.id); });
}

void deleteOrder(Call& call)
{
    call.service.mutate(call.callee(), call.result<>(), "DeleteAcmeOrder", call.path, Right::Manage,
                        [&] { call.service.acme().remove(call.id); });
}

const StoredAcmeOrder& stored(Service& s, const std::string& id)
{
    return s.manager().acmeOrder(id);
}

std::string friendlyName(Service& s, const std::string& id)
{
    return stored(s, id).friendlyName;
}
std::string state(Service& s, const std::string& id)
{
    return std::string(acmeOrderStateName(stored(s, id).state));
}
std::string errorName(Service& s, const std::string& id)
{
    return stored(s, id).errorName;
}
std::string error(Service& s, const std::string& id)
{
    return stored(s, id).error;
}
sdbus::ObjectPath certificate(Service& s, const std::string& id)
{
    const auto& certificateId = stored(s, id).certificateId;
    return sdbus::ObjectPath(certificateId.empty() ? "/" : certificatePath(certificateId));
}
std::vector<std::string> identifiers(Service& s, const std::string& id)
{
    return stored(s, id).identifiers;
}
std::string directoryUrl(Service& s, const std::string& id)
{
    return stored(s, id).directoryUrl;
}
std::string challenge(Service& s, const std::string& id)
{
    return stored(s, id).challenge;
}
std::string accountUrl(Service& s, const std::string& id)
{
    return stored(s, id).accountUrl;
}
sdbus::ObjectPath account(Service& s, const std::string& id)
{
    const auto& order = stored(s, id);
    return sdbus::ObjectPath(
        order.accountKeyId.empty() || order.accountUrl.empty() ? "/" : acmeAccountPath(order.accountKeyId));
}
uint64_t nextRenewal(Service& s, const std::string& id)
{
    return stored(s, id).nextRenewalUSec;
}
uint64_t created(Service& s, const std::string& id)
{
    return stored(s, id).createdUSec;
}

constexpr auto kConst = SD_BUS_VTABLE_PROPERTY_CONST;
constexpr auto kChanges = SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE;

} // namespace

// In the order of dbus/org.certd1.AcmeOrder.xml.
const sd_bus_vtable kAcmeOrderVtable[] = {
    SD_BUS_VTABLE_START(0),
    SD_BUS_METHOD("Renew", "", "", method<renew>, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD("Delete", "", "", method<deleteOrder>, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_SIGNAL_WITH_NAMES("RenewalFailed", "ss", SD_BUS_PARAM(error_name) SD_BUS_PARAM(message), 0),
    SD_BUS_PROPERTY("FriendlyName", "s", property<friendlyName>, 0, kChanges),
    SD_BUS_PROPERTY("State", "s", property<state>, 0, kChanges),
    SD_BUS_PROPERTY("ErrorName", "s", property<errorName>, 0, kChanges),
    SD_BUS_PROPERTY("Error", "s", property<error>, 0, kChanges),
    SD_BUS_PROPERTY("Certificate", "o", property<certificate>, 0, kChanges),
    SD_BUS_PROPERTY("Identifiers", "as", property<identifiers>, 0, kConst),
    SD_BUS_PROPERTY("DirectoryUrl", "s", property<directoryUrl>, 0, kConst),
    SD_BUS_PROPERTY("Challenge", "s", property<challenge>, 0, kConst),
    SD_BUS_PROPERTY("AccountUrl", "s", property<accountUrl>, 0, kChanges),
    SD_BUS_PROPERTY("Account", "o", property<account>, 0, kChanges),
    SD_BUS_PROPERTY("NextRenewalUSec", "t", property<nextRenewal>, 0, kChanges),
    SD_BUS_PROPERTY("CreatedUSec", "t", property<created>, 0, kConst),
    SD_BUS_VTABLE_END};

} // namespace certd::bus
