// cdi/spec_document: a format-neutral document tree, what the strict reader (spec_read.cpp) walks.
// YAML (util/yaml.hpp, libyaml) and JSON (nlohmann's SAX parser, which unlike json::parse keeps
// duplicate keys for the reader to reject) both become this tree. YAML plain scalars keep their
// text so that a string field reads `name: 0` as "0" (as sigs.k8s.io/yaml does for string
// targets), while numbers stay numbers. Internal to cdi/.
#pragma once

#include "cdi/spec_model.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace gantry::cdi {

struct Raw {
    enum class Kind { null, str, integer, floating, boolean, seq, map } kind = Kind::null;
    std::string text;   // scalars, as written
    bool plain = false; // YAML plain scalar: readable as a string too
    bool overflow = false;
    std::int64_t ival = 0;
    bool bval = false;
    std::vector<Raw> items;     // seq elements, or map values (with key set)
    std::string key;            // when a map value: its key
    int line = 0, key_line = 0; // 1-based, 0 unknown (JSON)
};

// The tree of `text`. Throws Error(invalid) for a syntax error ("invalid JSON: ...", "invalid
// YAML at line L, column C: ...") or a YAML document past util/yaml's limits, prefixed with
// "origin: " when origin is not empty.
Raw read_document(std::string_view text, Format format, const std::string& origin);

} // namespace gantry::cdi
