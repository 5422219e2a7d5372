#include "gpu_vendors/nvidia/tegra.hpp"

#include "elf/dynamic.hpp"
#include "gpu_vendors/in_root.hpp"
#include "gpu_vendors/nvidia/discover_detail.hpp"
#include "gpu_vendors/nvidia/tegra_csv.hpp"
#include "util/fs.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <filesystem>
#include <fnmatch.h>
#include <set>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

namespace gantry::gpu_vendors::nvidia {

namespace tegra_impl { // named: the module builds in unity batches

std::optional<std::string> read_small(const std::string& path, std::size_t max) {
    try {
        return fs::read_file(path, max);
    } catch (const std::exception&) {
        return std::nullopt;
    }
}

bool printable(const std::string& s) {
    return std::none_of(s.begin(), s.end(),
                        [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; });
}

class TegraDiscovery {
  public:
    TegraDiscovery(Host& h) : h_(h), b_(h.board), res_(h.driver_root) {}

    void run(const std::string& sys_root) {
        board_facts(sys_root);
        read_lists();
        if (h_.devices.empty()) integrated_gpu();
    }

  private:
    void note(std::string n) { h_.notes.push_back(std::move(n)); }

    void board_facts(const std::string& sys_root) {
        if (auto r = res_.regular_file("/etc/nv_tegra_release")) {
            std::string text = read_small(res_.host(*r), 64 << 10).value_or("");
            std::string first = text.substr(0, text.find('\n'));
            if (printable(first)) b_.release = first.substr(0, 200);
            b_.files.push_back({res_.host(*r), "/etc/nv_tegra_release", {}});
        }
        const std::string dt = gpu_host::join_root(sys_root, "/sys/firmware/devicetree/base");
        if (auto c = read_small(dt + "/compatible", 64 << 10)) b_.soc = tegra_soc(*c);
        if (auto m = read_small(dt + "/model", 4096)) {
            std::string model = m->substr(0, m->find('\0'));
            while (!model.empty() && (model.back() == '\n' || model.back() == ' '))
                model.pop_back();
            if (printable(model)) b_.model = model.substr(0, 200);
        }
    }

    void read_lists() {
        auto dir = res_.directory(kTegraCsvDir);
        if (!dir) {
            note(std::string("Tegra host without its CSV mount lists (") + res_.host(kTegraCsvDir) +
                 "): no device node or library is known");
            return;
        }
        std::vector<CsvEntry> all;
        for (const std::string& name : detail::list_dir(res_.host(*dir))) {
            std::string ext = name.size() > 4 ? name.substr(name.size() - 4) : "";
            std::transform(ext.begin(), ext.end(), ext.begin(),
                           [](unsigned char c) { return std::tolower(c); });
            if (ext != ".csv") continue; // nvidia-ctk reads *.csv only (not ".csv" itself)
            auto r = res_.regular_file(*dir + "/" + name);
            if (!r) continue;
            const std::string host = res_.host(*r);
            struct stat st {};
            if (::stat(host.c_str(), &st) != 0) continue;
            if (static_cast<std::uint64_t>(st.st_size) > kCsvMaxBytes) {
                b_.skipped.push_back(host + ": larger than 1 MiB: not read");
                continue;
            }
            auto text = read_small(host, kCsvMaxBytes);
            if (!text) continue;
            b_.csv_files.push_back(host);
            CsvList list = parse_csv(*text);
            for (const auto& s : list.skipped)
                b_.skipped.push_back(host + ":" + std::to_string(s.line) + ": " + s.reason + ": " +
                                     s.text);
            for (auto& e : list.entries) all.push_back(std::move(e));
        }
        if (b_.csv_files.empty())
            note(std::string("Tegra host without CSV files in ") + res_.host(*dir));
        std::set<std::pair<CsvKind, std::string>> seen;
        for (const CsvEntry& e : all) {
            if (!seen.insert({e.kind, e.path}).second) continue;
            switch (e.kind) {
            case CsvKind::dev:
                device(e.path);
                break;
            case CsvKind::lib:
                file(e.path);
                break;
            case CsvKind::sym:
                chain(e.path);
                break;
            case CsvKind::dir:
                directory(e.path);
                break;
            }
        }
        if (!b_.skipped.empty())
            note(std::to_string(b_.skipped.size()) +
                 " CSV line(s) skipped (gantry doctor lists them)");
    }

