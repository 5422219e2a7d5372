// cdi/spec_read: CDI spec text (YAML or JSON) in, the model out, with every rule a loadable spec
// keeps. Parsing is strict, as upstream's UnmarshalStrict: an unknown field fails the whole spec,
// and every message names the offending field by its path, e.g.
//   nvidia.yaml: devices[2].containerEdits.mounts[0].hostpat: unknown field (line 14)
// Field names match as Go's encoding/json matches them (case-insensitively), so a spec podman
// loads, gantry loads. Specs come from any vendor's tool: the text is untrusted input, and
// parse() takes it as bytes (load() only reads the file).
#pragma once

#include "cdi/spec_model.hpp"

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace gantry::cdi {

// Parses a spec. Throws Error(invalid) naming `origin` (a file name, may be empty), the field's
// path and, for YAML, the line. With validate (the default), validate() runs as well and its
// first problem is thrown (with a count of the others).
Spec parse(std::string_view text, Format format, const std::string& origin = {},
           bool validate = true);
// Reads and parses a file (format by extension). Error(not_found/io) when unreadable.
Spec load(const std::filesystem::path& path, bool validate = true);

// Every rule a loadable spec keeps, one message per problem, each starting with the field's path:
// known cdiVersion not below minimum_version(), kind and device name syntax, at least one device,
// unique device names, non-empty device edits, "K=V" env, absolute paths, device node type and
// permissions, hook names, timeouts > 0, mount paths, net devices, intelRdt closID.
std::vector<std::string> validate(const Spec& spec);

// A spec gantry generated, ready to write: its cdiVersion set to minimum_version(), then
// validated. Error(internal) naming the first problem: gantry built a spec it must not write.
void finish_generated(Spec& spec);

} // namespace gantry::cdi
