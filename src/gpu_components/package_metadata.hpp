// gpu_components/package_metadata: the package metadata an image carries, read without running
// it: Debian's control-file format (deb822: the dpkg status database, status.d/ files of
// distroless images, machine-readable copyright files) and a wheel's METADATA headers (the same
// RFC 822 form). Every input is untrusted image content: the readers are bounded (field and
// paragraph counts, line lengths) and never fail on malformed text, they skip what they cannot
// read. No library of Debian 12 reads deb822 from C++ without adding a shared library to gantry
// (libapt-pkg), hence this small reader.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace gantry::gpu_components {

// One paragraph: fields in order, names as written, values with continuation lines joined by
// '\n' (leading white space and the " ." blank-line marker removed).
using Paragraph = std::vector<std::pair<std::string, std::string>>;

struct Deb822Limits {
    std::size_t max_paragraphs = 100'000;
    std::size_t max_fields = 256;     // per paragraph; more are dropped
    std::size_t max_value = 1u << 20; // bytes per value; more are dropped
};
std::vector<Paragraph> parse_deb822(std::string_view text, const Deb822Limits& lim = {});

// The value of field `name` (case-insensitive), or nullptr.
const std::string* field(const Paragraph& p, std::string_view name);

struct DpkgPackage {
    std::string name, version, source;
};
// The installed packages of a dpkg status file (Status ending in " installed").
std::vector<DpkgPackage> dpkg_installed(std::string_view status);

// The licence of a machine-readable Debian copyright file: the first line of the License field
// of its "Files: *" paragraph ("Expat", "NCSA"); nullopt when the file is not in that format.
std::optional<std::string> debian_copyright_licence(std::string_view copyright);

struct PipMetadata {
    std::string name, version, licence; // licence: License-Expression, else License's first line
    std::vector<std::string> licence_files; // License-File values
};
// A wheel's METADATA (headers up to the first blank line); nullopt without Name and Version.
std::optional<PipMetadata> parse_pip_metadata(std::string_view text);

} // namespace gantry::gpu_components
