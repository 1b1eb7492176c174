#include "certctl/json.hpp"

#include "client.hpp"
#include "text.hpp"

namespace certd::certctl {

Json& Json::set(std::string key, Json value)
{
    std::get<Object>(value_).emplace_back(std::move(key), std::move(value));
    return *this;
}

Json& Json::push(Json value)
{
    std::get<Array>(value_).push_back(std::move(value));
    return *this;
}

std::string Json::dump() const
{
    std::string out;
    write(out, 0);
    return out;
}

void Json::write(std::string& out, int indent) const
{
    const auto newline = [&out](int n) {
        out += '\n';
        out.append(static_cast<std::size_t>(n), ' ');
    };
    std::visit(
        [&](const auto& v) {
            using T = std::decay_t<decltype(v)>;
            if constexpr (std::is_same_v<T, std::nullptr_t>) {
                out += "null";
            } else if constexpr (std::is_same_v<T, bool>) {
                out += v ? "true" : "false";
            } else if constexpr (std::is_same_v<T, std::int64_t> || std::is_same_v<T, std::uint64_t>) {
                out += std::to_string(v);
            } else if constexpr (std::is_same_v<T, std::string>) {
                appendJsonString(out, v);
            } else if constexpr (std::is_same_v<T, Array>) {
                if (v.empty()) {
                    out += "[]";
                    return;
                }
                out += '[';
                for (std::size_t i = 0; i < v.size(); ++i) {
                    if (i > 0)
                        out += ',';
                    newline(indent + 2);
                    v[i].write(out, indent + 2);
                }
                newline(indent);
                out += ']';
            } else {
                if (v.empty()) {
                    out += "{}";
                    return;
                }
                out += '{';
                for (std::size_t i = 0; i < v.size(); ++i) {
                    if (i > 0)
                        out += ',';
                    newline(indent + 2);
                    appendJsonString(out, v[i].first);
                    out += ": ";
                    v[i].second.write(out, indent + 2);
                }
                newline(indent);
                out += '}';
            }
        },
        value_);
}

void appendJsonString(std::string& out, std::string_view s)
{
    out += '"';
    for (std::size_t i = 0; i < s.size();) {
        std::size_t length = 0;
        const char32_t cp = decodeUtf8(s, i, length);
        switch (cp) {
        case '"':
            out += "\\\"";
            break;
        case '\\':
            out += "\\\\";
            break;
        case '\b':
            out += "\\b";
            break;
        case '\f':
            out += "\\f";
            break;
        case '\n':
            out += "\\n";
            break;
        case '\r':
            out += "\\r";
            break;
        case '\t':
            out += "\\t";
            break;
        case kInvalidCodePoint:
            out += "\\ufffd";
            break;
        default:
            // U+2028/2029 are valid JSON but end a line in JavaScript source.
            if (cp < 0x20 || cp == 0x2028 || cp == 0x2029)
                out += "\\u" + hexDigits(static_cast<std::uint32_t>(cp), 4);
            else
                out.append(s.substr(i, length));
        }
        i += length;
    }
    out += '"';
}

Json jsonStrings(const std::vector<std::string>& strings)
{
    Json::Array a;
    a.reserve(strings.size());
    for (const auto& s : strings)
        a.emplace_back(s);
    return Json(std::move(a));
}

Json jsonPath(const std::string& path)
{
    if (path.empty() || path == client::kNoObject)
        return nullptr;
    return path;
}

} // namespace certd::certctl
