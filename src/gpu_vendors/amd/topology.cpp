// AMD host discovery (see topology.hpp): one in-root reader per root (sys, dev) with bounded
// reads, the strict properties parser, and the walk over KFD nodes, DRM nodes and device nodes.
#include "gpu_vendors/amd/topology.hpp"

#include "util/error.hpp"
#include "util/fd.hpp"
#include "util/fs.hpp"
#include "util/text.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <dirent.h>
#include <fcntl.h>
#include <filesystem>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <tuple>
#include <unistd.h>

namespace gantry::gpu_vendors::amd {

namespace {

constexpr std::string_view topology_dir = "sys/class/kfd/kfd/topology";
// A properties file is ~1.5 KiB (about 45 short lines); sysfs attributes are at most a page.
constexpr std::size_t max_sysfs_file = 64 * 1024;
constexpr std::size_t max_topology_nodes = 4096;
// kfd_topology.h HSA_CAP_SRAM_EDCSUPPORTED (the old 0x00080000 is reserved, "old buggy user mode
// depends on this being 0").
constexpr std::uint64_t hsa_cap_sram_edc = 0x04000000;

constexpr const char* sysfs_hint =
    "the KFD sysfs topology under the sys root is damaged or not the "
    "kernel's; check the amdgpu driver (dmesg) or the sys root given";

std::string normalize_root(const std::string& root) {
    if (root.empty()) return "/";
    std::string r = std::filesystem::path(root).lexically_normal().string();
    if (r[0] != '/') {
        std::error_code ec;
        auto abs = std::filesystem::absolute(r, ec);
        if (!ec) r = abs.lexically_normal().string();
    }
    while (r.size() > 1 && r.back() == '/') r.pop_back();
    return r.empty() ? "/" : r;
}

// A strictly decimal unsigned 64-bit number: digits only, no sign, no space, no overflow.
std::optional<std::uint64_t> to_u64(std::string_view s) {
    if (!text::all_digits(s)) return std::nullopt;
    std::uint64_t v = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc{} || end != s.data() + s.size()) return std::nullopt;
    return v;
}

// One root (sys or dev) opened once; every path below it is resolved inside it.
class Root {
  public:
    explicit Root(std::string path) : path_(std::move(path)), fd_(fs::open_dir(path_)) {}
    const std::string& path() const { return path_; }
    std::string host(std::string_view in_root) const {
        return gpu_host::join_root(path_, "/" + std::string(in_root));
    }

    // The file's content; nullopt when it does not exist. Throws on other errors or when larger
    // than max_sysfs_file.
    std::optional<std::string> read(std::string_view in_root) const {
        Fd fd(
            fs::openat_in_root(fd_.get(), std::string(in_root), O_RDONLY | O_NOCTTY | O_NONBLOCK));
        if (!fd) {
            if (errno == ENOENT || errno == ENOTDIR) return std::nullopt;
            throw sys_error(errno, "cannot open " + host(in_root), sysfs_hint);
        }
        struct stat st {};
        if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode))
            throw Error(Errc::invalid, host(in_root) + " is not a regular file", sysfs_hint);
        std::string out;
        std::array<char, 4096> buf{};
        for (;;) {
            ssize_t n = ::read(fd.get(), buf.data(), buf.size());
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) throw sys_error(errno, "cannot read " + host(in_root), sysfs_hint);
            if (n == 0) break;
            out.append(buf.data(), static_cast<std::size_t>(n));
            if (out.size() > max_sysfs_file)
                throw Error(Errc::invalid,
                            host(in_root) + " is larger than " + std::to_string(max_sysfs_file) +
                                " bytes: not a sysfs attribute",
                            sysfs_hint);
        }
        return out;
    }

    // Names in a directory (without . and ..); nullopt when it does not exist.
    std::optional<std::vector<std::string>> list(std::string_view in_root) const {
        int raw = fs::openat_in_root(fd_.get(), std::string(in_root), O_RDONLY | O_DIRECTORY);
        if (raw < 0) {
            if (errno == ENOENT || errno == ENOTDIR) return std::nullopt;
            throw sys_error(errno, "cannot open directory " + host(in_root), sysfs_hint);
        }
        DIR* dir = ::fdopendir(raw);
        if (!dir) {
            int err = errno;
            ::close(raw);
            throw sys_error(err, "cannot read directory " + host(in_root));
        }
        std::vector<std::string> names;
        while (dirent* e = ::readdir(dir)) {
            std::string_view name = e->d_name;
            if (name == "." || name == "..") continue;
            if (names.size() == max_topology_nodes) {
                ::closedir(dir);
                throw Error(Errc::invalid,
                            host(in_root) + " holds more than " +
                                std::to_string(max_topology_nodes) + " entries",
                            sysfs_hint);
            }
            names.emplace_back(name);
        }
        ::closedir(dir);
        std::sort(names.begin(), names.end());
        return names;
    }

    // The target of the symlink DIR/NAME (DIR resolved in the root); nullopt when it is not one.
    std::optional<std::string> link_target(const std::string& dir, const char* name) const {
        Fd dir_fd(fs::openat_in_root(fd_.get(), dir, O_PATH | O_DIRECTORY));
        if (!dir_fd) return std::nullopt;
        std::array<char, 4096> buf{};
        ssize_t n = ::readlinkat(dir_fd.get(), name, buf.data(), buf.size());
        if (n <= 0 || static_cast<std::size_t>(n) >= buf.size()) return std::nullopt;
        return std::string(buf.data(), static_cast<std::size_t>(n));
    }

    // stat of a device node (following no link out of the root); present=false when missing.
    gpu_host::DeviceNode node(const std::string& container_path) const {
        gpu_host::DeviceNode n;
        n.path = container_path;
        n.host_path = gpu_host::join_root(path_, container_path);
        Fd fd(fs::openat_in_root(fd_.get(), container_path, O_PATH));
        struct stat st {};
        if (!fd || ::fstat(fd.get(), &st) != 0) return n;
        n.present = true;
        n.type = S_ISCHR(st.st_mode) ? 'c' : S_ISBLK(st.st_mode) ? 'b' : '-';
        n.major = S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) ? major(st.st_rdev) : 0;
        n.minor = S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) ? minor(st.st_rdev) : 0;
        n.mode = st.st_mode & 07777;
        n.uid = st.st_uid;
        n.gid = st.st_gid;
        return n;
    }

  private:
    std::string path_;
    Fd fd_;
};

