// HostConfig of POST /containers/create as the RunRequest's settings (engine_api/create_body.hpp
// says what is honoured and refused; create_fields.hpp has the readers shared with
// create_body.cpp).
#include "engine/restart_policy.hpp"
#include "engine_api/create_fields.hpp"
#include "engine_api/request.hpp"
#include "gpu_vendors/all/backends.hpp"
#include "store/volumes.hpp"
#include "util/error.hpp"
#include "util/text.hpp"

#include <algorithm>
#include <climits>

namespace gantry::engine_api::create_fields {

namespace {

// a bind's source (HostConfig.Binds' SOURCE:TARGET[:MODE]) is a host path when absolute, else
// a volume's name (docker's ParseMountRaw): a relative path is neither
void api_cb_bind_source(const std::string& bind, const std::string& field) {
    auto colon = bind.find(':');
    if (colon == std::string::npos || colon == 0) return; // a target alone: the engine's to judge
    std::string src = bind.substr(0, colon);
    if (src.front() == '/' || store::valid_volume_name(src)) return;
    throw ApiError(400, "invalid " + field + " entry \"" + bind + "\": \"" + src +
                            "\" includes invalid characters for a local volume name, only "
                            "\"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass "
                            "a host directory, use absolute path");
}

// HostConfig.Mounts' objects as --mount's words
std::string api_cb_mount(const json& m, std::vector<std::string>& tmpfs) {
    if (!m.is_object()) api_cb_type("HostConfig.Mounts", "a list of objects");
    std::string type, src, dst, volume_words; // volume_words: VolumeOptions as --mount's
    bool ro = false;
    for (const auto& [key, v] : m.items()) {
        std::string f = "HostConfig.Mounts[]." + key;
        if (key == "VolumeOptions" && v.is_object()) { // a new volume's labels, docker's nocopy
            for (const auto& [k, o] : v.items()) {
                if (k == "Labels" && o.is_object()) {
                    for (const auto& [lk, lv] : o.items()) {
                        std::string w =
                            "volume-label=" + lk + "=" + api_cb_string(lv, f + ".Labels");
                        if (lk.find('=') != std::string::npos ||
                            w.find_first_of(",\"\n") != std::string::npos)
                            api_cb_refuse(f + ".Labels", o,
                                          "a label with a comma or quote, or = in its key");
                        volume_words += "," + w;
                    }
                } else if (k == "NoCopy" && o.is_boolean()) {
                    if (o.get<bool>()) volume_words += ",volume-nocopy";
                } else if (k == "DriverConfig" && o.is_object() &&
                           (!o.contains("Name") || o["Name"] == "local" || o["Name"] == "") &&
                           api_cb_default(o.value("Options", json()))) {
                } else if (!api_cb_default(o)) {
                    api_cb_refuse(f + "." + k, o, "a volume's Labels and NoCopy only");
                }
            }
            continue;
        }
        if (key == "Type")
            type = api_cb_string(v, f);
        else if (key == "Source")
            src = api_cb_string(v, f);
        else if (key == "Target")
            dst = api_cb_string(v, f);
        else if (key == "ReadOnly")
            ro = api_cb_bool(v, f);
        else if (key == "Consistency") {
            auto c = api_cb_string(v, f);
            if (!c.empty() && c != "default" && c != "consistent")
                api_cb_refuse(f, v, "gantry's mounts are consistent");
        } else if (!api_cb_default(v))
            api_cb_refuse(f, v, "gantry's --mount takes type, source, target and readonly");
    }
    if (type == "tmpfs") {
        if (!src.empty()) api_cb_refuse("HostConfig.Mounts[].Source", src, "a tmpfs has none");
        tmpfs.push_back(dst);
        return "";
    }
    // docker's validateMountConfig: a bind's source is absolute, never taken from the
    // service's working directory; a volume's is a volume's name
    if (type == "bind" && (src.empty() || src.front() != '/'))
        throw ApiError(400, "invalid mount config for type \"bind\": invalid mount path: '" + src +
                                "' mount path must be absolute (HostConfig.Mounts[].Source: give "
                                "an absolute host path)");
    if (type == "volume" && !src.empty() && !store::valid_volume_name(src))
        throw ApiError(400, "invalid HostConfig.Mounts[].Source \"" + src +
                                "\": it includes invalid characters for a local volume name, "
                                "only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed");
    if (!volume_words.empty() && type != "volume")
        api_cb_refuse("HostConfig.Mounts[].VolumeOptions", m.value("VolumeOptions", json()),
                      "a volume mount's only");
    return "type=" + type + ",source=" + src + ",target=" + dst + (ro ? ",readonly" : "") +
           volume_words;
}

void api_cb_device_requests(const json& v, engine::RunRequest& r) {
    api_cb_objects(v, "HostConfig.DeviceRequests");
    for (const auto& d : v) {
        const std::string f = "HostConfig.DeviceRequests[]";
        std::string driver = api_cb_string(d.value("Driver", json()), f + ".Driver");
        long long count = api_cb_int(d.value("Count", json()), f + ".Count");
        auto ids = api_cb_strings(d.value("DeviceIDs", json()), f + ".DeviceIDs");
        if (driver == "cdi") { // docker 25+'s --device vendor.com/class=name: CDI names
            if (ids.empty()) api_cb_refuse(f + ".DeviceIDs", d, "name the CDI devices");
            if (count != 0)
                api_cb_refuse(f + ".Count", count, "CDI devices are named, not counted");
            if (!api_cb_default(d.value("Options", json())))
                api_cb_refuse(f + ".Options", d["Options"], "gantry takes no driver options");
            for (auto& id : ids) r.devices.push_back(id);
            continue;
        }
        // docker's GPU drivers are the vendors' names (--gpus driver=NAME)
        std::vector<std::string> vendors;
        for (const gpu_vendors::Backend* b : gpu_vendors::backends())
            vendors.emplace_back(b->name());
        const bool vendor = std::find(vendors.begin(), vendors.end(), driver) != vendors.end();
        bool gpu = vendor;
        for (const auto& caps : d.value("Capabilities", json::array()))
            for (auto& c : api_cb_strings(caps, f + ".Capabilities"))
                if (c == "gpu") gpu = true;
        if (!gpu)
            api_cb_refuse(f, d,
                          "gantry injects GPUs only: give Driver " + text::join(vendors, " or ") +
                              ", or the capability gpu");
        if (!driver.empty() && !vendor)
            api_cb_refuse(f + ".Driver", driver,
                          "gantry's GPU drivers are " + text::join(vendors, ", "));
        if (!api_cb_default(d.value("Options", json())))
            api_cb_refuse(f + ".Options", d["Options"], "gantry takes no driver options");
        if (r.gpus) api_cb_refuse(f, v, "give one device request");
        if (!driver.empty()) r.gpu_vendor = driver;
        if (!ids.empty()) {
            std::string list;
            for (auto& id : ids) list += (list.empty() ? "" : ",") + id;
            r.gpus = "device=" + list;
        } else {
            r.gpus = count < 0 ? "all" : std::to_string(count);
        }
    }
}

} // namespace

void api_cb_host(const json& hc, engine::RunRequest& r, ConsoleSize* console) {
    api_cb_object(hc, "HostConfig");
    if (hc.is_null()) return;
    for (const auto& [key, v] : hc.items()) {
        const std::string f = "HostConfig." + key;
        if (key == "Binds") {
            for (auto& b : api_cb_strings(v, f)) {
                api_cb_bind_source(b, f);
                r.volumes.push_back(b);
            }
        } else if (key == "Mounts") {
            api_cb_objects(v, f);
            for (const auto& m : v)
                if (auto w = api_cb_mount(m, r.tmpfs); !w.empty()) r.mounts.push_back(w);
        } else if (key == "Tmpfs") {
            api_cb_object(v, f);
            if (v.is_null()) continue;
            for (const auto& [dst, opts] : v.items()) {
                auto o = api_cb_string(opts, f + "." + dst);
                r.tmpfs.push_back(o.empty() ? dst : dst + ":" + o);
            }
        } else if (key == "VolumesFrom") {
            for (auto& c : api_cb_strings(v, f)) r.volumes_from.push_back(c);
        } else if (key == "AutoRemove") {
            r.rm = api_cb_bool(v, f);
        } else if (key == "NetworkMode") {
            // docker's default is bridge (set before the body is read); NetworkDisabled wins
            auto mode = api_cb_string(v, f);
            // bridge (the default), host, none, container:NAME or a user network's name
            if (!mode.empty() && mode != "default") r.network = r.network == "none" ? "none" : mode;
        } else if (key == "PublishAllPorts") {
            r.publish_all = api_cb_bool(v, f);
        } else if (key == "ExtraHosts") {
            r.add_hosts = api_cb_strings(v, f);
        } else if (key == "ConsoleSize") {
            if (v.is_null()) continue;
            if (!v.is_array() || v.size() != 2 || !v[0].is_number_unsigned() ||
                !v[1].is_number_unsigned() || v[0].get<std::uint64_t>() > 65535 ||
                v[1].get<std::uint64_t>() > 65535)
                api_cb_type(f, "[rows, columns]");
            if (console) *console = {v[0].get<unsigned>(), v[1].get<unsigned>()};
        } else if (key == "Init") {
            r.init = api_cb_bool(v, f);
        } else if (key == "CapAdd") {
            r.cap_add = api_cb_strings(v, f);
        } else if (key == "CapDrop") {
            r.cap_drop = api_cb_strings(v, f);
        } else if (key == "Devices") {
            api_cb_objects(v, f);
            for (const auto& d : v) {
                auto host = api_cb_string(d.value("PathOnHost", json()), f + "[].PathOnHost");
                auto in = api_cb_string(d.value("PathInContainer", json()), f);
                auto perm = api_cb_string(d.value("CgroupPermissions", json()), f);
                // /dev/X[:/dev/Y[:PERMS]], or a CDI name (docker 25's --device) alone
                std::string dev = host;
                bool perms = !perm.empty() && perm != "rwm";
                if ((!in.empty() && in != host) || perms) dev += ":" + (in.empty() ? host : in);
                if (perms) dev += ":" + perm;
                r.devices.push_back(dev);
            }
        } else if (key == "DeviceRequests") {
            api_cb_device_requests(v, r);
        } else if (key == "ReadonlyRootfs") {
            r.read_only = api_cb_bool(v, f);
        } else if (key == "ShmSize") {
            if (auto n = api_cb_not_negative(v, f); n > 0) r.shm_size = std::to_string(n);
        } else if (key == "Memory") {
            if (auto n = api_cb_not_negative(v, f); n > 0) r.memory = std::to_string(n);
        } else if (key == "NanoCpus") {
            if (auto n = api_cb_not_negative(v, f); n > 0) {
                std::string s = std::to_string(n / 1000000000) + "." +
                                std::to_string(1000000000 + n % 1000000000).substr(1);
                r.cpus = s;
            }
        } else if (key == "PidsLimit") {
            if (auto n = api_cb_int(v, f); n > 0) r.pids_limit = std::to_string(n);
        } else if (key == "MemorySwap") {
            // docker: 0 unset, -1 unlimited swap, else memory+swap in bytes
            if (v.is_null()) continue;
            if (auto n = api_cb_int(v, f); n == -1 || n > 0) r.memory_swap = std::to_string(n);
        } else if (key == "MemoryReservation") {
            if (auto n = api_cb_not_negative(v, f); n > 0) r.memory_reservation = std::to_string(n);
        } else if (key == "MemorySwappiness") {
            if (!v.is_null() && api_cb_int(v, f) != -1)
                r.memory_swappiness = std::to_string(api_cb_int(v, f));
        } else if (key == "CpuShares") {
            if (auto n = api_cb_int(v, f); n != 0) r.cpu_shares = std::to_string(n);
        } else if (key == "CpusetCpus") {
            r.cpuset_cpus = api_cb_string(v, f);
        } else if (key == "CpusetMems") {
            r.cpuset_mems = api_cb_string(v, f);
        } else if (key == "CpuRealtimePeriod" || key == "CPURealtimePeriod") {
            // docker-py writes CPU (Go's decoder takes a key in any case), docker's CLI Cpu
            if (auto n = api_cb_int(v, f); n != 0) r.cpu_rt_period = std::to_string(n);
        } else if (key == "CpuRealtimeRuntime" || key == "CPURealtimeRuntime") {
            if (auto n = api_cb_int(v, f); n != 0) r.cpu_rt_runtime = std::to_string(n);
        } else if (key == "Ulimits") {
            api_cb_objects(v, f);
            for (const auto& u : v) {
                r.ulimits.push_back(api_cb_string(u.value("Name", json()), f + "[].Name") + "=" +
                                    std::to_string(api_cb_int(u.value("Soft", json()), f)) + ":" +
                                    std::to_string(api_cb_int(u.value("Hard", json()), f)));
            }
        } else if (key == "SecurityOpt") {
            r.security_opt = api_cb_strings(v, f);
        } else if (key == "IpcMode") {
            auto m = api_cb_string(v, f);
            if (m == "host" || m == "private" || m == "shareable")
                r.ipc = m;
            else if (!m.empty())
                api_cb_refuse(f, v, "gantry's IPC modes are private, shareable and host");
        } else if (key == "UTSMode") {
            auto m = api_cb_string(v, f);
            if (m == "host")
                r.uts = m;
            else if (!m.empty())
                api_cb_refuse(f, v, "gantry's UTS modes are the container's own and host");
        } else if (key == "PidMode") {
            auto m = api_cb_string(v, f);
            if (m == "host" || m == "private")
                r.pid = m;
            else if (!m.empty())
                api_cb_refuse(f, v, "gantry's PID modes are private and host");
        } else if (key == "PortBindings") {
            api_cb_object(v, f);
            if (v.is_null()) continue;
            for (const auto& [port, binds] : v.items()) {
                if (binds.is_null()) continue;
                if (!binds.is_array()) api_cb_type(f + "." + port, "a list of objects");
                for (const auto& b : binds) {
                    auto ip = api_cb_string(b.value("HostIp", json()), f + "." + port);
                    auto hp = api_cb_string(b.value("HostPort", json()), f + "." + port);
                    r.publish.push_back((ip.empty() ? "" : ip + ":") + hp + ":" + port);
                }
            }
        } else if (key == "RestartPolicy") {
            api_cb_object(v, f);
            if (v.is_null()) continue;
            auto n = api_cb_string(v.value("Name", json()), f + ".Name");
            auto count =
                api_cb_int(v.value("MaximumRetryCount", json(0)), f + ".MaximumRetryCount");
            if (count < 0 || count > 1000000 || (count > 0 && n != "on-failure"))
                throw ApiError(400, "invalid " + f + ".MaximumRetryCount " + std::to_string(count) +
                                        ": a count from 0, with on-failure only");
            std::string policy = n.empty() ? "no" : n;
            if (count > 0) policy += ":" + std::to_string(count);
            try {
                r.restart = engine::RestartPolicy::parse(policy, f).str();
            } catch (const Error& e) {
                throw ApiError(400, e.message());
            }
        } else if (key == "GroupAdd") {
            if (v.is_null()) continue;
            if (!v.is_array()) api_cb_type(f, "a list of group IDs");
            for (const auto& g : v) {
                if (g.is_number_unsigned())
                    r.group_add.push_back(std::to_string(g.get<std::uint64_t>()));
                else if (g.is_string())
                    r.group_add.push_back(g.get<std::string>());
                else
                    api_cb_type(f, "a list of group IDs");
            }
        } else if (key == "LogConfig") {
            api_cb_object(v, f);
            auto t = v.is_null() ? "" : api_cb_string(v.value("Type", json()), f + ".Type");
            if (!t.empty() && t != "json-file" && t != "local" && t != "none")
                api_cb_refuse(f + ".Type", json(t),
                              "gantry keeps a detached container's output in its own file: "
                              "json-file and local (both that file) and none (no log) are served");
            if (!v.is_null() && !api_cb_default(v.value("Config", json())))
                api_cb_refuse(f + ".Config", v.value("Config", json()),
                              "gantry's output file takes no logging options");
            r.log_driver = t;
        } else if (key == "Runtime") {
            auto rt = api_cb_string(v, f);
            const auto runtimes = gpu_vendors::docker_runtimes(); // taken as gantry itself
            if (std::find(runtimes.begin(), runtimes.end(), rt) != runtimes.end())
                r.runtime = rt;
            else if (!rt.empty() && rt != "runc")
                api_cb_refuse(f, v,
                              "gantry is its own runtime (" + text::join(runtimes, ", ") +
                                  " is accepted)");
        } else if (key == "Privileged") {
            if (api_cb_bool(v, f))
                api_cb_refuse(f, v,
                              "gantry has no privileged mode: add the capabilities (CapAdd) and "
                              "devices (Devices) the container needs");
        } else if (key == "UsernsMode") {
            if (!api_cb_default(v))
                api_cb_refuse(f, v, "gantry picks the user namespace (gantry run --userns)");
        } else if (!api_cb_default(v)) {
            api_cb_refuse(f, v, "gantry's containers have no such setting");
        }
    }
}

} // namespace gantry::engine_api::create_fields
