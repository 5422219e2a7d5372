#include "util/yaml.hpp"

#include <map>
#include <optional>
#include <yaml.h>

namespace gantry::yaml {

const Node* Node::find(std::string_view key) const {
    for (const auto& [k, v] : entries)
        if (k.is_scalar() && k.value == key) return &v;
    return nullptr;
}

namespace {

struct Parser {
    yaml_parser_t p;
    Parser() {
        if (!yaml_parser_initialize(&p)) throw Error(Errc::internal, "cannot start libyaml");
    }
    ~Parser() { yaml_parser_delete(&p); }
    Parser(const Parser&) = delete;
    Parser& operator=(const Parser&) = delete;
};

struct Event {
    yaml_event_t e{};
    ~Event() { yaml_event_delete(&e); }
};

bool null_text(const std::string& s) {
    return s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL";
}

std::string text_of(const yaml_char_t* s) {
    return s ? std::string(reinterpret_cast<const char*>(s)) : std::string();
}

// A node's size and height, for the limits (an alias copies its anchor's whole tree).
struct Extent {
    size_t nodes = 1, height = 1;
};

// A collection being read: its node, the key waiting for its value (mappings), its anchor.
struct Open {
    Node node;
    std::optional<Node> key;
    std::string anchor;
    Extent extent;
};

class Builder {
  public:
    // Adds a finished node (with its extent) to the open collection, or makes it the root.
    void add(Node n, Extent x, const std::string& anchor) {
        total_ += x.nodes;
        if (total_ > kMaxNodes)
            throw Error(Errc::invalid,
                        "YAML document has more than " + std::to_string(kMaxNodes) +
                            " nodes (aliases are expanded)",
                        "a CDI spec or configuration file is far smaller: check its aliases");
        if (stack_.size() + x.height > kMaxDepth) too_deep();
        if (!anchor.empty()) anchors_[anchor] = {n, x};
        if (stack_.empty()) {
            root_ = std::move(n);
            return;
        }
        Open& top = stack_.back();
        top.extent.nodes += x.nodes;
        top.extent.height = std::max(top.extent.height, x.height + 1);
        if (top.node.is_seq()) {
            top.node.items.push_back(std::move(n));
        } else if (!top.key) {
            top.key = std::move(n);
        } else {
            top.node.entries.emplace_back(std::move(*top.key), std::move(n));
            top.key.reset();
        }
    }

    void open(Node::Kind kind, int line, std::string anchor) {
        if (stack_.size() + 1 > kMaxDepth) too_deep();
        Open o;
        o.node.kind = kind;
        o.node.line = line;
        o.anchor = std::move(anchor);
        stack_.push_back(std::move(o));
    }

    void close() {
        Open o = std::move(stack_.back());
        stack_.pop_back();
        total_ -= o.extent.nodes - 1; // its children were counted as they came
        add(std::move(o.node), o.extent, o.anchor);
    }

    void alias(const std::string& anchor, int line, int column) {
        auto it = anchors_.find(anchor);
        if (it == anchors_.end())
            throw SyntaxError{line, column, "alias *" + anchor + " names no anchor before it"};
        add(it->second.first, it->second.second, "");
    }

    Node take_root() { return std::move(root_); }

  private:
    [[noreturn]] static void too_deep() {
        throw Error(Errc::invalid,
                    "YAML document nests deeper than " + std::to_string(kMaxDepth) + " levels",
                    "a CDI spec or configuration file is far flatter: check the file");
    }

    std::vector<Open> stack_;
    std::map<std::string, std::pair<Node, Extent>> anchors_;
    Node root_;
    size_t total_ = 0;
};

} // namespace

Node parse(std::string_view text) {
    Parser parser;
    yaml_parser_set_input_string(&parser.p, reinterpret_cast<const unsigned char*>(text.data()),
                                 text.size());
    Builder b;
    for (;;) {
        Event ev;
        if (!yaml_parser_parse(&parser.p, &ev.e)) {
            const auto& p = parser.p;
            std::string msg = p.problem ? p.problem : "cannot be read";
            if (p.context) msg += std::string(" (") + p.context + ")";
            throw SyntaxError{static_cast<int>(p.problem_mark.line) + 1,
                              static_cast<int>(p.problem_mark.column) + 1, msg};
        }
        const yaml_event_t& e = ev.e;
        int line = static_cast<int>(e.start_mark.line) + 1;
        switch (e.type) {
        case YAML_SCALAR_EVENT: {
            Node n;
            n.line = line;
            n.value.assign(reinterpret_cast<const char*>(e.data.scalar.value),
                           e.data.scalar.length);
            n.tag = text_of(e.data.scalar.tag);
            n.plain = e.data.scalar.style == YAML_PLAIN_SCALAR_STYLE && n.tag.empty();
            n.kind = n.plain && null_text(n.value) ? Node::Kind::null : Node::Kind::scalar;
            b.add(std::move(n), {}, text_of(e.data.scalar.anchor));
            break;
        }
        case YAML_SEQUENCE_START_EVENT:
            b.open(Node::Kind::seq, line, text_of(e.data.sequence_start.anchor));
            break;
        case YAML_MAPPING_START_EVENT:
            b.open(Node::Kind::map, line, text_of(e.data.mapping_start.anchor));
            break;
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT:
            b.close();
            break;
        case YAML_ALIAS_EVENT:
            b.alias(text_of(e.data.alias.anchor), line, static_cast<int>(e.start_mark.column) + 1);
            break;
        case YAML_DOCUMENT_END_EVENT: // the first document only
        case YAML_STREAM_END_EVENT:
            return b.take_root();
        default:
            break;
        }
    }
}

} // namespace gantry::yaml