    // A dev entry: the node(s) under the dev root; a pattern in the name expands there.
    void device(const std::string& path) {
        std::vector<std::string> paths;
        if (csv_is_pattern(path)) {
            const std::string d = detail::dir_name(path), pattern = detail::base_name(path);
            auto rd = resolve_in_root(h_.dev_root, d);
            if (!rd) return;
            for (const std::string& n : detail::list_dir(gpu_host::join_root(h_.dev_root, *rd)))
                if (::fnmatch(pattern.c_str(), n.c_str(), FNM_PERIOD) == 0)
                    paths.push_back(d == "/" ? "/" + n : d + "/" + n);
        } else {
            paths.push_back(path);
        }
        for (const std::string& p : paths) {
            auto r = resolve_in_root(h_.dev_root, p); // links in dev/ stay in the dev root
            if (!r) continue;                         // not on this board: nvidia-ctk skips too
            gpu_host::DeviceNode n;
            n.path = p;
            n.host_path = gpu_host::join_root(h_.dev_root, *r);
            struct stat st {};
            if (::lstat(n.host_path.c_str(), &st) != 0) continue;
            bool stand_in = S_ISREG(st.st_mode) && h_.dev_root != "/"; // simulated hosts
            if (!S_ISCHR(st.st_mode) && !stand_in) {
                b_.skipped.push_back("dev " + p + ": " + n.host_path +
                                     " is not a character device");
                continue;
            }
            n.present = true;
            if (S_ISCHR(st.st_mode)) {
                n.type = 'c';
                n.major = ::major(st.st_rdev);
                n.minor = ::minor(st.st_rdev);
            }
            n.mode = st.st_mode & 07777;
            n.uid = st.st_uid;
            n.gid = st.st_gid;
            if (std::none_of(b_.nodes.begin(), b_.nodes.end(),
                             [&](const auto& x) { return x.path == n.path; }))
                b_.nodes.push_back(n);
        }
    }

    // A lib entry (or a chain's end): the real file inside the driver root, at its own path.
    void file(const std::string& path) {
        auto r = res_.regular_file(path);
        if (!r) return; // not on this board
        add_file(*r);
    }

    void add_file(const std::string& real) {
        for (const auto& l : h_.libraries)
            if (l.host_path == res_.host(real)) return;
        for (const auto& f : b_.files)
            if (f.container_path == real) return;
        const std::string name = detail::base_name(real);
        if (name.find(".so") != std::string::npos) {
            try {
                elf::Info info = elf::read_file(res_.host(real));
                Library lib;
                lib.host_path = res_.host(real);
                lib.name = name;
                lib.soname = info.soname;
                h_.libraries.push_back(std::move(lib));
                library_dir(detail::dir_name(real));
                return;
            } catch (const std::exception&) { // not an ELF object: mounted as a file
            }
        }
        b_.files.push_back({res_.host(real), real, {}});
    }

    void library_dir(const std::string& d) {
        if (std::find(b_.library_dirs.begin(), b_.library_dirs.end(), d) == b_.library_dirs.end())
            b_.library_dirs.push_back(d);
    }

