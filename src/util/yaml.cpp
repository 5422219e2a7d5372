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

constexpr std::string_view kCoreTag = "tag:yaml.org,2002:";

// Whether s is non-empty and every character is one of `set` or '_' (YAML 1.1 digit groups).
bool digits_in(std::string_view s, std::string_view set) {
    if (s.empty()) return false;
    for (char c : s)
        if (c != '_' && set.find(c) == std::string_view::npos) return false;
    return true;
}

constexpr std::string_view kDec = "0123456789";

bool int_text(std::string_view v) {
    if (!v.empty() && (v[0] == '+' || v[0] == '-')) v.remove_prefix(1);
    if (v == "0") return true;
    if (v.size() > 2 && v[0] == '0' && (v[1] == 'x' || v[1] == 'o' || v[1] == 'b'))
        return digits_in(v.substr(2), v[1] == 'x'   ? "0123456789abcdefABCDEF"
                                      : v[1] == 'o' ? "01234567"
                                                    : "01");
    if (v.size() > 1 && v[0] == '0') return digits_in(v.substr(1), "01234567"); // 1.1 octal
    return !v.empty() && v[0] != '_' && digits_in(v, kDec);
}

bool float_text(std::string_view v) {
    if (!v.empty() && (v[0] == '+' || v[0] == '-')) v.remove_prefix(1);
    if (v == ".inf" || v == ".Inf" || v == ".INF" || v == ".nan" || v == ".NaN" || v == ".NAN")
        return true;
    std::string_view exp;
    if (auto e = v.find_first_of("eE"); e != std::string_view::npos) {
        exp = v.substr(e + 1);
        v = v.substr(0, e);
        if (!exp.empty() && (exp[0] == '+' || exp[0] == '-')) exp.remove_prefix(1);
        if (exp.empty() || exp.find('_') != std::string_view::npos || !digits_in(exp, kDec))
            return false;
    }
    auto dot = v.find('.');
    std::string_view whole = v.substr(0, dot);
    std::string_view frac = dot == std::string_view::npos ? "" : v.substr(dot + 1);
    if (whole.empty()) return dot != std::string_view::npos && digits_in(frac, kDec);
    return whole[0] != '_' && digits_in(whole, kDec) && (frac.empty() || digits_in(frac, kDec));
}

// Whether a scalar's text is a value of core-schema type `type` ("int", "str", ...). The forms
// are YAML 1.2's core schema plus the 1.1 ones go-yaml v2 (CDI's reference reader) accepts.
bool scalar_fits(std::string_view type, const std::string& v) {
    if (type == "str") return true;
    if (type == "null") return null_text(v);
    if (type == "bool")
        return v == "true" || v == "True" || v == "TRUE" || v == "false" || v == "False" ||
               v == "FALSE";
    if (type == "int") return int_text(v);
    if (type == "float") return float_text(v) || int_text(v);
    return false; // !!binary, !!timestamp, ...: no configuration gantry reads uses them
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

    // Refuses an explicit tag the node's value does not fit (`!!int createContainer`), a
    // collection tag on a scalar or the other way round, and every tag outside YAML's core
    // schema (`!custom`): the reader would otherwise ignore it and take the text as it reads.
    void check_tag(const std::string& tag, Node::Kind kind, const std::string& value,
                   int line) const {
        if (tag.empty() || tag == "!") return;
        std::string_view type = tag;
        bool core = type.starts_with(kCoreTag);
        if (core) type.remove_prefix(kCoreTag.size());
        bool ok = false;
        if (core && kind == Node::Kind::seq) ok = type == "seq";
        if (core && kind == Node::Kind::map) ok = type == "map";
        if (core && kind != Node::Kind::seq && kind != Node::Kind::map)
            ok = scalar_fits(type, value);
        if (ok) return;
        std::string shown = core ? "!!" + std::string(type) : tag;
        std::string what = kind == Node::Kind::seq   ? "a sequence"
                           : kind == Node::Kind::map ? "a mapping"
                                                     : "\"" + value.substr(0, 40) + "\"";
        std::string at = path();
        throw Error(Errc::invalid,
                    (at.empty() ? "" : at + ": ") + "YAML tag " + shown + " does not fit " + what +
                        " (line " + std::to_string(line) + ")",
                    "drop the tag, or quote the value to make it a string");
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
    // Where the next node goes: "devices[0].containerEdits.hooks[1].hookName".
    std::string path() const {
        std::string out;
        for (const auto& o : stack_) {
            if (o.node.is_seq()) {
                out += "[" + std::to_string(o.node.items.size()) + "]";
            } else if (o.key) { // else the node is this mapping's next key
                std::string k = o.key->is_scalar() ? o.key->value : "?";
                out += (out.empty() ? "" : ".") + k.substr(0, 64);
            }
        }
        return out;
    }

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
            b.check_tag(n.tag, n.kind, n.value, line);
            if (n.tag == std::string(kCoreTag) + "null") n.kind = Node::Kind::null;
            b.add(std::move(n), {}, text_of(e.data.scalar.anchor));
            break;
        }
        case YAML_SEQUENCE_START_EVENT:
            b.check_tag(text_of(e.data.sequence_start.tag), Node::Kind::seq, {}, line);
            b.open(Node::Kind::seq, line, text_of(e.data.sequence_start.anchor));
            break;
        case YAML_MAPPING_START_EVENT:
            b.check_tag(text_of(e.data.mapping_start.tag), Node::Kind::map, {}, line);
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
