#pragma once

// The bus objects; each maps one Manager entry onto its generated adaptor.

#include "service.hpp"

#include <org.certd1.Address-adaptor.hpp>
#include <org.certd1.Certificate-adaptor.hpp>
#include <org.certd1.Key-adaptor.hpp>
#include <org.certd1.Manager-adaptor.hpp>
#include <org.certd1.Request-adaptor.hpp>

namespace certd::bus {

using BusWarnings = std::vector<sdbus::Struct<std::string, std::string>>;
BusWarnings toBus(const std::vector<pki::Warning>& warnings);
std::vector<sdbus::Struct<std::string, std::string>>
toBus(const std::vector<std::pair<std::string, std::string>>& subjectAltNames);

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
    void ReplaceCertificate(sdbus::Result<std::vector<std::string>, BusWarnings>&& result,
                            sdbus::ObjectPath oldCertificate, sdbus::ObjectPath newCertificate,
                            std::map<std::string, sdbus::Variant> options) override;
    std::map<std::string, sdbus::Variant> GetStatus() override;
    std::map<std::string, sdbus::Variant> GetCallerRights() override;
    std::string Version() override;
    sdbus::ObjectPath FactoryCertificate() override;
    std::string TerminatorState() override;
    std::vector<std::string> KeyTypes() override;
    std::string TerminatorError() override;

    Service& service_;
};

class CertificateObject final
    : public sdbus::AdaptorInterfaces<org::certd1::Certificate_adaptor, sdbus::ManagedObject_adaptor,
                                      sdbus::Properties_adaptor>,
      public Lifeline {
public:
    CertificateObject(sdbus::IConnection& connection, Service& service, std::string id);
    ~CertificateObject();
    void announce() { emitInterfacesAddedSignal({org::certd1::Certificate_adaptor::INTERFACE_NAME}); }
    void emitChanged();
    void retract() { emitInterfacesRemovedSignal({org::certd1::Certificate_adaptor::INTERFACE_NAME}); }

private:
    const CertificateEntry& entry() const;
    void Export(sdbus::Result<std::vector<uint8_t>>&& result,
                std::map<std::string, sdbus::Variant> options) override;
    void SetFriendlyName(sdbus::Result<>&& result, std::string friendlyName) override;
    void SetAddresses(sdbus::Result<BusWarnings>&& result, std::vector<std::string> addresses,
                      std::map<std::string, sdbus::Variant> options) override;
    void SetChain(sdbus::Result<>&& result, std::string mode, std::vector<uint8_t> pem) override;
    void FetchIssuer(sdbus::Result<std::vector<sdbus::ObjectPath>>&& result) override;
    std::vector<sdbus::Struct<std::string, std::string, std::string>>
    Check(const std::vector<std::string>& hostnames) override;
    void Delete(sdbus::Result<>&& result) override;
    std::string FriendlyName() override;
    std::string Subject() override;
    std::string Issuer() override;
    std::string IssuedTo() override;
    std::string IssuedBy() override;
    std::string SerialNumber() override;
    std::string SignatureAlgorithm() override;
    uint64_t NotBeforeUSec() override;
    uint64_t NotAfterUSec() override;
    std::string PublicKey() override;
    std::vector<sdbus::Struct<std::string, std::string>> SubjectAlternativeNames() override;
    std::vector<std::string> AuthorityInfoAccess() override;
    std::string FingerprintSHA256() override;
    sdbus::ObjectPath Key() override;
    bool HasPrivateKey() override;
    std::string Kind() override;
    std::vector<sdbus::ObjectPath> Chain() override;
    std::string ChainMode() override;
    BusWarnings Warnings() override;
    std::vector<std::string> Addresses() override;
    bool IsFactoryDefault() override;

    Service& service_;
    std::string id_;
};

class KeyObject final
    : public sdbus::AdaptorInterfaces<org::certd1::Key_adaptor, sdbus::ManagedObject_adaptor,
                                      sdbus::Properties_adaptor>,
      public Lifeline {
public:
    KeyObject(sdbus::IConnection& connection, Service& service, std::string id);
    ~KeyObject();
    void announce() { emitInterfacesAddedSignal({org::certd1::Key_adaptor::INTERFACE_NAME}); }
    void emitChanged();
    void retract() { emitInterfacesRemovedSignal({org::certd1::Key_adaptor::INTERFACE_NAME}); }

private:
    void Delete(sdbus::Result<>&& result) override;
    std::string Algorithm() override;
    uint32_t Bits() override;
    std::string FingerprintSHA256() override;
    std::vector<sdbus::ObjectPath> Certificates() override;
    std::vector<sdbus::ObjectPath> Requests() override;

    Service& service_;
    std::string id_;
};

class RequestObject final
    : public sdbus::AdaptorInterfaces<org::certd1::Request_adaptor, sdbus::ManagedObject_adaptor,
                                      sdbus::Properties_adaptor>,
      public Lifeline {
public:
    RequestObject(sdbus::IConnection& connection, Service& service, std::string id);
    ~RequestObject();
    void announce() { emitInterfacesAddedSignal({org::certd1::Request_adaptor::INTERFACE_NAME}); }
    void emitChanged();
    void retract() { emitInterfacesRemovedSignal({org::certd1::Request_adaptor::INTERFACE_NAME}); }

private:
    const RequestEntry& entry() const;
    const StoredRequest& stored() const;
    void Delete(sdbus::Result<>&& result) override;
    std::string FriendlyName() override;
    std::string Subject() override;
    std::vector<sdbus::Struct<std::string, std::string>> SubjectAlternativeNames() override;
    sdbus::ObjectPath Key() override;
    std::string RequestPem() override;
    std::string State() override;
    sdbus::ObjectPath Certificate() override;
    uint64_t CreatedUSec() override;

    Service& service_;
    std::string id_;
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
