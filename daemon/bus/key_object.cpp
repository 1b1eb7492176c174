#include "objects.hpp"

namespace certd::bus {

KeyObject::KeyObject(sdbus::IConnection& connection, Service& service, std::string id)
    : AdaptorInterfaces(connection, keyPath(id)), service_(service), id_(std::move(id))
{
    registerAdaptor();
}

KeyObject::~KeyObject()
{
    unregisterAdaptor();
}

void KeyObject::emitChanged()
{
    emitPropertiesChangedSignal(org::certd1::Key_adaptor::INTERFACE_NAME, {"Certificates", "Requests"});
}

void KeyObject::Delete(sdbus::Result<>&& result)
{
    Service& service = service_;
    const std::string id = id_;
    const std::string path = getObjectPath();
    service.mutate({getObject(), lifeline()}, std::move(result), "DeleteKey", path, Right::Manage,
                   [&] { service.manager().deleteKey(id); });
}

std::string KeyObject::Algorithm()
{
    return handleErrors([&] { return service_.manager().shownKey(id_).algorithm; });
}
uint32_t KeyObject::Bits()
{
    return handleErrors([&] { return service_.manager().shownKey(id_).bits; });
}
std::string KeyObject::FingerprintSHA256()
{
    return handleErrors([&] { return service_.manager().shownKey(id_).spkiSha256; });
}

std::vector<sdbus::ObjectPath> KeyObject::Certificates()
{
    return handleErrors([&] {
        std::vector<sdbus::ObjectPath> out;
        for (const auto& id : service_.manager().certificatesOfKey(id_))
            out.emplace_back(certificatePath(id));
        return out;
    });
}

std::vector<sdbus::ObjectPath> KeyObject::Requests()
{
    return handleErrors([&] {
        std::vector<sdbus::ObjectPath> out;
        for (const auto& id : service_.manager().requestsOfKey(id_))
            out.emplace_back(requestPath(id));
        return out;
    });
}

} // namespace certd::bus