    // A sym entry: every link of the chain recreated (its target as the host's link holds it),
    // the file at its end mounted; a chain that ends nowhere in the root gives nothing.
    void chain(const std::string& path) {
        std::vector<TegraLink> found;
        std::string at = path;
        for (int hop = 0; hop < 16; ++hop) {
            auto dir =
                res_.resolve(detail::dir_name(at)); // the link's directory, resolved in the root
            if (!dir) return;
            const std::string link = (*dir == "/" ? "" : *dir) + "/" + detail::base_name(at);
            char buf[4096];
            ssize_t n = ::readlink(res_.host(link).c_str(), buf, sizeof buf);
            if (n < 0) {
                if (errno != EINVAL || !res_.regular_file(link)) return; // missing, or no file
                for (auto& l : found) {
                    if (std::none_of(b_.links.begin(), b_.links.end(),
                                     [&](const TegraLink& x) { return x.path == l.path; }))
                        b_.links.push_back(l);
                    if (detail::base_name(l.path).find(".so") != std::string::npos)
                        library_dir(detail::dir_name(l.path));
                }
                file(link);
                return;
            }
            std::string target(buf, static_cast<std::size_t>(n));
            if (target.empty() || !printable(target) || target.find("::") != std::string::npos) {
                b_.skipped.push_back("sym " + path + ": the link " + link +
                                     " has a target gantry cannot recreate");
                return;
            }
            found.push_back({target, link});
            std::string next =
                target.front() == '/' ? target : detail::dir_name(link) + "/" + target;
            at = std::filesystem::path(next).lexically_normal().string();
        }
        b_.skipped.push_back("sym " + path + ": more than 16 links");
    }

    void directory(const std::string& path) {
        mode_t mode = 0;
        auto r = res_.resolve(path, &mode);
        if (!r || !S_ISDIR(mode)) return;
        if (std::none_of(b_.dirs.begin(), b_.dirs.end(),
                         [&](const HostFile& f) { return f.container_path == *r; }))
            b_.dirs.push_back({res_.host(*r), *r, {}});
    }

    // No NVML (JetPack 5 and older, or NVML unusable): the board's one integrated GPU.
    void integrated_gpu() {
        Device d;
        d.name = !b_.model.empty() ? b_.model
                 : !b_.soc.empty() ? "NVIDIA Tegra " + b_.soc
                                   : "NVIDIA Tegra integrated GPU";
        d.brand = "Tegra";
        if (auto cc = tegra_compute_capability(b_.soc)) {
            d.cc_major = cc->first;
            d.cc_minor = cc->second;
        } else {
            note("Tegra SoC " + (b_.soc.empty() ? std::string("unknown") : b_.soc) +
                 ": the GPU's compute capability is unknown");
        }
        h_.devices.push_back(std::move(d));
    }

