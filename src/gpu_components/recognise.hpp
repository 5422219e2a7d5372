// gpu_components/recognise: which vendor component a file of an image is (from its path and
// whether it is ELF, by the tables of table.hpp), which licence a licence text is (a vendor
// licence or distributable list by its markers, else a common open-source licence), and which
// small files of an image an analysis keeps to read (package metadata, licence texts), with
// their size limits. Paths are as a layer names them: normalised, no leading "/".
#pragma once

#include "gpu_components/table.hpp"

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace gantry::gpu_components {

// Licence texts, notices, READMEs, version files and a wheel's dist-info: what describes a
// component rather than being part of it (component_of is nullptr for them).
bool is_notice_file(std::string_view path, const Table& t = table());

// The component a file is, or nullptr (notice files included). Fast enough for every file of an
// image: the globs are indexed by their literal parts.
const Component* component_of(std::string_view path, bool elf, const Table& t = table());

// Whether the distributable list `list` names the component's files.
bool listed_in(const Component& c, std::string_view list);

// What a licence text is. licence: a Licence id of the table, or an SPDX id of a common
// open-source licence ("MIT", "BSD-3-Clause", ...); list: the DistributableList whose markers
// the text carries ("" = none).
struct LicenceText {
    std::string licence, name, list;
    bool open_source = false;
};
std::optional<LicenceText> identify_licence(std::string_view text, const Table& t = table());

// The small files an analysis keeps to read, and at most how many bytes of each (the rest is
// not read; the report says the text was cut).
enum class TextKind : unsigned char { none, dpkg_status, pip_metadata, licence, copyright };
struct TextRule {
    TextKind kind = TextKind::none;
    std::size_t limit = 0;
};
TextRule text_rule(std::string_view path, const Table& t = table());

// Whether a package name (dpkg or pip, any case) matches one of the component's package globs.
bool package_matches(const Component& c, std::string_view package);
// The component whose package globs match a package name, or nullptr.
const Component* component_of_package(std::string_view package, const Table& t = table());

} // namespace gantry::gpu_components
