#pragma once

// A YAML document as a small tree, read with libyaml's event parser. state.yaml is read at
// every start-up and grows with the store: at 10,000 certificates (3.4 MB) yaml-cpp's
// YAML::Load took 450 ms and built an 80 MB node tree; libyaml reads it in 40 ms, and this
// tree costs a tenth of that memory. (Writing stays with yaml-cpp's emitter.)
// Only what certd's own files use: mappings, sequences and scalars; anchors and aliases are
// refused.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace certd {

struct YamlNode {
    enum class Kind { Null, Scalar, Sequence, Map };
    Kind kind = Kind::Null; // a plain "", "~" or "null" is Null, as in YAML 1.2's core schema
    std::string scalar;
    // A sequence's items; a mapping's keys and values, alternating.
    std::vector<YamlNode> items;
    std::size_t line = 0; // from 0

    bool isMap() const { return kind == Kind::Map; }
    bool isNull() const { return kind == Kind::Null; }
    bool isScalar() const { return kind == Kind::Scalar; }
    bool isSequence() const { return kind == Kind::Sequence; }
    // A mapping's value for a scalar key (the first, if repeated); nullptr when absent.
    const YamlNode* find(std::string_view key) const;
};

struct YamlError {
    std::size_t line = 0; // from 0
    std::string reason;
};

// The first document of `text`; a Null node when there is none. Throws YamlError.
YamlNode parseYaml(std::string_view text);

} // namespace certd