std::uint64_t require(const std::map<std::string, std::uint64_t, std::less<>>& props,
                      std::string_view key, const std::string& file) {
    auto it = props.find(key);
    if (it == props.end())
        throw Error(Errc::invalid, file + ": no '" + std::string(key) + "' line", sysfs_hint);
    return it->second;
}

std::uint32_t require_u32(const std::map<std::string, std::uint64_t, std::less<>>& props,
                          std::string_view key, const std::string& file) {
    std::uint64_t v = require(props, key, file);
    if (v > UINT32_MAX)
        throw Error(Errc::invalid,
                    file + ": '" + std::string(key) + "' " + std::to_string(v) +
                        " does not fit in 32 bits",
                    sysfs_hint);
    return static_cast<std::uint32_t>(v);
}

// A one-number sysfs file (gpu_id, generation_id): nullopt when absent, throws when not a number.
std::optional<std::uint64_t> read_number(const Root& root, const std::string& in_root) {
    auto content = root.read(in_root);
    if (!content) return std::nullopt;
    auto v = to_u64(text::trim(*content));
    if (!v) throw Error(Errc::invalid, root.host(in_root) + ": not a decimal number", sysfs_hint);
    return v;
}

// Where a render node's DRM device sits in sysfs, through class/drm/renderD<N>/device: the PCI
// device (a link whose last component is the BDF the topology gives) or a partition's platform
// device (amdgpu_xcp_<k>); its drm/ directory holds card<M> and renderD<N> (the layout AMD's
// toolkit globs). card is nullopt when any of it does not hold.
struct DrmPlace {
    std::optional<std::string> card;
    std::string platform_device; // "amdgpu_xcp_<k>", "" for the PCI device
};

bool is_xcp_name(std::string_view name) {
    constexpr std::string_view prefix = "amdgpu_xcp_";
    return name.starts_with(prefix) && text::to_u32(name.substr(prefix.size())).has_value();
}

// The one card<M> beside renderD<RENDER_MINOR> (when given) in DIR; nullopt when there is none
// or two, or the render node is not there.
std::optional<std::string> card_in(const Root& sys, const std::string& dir,
                                   std::optional<std::uint32_t> render_minor) {
    auto names = sys.list(dir);
    if (!names) return std::nullopt;
    bool has_render = !render_minor;
    std::optional<std::string> card;
    for (const auto& name : *names) {
        if (render_minor && name == "renderD" + std::to_string(*render_minor)) has_render = true;
        if (name.starts_with("card") && text::to_u32(std::string_view(name).substr(4))) {
            if (card) return std::nullopt; // two cards on one device: ambiguous
            card = name;
        }
    }
    return has_render ? card : std::nullopt;
}

