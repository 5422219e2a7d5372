// YAML documents, read with libyaml into a small tree: what CDI specs, lint's configuration and
// analyze's CI rules need (mappings in order, sequences, scalars with their style and tag, the
// line of every node).
//
// libyaml is a C library: no static initializers, so nothing of it runs at gantry's start-up
// (a C++ YAML library brought <iostream>'s initializer into every `gantry run`).
//
// Explicit tags must fit their node: the core schema's (!!str, !!int, !!float, !!bool, !!null on
// scalars whose text is of that type, !!seq, !!map) and the non-specific "!"; any other tag is
// an error naming the node's path and line.
//
// Untrusted input: aliases are expanded (a copy per use) up to kMaxNodes nodes in all, and
// nesting is limited to kMaxDepth, so neither an alias bomb nor a deep document can exhaust
// memory or the stack of whoever walks the tree.
#pragma once

#include "util/error.hpp"

#include <exception>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace gantry::yaml {

inline constexpr size_t kMaxNodes = 100'000;
inline constexpr size_t kMaxDepth = 512;

struct Node {
    enum class Kind { null, scalar, seq, map };
    Kind kind = Kind::null;
    std::string value;  // a scalar's text
    std::string tag;    // its explicit tag, resolved ("tag:yaml.org,2002:str" for !!str), or ""
    bool plain = false; // an unquoted scalar: its type follows from its text (numbers, booleans)
    int line = 0;       // 1-based, where the node starts
    std::vector<Node> items;                    // a sequence's items
    std::vector<std::pair<Node, Node>> entries; // a mapping's keys and values, in order

    // Declared so that clang (14, with libstdc++ 12) does not need pair<Node, Node> complete
    // while it computes the implicit constructor's noexcept inside this class (the fuzz build).
    Node() = default;

    bool is_null() const { return kind == Kind::null; }
    bool is_scalar() const { return kind == Kind::scalar; }
    bool is_seq() const { return kind == Kind::seq; }
    bool is_map() const { return kind == Kind::map; }
    // The value of scalar key `key` in a mapping, or nullptr.
    const Node* find(std::string_view key) const;
};

// A syntax error: where (1-based) and libyaml's description.
struct SyntaxError : std::exception {
    int line = 0, column = 0;
    std::string message;
    SyntaxError(int l, int c, std::string m) : line(l), column(c), message(std::move(m)) {}
    const char* what() const noexcept override { return message.c_str(); }
};

// Parses the first document of `text` (empty text: a null node). A plain empty scalar, "~" and
// "null" (any case of YAML's spellings) are null nodes, as in YAML's core schema.
// Throws SyntaxError for malformed YAML, Error(invalid) past the limits above.
Node parse(std::string_view text);

} // namespace gantry::yaml
