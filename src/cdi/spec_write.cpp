// Serialisation: an ordered JSON tree in Go field order, then JSON text or block YAML.
#include "cdi/spec_write.hpp"

#include "util/fs.hpp"
#include "util/yaml_emit.hpp"

#include <nlohmann/json.hpp>

namespace gantry::cdi {

namespace {

using ojson = nlohmann::ordered_json;

ojson edits_json(const ContainerEdits& e) {
    ojson j = ojson::object();
    if (!e.env.empty()) j["env"] = e.env;
    if (!e.device_nodes.empty()) {
        ojson a = ojson::array();
        for (const auto& d : e.device_nodes) {
            ojson n;
            n["path"] = d.path;
            if (!d.host_path.empty()) n["hostPath"] = d.host_path;
            if (!d.type.empty()) n["type"] = d.type;
            if (d.major) n["major"] = d.major;
            if (d.minor) n["minor"] = d.minor;
            if (d.file_mode) n["fileMode"] = *d.file_mode;
            if (!d.permissions.empty()) n["permissions"] = d.permissions;
            if (d.uid) n["uid"] = *d.uid;
            if (d.gid) n["gid"] = *d.gid;
            a.push_back(n);
        }
        j["deviceNodes"] = a;
    }
    if (!e.net_devices.empty()) {
        ojson a = ojson::array();
        for (const auto& n : e.net_devices)
            a.push_back(ojson{{"hostInterfaceName", n.host_interface_name}, {"name", n.name}});
        j["netDevices"] = a;
    }
    if (!e.hooks.empty()) {
        ojson a = ojson::array();
        for (const auto& h : e.hooks) {
            ojson o;
            o["hookName"] = h.hook_name;
            o["path"] = h.path;
            if (!h.args.empty()) o["args"] = h.args;
            if (!h.env.empty()) o["env"] = h.env;
            if (h.timeout) o["timeout"] = *h.timeout;
            a.push_back(o);
        }
        j["hooks"] = a;
    }
    if (!e.mounts.empty()) {
        ojson a = ojson::array();
        for (const auto& m : e.mounts) {
            ojson o;
            o["hostPath"] = m.host_path;
            o["containerPath"] = m.container_path;
            if (!m.options.empty()) o["options"] = m.options;
            if (!m.type.empty()) o["type"] = m.type;
            a.push_back(o);
        }
        j["mounts"] = a;
    }
    if (e.intel_rdt) {
        const auto& r = *e.intel_rdt;
        ojson o = ojson::object();
        if (!r.clos_id.empty()) o["closID"] = r.clos_id;
        if (!r.l3_cache_schema.empty()) o["l3CacheSchema"] = r.l3_cache_schema;
        if (!r.mem_bw_schema.empty()) o["memBwSchema"] = r.mem_bw_schema;
        if (!r.schemata.empty()) o["schemata"] = r.schemata;
        if (r.enable_monitoring) o["enableMonitoring"] = true;
        j["intelRdt"] = o;
    }
    if (!e.additional_gids.empty()) j["additionalGids"] = e.additional_gids;
    return j;
}

ojson spec_json(const Spec& s) {
    ojson j;
    j["cdiVersion"] = s.cdi_version;
    j["kind"] = s.kind;
    if (!s.annotations.empty()) j["annotations"] = s.annotations;
    j["devices"] = ojson::array();
    for (const auto& d : s.devices) {
        ojson o;
        o["name"] = d.name;
        if (!d.annotations.empty()) o["annotations"] = d.annotations;
        o["containerEdits"] = edits_json(d.edits);
        j["devices"].push_back(o);
    }
    if (!s.edits.empty()) j["containerEdits"] = edits_json(s.edits);
    return j;
}

} // namespace

std::string to_json(const Spec& spec) {
    return spec_json(spec).dump(2, ' ', false, ojson::error_handler_t::replace) + "\n";
}

std::string to_yaml(const Spec& spec) {
    return "---\n" + yaml::emit(spec_json(spec));
}

std::string serialize(const Spec& spec, Format format) {
    return format == Format::json ? to_json(spec) : to_yaml(spec);
}

void write_atomic(const Spec& spec, const std::filesystem::path& path) {
    fs::write_atomic(path, serialize(spec, format_for(path)), 0644);
}

} // namespace gantry::cdi
