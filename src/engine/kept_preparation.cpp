// prepared.json (engine/kept_preparation.hpp).
#include "engine/kept_preparation.hpp"

#include "records/state.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/json.hpp"

#include <cerrno>
#include <sys/stat.h>

namespace gantry::engine {

namespace {

constexpr const char* kPreparedFile = "prepared.json";

const char* kp_root_word(KeptPreparation::Root r) {
    switch (r) {
    case KeptPreparation::Root::squashfs:
        return "squashfs";
    case KeptPreparation::Root::lazy:
        return "lazy";
    default:
        return "store";
    }
}

// The spec's fields that config.json (RuntimeSpec::to_json) leaves out or from_json does not
// read back: gantry's own launcher needs them.
oci::json kp_spec_extras(const oci::RuntimeSpec& s) {
    oci::json hosts = oci::json::array();
    for (const auto& d : s.devices) hosts.push_back(d.host_path);
    oci::LinuxResources rules; // the device cgroup's rules, in the runtime spec's form
    rules.devices = s.device_rules;
    oci::json e = {{"device_host_paths", hosts},
                   {"device_rules", rules.to_json().value("devices", oci::json::array())},
                   {"setup",
                    {{"symlinks", s.setup.symlinks},
                     {"ld_conf", s.setup.ld_conf},
                     {"ldconfig", s.setup.ldconfig},
                     {"host_ldconfig", s.setup.host_ldconfig},
                     {"overlays", s.setup.overlays}}}};
    return e;
}

void kp_read_spec_extras(const oci::json& e, oci::RuntimeSpec& s) {
    auto hosts = e.at("device_host_paths").get<std::vector<std::string>>();
    if (hosts.size() != s.devices.size())
        throw Error(Errc::invalid, "device_host_paths does not match linux.devices");
    for (std::size_t i = 0; i < hosts.size(); ++i) s.devices[i].host_path = hosts[i];
    s.device_rules =
        oci::LinuxResources::from_json({{"devices", e.at("device_rules")}}, "device_rules").devices;
    const oci::json& st = e.at("setup");
    using Pairs = std::vector<std::pair<std::string, std::string>>;
    s.setup.symlinks = st.at("symlinks").get<Pairs>();
    s.setup.ld_conf = st.at("ld_conf").get<Pairs>();
    s.setup.ldconfig = st.at("ldconfig").get<bool>();
    s.setup.host_ldconfig = st.at("host_ldconfig").get<std::string>();
    s.setup.overlays = st.at("overlays").get<Pairs>();
}

} // namespace

KeptPreparation kept_preparation(const Prepared& p) {
    KeptPreparation k;
    k.spec = p.spec;
    k.labels = p.labels;
    k.ports = p.network.ports;
    k.manifest = p.view.image.manifest_digest;
    if (p.lazy) {
        k.root = KeptPreparation::Root::lazy;
    } else if (p.sqsh) {
        k.root = KeptPreparation::Root::squashfs;
        k.squashfs_file = p.sqsh->path();
    } else {
        k.diff_ids = p.view.image.config.diff_ids;
    }
    return k;
}

oci::json preparation_to_json(const KeptPreparation& k) {
    oci::json diff_ids = oci::json::array();
    for (const auto& d : k.diff_ids) diff_ids.push_back(d.str());
    oci::json j = {{"spec", k.spec.to_json()},
                   {"spec_extras", kp_spec_extras(k.spec)},
                   {"labels", k.labels},
                   {"root", kp_root_word(k.root)},
                   {"ports", network::to_json(k.ports)}};
    if (!k.manifest.empty()) j["manifest"] = k.manifest.str();
    if (k.root == KeptPreparation::Root::store) j["diff_ids"] = diff_ids;
    if (k.root == KeptPreparation::Root::squashfs) j["squashfs_file"] = k.squashfs_file;
    return j;
}

KeptPreparation preparation_from_json(const oci::json& j, const std::string& file) {
    try {
        KeptPreparation k;
        k.spec = oci::RuntimeSpec::from_json(j.at("spec"));
        kp_read_spec_extras(j.at("spec_extras"), k.spec);
        k.labels = j.at("labels").get<std::map<std::string, std::string>>();
        if (j.contains("manifest"))
            k.manifest = oci::Digest::parse(j["manifest"].get<std::string>());
        if (auto ports = j.find("ports"); ports != j.end())
            k.ports = network::ports_from_json(*ports);
        auto root = j.at("root").get<std::string>();
        if (root == "store") {
            k.root = KeptPreparation::Root::store;
            for (const auto& d : j.at("diff_ids"))
                k.diff_ids.push_back(oci::Digest::parse(d.get<std::string>()));
        } else if (root == "squashfs") {
            k.root = KeptPreparation::Root::squashfs;
            k.squashfs_file = j.at("squashfs_file").get<std::string>();
        } else if (root == "lazy") {
            k.root = KeptPreparation::Root::lazy;
        } else {
            throw Error(Errc::invalid, "unknown root \"" + root + "\"");
        }
        return k;
    } catch (const oci::json::exception& e) {
        throw Error(Errc::invalid, file + ": not a prepared container (" + e.what() + ")",
                    "remove the container and create it again");
    } catch (const Error& e) {
        throw Error(Errc::invalid, file + ": not a prepared container (" + e.message() + ")",
                    "remove the container and create it again");
    }
}

void write_preparation(const std::filesystem::path& dir, const KeptPreparation& k) {
    std::string text =
        safe_json::dump_or_refuse(preparation_to_json(k), -1, "the prepared container",
                                  "a kept container's preparation", records::kNotUtf8Hint);
    fs::write_atomic(dir / kPreparedFile, text + "\n", 0600, fs::Sync::volatile_only);
}

std::optional<KeptPreparation> read_preparation(const std::filesystem::path& dir) {
    auto file = dir / kPreparedFile;
    std::string text;
    try {
        text = fs::read_file(file, 16u << 20);
    } catch (const Error&) {
        struct stat st {};
        if (::lstat(file.c_str(), &st) != 0 && errno == ENOENT) return std::nullopt;
        throw;
    }
    oci::json j = oci::json::parse(text, nullptr, false);
    if (j.is_discarded())
        throw Error(Errc::invalid, file.string() + ": not JSON",
                    "remove the container and create it again");
    return preparation_from_json(j, file.string());
}

} // namespace gantry::engine
