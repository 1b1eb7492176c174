#pragma once

// The bus objects made of generated adaptors: the Manager and the addresses, one object each.
// Certificates, keys and requests, by the thousand, are trees of one vtable each (tree.hpp).

#include "service.hpp"

#include <org.certd1.Address-adaptor.hpp>
#include <org.certd1.Manager-adaptor.hpp>

namespace certd::bus {

using BusWarnings = std::vector<sdbus::Struct<std::string, std::string>>;
BusWarnings toBus(const std::vector<pki::Warning>& warnings);
std::vector<sdbus::Struct<std::string, std::string>>
toBus(const std::vector<std::pair<std::string, std::string>>& subjectAltNames);
// Manager.Assign and Address.Assign: binds `address` to `certificate` (pre-flight, the options
// force and flush) as a mutation of `service`.
void assign(Service& service, const Callee& callee, sdbus::Result<BusWarnings>&& result,
            const std::string& address, const sdbus::ObjectPath& certificate,
            const std::map<std::string, sdbus::Variant>& options);

class ManagerObject final
    : public sdbus::AdaptorInterfaces<org::certd1::Manager_adaptor, sdbus::ObjectManager_adaptor,
                                      sdbus::Properties_adaptor>,
      public Lifeline {
public:
    ManagerObject(sdbus::IConnection& connection, Service& service);
    ~ManagerObject();

private:
    void CreateSelfSigned(sdbus::Result<sdbus::ObjectPath, BusWarnings>&& result,
                          std::map<std::string, sdbus::Variant> spec) override;
    void CreateRequest(sdbus::Result<sdbus::ObjectPath, BusWarnings>&& result,
                       std::map<std::string, sdbus::Variant> spec) override;
    void Import(sdbus::Result<std::vector<sdbus::ObjectPath>, BusWarnings>&& result,
                std::vector<uint8_t> data, std::string passphrase,
                std::map<std::string, sdbus::Variant> options) override;
    // CreateSelfSigned and CreateRequest.
    void create(sdbus::Result<sdbus::ObjectPath, BusWarnings>&& result,
                const std::map<std::string, sdbus::Variant>& spec, bool selfSigned);
    void Assign(sdbus::Result<BusWarnings>&& result, std::string address, sdbus::ObjectPath certificate,
                std::map<std::string, sdbus::Variant> options) override;
    void CreateAcmeOrder(sdbus::Result<sdbus::ObjectPath, BusWarnings>&& result,
                         std::map<std::string, sdbus::Variant> spec) override;
    void ReplaceCertificate(sdbus::Result<std::vector<std::string>, BusWarnings>&& result,
                            sdbus::ObjectPath oldCertificate, sdbus::ObjectPath newCertificate,
                            std::map<std::string, sdbus::Variant> options) override;
    std::map<std::string, sdbus::Variant> GetStatus() override;
    std::map<std::string, sdbus::Variant> GetCallerRights() override;
    void Reload(sdbus::Result<>&& result) override;
    std::string Version() override;
    sdbus::ObjectPath FactoryCertificate() override;
    std::string TerminatorState() override;
    std::vector<std::string> KeyTypes() override;
    std::string TerminatorError() override;

    Service& service_;
};

class AddressObject final
    : public sdbus::AdaptorInterfaces<org::certd1::Address_adaptor, sdbus::ManagedObject_adaptor,
                                      sdbus::Properties_adaptor>,
      public Lifeline {
public:
    AddressObject(sdbus::IConnection& connection, Service& service, std::string address);
    ~AddressObject();
    void announce() { emitInterfacesAddedSignal({org::certd1::Address_adaptor::INTERFACE_NAME}); }
    void emitChanged();
    void retract() { emitInterfacesRemovedSignal({org::certd1::Address_adaptor::INTERFACE_NAME}); }

private:
    void Assign(sdbus::Result<BusWarnings>&& result, sdbus::ObjectPath certificate,
                std::map<std::string, sdbus::Variant> options) override;
    std::string Address() override;
    uint16_t Port() override;
    sdbus::ObjectPath Certificate() override;
    std::string Origin() override;
    std::string State() override;
    std::string Error() override;

    Service& service_;
    std::string address_;
};

} // namespace certd::bus