DrmPlace place_of(const Root& sys, std::uint32_t render_minor, const std::string& pci_bus_id) {
    std::string render_dir = "sys/class/drm/renderD" + std::to_string(render_minor);
    DrmPlace p;
    auto device = sys.link_target(render_dir, "device");
    if (!device) return p;
    auto slash = device->rfind('/');
    std::string_view last = slash == std::string::npos
                                ? std::string_view(*device)
                                : std::string_view(*device).substr(slash + 1);
    if (last == pci_bus_id) {
        p.card = card_in(sys, render_dir + "/device/drm", render_minor);
    } else if (is_xcp_name(last)) {
        p.platform_device = std::string(last);
        p.card = card_in(sys, render_dir + "/device/drm", render_minor);
    }
    return p;
}

// A short word from a sysfs attribute (a partition mode such as "CPX"); "" when absent or not
// one word of at most 16 letters and digits.
std::string mode_word(const Root& sys, const std::string& in_root) {
    auto content = sys.read(in_root);
    if (!content) return {};
    auto w = text::trim(*content);
    if (w.empty() || w.size() > 16 || !std::all_of(w.begin(), w.end(), [](char c) {
            return std::isalnum(static_cast<unsigned char>(c));
        }))
        return {};
    return std::string(w);
}

// Partitions: GPU nodes sharing one PCI device (domain and location_id). Each gets its index
// by render minor, the group's size, the PCI device's card node and partition modes (read from
// sys/module/amdgpu/drivers/pci:amdgpu/<bdf>/, where AMD's toolkit reads them).
void mark_partitions(const Root& sys, const Root& dev, std::vector<Gpu>& gpus) {
    std::map<std::pair<std::uint32_t, std::uint32_t>, std::vector<Gpu*>> groups;
    for (auto& g : gpus) groups[{g.domain, g.location_id}].push_back(&g);
    for (auto& [where, members] : groups) {
        if (members.size() < 2) continue;
        std::sort(members.begin(), members.end(), [](const Gpu* a, const Gpu* b) {
            return a->drm_render_minor < b->drm_render_minor;
        });
        std::string pci_dir = "sys/module/amdgpu/drivers/pci:amdgpu/" + members[0]->pci_bus_id;
        Partition base;
        base.count = static_cast<int>(members.size());
        base.compute_mode = mode_word(sys, pci_dir + "/current_compute_partition");
        base.memory_mode = mode_word(sys, pci_dir + "/current_memory_partition");
        if (auto card = card_in(sys, pci_dir + "/drm", std::nullopt))
            base.parent_card = dev.node("/dev/dri/" + *card);
        for (std::size_t i = 0; i < members.size(); ++i) {
            Partition p = base;
            p.index = static_cast<int>(i);
            members[i]->partition = p;
        }
    }
}

Gpu read_gpu(const Root& sys, std::uint32_t node, const std::string& node_dir,
             const std::map<std::string, std::uint64_t, std::less<>>& props,
             const std::string& file) {
    Gpu g;
    g.node = node;
    g.simd_count = require_u32(props, "simd_count", file);
    g.gfx_target_version = require_u32(props, "gfx_target_version", file);
    auto gfx = gfx_name(g.gfx_target_version);
    if (!gfx)
        throw Error(Errc::invalid,
                    file + ": gfx_target_version " + std::to_string(g.gfx_target_version) +
                        " is not major*10000 + minor*100 + stepping (minor 0-9, stepping 0-15)",
                    sysfs_hint);
    g.gfx_target = *gfx;
    g.vendor_id = require_u32(props, "vendor_id", file);
    g.device_id = require_u32(props, "device_id", file);
    g.location_id = require_u32(props, "location_id", file);
    g.domain = require_u32(props, "domain", file);
    g.pci_bus_id = pci_bdf(g.domain, g.location_id);
    g.drm_render_minor = require_u32(props, "drm_render_minor", file);
    if (auto it = props.find("unique_id"); it != props.end() && it->second != 0) {
        g.unique_id = it->second;
        g.uuid = uuid_of(it->second);
    }
    if (auto it = props.find("capability"); it != props.end()) {
        g.capability = it->second;
        if (has_sramecc_feature(g.gfx_target))
            g.sramecc = g.gfx_target == "gfx908" || (it->second & hsa_cap_sram_edc) != 0;
    }
    if (props.contains("num_xcc")) g.num_xcc = require_u32(props, "num_xcc", file);
    if (auto id = read_number(sys, node_dir + "/gpu_id")) {
        if (*id > UINT32_MAX)
            throw Error(Errc::invalid, sys.host(node_dir + "/gpu_id") + ": does not fit in 32 bits",
                        sysfs_hint);
        g.gpu_id = static_cast<std::uint32_t>(*id);
    }
    if (auto name = sys.read(node_dir + "/name")) g.kfd_name = std::string(text::trim(*name));
    g.marketing_name = marketing_name(g.device_id);
    return g;
}

} // namespace

