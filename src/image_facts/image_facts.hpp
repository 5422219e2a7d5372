// image_facts/image_facts: the small parsers the vendors' doctor rules read versions out of an
// image with, without running it: pip wheel METADATA, the version a C header defines, versioned
// library file names (libfoo.so.9.1.0), the dpkg status database, a Python module's top-level
// assignments (PyTorch's version.py). They name no vendor: what a vendor's toolkit writes (its
// headers' define names, its release tags) is read in its folder under gpu_vendors/ on top of
// these. Pure functions, no I/O; every input is untrusted image content.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace gantry::image_facts {

// A version of something found in an image, and where.
struct Evidence {
    std::string version; // "12.4.1", "9.1.0.70", "2.21.5"
    std::string source; // "/usr/lib/x86_64-linux-gnu/libfoo.so.9.1.0", "env FOO_VERSION", "pip ..."
    // The major release of the vendor's toolkit a library was built for (a wheel tagged for
    // one toolkit release); 0 unknown.
    int built_for_major = 0;
};

// One installed wheel, from site-packages/<name>-<version>.dist-info/METADATA.
struct PipPackage {
    std::string name;    // normalised (PEP 503): "zope-interface"
    std::string version; // "9.1.0.70"
    std::string path;    // "/usr/lib/python3/dist-packages/...dist-info/METADATA"
    std::vector<std::pair<std::string, std::string>> pins; // Requires-Dist name==version
};

// PEP 503 normalisation: lower case, runs of '-', '_' and '.' become one '-'.
std::string normalize_pip_name(const std::string& name);

// The Name, Version and exact (==) Requires-Dist pins of a METADATA file (RFC 822 headers up to
// the first blank line); nullopt without a Name and a Version.
std::optional<PipPackage> parse_pip_metadata(const std::string& text, const std::string& path);

// The value of `#define NAME <integer>` in a C header; nullopt when absent or not a number.
std::optional<long> header_define(const std::string& text, const std::string& name);
// "MAJOR.MINOR.PATCH" from the three defines of a version header ("FOO_MAJOR", "FOO_MINOR",
// "FOO_PATCH" -> "9.1.0"); nullopt unless all three are numbers.
std::optional<std::string> header_version(const std::string& text, const char* major,
                                          const char* minor, const char* patch);

// The version after `stem` in a library file name: ("libfoo.so.9.1.0", "libfoo.so.") ->
// "9.1.0"; digits and dots only, at least `min_components` of them; nullopt otherwise.
std::optional<std::string> file_name_version(const std::string& name, const std::string& stem,
                                             int min_components = 1);

// The upstream version of an installed package in a dpkg status file ("2.31-0ubuntu9.16" for
// libc6 -> "2.31-0ubuntu9.16"); only stanzas whose Status ends in "installed".
std::optional<std::string> dpkg_package_version(const std::string& status, const std::string& pkg);

// "2.31-0ubuntu9.16" / "2.36-9+deb12u4" / "2.28" -> {2, 31}; nullopt when it does not start with
// two numeric components.
std::optional<std::pair<int, int>> major_minor(const std::string& version);

// The string a Python module assigns to KEY on a line of its own (PyTorch's version.py:
// `__version__ = '2.4.0'`, `hip: Optional[str] = None`): the quoted value, "" for a value that
// is not quoted (None); nullopt when no line assigns KEY.
std::optional<std::string> python_assignment(const std::string& py, const std::string& key);

} // namespace gantry::image_facts
