// cdi/spec_model: the Container Device Interface (CDI) spec model, what a vendor's /etc/cdi/*.yaml
// or *.json file says a container needs for a device, and the CDI name rules (vendor, class,
// kind, device name, "vendor/class=name"). Field names, order and versions follow the CDI Go
// types (specs-go/config.go, version.go; reference nvidia-driver.md §2). Reading, the version
// rules and writing are beside it (spec_read.hpp, spec_versions.hpp, spec_write.hpp).
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
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

} // namespace gantry::cdi
