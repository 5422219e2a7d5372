// The Container Device Interface (CDI) spec model: what a vendor's /etc/cdi/*.yaml or *.json file
// says a container needs for a device. Field names, order and versions follow the CDI Go types
// (specs-go/config.go, version.go; reference nvidia-driver.md §2).
//
// Parsing is strict, as upstream's UnmarshalStrict: an unknown field fails the whole spec, and
// every message names the offending field by its path, e.g.
//   nvidia.yaml: devices[2].containerEdits.mounts[0].hostpat: unknown field (line 14)
// Field names match as Go's encoding/json matches them (case-insensitively), so a spec podman
// loads, gantry loads.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gantry::cdi {

struct DeviceNode {
    std::string path;                  // in the container (required, absolute)
    std::string host_path;             // on the host; empty: same as path (0.5.0)
    std::string type;                  // "c", "b", "u", "p" or empty (taken from the host node)
    std::int64_t major = 0, minor = 0; // 0: absent (taken from the host node)
    std::optional<std::uint32_t> file_mode;
    std::string permissions; // subset of "rwm", or "none"; empty: rwm
    std::optional<std::uint32_t> uid, gid;
};

struct Mount {
    std::string host_path;
    std::string container_path;
    std::vector<std::string> options;
    std::string type; // 0.4.0
};

struct Hook {
    std::string hook_name; // prestart, createRuntime, createContainer, startContainer, poststart,
                           // poststop
    std::string path;      // absolute
    std::vector<std::string> args; // argv, argv[0] included
    std::vector<std::string> env;  // "K=V": the hook's whole environment
    std::optional<int> timeout;    // seconds, > 0
};

struct IntelRdt { // 0.7.0
    std::string clos_id, l3_cache_schema, mem_bw_schema;
    std::vector<std::string> schemata; // 1.1.0
    bool enable_monitoring = false;    // 1.1.0
};

struct NetDevice { // 1.1.0
    std::string host_interface_name, name;
};

struct ContainerEdits {
    std::vector<std::string> env;
    std::vector<DeviceNode> device_nodes;
    std::vector<NetDevice> net_devices;
    std::vector<Hook> hooks;
    std::vector<Mount> mounts;
    std::optional<IntelRdt> intel_rdt;
    std::vector<std::uint32_t> additional_gids; // JSON key "additionalGids" (0.7.0)

    bool empty() const;
};

struct Device {
    std::string name;                               // unqualified, e.g. "0", "GPU-…", "all"
    std::map<std::string, std::string> annotations; // 0.6.0
    ContainerEdits edits;
};

struct Spec {
    std::string cdi_version;                        // "0.5.0" (a leading "v" is accepted on input)
    std::string kind;                               // "vendor/class", e.g. "nvidia.com/gpu"
    std::map<std::string, std::string> annotations; // 0.6.0
    std::vector<Device> devices;
    ContainerEdits edits; // spec-level edits, applied once per spec

    std::string vendor() const;     // before the "/" of kind
    std::string class_name() const; // after it
    const Device* find(const std::string& name) const;
};

enum class Format { yaml, json };
// By extension: ".json" is JSON, anything else YAML.
Format format_for(const std::filesystem::path& path);

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

// The lowest cdiVersion that can carry this spec's content (at least 0.3.0).
std::string minimum_version(const Spec& spec);
// The versions gantry knows, oldest first ("0.1.0" … "1.1.0").
const std::vector<std::string>& known_versions();
// Compares "X.Y.Z" (optional leading "v"); nullopt when either is malformed.
std::optional<int> compare_versions(const std::string& a, const std::string& b);

// Name rules (CDI pkg/parser). Each returns an empty string when valid, else the reason.
std::string check_vendor(const std::string& vendor);
std::string check_class(const std::string& cls);
std::string check_kind(const std::string& kind);
std::string check_device_name(const std::string& name);

struct QualifiedName {
    std::string vendor, cls, name;
    std::string kind() const { return vendor + "/" + cls; }
    std::string str() const { return kind() + "=" + name; }
};
// "vendor/class=name"; nullopt for anything else (including paths such as /dev/x).
std::optional<QualifiedName> parse_qualified_name(const std::string& s);

// Serialisation in the Go field order, empty fields omitted.
std::string to_yaml(const Spec& spec);
std::string to_json(const Spec& spec); // indented, newline-terminated
std::string serialize(const Spec& spec, Format format);
// Writes the spec to path (format by extension) through a temporary file and rename, mode 0644.
void write_atomic(const Spec& spec, const std::filesystem::path& path);

} // namespace gantry::cdi
