#include "gpu_vendors/nvidia/cdi.hpp"

#include "cdi/spec_read.hpp"
#include "cdi/spec_versions.hpp"
#include "gpu_vendors/nvidia/forward_compat.hpp"
#include "util/error.hpp"

#include <algorithm>
#include <filesystem>
#include <set>
#include <sys/stat.h>

namespace gantry::gpu_vendors::nvidia {

namespace {

// Arrays of literals, not vectors of strings: nothing to build at every start of the binary.
using Options = std::initializer_list<const char*>;
constexpr Options kLibOptions = {"ro", "nosuid", "nodev", "rbind", "rprivate"};
constexpr Options kIpcOptions = {"nosuid", "nodev", "rbind", "rprivate", "noexec"};
constexpr Options kProcOptions = {"ro", "nosuid", "nodev", "noexec", "bind"};

std::string trim_root(std::string r) {
    while (r.size() > 1 && r.back() == '/') r.pop_back();
    return r == "/" ? std::string() : r;
}

// NCT's convention: the container path is the host path with the driver root removed. The root
// is tried as given, made absolute, and with its symlinks resolved (discovery reports real paths).
std::string strip_root(const std::string& host_path, const std::string& root) {
    std::error_code ec;
    std::filesystem::path r(root.empty() ? "/" : root);
    std::string forms[] = {root, std::filesystem::absolute(r, ec).lexically_normal().string(),
                           std::filesystem::weakly_canonical(r, ec).string()};
    for (const auto& f : forms) {
        std::string t = trim_root(f);
        if (!t.empty() && host_path.size() > t.size() && host_path.compare(0, t.size(), t) == 0 &&
            host_path[t.size()] == '/')
            return host_path.substr(t.size());
    }
    return host_path;
}

std::string dir_of(const std::string& p) {
    auto s = p.rfind('/');
    return s == 0 ? "/" : (s == std::string::npos ? "." : p.substr(0, s));
}

std::string base_of(const std::string& p) {
    std::string x = p;
    while (x.size() > 1 && x.back() == '/') x.pop_back();
    auto s = x.rfind('/');
    return s == std::string::npos ? x : x.substr(s + 1);
}

bool exists_l(const std::string& p) {
    struct stat st {};
    return ::lstat(p.c_str(), &st) == 0;
}

void add_node(cdi::ContainerEdits& e, const gpu_host::DeviceNode& n, const std::string& dev_root) {
    if (n.path.empty()) return;
    for (const auto& x : e.device_nodes)
        if (x.path == n.path) return;
    cdi::DeviceNode d;
    d.path = n.path;
    std::string host = n.host_path.empty() ? trim_root(dev_root) + n.path : n.host_path;
    if (host != n.path) d.host_path = host;
    e.device_nodes.push_back(d);
    // As NCT: a node the container user cannot open through "other" needs its group.
    if (n.gid != 0 && (n.mode & 06) != 06 &&
        std::find(e.additional_gids.begin(), e.additional_gids.end(), n.gid) ==
            e.additional_gids.end())
        e.additional_gids.push_back(n.gid);
}

void add_mount(cdi::ContainerEdits& e, const std::string& host, const std::string& cpath,
               const std::vector<std::string>& options) {
    for (const auto& m : e.mounts)
        if (m.container_path == cpath) return;
    e.mounts.push_back({host, cpath, options, {}});
}

void add_mount(cdi::ContainerEdits& e, const std::string& host, const std::string& cpath,
               Options options) {
    add_mount(e, host, cpath, std::vector<std::string>(options.begin(), options.end()));
}

void add_proc_dir(cdi::ContainerEdits& e, const gpu_vendors::nvidia::Device& g) {
    if (g.proc_dir.empty()) return;
    add_mount(e, g.proc_dir, "/proc/driver/nvidia/gpus/" + base_of(g.proc_dir), kProcOptions);
}

void merge(cdi::ContainerEdits& into, const cdi::ContainerEdits& from) {
    for (const auto& d : from.device_nodes)
        if (std::none_of(into.device_nodes.begin(), into.device_nodes.end(),
                         [&](const cdi::DeviceNode& x) { return x.path == d.path; }))
            into.device_nodes.push_back(d);
    for (const auto& m : from.mounts) add_mount(into, m.host_path, m.container_path, m.options);
    for (auto g : from.additional_gids)
        if (std::find(into.additional_gids.begin(), into.additional_gids.end(), g) ==
            into.additional_gids.end())
            into.additional_gids.push_back(g);
}

cdi::Hook gantry_hook(const std::string& gantry, const std::string& sub,
                      const std::vector<std::string>& args) {
    cdi::Hook h;
    h.hook_name = "createContainer";
    h.path = gantry;
    h.args = {"gantry", "hook", sub};
    h.args.insert(h.args.end(), args.begin(), args.end());
    h.env = hook_env();
    return h;
}

// A driver library as the description places it: the host's file and its container path.
struct Placed {
    const gpu_vendors::nvidia::Library* lib;
    std::string container_path;
};

// create-symlinks --link TARGET::LINK pairs for the placed libraries: SONAME links, ".so" links
// the host has, and the links NCT always makes (libcuda.so, libnvidia-opticalflow.so,
// libGLX_indirect.so.0), each beside its library.
std::vector<std::string> symlink_args(const std::vector<Placed>& placed) {
    std::vector<std::string> args;
    std::set<std::string> links;
    auto link = [&](const std::string& target, const std::string& path) {
        if (target.empty() || base_of(path) == target || !links.insert(path).second) return;
        args.push_back("--link");
        args.push_back(target + "::" + path);
    };
    for (const auto& [lib, cpath] : placed) {
        std::string cdir = dir_of(cpath);
        std::string hdir = dir_of(lib->host_path);
        const std::string& name = lib->name.empty() ? base_of(lib->host_path) : lib->name;
        if (!lib->soname.empty() && lib->soname != name) link(name, cdir + "/" + lib->soname);
        std::string so_target = lib->soname.empty() ? name : lib->soname;
        auto p = name.find(".so");
        if (p == std::string::npos) continue;
        std::string stem = name.substr(0, p + 3); // libfoo.so
        bool always = (stem == "libcuda.so" || stem == "libnvidia-opticalflow.so");
        if (stem != so_target && (always || exists_l(hdir + "/" + stem)))
            link(so_target, cdir + "/" + stem);
        if (stem == "libGLX_nvidia.so") link(name, cdir + "/libGLX_indirect.so.0");
    }
    return args;
}

std::vector<std::string> folder_args(const std::vector<std::string>& folders) {
    std::vector<std::string> args;
    for (const auto& f : folders) {
        args.push_back("--folder");
        args.push_back(f);
    }
    return args;
}

// The folders a run's update-ldcache lists (in this order: the first wins a SONAME), and whether
// the cache needs rebuilding at all: the image's forward-compat directory when its libraries
// apply on this host; the driver's directories when the image's cache names an injected SONAME
// (a stub libcuda, an old driver copy); a rebuild with no folder when the image keeps its
// libraries outside the loader's default directories. Nothing else: the loader finds the
// driver's libraries in the image's default directories without a cache entry.
std::optional<std::vector<std::string>> run_ldcache(const gpu_vendors::nvidia::Host& host,
                                                    const ImageGpuLayout& layout,
                                                    const std::vector<Placed>& placed) {
    if (placed.empty()) return std::nullopt;
    std::vector<std::string> folders;
    if (!layout.compat_libcuda.empty()) {
        std::string ver = layout.compat_libcuda.substr(layout.compat_libcuda.rfind(".so.") + 4);
        if (compat_applies(ver, host.driver_version, layout.compat_note, host.cuda_version))
            folders.push_back(dir_of(layout.compat_libcuda));
    }
    bool shadows = false;
    if (layout.cached_sonames)
        for (const auto& [lib, cpath] : placed)
            if (layout.cached_sonames->count(lib->soname) ||
                layout.cached_sonames->count(lib->name))
                shadows = true;
    if (shadows) {
        folders.push_back(layout.lib_dir);
        folders.push_back(layout.lib32_dir);
    }
    if (folders.empty() &&
        !(layout.cached_sonames && layout.lib_dir != std::string("/usr/lib/") + kMultiarch &&
          layout.lib_dir != "/usr/lib64"))
        return std::nullopt;
    return folders;
}

// WSL2, as `nvidia-ctk cdi generate --mode=wsl` (reference wsl-and-build-gpus.md §1): one device,
// "all", with /dev/dxg; libdxcore.so and the driver store's files at their own paths; hooks that
// link /usr/bin/nvidia-smi to the store's and put the store and the lib share in the linker
// cache. No params hook (there is no kernel module).
cdi::Spec generate_wsl(const gpu_vendors::nvidia::Host& host, const GenerateOptions& opt,
                       const std::string& driver_root, const std::string& dev_root,
                       std::vector<std::string>& warn) {
    if (!host.dxg.present || host.wsl_driver_store.empty()) {
        std::string notes;
        for (const auto& n : host.notes) notes += "; " + n;
        throw Error(Errc::not_found,
                    "no NVIDIA GPU to describe on this WSL2 host (driver root " + driver_root +
                        ", dev root " + dev_root + ")" + notes,
                    "install the current NVIDIA driver on Windows (it brings WSL2 support) and use "
                    "a WSL2 distribution, or pass --driver-root and --dev-root");
    }
    if (opt.naming.size() > 1 || (opt.naming.size() == 1 && opt.naming[0] != Naming::index) ||
        host.devices.size() > 1)
        warn.push_back("WSL2: the spec has the one device \"all\" (every GPU through /dev/dxg; "
                       "the driver cannot give a container some GPUs and not others)");
    cdi::Spec spec;
    spec.kind = opt.kind;
    cdi::ContainerEdits dev;
    add_node(dev, host.dxg, dev_root);
    spec.devices.push_back({"all", {}, dev});
    cdi::ContainerEdits& c = spec.edits;
    std::set<std::string> folders;
    std::vector<std::string> links;
    for (const auto& lib : host.libraries) {
        std::string cpath = strip_root(lib.host_path, driver_root);
        add_mount(c, lib.host_path, cpath, kLibOptions);
        folders.insert(dir_of(cpath));
        // the SONAME link (libcuda.so.1 -> libcuda.so.1.1) beside the file, mounted alone
        if (!lib.soname.empty() && lib.soname != lib.name && !lib.name.empty())
            links.insert(links.end(),
                         {"--link", lib.name + "::" + dir_of(cpath) + "/" + lib.soname});
    }
    for (const auto* files : {&host.binaries, &host.configs})
        for (const auto& f : *files) {
            add_mount(c, f.host_path, f.container_path, kLibOptions);
            if (base_of(f.container_path) == "nvidia-smi")
                links.insert(links.end(), {"--link", f.container_path + "::/usr/bin/nvidia-smi"});
        }
    c.env.push_back("NVIDIA_VISIBLE_DEVICES=void");
    if (!links.empty()) c.hooks.push_back(gantry_hook(opt.gantry_path, "create-symlinks", links));
    if (!folders.empty())
        c.hooks.push_back(gantry_hook(opt.gantry_path, "update-ldcache",
                                      folder_args({folders.begin(), folders.end()})));
    spec.cdi_version = minimum_version(spec);
    if (auto problems = validate(spec); !problems.empty())
        throw Error(Errc::internal, "generated CDI spec is invalid: " + problems.front());
    return spec;
}

std::string device_label(const gpu_vendors::nvidia::Device& g) {
    return "GPU " + std::to_string(g.index) + (g.uuid.empty() ? "" : " (" + g.uuid + ")");
}

} // namespace

std::optional<Naming> naming_from_string(const std::string& s) {
    if (s == "index") return Naming::index;
    if (s == "uuid") return Naming::uuid;
    return std::nullopt;
}

const std::vector<std::string>& hook_env() {
    static const std::vector<std::string> env = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin"};
    return env;
}

cdi::Spec generate(const gpu_vendors::nvidia::Host& host, const GenerateOptions& opt,
                   std::vector<std::string>* warnings) {
    std::vector<std::string> ignored;
    auto& warn = warnings ? *warnings : ignored;
    if (opt.gantry_path.empty() || opt.gantry_path[0] != '/')
        throw Error(Errc::usage,
                    "the hooks need gantry's absolute path, not \"" + opt.gantry_path + "\"");
    if (auto e = cdi::check_kind(opt.kind); !e.empty()) throw Error(Errc::usage, "kind: " + e);
    const std::string driver_root = opt.driver_root.empty() ? host.driver_root : opt.driver_root;
    const std::string dev_root = opt.dev_root.empty() ? host.dev_root : opt.dev_root;
    if (host.wsl) return generate_wsl(host, opt, driver_root, dev_root, warn);
    std::vector<Naming> naming =
        opt.naming.empty() ? std::vector<Naming>{Naming::index} : opt.naming;

    cdi::Spec spec;
    spec.kind = opt.kind;
    cdi::ContainerEdits all;
    auto add_device = [&](const std::string& name, const cdi::ContainerEdits& e) {
        if (spec.find(name)) return;
        if (auto err = cdi::check_device_name(name); !err.empty()) {
            warn.push_back("left out device \"" + name + "\": " + err);
            return;
        }
        spec.devices.push_back({name, {}, e});
    };
    const bool by_index = std::find(naming.begin(), naming.end(), Naming::index) != naming.end();
    auto names_for = [&](const std::string& index_name, const std::string& uuid,
                         const std::string& label) {
        std::vector<std::string> out;
        for (auto n : naming) {
            if (n == Naming::index) out.push_back(index_name);
            if (n == Naming::uuid && !uuid.empty()) out.push_back(uuid);
            if (n == Naming::uuid && uuid.empty()) {
                warn.push_back(label + " has no UUID: named by index");
                if (!by_index) out.push_back(index_name);
            }
        }
        return out;
    };

    for (const auto& g : host.devices) {
        cdi::ContainerEdits e;
        if (host.tegra) // a Jetson's iGPU: every node its mount lists name (nvidia-ctk's csv)
            for (const auto& n : host.board.nodes) add_node(e, n, dev_root);
        else if (g.node.present)
            add_node(e, g.node, dev_root);
        else
            warn.push_back(device_label(g) + ": " +
                           (g.node.host_path.empty() ? g.node.path : g.node.host_path) +
                           " does not exist on the host; left out of its device");
        if (opt.proc_dirs) add_proc_dir(e, g);
        if (e.empty()) {
            warn.push_back(device_label(g) + ": nothing to inject; device left out");
            continue;
        }
        merge(all, e);
        for (const auto& n : names_for(std::to_string(g.index), g.uuid, device_label(g)))
            add_device(n, e);
    }
    for (const auto& g : host.devices)
        for (size_t i = 0; i < g.migs.size(); ++i) {
            const auto& m = g.migs[i];
            std::string label = "MIG device " + std::to_string(g.index) + ":" + std::to_string(i);
            cdi::ContainerEdits e;
            if (g.node.present) add_node(e, g.node, dev_root);
            for (const auto* cap : {&m.gi_cap, &m.ci_cap}) {
                if (cap->present)
                    add_node(e, *cap, dev_root);
                else
                    warn.push_back(label + ": capability node " +
                                   (cap->path.empty() ? std::string("(unknown)") : cap->path) +
                                   " missing on the host; the MIG device will not be usable");
            }
            if (opt.proc_dirs) add_proc_dir(e, g);
            if (e.device_nodes.empty()) {
                warn.push_back(label + ": no device nodes; device left out");
                continue;
            }
            merge(all, e);
            for (const auto& n :
                 names_for(std::to_string(g.index) + ":" + std::to_string(i), m.uuid, label))
                add_device(n, e);
        }
    if (spec.devices.empty()) {
        std::string notes;
        for (const auto& n : host.notes) notes += "; " + n;
        throw Error(Errc::not_found,
                    "no NVIDIA GPU to describe (driver root " + driver_root + ", dev root " +
                        dev_root + (host.has_driver() ? ", driver " + host.driver_version : "") +
                        ")" + notes,
                    "check that the NVIDIA driver is loaded (nvidia-smi), or pass --driver-root "
                    "and --dev-root");
    }
    add_device("all", all);

    // Spec-level edits: shared nodes, driver files, env, hooks; with caps, what they select.
    using gpu_vendors::nvidia::Capability;
    auto asks = [&opt](Capability c) { return !opt.caps || opt.caps->count(c); };
    cdi::ContainerEdits& c = spec.edits;
    for (const auto* n : {&host.ctl, &host.uvm, &host.uvm_tools, &host.modeset, &host.dxg}) {
        if ((n == &host.uvm || n == &host.uvm_tools) && !asks(Capability::compute)) continue;
        if (n == &host.modeset && !asks(Capability::display)) continue;
        if (n->present) add_node(c, *n, dev_root);
    }
    std::vector<Placed> placed;
    for (const auto& lib : host.libraries) {
        if (opt.caps && !lib.selected_by(*opt.caps)) continue;
        const std::string& name = lib.name.empty() ? base_of(lib.host_path) : lib.name;
        // a Jetson's files keep their paths: the board's libraries find each other there
        std::string cpath =
            opt.layout && !host.tegra
                ? (lib.lib32 ? opt.layout->lib32_dir : opt.layout->lib_dir) + "/" + name
                : strip_root(lib.host_path, driver_root);
        add_mount(c, lib.host_path, cpath, kLibOptions);
        placed.push_back({&lib, cpath});
    }
    std::string libcuda_dir;
    std::set<std::string> folders;
    for (const auto& [lib, cpath] : placed) {
        folders.insert(dir_of(cpath));
        const std::string& name = lib->name.empty() ? base_of(lib->host_path) : lib->name;
        if (!lib->lib32 && name.rfind("libcuda.so.", 0) == 0 && libcuda_dir.empty())
            libcuda_dir = dir_of(cpath);
    }
    for (const auto* files :
         {&host.binaries, &host.firmware, &host.configs, &host.board.files, &host.board.dirs})
        for (const auto& f : *files)
            if (!opt.caps || files == &host.firmware || files == &host.board.files ||
                files == &host.board.dirs || f.selected_by(*opt.caps))
                add_mount(c, f.host_path,
                          f.container_path.empty() ? strip_root(f.host_path, driver_root)
                                                   : f.container_path,
                          kLibOptions);
    for (const auto& s : host.ipc)
        if (asks(s.cap))
            add_mount(c, s.host_path,
                      s.container_path.empty() ? strip_root(s.host_path, driver_root)
                                               : s.container_path,
                      kIpcOptions);
    if (!libcuda_dir.empty()) c.env.push_back("NVIDIA_CTK_LIBCUDA_DIR=" + libcuda_dir);
    c.env.push_back("NVIDIA_VISIBLE_DEVICES=void");
    auto links = symlink_args(placed);
    for (const auto& l : host.board.links) // a Jetson's sym entries, each link of the chain
        links.insert(links.end(), {"--link", l.target + "::" + l.path});
    if (!links.empty()) c.hooks.push_back(gantry_hook(opt.gantry_path, "create-symlinks", links));
    folders.insert(host.board.library_dirs.begin(), host.board.library_dirs.end());
    if (opt.layout && !host.tegra) {
        if (auto run_folders = run_ldcache(host, *opt.layout, placed))
            c.hooks.push_back(
                gantry_hook(opt.gantry_path, "update-ldcache", folder_args(*run_folders)));
    } else if (!folders.empty()) {
        c.hooks.push_back(gantry_hook(opt.gantry_path, "update-ldcache",
                                      folder_args({folders.begin(), folders.end()})));
    }
    if (host.tegra) { // no dGPU kernel module, no params file to hide
        cdi::finish_generated(spec);
        return spec;
    }
    // The hook reads the host's params file; a simulated host keeps its own proc tree.
    std::vector<std::string> params;
    std::string proc = trim_root(host.proc_root);
    if (!proc.empty() && proc != "/proc") params = {"--params", proc + "/driver/nvidia/params"};
    c.hooks.push_back(gantry_hook(opt.gantry_path, "disable-device-node-modification", params));

    cdi::finish_generated(spec);
    return spec;
}

} // namespace gantry::gpu_vendors::nvidia