    Host& h_;
    TegraBoard& b_;
    InRootResolver res_;
};

} // namespace tegra_impl

std::string tegra_files_reason(const std::string& driver_root, const std::string& sys_root) {
    struct stat st {};
    const std::string release = gpu_host::join_root(driver_root, "/etc/nv_tegra_release");
    if (::stat(release.c_str(), &st) == 0 && !S_ISDIR(st.st_mode)) return release + " found";
    const std::string family = gpu_host::join_root(sys_root, "/sys/devices/soc0/family");
    auto text = tegra_impl::read_small(family, 4096);
    if (!text) return {};
    std::string lower = text->substr(0, 5);
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    return lower == "tegra" ? family + " says Tegra" : std::string();
}

bool is_integrated_gpu_name(const std::string& name) {
    return name.find("(nvgpu)") != std::string::npos ||
           name.find("NVIDIA Thor") != std::string::npos;
}

std::string tegra_soc(const std::string& compatible) {
    std::size_t at = 0;
    while (at < compatible.size()) {
        auto end = compatible.find('\0', at);
        if (end == std::string::npos) end = compatible.size();
        std::string_view s(compatible.data() + at, end - at);
        at = end + 1;
        auto comma = s.find(',');
        std::string_view name = comma == std::string_view::npos ? s : s.substr(comma + 1);
        if (name.starts_with("tegra") && name.size() > 5 && name.size() <= 12 &&
            std::all_of(name.begin() + 5, name.end(),
                        [](char c) { return std::isdigit(static_cast<unsigned char>(c)); }))
            return std::string(name);
    }
    return {};
}

std::optional<std::pair<int, int>> tegra_compute_capability(const std::string& soc) {
    static const std::pair<const char*, std::pair<int, int>> table[] = {
        {"tegra210", {5, 3}}, {"tegra186", {6, 2}},  {"tegra194", {7, 2}},
        {"tegra234", {8, 7}}, {"tegra264", {11, 0}},
    };
    for (const auto& [name, cc] : table)
        if (soc == name) return cc;
    return std::nullopt;
}

void discover_tegra(Host& host, const std::string& sys_root) {
    tegra_impl::TegraDiscovery(host).run(sys_root);
}

std::vector<findings::Finding> check_tegra_host(const Host& host) {
    using findings::Severity;
    const TegraBoard& b = host.board;
    const std::string lists = gpu_host::join_root(host.driver_root, kTegraCsvDir);
    std::vector<findings::Finding> out;
    out.push_back({"HOST-TEGRA", Severity::info,
                   "Jetson (Tegra) board (" + b.why + ")" +
                       (b.release.empty() ? "" : ", L4T \"" + b.release + "\"") +
                       (b.soc.empty() ? "" : ", SoC " + b.soc) + ": containers get what the " +
                       std::to_string(b.csv_files.size()) + " CSV mount list(s) in " + lists +
                       " name (nvidia-ctk's csv mode)",
                   ""});
    if (b.csv_files.empty()) {
        out.push_back({"HOST-TEGRA-NO-CSV", Severity::fail,
                       "no L4T mount list (*.csv) in " + lists +
                           ": a container would get no GPU device node and no driver library",
                       "install NVIDIA's container packages for L4T (JetPack's nvidia-container: "
                       "they bring the CSV files), or point --driver-root at the board's root"});
        return out;
    }
    if (b.nodes.empty())
        out.push_back({"HOST-TEGRA-NO-NODES", Severity::fail,
                       "the mount lists name no device node that exists under " +
                           gpu_host::join_root(host.dev_root, "/dev") +
                           " (/dev/nvmap, /dev/nvhost-*, /dev/nvgpu/igpu0/*)",
                       "load the board's GPU driver (nvgpu), or point --dev-root at the "
                       "directory holding its dev/"});
    for (const auto& n : b.nodes)
        if (::access(n.host_path.c_str(), R_OK | W_OK) != 0) {
            out.push_back(
                {"HOST-TEGRA-NODE-ACCESS", Severity::fail,
                 "the Jetson device node " + n.host_path + " is not readable and writable by you",
                 "join the group that owns it (L4T's nodes are root:video, mode "
                 "0660: usermod -aG video $USER), or run as root"});
            break;
        }
    const std::size_t shown = std::min<std::size_t>(b.skipped.size(), 10);
    for (std::size_t i = 0; i < shown; ++i)
        out.push_back({"HOST-TEGRA-CSV-SKIPPED", Severity::warn, b.skipped[i],
                       "fix or remove the line: gantry mounts only absolute paths inside the "
                       "driver root, devices only under /dev"});
    if (b.skipped.size() > shown)
        out.push_back({"HOST-TEGRA-CSV-SKIPPED", Severity::warn,
                       std::to_string(b.skipped.size() - shown) + " more line(s) skipped", ""});
    for (const auto& d : host.devices) {
        if (d.cc_major > 0)
            out.push_back({"HOST-GPU", Severity::info,
                           "GPU " + std::to_string(d.index) + ": " + d.name +
                               " (integrated), compute capability " + std::to_string(d.cc_major) +
                               "." + std::to_string(d.cc_minor),
                           ""});
        else
            out.push_back({"HOST-GPU", Severity::warn,
                           "GPU " + std::to_string(d.index) + ": " + d.name +
                               ": compute capability unknown (SoC " +
                               (b.soc.empty() ? std::string("not in the device tree") : b.soc) +
                               "): the image's kernels are not checked",
                           "point --sys-root at the directory holding the board's sys/"});
    }
    if (host.cuda_version > 0)
        out.push_back({"HOST-DRIVER", Severity::pass,
                       "the board's CUDA driver serves CUDA up to " +
                           cuda_version_string(host.cuda_version) + " (NVML)",
                       ""});
    else
        out.push_back({"HOST-TEGRA-CUDA", Severity::info,
                       "the CUDA version of the board's driver is unknown without NVML "
                       "(JetPack 5 and older): NVIDIA_REQUIRE_CUDA and the image's CUDA are not "
                       "checked against it",
                       ""});
    return out;
}

} // namespace gantry::gpu_vendors::nvidia
