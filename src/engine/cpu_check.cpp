#include "engine/cpu_check.hpp"

#include "cpu/isa.hpp"
#include "elf/dynamic.hpp"
#include "rootfs/rootfs.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"
#include "util/fs.hpp"
#include "util/log.hpp"
#include "util/text.hpp"

#include <cstdio>
#include <fcntl.h>
#include <filesystem>
#include <set>

namespace gantry::engine {
namespace {

constexpr std::size_t kMaxNamed = 5; // files named in a finding

constexpr const char* kDefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

std::string label(const nlohmann::json& config, const char* key) {
    const auto& c = config.value("config", nlohmann::json::object());
    if (!c.is_object()) return "";
    const auto& labels = c.value("Labels", nlohmann::json::object());
    if (!labels.is_object() || !labels.contains(key) || !labels[key].is_string()) return "";
    return labels[key].get<std::string>();
}

// The features the label asks for (empty when there is none).
std::vector<std::string> label_needs(const nlohmann::json& config) {
    std::vector<std::string> out;
    std::string value = label(config, cpu::kLabelFeatures);
    for (auto w : text::split(value, ' '))
        if (!w.empty()) out.emplace_back(w);
    return out;
}

// The x86-64 level an ELF file's note asks for (0: none, not x86-64, or not ELF).
int elf_level(int fd) {
    Fd f(fd);
    if (!f) return 0;
    try {
        auto info = elf::read_fd(f.get());
        if (info.machine != elf::em_x86_64) return 0;
        return cpu::level_of_isa_bits(info.x86_isa_needed);
    } catch (const Error&) {
        return 0; // not ELF, or damaged: nothing to say about its ISA
    }
}

std::string level_name(int level) {
    return level <= 1 ? "x86-64" : "x86-64-v" + std::to_string(level);
}

// The program's image path: PROGRAM itself when absolute, else the first PATH entry holding it.
int open_program(const rootfs::ImageFiles& files, const std::string& program,
                 const std::vector<std::string>& env, std::string& found) {
    if (program.empty()) return -1;
    if (program.find('/') != std::string::npos) {
        if (!program.starts_with('/')) return -1; // relative to the workdir: not looked up
        found = program;
        return files.open(program.substr(1));
    }
    std::string path = kDefaultPath;
    for (const auto& e : env)
        if (e.starts_with("PATH=")) path = e.substr(5);
    for (auto dir : text::split(path, ':')) {
        if (!dir.starts_with('/')) continue;
        std::string p = std::string(dir) + "/" + program;
        int fd = files.open(p.substr(1));
        if (fd >= 0) {
            found = p;
            return fd;
        }
    }
    return -1;
}

// The level of the program a run starts, and its image path, cached per boot in CACHE_DIR
// (runtime_dir()/cpu-programs) under the image's manifest digest and the lookup's inputs: the
// PATH lookup probes every layer for every PATH directory before the one holding it (hundreds
// of opens on a 40-layer image), once per image and command instead of once per run. The file
// holds its key, checked on reading.
struct ProgramLevel {
    int level = 0;
    std::string path;
};

ProgramLevel program_level(const rootfs::ImageFiles& files, const std::string& program,
                           const std::vector<std::string>& env, const std::string& cache_dir,
                           const std::string& image_key) {
    std::string path_var = kDefaultPath;
    for (const auto& e : env)
        if (e.starts_with("PATH=")) path_var = e.substr(5);
    std::string key = image_key + "\n" + files.kind() + "\n" + program + "\n" + path_var;
    std::uint64_t h = 1469598103934665603ull; // FNV-1a: a file name, the key itself is checked
    for (unsigned char c : key) h = (h ^ c) * 1099511628211ull;
    char name[24];
    std::snprintf(name, sizeof name, "%016llx", static_cast<unsigned long long>(h));
    std::string file = cache_dir.empty() || image_key.empty() ? "" : cache_dir + "/" + name;
    if (!file.empty()) {
        try {
            std::string text = fs::read_file(file, 1 << 16);
            if (text.starts_with(key + "\n")) {
                std::string rest = text.substr(key.size() + 1);
                ProgramLevel r;
                r.level = rest.empty() ? 0 : rest[0] - '0';
                r.path = rest.size() > 2 ? rest.substr(2) : "";
                if (r.level >= 0 && r.level <= 4) return r;
            }
        } catch (const Error&) { // no entry yet
        }
    }
    ProgramLevel r;
    r.level = elf_level(open_program(files, program, env, r.path));
    if (!file.empty()) {
        try {
            std::filesystem::create_directories(cache_dir);
            fs::write_atomic(file, key + "\n" + std::to_string(r.level) + " " + r.path, 0600,
                             fs::Sync::volatile_only);
        } catch (const std::exception& e) {
            log::debug(std::string("CPU check cache not written: ") + e.what());
        }
    }
    return r;
}

std::optional<cpu::HostCpu> host_or_nothing() {
    try {
        return cpu::host_cpu();
    } catch (const Error& e) {
        log::debug("no CPU check: " + e.message());
        return std::nullopt;
    }
}

} // namespace

std::vector<CpuShortfall>
cpu_shortfalls(const nlohmann::json& config, const rootfs::ImageFiles* files,
               const std::string& program, const std::vector<std::string>& env,
               const std::string& cache_dir, const std::string& image_key) {
    auto from_label = label_needs(config);
    ProgramLevel prog;
    if (files) prog = program_level(*files, program, env, cache_dir, image_key);
    int level = prog.level;
    const std::string& found = prog.path;
    if (from_label.empty() && level < 2) return {};
    auto cpu = host_or_nothing();
    if (!cpu) return {};
    const auto* host = &cpu->features;
    std::vector<CpuShortfall> out;
    if (auto m = cpu::missing(from_label, *host); !m.empty())
        out.push_back({"its label " + std::string(cpu::kLabelFeatures) +
                           " (built with --cpu-arch " + label(config, cpu::kLabelArch) + ")",
                       m});
    if (level >= 2 && cpu->family == cpu::Family::x86_64)
        if (auto m = cpu::missing(cpu::level_features(level), *host); !m.empty())
            out.push_back({found + " (its ELF note asks for " + level_name(level) + ")", m});
    return out;
}

void refuse_cpu_shortfalls(const std::vector<CpuShortfall>& shortfalls, const std::string& image,
                           bool no_require) {
    if (shortfalls.empty()) return;
    std::vector<std::string> parts;
    for (const auto& s : shortfalls)
        parts.push_back(text::join(s.missing, ", ") + " for " + s.source);
    std::string msg =
        "image " + image + " needs CPU features this host lacks: " + text::join(parts, "; ");
    if (no_require) {
        log::warn(msg + " (requirements not checked: --no-require)");
        return;
    }
    throw Error(Errc::run_failed, msg,
                "run it on a host whose CPU has them, or rebuild it for this one (gantry build "
                "--cpu-arch host, or a lower x86-64 level or aarch64 version); --no-require runs "
                "it anyway");
}

std::vector<findings::Finding> cpu_findings(const store::Store* store, const store::Image* image,
                                            const std::string& path_prefix) {
    std::vector<findings::Finding> out;
    auto cpu = host_or_nothing();
    if (!cpu) return out;
    const auto* host = &cpu->features;
    int host_level = cpu::level_of(*host);
    out.push_back({"CPU-HOST", findings::Severity::info,
                   "this host's CPU is " + cpu::describe(cpu->family, *host), ""});
    if (!store || !image) return out;
    auto from_label = label_needs(image->config.raw);
    if (!from_label.empty()) {
        auto m = cpu::missing(from_label, *host);
        std::string arch = label(image->config.raw, cpu::kLabelArch);
        if (m.empty())
            out.push_back({"CPU-IMAGE-LABEL", findings::Severity::pass,
                           "built with --cpu-arch " + arch + ": this host has what it needs", ""});
        else
            out.push_back({"CPU-IMAGE-LABEL", findings::Severity::fail,
                           "built with --cpu-arch " + arch + ", the image needs " +
                               text::join(m, ", ") + ", which this host's CPU lacks",
                           "run it on a host whose CPU has them, or rebuild it with --cpu-arch "
                           "host on this one"});
    }
    // aarch64 ELF files record no ISA need (cpu/isa.hpp): the x86 notes say nothing there
    if (cpu->family != cpu::Family::x86_64) return out;
    std::string prefix = path_prefix;
    while (prefix.starts_with('/')) prefix.erase(0, 1);
    std::vector<std::string> failing;
    int worst = 0, scanned = 0;
    rootfs::walk_image_files(
        *store, image->config.diff_ids, [&](const std::string& path, const std::string& host_path) {
            if (!prefix.empty() && !path.starts_with(prefix)) return;
            int level = elf_level(::open(host_path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
            if (level < 2) return;
            ++scanned;
            if (cpu::missing(cpu::level_features(level), *host).empty()) return;
            worst = std::max(worst, level);
            failing.push_back("/" + path);
        });
    if (!failing.empty()) {
        std::vector<std::string> named(
            failing.begin(),
            failing.begin() + static_cast<std::ptrdiff_t>(std::min(failing.size(), kMaxNamed)));
        out.push_back({"CPU-IMAGE-ELF", findings::Severity::fail,
                       std::to_string(failing.size()) + " ELF file(s) need up to " +
                           level_name(worst) + ", more than this host's " + level_name(host_level) +
                           ": " + text::join(named, ", ") +
                           (failing.size() > kMaxNamed ? ", ..." : ""),
                       "run it on a host whose CPU has " + level_name(worst) +
                           ", or rebuild those files for this one"});
    } else if (scanned > 0) {
        out.push_back(
            {"CPU-IMAGE-ELF", findings::Severity::pass,
             std::to_string(scanned) + " ELF file(s) ask for an x86-64 level: this host has it",
             ""});
    }
    return out;
}

} // namespace gantry::engine