std::map<std::string, std::uint64_t, std::less<>> parse_properties(std::string_view text,
                                                                   const std::string& file) {
    std::map<std::string, std::uint64_t, std::less<>> props;
    int line_no = 0;
    for (std::string_view line : text::lines(text)) {
        ++line_no;
        if (text::trim(line).empty()) continue;
        auto where = file + " line " + std::to_string(line_no);
        auto fields = text::words(line);
        if (fields.size() != 2)
            throw Error(Errc::invalid, where + ": not a 'name value' pair", sysfs_hint);
        auto name = fields[0];
        if (!std::all_of(name.begin(), name.end(), [](char c) {
                return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
            }))
            throw Error(Errc::invalid, where + ": bad property name", sysfs_hint);
        auto value = to_u64(fields[1]);
        if (!value)
            throw Error(Errc::invalid,
                        where + ": '" + std::string(name) +
                            "' is not a decimal number that fits in 64 bits",
                        sysfs_hint);
        if (!props.emplace(std::string(name), *value).second)
            throw Error(Errc::invalid, where + ": '" + std::string(name) + "' repeated",
                        sysfs_hint);
    }
    return props;
}

std::optional<std::string> gfx_name(std::uint64_t v) {
    std::uint64_t major = v / 10000, minor = (v / 100) % 100, stepping = v % 100;
    if (v == 0 || major == 0 || major > 99 || minor > 9 || stepping > 15) return std::nullopt;
    return "gfx" + std::to_string(major) + std::to_string(minor) + "0123456789abcdef"[stepping];
}

std::string pci_bdf(std::uint32_t domain, std::uint32_t location_id) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%04x:%02x:%02x.%x", domain & 0xffff, (location_id >> 8) & 0xff,
                  (location_id >> 3) & 0x1f, location_id & 0x7);
    return buf;
}

std::string uuid_of(std::uint64_t unique_id) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "GPU-%016llx", static_cast<unsigned long long>(unique_id));
    return buf;
}

bool has_sramecc_feature(std::string_view gfx_target) {
    for (std::string_view t :
         {"gfx906", "gfx908", "gfx90a", "gfx940", "gfx941", "gfx942", "gfx950"})
        if (gfx_target == t) return true;
    return false;
}

std::string marketing_name(std::uint32_t device_id) {
    // PCI device IDs as pci.ids names them (not verified against AMD's own tables; rocm.md
    // confirms only 29772 = 0x744c for a gfx1100 board).
    switch (device_id) {
    case 0x74a1:
        return "AMD Instinct MI300X";
    case 0x740c:
        return "AMD Instinct MI250X / MI250";
    case 0x740f:
        return "AMD Instinct MI210";
    case 0x738c:
        return "AMD Instinct MI100";
    case 0x744c:
        return "AMD Radeon RX 7900 XTX";
    default:
        return "";
    }
}

