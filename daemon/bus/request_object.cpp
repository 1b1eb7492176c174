#include "objects.hpp"

namespace certd::bus {

RequestObject::RequestObject(sdbus::IConnection& connection, Service& service, std::string id)
    : AdaptorInterfaces(connection, requestPath(id)), service_(service), id_(std::move(id))
{
    registerAdaptor();
}

RequestObject::~RequestObject()
{
    unregisterAdaptor();
}

void RequestObject::emitChanged()
{
    emitPropertiesChangedSignal(org::certd1::Request_adaptor::INTERFACE_NAME,
                                {"FriendlyName", "Key", "State", "Certificate"});
}

const RequestEntry& RequestObject::entry() const
{
    return service_.manager().shownRequest(id_);
}

const StoredRequest& RequestObject::stored() const
{
    return service_.manager().shownStoredRequest(id_);
}

void RequestObject::Delete(sdbus::Result<>&& result)
{
    Service& service = service_;
    const std::string id = id_;
    const std::string path = getObjectPath();
    service.mutate({getObject(), lifeline()}, std::move(result), "DeleteRequest", path, Right::Manage,
                   [&] { service.manager().deleteRequest(id); });
}

std::string RequestObject::FriendlyName()
{
    return handleErrors([&] { return stored().friendlyName; });
}
std::string RequestObject::Subject()
{
    return handleErrors([&] { return entry().info.subject; });
}

std::vector<sdbus::Struct<std::string, std::string>> RequestObject::SubjectAlternativeNames()
{
    return handleErrors([&] {
        std::vector<sdbus::Struct<std::string, std::string>> out;
        for (const auto& san : entry().info.subjectAltNames)
            out.emplace_back(san.type == pki::SubjectAltName::Type::Ip ? "IP" : "DNS", san.value);
        return out;
    });
}

sdbus::ObjectPath RequestObject::Key()
{
    return handleErrors([&] { return sdbus::ObjectPath(keyPath(stored().keyId)); });
}
std::string RequestObject::RequestPem()
{
    return handleErrors([&] { return entry().pem; });
}
std::string RequestObject::State()
{
    return handleErrors([&] { return std::string(requestStateName(stored().state)); });
}

sdbus::ObjectPath RequestObject::Certificate()
{
    return handleErrors([&] {
        const auto& id = stored().certificateId;
        return sdbus::ObjectPath(id.empty() ? "/" : certificatePath(id));
    });
}

uint64_t RequestObject::CreatedUSec()
{
    return handleErrors([&] { return stored().createdUSec; });
}

} // namespace certd::bus
