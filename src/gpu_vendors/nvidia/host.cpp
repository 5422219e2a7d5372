// gpu_vendors::nvidia::Host helpers: capability names, the host summary, the parsers of the
// driver's proc files, the driver-branch -> CUDA table and the per-capability library lists.
#include "gpu_vendors/nvidia/host.hpp"

#include "util/text.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <sstream>
#include <string_view>

namespace gantry::gpu_vendors::nvidia {

namespace {

constexpr const char* cap_names[] = {"compute", "utility", "video",   "graphics",
                                     "display", "ngx",     "compat32"};

// The blanks trimmed from the fields of the driver's files (text::whitespace less \v and \f).
constexpr std::string_view kBlanks = " \t\r\n";

// Parses a decimal number (no sign, at most 18 digits).
std::optional<std::int64_t> to_int(std::string_view s) {
    if (!text::all_digits(s) || s.size() > 18) return std::nullopt;
    std::int64_t v = 0;
    for (char c : s) v = v * 10 + (c - '0');
    return v;
}

// LNC's per-capability lists (src/nvc_info.c), by library name up to ".so".
struct LibList {
    Capabilities caps;
    std::vector<std::string_view> names;
};

const std::vector<LibList>& lib_lists() {
    using C = Capability;
    static const std::vector<LibList> lists = {
        {{C::utility}, {"libnvidia-ml", "libnvidia-cfg", "libnvidia-nscq"}},
        {{C::compute, C::video},
         {"libcuda", "libcudadebugger", "libnvidia-opencl", "libnvidia-gpucomp",
          "libnvidia-ptxjitcompiler", "libnvidia-fatbinaryloader", "libnvidia-allocator",
          "libnvidia-compiler", "libnvidia-pkcs11", "libnvidia-pkcs11-openssl3", "libnvidia-nvvm",
          "libnvidia-nvvm70", "libnvidia-tileiras"}},
        {{C::video},
         {"libvdpau_nvidia", "libnvidia-encode", "libnvidia-opticalflow", "libnvcuvid"}},
        {{C::graphics, C::display},
         {"libnvidia-eglcore", "libnvidia-glcore", "libnvidia-tls", "libnvidia-glsi",
          "libnvidia-fbc", "libnvidia-ifr", "libnvidia-rtcore", "libnvoptix", "libGLX_nvidia",
          "libEGL_nvidia", "libGLESv2_nvidia", "libGLESv1_CM_nvidia", "libnvidia-glvkspirv",
          "libnvidia-cbl", "libGL", "libEGL", "libGLESv1_CM", "libGLESv2"}},
        {{C::ngx}, {"libnvidia-ngx"}},
        // LNC never mounts these X/GTK display libraries; display is the narrowest fit.
        {{C::display}, {"libnvidia-gtk2", "libnvidia-gtk3", "libnvidia-wfb", "libglx"}},
        // WSL: libdxcore goes with every capability (empty set).
        {{}, {"libdxcore"}},
    };
    return lists;
}

} // namespace

Machine native_machine() {
#if defined(__aarch64__)
    return Machine::aarch64;
#else
    return Machine::x86_64;
#endif
}

const char* to_string(Machine m) {
    return m == Machine::aarch64 ? "aarch64" : "x86_64";
}

const char* multiarch(Machine m) {
    return m == Machine::aarch64 ? "aarch64-linux-gnu" : "x86_64-linux-gnu";
}

std::uint16_t elf_machine(Machine m) {
    return m == Machine::aarch64 ? 183 : 62; // EM_AARCH64, EM_X86_64
}

const char* to_string(Capability c) {
    return cap_names[static_cast<int>(c)];
}

std::optional<Capability> capability_from_string(const std::string& s) {
    for (int i = 0; i < 7; ++i) {
        if (s == cap_names[i]) return static_cast<Capability>(i);
    }
    return std::nullopt;
}

Capabilities all_capabilities() {
    Capabilities all;
    for (int i = 0; i < 7; ++i) all.insert(static_cast<Capability>(i));
    return all;
}

std::string to_string(const Capabilities& caps) {
    std::string s;
    for (Capability c : caps) s += (s.empty() ? "" : ",") + std::string(to_string(c));
    return s;
}

bool Library::selected_by(const Capabilities& requested) const {
    if (lib32 && !requested.count(Capability::compat32)) return false;
    if (caps.empty()) return !requested.empty();
    return std::any_of(caps.begin(), caps.end(), [&](Capability c) { return requested.count(c); });
}

bool HostFile::selected_by(const Capabilities& requested) const {
    if (caps.empty()) return !requested.empty();
    return std::any_of(caps.begin(), caps.end(), [&](Capability c) { return requested.count(c); });
}

std::string parse_proc_version(const std::string& text) {
    for (std::string_view line : text::lines(text)) {
        if (!line.starts_with("NVRM version:")) continue;
        auto m = line.find("Module");
        if (m == std::string_view::npos) continue;
        std::istringstream in{std::string(line.substr(m + 6))};
        for (std::string tok; in >> tok;) {
            if (std::isdigit(static_cast<unsigned char>(tok[0])) && is_driver_version(tok))
                return tok;
        }
    }
    return {};
}

bool is_driver_version(const std::string& v) {
    std::vector<std::string_view> parts;
    std::string_view rest = v;
    for (;;) {
        auto dot = rest.find('.');
        parts.push_back(rest.substr(0, dot));
        if (dot == std::string_view::npos) break;
        rest.remove_prefix(dot + 1);
    }
    if (parts.size() < 2 || parts.size() > 3) return false;
    for (auto p : parts) {
        if (!text::all_digits(p) || p.size() > 6) return false;
    }
    return to_int(parts[0]).value_or(0) >= 100;
}

int cuda_version_for_driver(const std::string& driver_version) {
    // Branch -> newest CUDA (1000*major + 10*minor), from the CUDA toolkit release notes.
    static const std::pair<int, int> table[] = {
        {384, 9000},  {390, 9010},  {396, 9020},  {410, 10000}, {418, 10010}, {440, 10020},
        {450, 11000}, {455, 11010}, {460, 11020}, {465, 11030}, {470, 11040}, {495, 11050},
        {510, 11060}, {515, 11070}, {520, 11080}, {525, 12000}, {530, 12010}, {535, 12020},
        {545, 12030}, {550, 12040}, {555, 12050}, {560, 12060}, {565, 12070}, {570, 12080},
        {575, 12090}, {580, 13000}, {590, 13010}, {595, 13020},
    };
    if (!is_driver_version(driver_version)) return 0;
    int branch =
        static_cast<int>(to_int(driver_version.substr(0, driver_version.find('.'))).value_or(0));
    int best = 0;
    for (auto [b, cuda] : table) {
        if (b <= branch) best = cuda;
    }
    return best;
}

std::string cuda_version_string(int v) {
    if (v <= 0) return {};
    return std::to_string(v / 1000) + "." + std::to_string((v % 1000) / 10);
}

Capabilities library_capabilities(const std::string& file_name) {
    std::string_view base = file_name;
    if (auto slash = base.rfind('/'); slash != std::string_view::npos)
        base.remove_prefix(slash + 1);
    for (std::size_t at = base.find(".so"); at != std::string_view::npos;
         at = base.find(".so", at + 1)) {
        if (at + 3 == base.size() || base[at + 3] == '.') {
            base = base.substr(0, at);
            break;
        }
    }
    for (const auto& list : lib_lists()) {
        if (std::find(list.names.begin(), list.names.end(), base) != list.names.end())
            return list.caps;
    }
    return {Capability::graphics, Capability::display};
}

std::map<std::string, std::int64_t> parse_proc_devices(const std::string& text) {
    std::map<std::string, std::int64_t> out;
    bool chars = false;
    for (std::string_view line : text::lines(text)) {
        std::string t(text::trim(line, kBlanks));
        if (t == "Character devices:")
            chars = true;
        else if (t == "Block devices:")
            chars = false;
        else if (chars) {
            auto sp = t.find_first_of(" \t");
            if (sp == std::string::npos) continue;
            auto major = to_int(t.substr(0, sp));
            std::string name(text::trim(std::string_view(t).substr(sp), kBlanks));
            if (major && !name.empty()) out.emplace(name, *major);
        }
    }
    return out;
}

std::map<std::string, std::int64_t> parse_mig_minors(const std::string& text) {
    std::map<std::string, std::int64_t> out;
    for (std::string_view line : text::lines(text)) {
        std::string t(text::trim(line, kBlanks));
        auto sp = t.find_last_of(" \t");
        if (sp == std::string::npos) continue;
        auto minor = to_int(t.substr(sp + 1));
        std::string key(text::trim(std::string_view(t).substr(0, sp), kBlanks));
        if (minor && !key.empty()) out[key] = *minor;
    }
    return out;
}

std::map<std::string, std::string> parse_information(const std::string& text) {
    std::map<std::string, std::string> out;
    for (std::string_view line : text::lines(text)) {
        auto colon = line.find(':');
        if (colon == std::string_view::npos) continue;
        std::string key(text::trim(line.substr(0, colon), kBlanks));
        if (!key.empty()) out.emplace(key, text::trim(line.substr(colon + 1), kBlanks));
    }
    return out;
}

std::string normalize_pci_bus_id(const std::string& id) {
    // domain ":" bus ":" device "." function, all hexadecimal.
    std::string t(text::trim(id, kBlanks));
    unsigned v[4] = {};
    const char seps[] = {':', ':', '.', '\0'};
    const std::size_t max_digits[] = {8, 2, 2, 1};
    std::size_t at = 0;
    for (int i = 0; i < 4; ++i) {
        std::size_t n = 0;
        while (at + n < t.size() && std::isxdigit(static_cast<unsigned char>(t[at + n]))) ++n;
        if (n == 0 || n > max_digits[i]) return {};
        v[i] = static_cast<unsigned>(std::stoul(t.substr(at, n), nullptr, 16));
        at += n;
        if (seps[i] == '\0') break;
        if (at >= t.size() || t[at] != seps[i]) return {};
        ++at;
    }
    if (at != t.size() || v[2] > 0x1f || v[3] > 7) return {};
    char buf[32];
    std::snprintf(buf, sizeof buf, "%08X:%02X:%02X.%X", v[0], v[1], v[2], v[3]);
    return buf;
}

std::string mig_profile_from_name(const std::string& name) {
    auto at = name.rfind(" MIG ");
    if (at == std::string::npos) return {};
    return std::string(text::trim(std::string_view(name).substr(at + 5), kBlanks));
}

std::string to_string(const Host& h) {
    std::ostringstream o;
    o << "NVRM version:   " << (h.driver_version.empty() ? "(none)" : h.driver_version) << "\n";
    o << "CUDA version:   " << (h.cuda_version ? cuda_version_string(h.cuda_version) : "(unknown)")
      << "\n";
    o << "Driver root:    " << h.driver_root << " (" << to_string(h.machine) << ")\n";
    o << "Device root:    " << h.dev_root << "\n";
    o << "GPU source:     " << (h.nvml_loaded ? "NVML" : "/proc (NVML unavailable)") << "\n";
    o << "Libraries:      " << h.libraries.size() << "  Binaries: " << h.binaries.size()
      << "  Firmware: " << h.firmware.size() << "  IPC: " << h.ipc.size() << "\n";
    for (const Device& d : h.devices) {
        o << "\nDevice Index:   " << d.index << "\nDevice Minor:   " << d.minor
          << "\nModel:          " << d.name << "\nBrand:          " << d.brand
          << "\nGPU UUID:       " << d.uuid << "\nBus Location:   " << d.pci_bus_id
          << "\nArchitecture:   ";
        if (d.cc_major > 0)
            o << d.cc_major << "." << d.cc_minor;
        else
            o << "(unknown)";
        o << "\n";
        for (const MigDevice& m : d.migs) {
            o << "  MIG " << m.gi << ":" << m.ci << " " << m.profile << " " << m.uuid << "\n";
        }
    }
    if (!h.notes.empty()) o << "\nNotes:\n";
    for (const auto& n : h.notes) o << "  " << n << "\n";
    return o.str();
}

std::optional<std::string> params_for_container(std::string params) {
    static constexpr std::string_view on = "ModifyDeviceFiles: 1";
    for (size_t pos = 0; (pos = params.find(on, pos)) != std::string::npos; pos += on.size())
        if (pos == 0 || params[pos - 1] == '\n') {
            params[pos + on.size() - 1] = '0';
            return params;
        }
    return std::nullopt;
}

} // namespace gantry::gpu_vendors::nvidia
