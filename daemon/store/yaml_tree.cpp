#include "store/yaml_tree.hpp"

#include <yaml.h>

#include <memory>

namespace certd {

const YamlNode* YamlNode::find(std::string_view key) const
{
    if (kind != Kind::Map)
        return nullptr;
    for (std::size_t i = 0; i + 1 < items.size(); i += 2)
        if (items[i].kind == Kind::Scalar && items[i].scalar == key)
            return &items[i + 1];
    return nullptr;
}

namespace {

struct Parser {
    yaml_parser_t parser{};
    Parser() { yaml_parser_initialize(&parser); }
    ~Parser() { yaml_parser_delete(&parser); }
    Parser(const Parser&) = delete;
    Parser& operator=(const Parser&) = delete;
};

struct Event {
    yaml_event_t event{};
    ~Event() { yaml_event_delete(&event); }
};

bool isNullScalar(const yaml_event_t& e)
{
    if (e.data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return false;
    const std::string_view value(reinterpret_cast<const char*>(e.data.scalar.value), e.data.scalar.length);
    return value.empty() || value == "~" || value == "null" || value == "Null" || value == "NULL";
}

} // namespace

YamlNode parseYaml(std::string_view text)
{
    Parser p;
    yaml_parser_set_input_string(&p.parser, reinterpret_cast<const unsigned char*>(text.data()), text.size());
    YamlNode root;
    std::vector<YamlNode*> open; // the containers being filled, innermost last
    bool done = false;
    while (!done) {
        Event e;
        if (!yaml_parser_parse(&p.parser, &e.event)) {
            // "did not find expected ',' or ']' while parsing a flow sequence"
            std::string reason = p.parser.problem ? p.parser.problem : "the YAML cannot be read";
            if (p.parser.context)
                reason += std::string(" ") + p.parser.context;
            throw YamlError{p.parser.problem_mark.line, reason};
        }
        const std::size_t line = e.event.start_mark.line;
        // Where a new node goes: the root, or the end of the innermost open container.
        const auto place = [&]() -> YamlNode& {
            if (open.empty())
                return root;
            return open.back()->items.emplace_back();
        };
        switch (e.event.type) {
        case YAML_DOCUMENT_END_EVENT:
        case YAML_STREAM_END_EVENT:
            done = true;
            break;
        case YAML_ALIAS_EVENT:
            throw YamlError{line, "aliases are not supported"};
        case YAML_SCALAR_EVENT: {
            if (e.event.data.scalar.anchor)
                throw YamlError{line, "anchors are not supported"};
            YamlNode& node = place();
            node.line = line;
            if (isNullScalar(e.event)) {
                node.kind = YamlNode::Kind::Null;
            } else {
                node.kind = YamlNode::Kind::Scalar;
                node.scalar.assign(reinterpret_cast<const char*>(e.event.data.scalar.value),
                                   e.event.data.scalar.length);
            }
            break;
        }
        case YAML_SEQUENCE_START_EVENT:
        case YAML_MAPPING_START_EVENT: {
            const bool sequence = e.event.type == YAML_SEQUENCE_START_EVENT;
            if (sequence ? e.event.data.sequence_start.anchor : e.event.data.mapping_start.anchor)
                throw YamlError{line, "anchors are not supported"};
            YamlNode& node = place();
            node.line = line;
            node.kind = sequence ? YamlNode::Kind::Sequence : YamlNode::Kind::Map;
            open.push_back(&node);
            break;
        }
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT:
            open.pop_back();
            break;
        default:
            break;
        }
    }
    return root;
}

} // namespace certd
