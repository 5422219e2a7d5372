#include "cdi/registry.hpp"

#include "cdi/spec_read.hpp"
#include "util/error.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <set>
#include <sys/stat.h>
#include <sys/sysmacros.h>

namespace gantry::cdi {

namespace stdfs = std::filesystem;

const std::vector<std::string>& default_spec_dirs() {
    static const std::vector<std::string> d = {"/etc/cdi", "/var/run/cdi"};
    return d;
}

namespace {

std::string join_list(const std::vector<std::string>& v, const char* sep = ", ") {
    std::string out;
    for (const auto& s : v) out += (out.empty() ? "" : sep) + s;
    return out;
}

// Go: strings.Count(filepath.Clean(p), "/").
size_t path_depth(const std::string& p) {
    std::string c = stdfs::path(p).lexically_normal().string();
    while (c.size() > 1 && c.back() == '/') c.pop_back();
    return static_cast<size_t>(std::count(c.begin(), c.end(), '/'));
}

char live_type(mode_t m) {
    if (S_ISCHR(m)) return 'c';
    if (S_ISBLK(m)) return 'b';
    if (S_ISFIFO(m)) return 'p';
    return 0;
}

bool is_hook_name(const std::string& n) {
    for (auto* k : {"prestart", "createRuntime", "createContainer", "startContainer", "poststart",
                    "poststop"})
        if (n == k) return true;
    return false;
}

oci::DeviceNode device_node(const DeviceNode& d, const oci::RuntimeSpec& spec,
                            const ApplyOptions& opt, const std::string& where,
                            std::vector<std::string>& warnings) {
    oci::DeviceNode out;
    out.path = d.path;
    out.host_path = d.host_path.empty() ? d.path : d.host_path;
    std::string type = d.type;
    std::int64_t maj = d.major, min = d.minor;
    std::optional<std::uint32_t> mode = d.file_mode;
    // CDI: "minimally specified" nodes (type and major, or a fifo) need no host node; gantry
    // still looks, since its launcher binds the host node.
    bool needed = !(!type.empty() && (maj != 0 || type == "p"));
    struct stat st {};
    if (::lstat(out.host_path.c_str(), &st) != 0) {
        int err = errno;
        if (needed)
            throw Error(err == ENOENT ? Errc::not_found : Errc::io,
                        where + ": device node " + out.host_path + " (for " + d.path +
                            "): " + std::strerror(err),
                        "load the device's driver on the host (some create control nodes only "
                        "when their tools first run), or regenerate the CDI spec");
    } else {
        char lt = live_type(st.st_mode);
        std::int64_t lmaj = lt ? static_cast<std::int64_t>(major(st.st_rdev)) : 0;
        std::int64_t lmin = lt ? static_cast<std::int64_t>(minor(st.st_rdev)) : 0;
        if (!lt) {
            if (!(opt.allow_stand_in_nodes && S_ISREG(st.st_mode)))
                throw Error(Errc::invalid,
                            where + ": " + out.host_path + " (for " + d.path +
                                ") is not a device node",
                            "point hostPath at a character or block device");
            lt = 'c';
        } else if (!type.empty() && type != std::string(1, lt) && needed) {
            throw Error(Errc::invalid, where + ": device " + d.path + ": specified type \"" + type +
                                           "\" does not match the host node's type \"" +
                                           std::string(1, lt) + "\"");
        }
        if (type.empty()) type = std::string(1, lt);
        if (maj == 0 && type != "p") {
            maj = lmaj;
            min = lmin;
        } else if (live_type(st.st_mode) && (maj != lmaj || min != lmin)) {
            warnings.push_back(where + ": device " + d.path + " is " + std::to_string(maj) + ":" +
                               std::to_string(min) + " in the spec but " + std::to_string(lmaj) +
                               ":" + std::to_string(lmin) + " on the host " +
                               "(stale spec? the host node is what gets bound)");
        }
        if (!mode) mode = static_cast<std::uint32_t>(st.st_mode & 07777);
    }
    out.type = type.empty() ? 'c' : type[0];
    out.major = maj;
    out.minor = min;
    out.file_mode = mode ? (*mode & 07777) : 0666;
    out.uid = d.uid ? *d.uid : (spec.uid > 0 ? spec.uid : 0);
    out.gid = d.gid ? *d.gid : (spec.gid > 0 ? spec.gid : 0);
    return out;
}

void apply_edits(oci::RuntimeSpec& spec, const ContainerEdits& e, const ApplyOptions& opt,
                 const std::string& where, ApplyResult& res) {
    for (const auto& v : e.env) {
        std::string key = v.substr(0, v.find('=')) + "=";
        auto it = std::find_if(spec.env.begin(), spec.env.end(),
                               [&](const std::string& x) { return x.starts_with(key); });
        if (it != spec.env.end())
            *it = v;
        else
            spec.env.push_back(v);
    }
    for (const auto& d : e.device_nodes) {
        auto node = device_node(d, spec, opt, where, res.warnings);
        auto it = std::find_if(spec.devices.begin(), spec.devices.end(),
                               [&](const oci::DeviceNode& x) { return x.path == node.path; });
        if (it != spec.devices.end() && opt.keep_existing) continue;
        if (it != spec.devices.end())
            *it = node;
        else
            spec.devices.push_back(node);
        // runc and crun deny every node not allowed in linux.resources.devices: the CDI library
        // allows each b/c node with its permissions ("rwm" when absent; "none" allows nothing)
        if ((node.type == 'c' || node.type == 'b') && d.permissions != "none")
            spec.device_rules.push_back({true, node.type, node.major, node.minor,
                                         d.permissions.empty() ? "rwm" : d.permissions});
    }
    for (const auto& m : e.mounts) {
        if (opt.keep_existing &&
            std::any_of(spec.mounts.begin(), spec.mounts.end(),
                        [&](const oci::Mount& x) { return x.destination == m.container_path; }))
            continue;
        std::erase_if(spec.mounts,
                      [&](const oci::Mount& x) { return x.destination == m.container_path; });
        std::string type = m.type;
        if (type.empty() && std::any_of(m.options.begin(), m.options.end(),
                                        [](const auto& o) { return o == "bind" || o == "rbind"; }))
            type = "bind";
        spec.mounts.push_back({m.container_path, type, m.host_path, m.options});
    }
    for (auto gid : e.additional_gids)
        if (gid != 0 && std::find(spec.additional_gids.begin(), spec.additional_gids.end(), gid) ==
                            spec.additional_gids.end())
            spec.additional_gids.push_back(gid);
    for (const auto& h : e.hooks) {
        if (!is_hook_name(h.hook_name))
            throw Error(Errc::invalid, where + ": invalid hook name \"" + h.hook_name + "\"");
        res.hooks.push_back(h);
        if (opt.hooks_into_spec)
            spec.hooks[h.hook_name].push_back({h.path, h.args, h.env, h.timeout});
    }
    if (e.intel_rdt) res.intel_rdt = e.intel_rdt;
    for (const auto& n : e.net_devices) res.net_devices.push_back(n);
}

} // namespace

ApplyResult apply(oci::RuntimeSpec& spec, const std::vector<Selected>& devices,
                  const ApplyOptions& opt) {
    oci::RuntimeSpec work = spec;
    ApplyResult res;
    std::set<const Spec*> applied;
    bool mounts_changed = false;
    for (const auto& sel : devices) {
        std::string qualified = sel.spec->kind + "=" + sel.device->name;
        std::string where = (sel.origin.empty() ? std::string() : sel.origin + ": ") + qualified;
        if (applied.insert(sel.spec).second) {
            apply_edits(work, sel.spec->edits, opt, where, res);
            mounts_changed |= !sel.spec->edits.mounts.empty();
        }
        apply_edits(work, sel.device->edits, opt, where, res);
        mounts_changed |= !sel.device->edits.mounts.empty();
        res.devices.push_back(qualified);
    }
    if (mounts_changed && opt.sort_mounts)
        std::stable_sort(work.mounts.begin(), work.mounts.end(),
                         [](const oci::Mount& a, const oci::Mount& b) {
                             return path_depth(a.destination) < path_depth(b.destination);
                         });
    spec = std::move(work);
    return res;
}

Registry::Registry(std::vector<std::string> dirs) {
    for (auto& d : dirs)
        if (std::find(dirs_.begin(), dirs_.end(), d) == dirs_.end()) dirs_.push_back(d);
    refresh();
}

void Registry::refresh() {
    specs_.clear();
    errors_.clear();
    index_.clear();
    for (size_t prio = 0; prio < dirs_.size(); ++prio) {
        std::error_code ec;
        std::vector<stdfs::path> files;
        stdfs::directory_iterator it(dirs_[prio], ec);
        if (ec) {
            if (ec != std::errc::no_such_file_or_directory)
                errors_.push_back(dirs_[prio] + ": cannot read: " + ec.message());
            continue;
        }
        for (const auto& ent : it) {
            auto ext = ent.path().extension();
            if ((ext == ".json" || ext == ".yaml") && ent.is_regular_file(ec))
                files.push_back(ent.path());
        }
        std::sort(files.begin(), files.end());
        for (const auto& f : files) {
            try {
                specs_.push_back({load(f), f.string(), static_cast<int>(prio)});
            } catch (const Error& e) {
                errors_.push_back(e.message());
            }
        }
    }
    // For each name: the definitions of the highest priority; a tie there is a conflict.
    std::map<std::string, std::vector<std::pair<size_t, size_t>>> best;
    for (size_t s = 0; s < specs_.size(); ++s)
        for (size_t d = 0; d < specs_[s].spec.devices.size(); ++d) {
            auto& v = best[specs_[s].spec.kind + "=" + specs_[s].spec.devices[d].name];
            if (!v.empty() && specs_[v.front().first].priority < specs_[s].priority) v.clear();
            v.push_back({s, d});
        }
    for (auto& [name, defs] : best) {
        if (defs.size() == 1) {
            index_[name] = defs.front();
            continue;
        }
        std::vector<std::string> files;
        for (auto& [s, d] : defs) files.push_back(specs_[s].path);
        errors_.push_back("conflicting device " + name + " in " + join_list(files, " and ") +
                          " (same directory; the device is left out until one file drops it)");
    }
}

std::vector<std::string> Registry::device_names() const {
    std::vector<std::string> out;
    for (size_t s = 0; s < specs_.size(); ++s)
        for (size_t d = 0; d < specs_[s].spec.devices.size(); ++d) {
            std::string name = specs_[s].spec.kind + "=" + specs_[s].spec.devices[d].name;
            auto it = index_.find(name);
            if (it != index_.end() && it->second == std::make_pair(s, d)) out.push_back(name);
        }
    return out;
}

std::optional<Selected> Registry::resolve(const std::string& name) const {
    auto q = parse_qualified_name(name);
    if (!q) return std::nullopt;
    auto it = index_.find(q->str());
    if (it == index_.end()) return std::nullopt;
    const auto& ls = specs_[it->second.first];
    return Selected{&ls.spec, &ls.spec.devices[it->second.second], ls.path};
}

ApplyResult Registry::apply(oci::RuntimeSpec& spec, const std::vector<std::string>& names,
                            const ApplyOptions& opt) const {
    std::vector<Selected> sel;
    std::vector<std::string> unresolved, seen;
    for (const auto& n : names) {
        if (std::find(seen.begin(), seen.end(), n) != seen.end()) continue;
        seen.push_back(n);
        if (!parse_qualified_name(n))
            throw Error(Errc::invalid, "not a CDI device name: \"" + n + "\"",
                        "use vendor/class=name, e.g. nvidia.com/gpu=0 or nvidia.com/gpu=all");
        if (auto s = resolve(n))
            sel.push_back(*s);
        else
            unresolved.push_back(n);
    }
    if (!unresolved.empty()) {
        std::string hint = "`gantry cdi list` shows the devices there are; `gantry cdi generate "
                           "--output /var/run/cdi` writes a spec for this host's GPUs";
        if (!errors_.empty())
            hint = std::to_string(errors_.size()) + " spec problem(s), first: " + errors_.front() +
                   "; " + hint;
        throw Error(Errc::not_found,
                    "unresolvable CDI device" + std::string(unresolved.size() > 1 ? "s " : " ") +
                        join_list(unresolved) + " (searched " + join_list(dirs_) + ")",
                    hint);
    }
    return cdi::apply(spec, sel, opt);
}

ApplyResult apply_device_names(oci::RuntimeSpec& spec, const std::vector<std::string>& names,
                               const std::vector<std::string>& extra_dirs, const ApplyOptions& opt,
                               const NameSource& source) {
    for (const auto& name : names)
        if (name.find('=') == std::string::npos)
            throw Error(source.code, source.what + " \"" + name + "\": not a CDI device name",
                        source.hint);
    auto dirs = default_spec_dirs();
    dirs.insert(dirs.end(), extra_dirs.begin(), extra_dirs.end());
    return Registry(dirs).apply(spec, names, opt);
}

} // namespace gantry::cdi
