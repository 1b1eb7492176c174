#include "error.hpp"

#include <array>
#include <utility>

namespace certd {
namespace {

constexpr std::array<std::pair<ErrorCode, std::string_view>, 18> kErrorNames{{
    {ErrorCode::InvalidArgument, "org.certd1.Error.InvalidArgument"},
    {ErrorCode::NotFound, "org.certd1.Error.NotFound"},
    {ErrorCode::InvalidCertificate, "org.certd1.Error.InvalidCertificate"},
    {ErrorCode::EmptyInput, "org.certd1.Error.EmptyInput"},
    {ErrorCode::Malformed, "org.certd1.Error.Malformed"},
    {ErrorCode::PassphraseRequired, "org.certd1.Error.PassphraseRequired"},
    {ErrorCode::BadPassphrase, "org.certd1.Error.BadPassphrase"},
    {ErrorCode::KeyMismatch, "org.certd1.Error.KeyMismatch"},
    {ErrorCode::NoPrivateKey, "org.certd1.Error.NoPrivateKey"},
    {ErrorCode::InUse, "org.certd1.Error.InUse"},
    {ErrorCode::AccessDenied, "org.certd1.Error.AccessDenied"},
    {ErrorCode::Unsupported, "org.certd1.Error.Unsupported"},
    {ErrorCode::FetchFailed, "org.certd1.Error.FetchFailed"},
    {ErrorCode::CheckFailed, "org.certd1.Error.CheckFailed"},
    {ErrorCode::Busy, "org.certd1.Error.Busy"},
    {ErrorCode::TooLarge, "org.certd1.Error.TooLarge"},
    {ErrorCode::AcmeFailed, "org.certd1.Error.AcmeFailed"},
    {ErrorCode::Internal, "org.certd1.Error.Internal"},
}};

} // namespace

std::string_view errorName(ErrorCode code)
{
    for (const auto& [c, name] : kErrorNames)
        if (c == code)
            return name;
    return "org.certd1.Error.Internal";
}

std::optional<ErrorCode> errorCodeFromName(std::string_view name)
{
    for (const auto& [c, n] : kErrorNames)
        if (n == name)
            return c;
    return std::nullopt;
}

Error::Error(ErrorCode code, const std::string& message) : std::runtime_error(message), code_(code) {}

} // namespace certd
