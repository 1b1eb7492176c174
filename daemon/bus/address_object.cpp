#include "arguments.hpp"
#include "objects.hpp"

namespace certd::bus {

AddressObject::AddressObject(sdbus::IConnection& connection, Service& service, std::string address)
    : AdaptorInterfaces(connection, addressPath(address)), service_(service), address_(std::move(address))
{
    registerAdaptor();
}

AddressObject::~AddressObject()
{
    unregisterAdaptor();
}

void AddressObject::emitChanged()
{
    emitPropertiesChangedSignal(org::certd1::Address_adaptor::INTERFACE_NAME,
                                {"Certificate", "State", "Error", "Origin", "Port"});
}

void assign(Service& service, const Callee& callee, sdbus::Result<BusWarnings>&& result,
            const std::string& address, const sdbus::ObjectPath& certificate,
            const std::map<std::string, sdbus::Variant>& options)
{
    service.mutate(
        callee, std::move(result), "Assign", address + " -> " + std::string(certificate), Right::Manage, [&] {
            const auto parsed = parseBindingOptions(options);
            auto bound =
                service.manager().assign(address, service.certificateIdFromPath(certificate), parsed.force);
            if (parsed.flush)
                service.requestFlush();
            return toBus(bound.warnings);
        });
}

void AddressObject::Assign(sdbus::Result<BusWarnings>&& result, sdbus::ObjectPath certificate,
                           std::map<std::string, sdbus::Variant> options)
{
    assign(service_, {getObject(), lifeline()}, std::move(result), address_, certificate, options);
}

std::string AddressObject::Address()
{
    return handleErrors([&] { return address_; });
}
uint16_t AddressObject::Port()
{
    return handleErrors([&] { return service_.info().port; });
}

sdbus::ObjectPath AddressObject::Certificate()
{
    return handleErrors([&] {
        const auto id = service_.manager().certificateForAddress(address_);
        return sdbus::ObjectPath(id.empty() ? "/" : certificatePath(id));
    });
}

std::string AddressObject::Origin()
{
    return handleErrors(
        [&] { return std::string(addressOriginName(service_.manager().address(address_).origin)); });
}
std::string AddressObject::State()
{
    return handleErrors(
        [&] { return std::string(tls::listenerStateName(service_.manager().address(address_).state)); });
}
std::string AddressObject::Error()
{
    return handleErrors([&] { return service_.manager().address(address_).error; });
}

} // namespace certd::bus