Host discover(const DiscoverOptions& options) {
    Host h;
    h.sys_root = normalize_root(options.sys_root);
    h.dev_root = normalize_root(options.dev_root);
    Root sys(h.sys_root);
    Root dev(h.dev_root);

    h.kfd = dev.node("/dev/kfd");
    if (!h.kfd.present)
        h.notes.push_back(h.kfd.host_path + " does not exist: the amdgpu driver is not loaded, or "
                                            "KFD is not enabled");
    else if (h.kfd.type != 'c')
        h.notes.push_back(h.kfd.host_path + " is not a character device");

    if (auto version = sys.read("sys/module/amdgpu/version"))
        h.driver_version = std::string(text::trim(*version));
    else
        h.notes.push_back("no " + sys.host("sys/module/amdgpu/version") +
                          ": the amdgpu driver is the kernel's own (only DKMS builds have a "
                          "version file), or it is not loaded");
    h.generation_id = read_number(sys, std::string(topology_dir) + "/generation_id");

    std::string nodes_dir = std::string(topology_dir) + "/nodes";
    auto names = sys.list(nodes_dir);
    if (!names) {
        h.unusable_reason =
            "no KFD topology at " + sys.host(nodes_dir) +
            ": the amdgpu driver is not loaded (no AMD GPU, or --sys-root is wrong)";
        return h;
    }
    for (const auto& name : *names) {
        auto node = text::to_u32(name);
        if (!node) continue; // not a node directory
        std::string node_dir = nodes_dir + "/" + name;
        std::string file = node_dir + "/properties";
        auto content = sys.read(file);
        if (!content) throw Error(Errc::invalid, sys.host(file) + " does not exist", sysfs_hint);
        auto props = parse_properties(*content, sys.host(file));
        if (require(props, "simd_count", sys.host(file)) == 0) {
            ++h.cpu_nodes; // a CPU node
            continue;
        }
        h.gpus.push_back(read_gpu(sys, *node, node_dir, props, sys.host(file)));
    }

    for (std::size_t i = 0; i < h.gpus.size(); ++i)
        for (std::size_t j = i + 1; j < h.gpus.size(); ++j)
            if (h.gpus[i].drm_render_minor == h.gpus[j].drm_render_minor)
                throw Error(Errc::invalid,
                            sys.host(nodes_dir) + ": nodes " + std::to_string(h.gpus[i].node) +
                                " and " + std::to_string(h.gpus[j].node) +
                                " have the same drm_render_minor " +
                                std::to_string(h.gpus[i].drm_render_minor),
                            sysfs_hint);
    // GPUs in PCI address order, a partitioned GPU's partitions together by partition, as AMD's
    // amd-ctk numbers its CDI devices and reads AMD_VISIBLE_DEVICES indices (its
    // internal/amdgpu/amdgpu.go walks pci:amdgpu/<bdf> in glob order; the slice it keeps is named
    // uniqueIds but holds addresses) and as the kernel probes them on most hosts (the KFD node
    // order ROCr enumerates). Ties (a damaged topology) by node.
    mark_partitions(sys, dev, h.gpus);
    auto key = [](const Gpu& g) {
        return std::tuple(g.domain, g.location_id, g.partition ? g.partition->index : 0, g.node);
    };
    std::stable_sort(h.gpus.begin(), h.gpus.end(),
                     [&](const Gpu& a, const Gpu& b) { return key(a) < key(b); });
    bool xnack_noted = false;
    std::map<std::string, int> uuid_users;
    for (const auto& g : h.gpus)
        if (!g.uuid.empty()) ++uuid_users[g.uuid];
    for (std::size_t i = 0; i < h.gpus.size(); ++i) {
        Gpu& g = h.gpus[i];
        g.index = static_cast<int>(i);
        if (!g.unique_id)
            h.notes.push_back("GPU node " + std::to_string(g.node) +
                              " has no unique_id (kernel too old?): no UUID");
        else if (uuid_users[g.uuid] > 1)
            h.notes.push_back("GPU " + std::to_string(g.index) + ": UUID " + g.uuid +
                              " is shared with another partition of its GPU (a kernel that "
                              "gives partitions their parent's unique_id)");
        g.render = dev.node("/dev/dri/renderD" + std::to_string(g.drm_render_minor));
        if (!g.render.present)
            h.notes.push_back("GPU " + std::to_string(g.index) + ": " + g.render.host_path +
                              " does not exist");
        auto place = place_of(sys, g.drm_render_minor, g.pci_bus_id);
        if (g.partition) g.partition->platform_device = place.platform_device;
        if (place.card) {
            g.card = dev.node("/dev/dri/" + *place.card);
            g.card_matched = true;
        } else {
            h.notes.push_back(
                "GPU " + std::to_string(g.index) + ": no card node matched: " +
                sys.host("sys/class/drm/renderD" + std::to_string(g.drm_render_minor) + "/device") +
                " is not PCI device " + g.pci_bus_id +
                " (or a partition's amdgpu_xcp_<k>) with one drm/card*");
        }
        if (!xnack_noted) {
            h.notes.push_back("xnack: not in the KFD topology (ROCr takes the process's mode, "
                              "HSA_XNACK); unknown");
            xnack_noted = true;
        }
    }

    if (h.gpus.empty())
        h.unusable_reason = "the KFD topology at " + sys.host(nodes_dir) + " lists no GPU node";
    else if (!h.kfd.present || h.kfd.type != 'c')
        h.unusable_reason = h.kfd.host_path +
                            (h.kfd.present ? " is not a character device" : " does not exist") +
                            ": no usable AMD GPU (is the amdgpu driver loaded with KFD?)";
    else
        h.usable = true;
    return h;
}

} // namespace gantry::gpu_vendors::amd
