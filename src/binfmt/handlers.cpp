#include "binfmt/handlers.hpp"

#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/text.hpp"

#include <algorithm>
#include <cstdlib>
#include <system_error>

namespace gantry::binfmt {
namespace {

namespace stdfs = std::filesystem;

Error bad_entry(const std::string& name, std::string_view line, std::string_view why) {
    return Error(Errc::invalid,
                 "binfmt_misc entry " + name + ": cannot read the line \"" + std::string(line) +
                     "\" (" + std::string(why) + ")",
                 "this kernel prints its handlers in a format gantry does not know: report it "
                 "with the entry's text (cat /proc/sys/fs/binfmt_misc/" +
                     name + ")");
}

int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// The kernel prints magic and mask as plain lower-case hex pairs (bin2hex).
std::optional<std::string> unhex(std::string_view s) {
    if (s.size() % 2 != 0) return std::nullopt;
    std::string out;
    for (std::size_t i = 0; i < s.size(); i += 2) {
        int hi = hex_digit(s[i]), lo = hex_digit(s[i + 1]);
        if (hi < 0 || lo < 0) return std::nullopt;
        out += static_cast<char>(hi * 16 + lo);
    }
    return out;
}

// The ELF machine, class and byte order of an OCI (GOARCH) architecture.
struct ElfArch {
    std::string_view oci;
    std::uint16_t machine;
    bool is64;
    bool big_endian;
};
constexpr ElfArch kArches[] = {
    {"amd64", 62, true, false},    {"386", 3, false, false},      {"arm64", 183, true, false},
    {"arm", 40, false, false},     {"ppc64le", 21, true, false},  {"ppc64", 21, true, true},
    {"s390x", 22, true, true},     {"riscv64", 243, true, false}, {"mips64le", 8, true, false},
    {"mips64", 8, true, true},     {"mipsle", 8, false, false},   {"mips", 8, false, true},
    {"loong64", 258, true, false},
};

std::string elf_head(const ElfArch& a, std::uint16_t type) {
    std::string h = {'\x7f', 'E', 'L', 'F'};
    h += static_cast<char>(a.is64 ? 2 : 1);       // EI_CLASS
    h += static_cast<char>(a.big_endian ? 2 : 1); // EI_DATA
    h += '\x01';                                  // EI_VERSION
    h.append(9, '\0');                            // EI_OSABI, EI_ABIVERSION, padding
    auto put16 = [&](std::uint16_t v) {
        char lo = static_cast<char>(v & 0xff), hi = static_cast<char>(v >> 8);
        if (a.big_endian) std::swap(lo, hi);
        h += lo;
        h += hi;
    };
    put16(type);      // e_type
    put16(a.machine); // e_machine
    return h;
}

} // namespace

bool Handler::matches(std::string_view head) const {
    if (!by_magic || magic.empty()) return false;
    if (head.size() < offset + magic.size()) return false;
    for (std::size_t i = 0; i < magic.size(); ++i) {
        auto bits = static_cast<unsigned char>(head[offset + i] ^ magic[i]);
        if (!mask.empty()) bits &= static_cast<unsigned char>(mask[i]);
        if (bits != 0) return false;
    }
    return true;
}

Handler parse_entry(const std::string& name, std::string_view text) {
    Handler h;
    h.name = name;
    bool seen_state = false;
    for (auto line : text::lines(text)) {
        if (line.empty()) continue;
        if (line == "enabled" || line == "disabled") {
            h.enabled = line == "enabled";
            seen_state = true;
            continue;
        }
        auto space = line.find(' ');
        std::string_view key = line.substr(0, space);
        std::string_view value =
            space == std::string_view::npos ? std::string_view() : line.substr(space + 1);
        if (key == "interpreter") {
            h.interpreter = std::string(value);
        } else if (key == "flags:") {
            h.flags = std::string(value);
        } else if (key == "offset") {
            h.by_magic = true;
            std::size_t n = 0;
            for (char c : value) {
                if (c < '0' || c > '9' || n > 1u << 20) throw bad_entry(name, line, "not a number");
                n = n * 10 + static_cast<std::size_t>(c - '0');
            }
            if (value.empty()) throw bad_entry(name, line, "no number");
            h.offset = n;
        } else if (key == "magic" || key == "mask") {
            h.by_magic = true;
            auto bytes = unhex(value);
            if (!bytes) throw bad_entry(name, line, "not hexadecimal bytes");
            (key == "magic" ? h.magic : h.mask) = std::move(*bytes);
        } else if (key == "extension") {
            h.extension = std::string(text::trim_left(value, "."));
        } else {
            throw bad_entry(name, line, "unknown field");
        }
    }
    if (!seen_state) throw bad_entry(name, text.substr(0, text.find('\n')), "no enabled line");
    if (!h.mask.empty() && h.mask.size() != h.magic.size())
        throw bad_entry(name, "mask", "its length is not the magic's");
    return h;
}

Registry read(const stdfs::path& dir) {
    Registry r;
    r.dir = dir;
    std::error_code ec;
    if (!stdfs::is_regular_file(dir / "status", ec)) return r;
    r.mounted = true;
    r.enabled = text::trim(fs::read_file(dir / "status", 4096)) == "enabled";
    std::vector<std::string> names;
    for (const auto& e : stdfs::directory_iterator(dir)) {
        auto name = e.path().filename().string();
        if (name != "status" && name != "register") names.push_back(name);
    }
    std::sort(names.begin(), names.end());
    for (const auto& name : names)
        r.handlers.push_back(parse_entry(name, fs::read_file(dir / name, 65536)));
    return r;
}

Registry read_host() {
    stdfs::path proc = "/proc";
    if (const char* r = std::getenv("GANTRY_PROC_ROOT"); r && *r) proc = r;
    return read(proc / "sys/fs/binfmt_misc");
}

std::optional<ElfHeads> elf_heads(const oci::Platform& platform) {
    if (platform.os != "linux") return std::nullopt;
    for (const auto& a : kArches)
        if (a.oci == platform.architecture) return ElfHeads{elf_head(a, 2), elf_head(a, 3)};
    return std::nullopt;
}

std::optional<std::string> architecture_of(std::string_view head) {
    if (head.size() < 20 || head.substr(0, 4) != "\x7f"
                                                 "ELF")
        return std::nullopt;
    const bool is64 = head[4] == 2, big = head[5] == 2;
    if ((head[4] != 1 && !is64) || (head[5] != 1 && !big)) return std::nullopt;
    auto byte = [&](std::size_t i) {
        return static_cast<std::uint16_t>(static_cast<unsigned char>(head[i]));
    };
    const std::uint16_t machine = big ? static_cast<std::uint16_t>(byte(18) << 8 | byte(19))
                                      : static_cast<std::uint16_t>(byte(19) << 8 | byte(18));
    for (const auto& a : kArches)
        if (a.machine == machine && a.is64 == is64 && a.big_endian == big)
            return std::string(a.oci);
    return std::nullopt;
}

Emulation emulation_for(const Registry& registry, const oci::Platform& platform,
                        const InContainer& in_container) {
    Emulation e;
    const std::string dir = registry.dir.string();
    auto heads = elf_heads(platform);
    if (!heads) {
        e.why = platform.os != "linux"
                    ? "it is not a Linux image: no emulator runs it here"
                    : "gantry does not know the ELF machine of " + platform.architecture +
                          ", so it cannot tell which binfmt_misc handler would run it";
        e.fix = "use an image for " + oci::Platform::host().str();
        return e;
    }
    const std::string host = oci::Platform::host().str();
    const std::string install = "install the emulators and their handlers (Debian, Ubuntu: "
                                "apt-get install qemu-user-static), or use an image for " +
                                host;
    if (!registry.mounted) {
        e.why =
            "binfmt_misc is not mounted at " + dir + ", so this kernel runs no foreign programs";
        e.fix = "as root: mount binfmt_misc -t binfmt_misc " + dir +
                " and register the handlers (systemctl restart systemd-binfmt); or " + install;
        return e;
    }
    if (!registry.enabled) {
        e.why = "binfmt_misc is disabled (" + dir + "/status)";
        e.fix = "as root: echo 1 > " + dir + "/status";
        return e;
    }
    const Handler* disabled = nullptr;
    const Handler* unfixed = nullptr;
    for (const auto& h : registry.handlers) {
        if (!h.matches(heads->exec) && !h.matches(heads->dyn)) continue;
        if (!h.enabled) {
            disabled = disabled ? disabled : &h;
        } else if (!h.fixed_binary()) {
            if (in_container && in_container(h.interpreter)) {
                e.handler = h;
                e.by_path = true;
                return e;
            }
            unfixed = unfixed ? unfixed : &h;
        } else {
            e.handler = h;
            return e;
        }
    }
    if (unfixed) {
        e.why = "binfmt_misc handler " + unfixed->name + " runs " + unfixed->interpreter +
                " by its path, which the kernel looks up inside the container, where it is not "
                "(the handler has no F flag)";
        e.fix = "register it again with the F (fix binary) flag, as Debian's qemu-user-static "
                "package does (flags: OCF or POF in /usr/lib/binfmt.d/), put the emulator at " +
                unfixed->interpreter + " in the image, or use an image for " + host;
    } else if (disabled) {
        e.why = "binfmt_misc handler " + disabled->name + " for " + platform.str() +
                " programs is disabled";
        e.fix = "as root: echo 1 > " + dir + "/" + disabled->name;
    } else {
        e.why =
            "no binfmt_misc handler for " + platform.str() + " programs is registered in " + dir;
        e.fix = install;
    }
    return e;
}

} // namespace gantry::binfmt
