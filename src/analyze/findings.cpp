// Findings: what makes an image bigger than it needs to be, with the bytes attached; the GPU
// vendors add theirs (device code per target, their toolkits' development trees) through
// gpu_vendors::analyze_findings.
#include "analyze/model.hpp"
#include "gpu_vendors/all/backends.hpp"
#include "util/text.hpp"
#include "util/units.hpp"

#include <algorithm>
#include <cstdio>
#include <set>
#include <unordered_map>

namespace gantry::analyze {

namespace {

std::string_view basename(std::string_view p) {
    auto s = p.rfind('/');
    return s == std::string_view::npos ? p : p.substr(s + 1);
}

// Components of a path (views into it).
std::vector<std::string_view> comps(std::string_view p) {
    std::vector<std::string_view> out;
    std::size_t i = 0;
    while (i <= p.size()) {
        std::size_t j = p.find('/', i);
        if (j == std::string_view::npos) j = p.size();
        out.push_back(p.substr(i, j - i));
        i = j + 1;
    }
    return out;
}

// A compiler or developer tool: GCC's (and its drivers, also versioned: gcc-12) or a GPU
// vendor's toolkit's (Backend::toolchain_programs).
bool is_compiler(std::string_view b) {
    static const std::set<std::string_view> gcc_internals = {"cc1", "cc1plus", "lto1", "collect2",
                                                             "lto-wrapper"};
    if (gcc_internals.count(b) || gpu_vendors::is_toolchain_program(b)) return true;
    std::string_view s = b;
    if (s.starts_with("x86_64-linux-gnu-")) s.remove_prefix(17);
    if (s.starts_with("aarch64-linux-gnu-")) s.remove_prefix(18);
    for (std::string_view c : {"gcc", "g++", "c++", "cpp", "gfortran"}) {
        if (s == c) return true;
        if (s.starts_with(c) && s.size() > c.size() + 1 && s[c.size()] == '-' &&
            std::all_of(s.begin() + c.size() + 1, s.end(),
                        [](char ch) { return ch >= '0' && ch <= '9'; }))
            return true;
    }
    return false;
}

} // namespace

std::string path_class(const std::string& path, Kind kind) {
    if (kind == Kind::dir || kind == Kind::whiteout || kind == Kind::opaque) return {};
    std::string_view p = path;
    std::string_view b = basename(p);
    auto cs = comps(p);
    bool in_home_cache = false;
    for (std::size_t i = 0; i + 1 < cs.size(); ++i) {
        if (cs[i] == "__pycache__") return "pycache";
        if (cs[i] == ".cache" && i + 2 < cs.size() + 1) {
            in_home_cache = true;
            std::string_view next = cs[i + 1];
            if (next == "pip") return "pip";
            if (next == "huggingface" || next == "torch" || next == "clip" || next == "whisper")
                return "model-cache";
        }
        if (cs[i] == ".keras" && cs[i + 1] == "models") return "model-cache";
    }
    (void)in_home_cache;
    if (b.ends_with(".pyc") || b.ends_with(".pyo")) return "pycache";
    if (p.starts_with("var/lib/apt/lists/") && b != "lock") return "apt";
    if (p.starts_with("var/cache/apt/") && (b.ends_with(".deb") || b.ends_with(".bin")))
        return "apt";
    for (std::size_t i = 0; i + 1 < cs.size(); ++i) {
        if (cs[i + 1] == "pkgs" && i + 2 < cs.size() &&
            (text::contains(cs[i], "conda") || text::contains(cs[i], "mamba") ||
             text::contains(cs[i], "forge")))
            return "conda";
        if ((cs[i] == "site-packages" || cs[i] == "dist-packages") && i + 2 < cs.size()) {
            // a directory inside a package (never the file name itself)
            for (std::size_t k = i + 2; k + 1 < cs.size(); ++k) {
                std::string_view c = cs[k];
                if (c == "tests" || c == "test" || c == "examples" || c == "example" ||
                    c == "docs" || c == "doc" || c == "benchmarks")
                    return "site-extras";
            }
        }
    }
    if ((p.starts_with("usr/share/doc/") || p.starts_with("usr/share/man/") ||
         p.starts_with("usr/share/info/") || p.starts_with("usr/local/share/man/")) &&
        b != "copyright")
        return "docs";
    bool in_include = false;
    for (std::size_t i = 0; i + 1 < cs.size(); ++i)
        if (cs[i] == "include") in_include = true;
    if (in_include && (b.ends_with(".h") || b.ends_with(".hpp") || b.ends_with(".hh") ||
                       b.ends_with(".hxx") || b.ends_with(".cuh") || b.ends_with(".inl")))
        return "headers";
    if (kind == Kind::file && b.ends_with(".a") && b.size() > 2) return "static";
    bool in_bin = cs.size() >= 2 && (cs[cs.size() - 2] == "bin" || cs[cs.size() - 2] == "sbin");
    bool in_gcc = text::contains(p, "lib/gcc/") || text::contains(p, "libexec/gcc/");
    if ((in_bin || in_gcc) && is_compiler(b)) return "toolchain";
    if (gpu_vendors::in_toolchain_path(p)) return "toolchain";
    return {};
}

namespace {

struct ClassInfo {
    const char* id;
    const char* title;
    const char* fix;
};

const std::map<std::string, ClassInfo>& classes() {
    static const std::map<std::string, ClassInfo> m = {
        {"toolchain",
         {"DEVEL-TOOLCHAIN", "compilers and GPU toolkits' developer tools in the final image",
          "build in a -devel stage and copy only the built artefacts into a -runtime base "
          "(multi-stage build), or `gantry slim --remove toolchain`"}},
        {"headers",
         {"DEVEL-HEADERS", "C/C++/CUDA headers",
          "use a -runtime base for the final stage, or `gantry slim --remove headers`"}},
        {"static",
         {"DEVEL-STATIC-LIBS", "static libraries (e.g. libcudart_static.a)",
          "static libraries are only needed to link; `gantry slim --remove static`"}},
        {"apt",
         {"APT-LISTS", "apt package lists and downloaded .deb caches",
          "end the RUN with `rm -rf /var/lib/apt/lists/*` (and `apt-get clean`)"}},
        {"pip",
         {"PIP-CACHE", "pip's download/wheel cache",
          "pip install --no-cache-dir, or a cache mount: RUN "
          "--mount=type=cache,target=/root/.cache/pip"}},
        {"conda",
         {"CONDA-CACHE", "conda package cache (pkgs/)",
          "run `conda clean -afy` in the same RUN as the install"}},
        {"pycache",
         {"PYCACHE", "Python bytecode caches (__pycache__, *.pyc)",
          "set PYTHONDONTWRITEBYTECODE=1 while building, or `gantry slim --remove pycache`"}},
        {"site-extras",
         {"SITE-PACKAGES-EXTRAS", "tests, examples and docs inside site-packages",
          "`gantry slim --remove site-extras` (check the app with --check)"}},
        {"docs",
         {"DOCS", "documentation (/usr/share/doc, man, info)",
          "install with --no-install-recommends and a dpkg path-exclude, or `gantry slim "
          "--remove docs` (copyright files are kept)"}},
        {"model-cache",
         {"MODEL-CACHE", "model caches baked into the image (~/.cache/huggingface, torch hub, ...)",
          "download models at run time into a mounted volume (-v cache:/root/.cache/huggingface)"}},
    };
    return m;
}

// "repo:tag" or "repo@sha256:..." -> (tag, pinned)
void judge_base(const std::string& name, bool has_digest, std::vector<Finding>& out,
                const std::string& source) {
    std::string n = name;
    bool pinned = has_digest || n.find("@sha256:") != std::string::npos;
    auto at = n.find('@');
    std::string ref = at == std::string::npos ? n : n.substr(0, at);
    auto slash = ref.rfind('/');
    auto colon = ref.rfind(':');
    std::string tag = colon != std::string::npos && (slash == std::string::npos || colon > slash)
                          ? ref.substr(colon + 1)
                          : "";
    if (!pinned && (tag.empty() || tag == "latest")) {
        Finding f =
            finding("BASE-LATEST", Severity::warn, "the base image is `latest` (or has no tag)");
        f.message = "base " + n + " (from " + source + ") floats: every rebuild may get a " +
                    "different GPU toolkit, driver requirement or library set";
        f.fix = "pin the base to a version tag and a digest: FROM repo:tag@sha256:…";
        f.subject.details = {{"base", n}, {"source", source}};
        out.push_back(f);
    } else if (!pinned) {
        Finding f =
            finding("BASE-UNPINNED", Severity::info, "the base image is not pinned by digest");
        f.message = "base " + n + " (from " + source + ") is named by tag only; the tag can move";
        f.fix = "add the digest: FROM " + ref + "@sha256:…";
        f.subject.details = {{"base", n}, {"source", source}};
        out.push_back(f);
    }
}

} // namespace

std::vector<Finding> find(const std::vector<const LayerScan*>& layers, const MergedView& view,
                          const nlohmann::json& config, const FindOptions& opt) {
    std::vector<Finding> out;
    auto entry = [&](const Ref& r) -> const Entry& { return layers[r.layer]->entries[r.index]; };

    // Path classes over the final view.
    std::map<std::string, Finding> by_class;
    Finding unstripped =
        finding("UNSTRIPPED-ELF", Severity::info, "ELF files with debug information");
    Finding large = finding("LARGE-FILE", Severity::info, "large single files");
    // The GPU vendors' findings (their device code's bytes per target, their toolkits' trees).
    auto vendors = gpu_vendors::analyze_findings();
    std::unordered_map<std::uint64_t, std::vector<const Entry*>> dups; // (size^hash) buckets
    for (auto& [path, ref] : view.final) {
        const Entry& e = entry(ref);
        if (e.kind != Kind::file) continue;
        std::string cls = path_class(path, e.kind);
        if (!cls.empty()) {
            auto [it, fresh] = by_class.try_emplace(cls);
            Finding& f = it->second;
            if (fresh) {
                auto& ci = classes().at(cls);
                f.id = ci.id, f.subject.title = ci.title, f.fix = ci.fix,
                f.subject.slim_class = cls;
            }
            f.subject.bytes += e.size;
            ++f.subject.count;
            f.subject.paths.emplace_back(path, e.size);
            if (f.subject.paths.size() > 200) findings::keep_largest(f.subject.paths, 50);
        }
        if (e.debug) {
            unstripped.subject.bytes += e.debug;
            ++unstripped.subject.count;
            unstripped.subject.paths.emplace_back(path, e.debug);
        }
        if (e.size >= opt.large_file) {
            large.subject.bytes += e.size;
            ++large.subject.count;
            large.subject.paths.emplace_back(path, e.size);
        }
        for (auto& v : vendors) v->file({path, e.size, e.device_code});
        if (e.size >= opt.duplicate_min && e.hash)
            dups[e.hash ^ (e.size * 0x9E3779B97F4A7C15ull)].push_back(&e);
    }
    for (auto& [cls, f] : by_class) {
        f.severity = findings::by_size(f.subject.bytes);
        findings::keep_largest(f.subject.paths);
        f.message = std::to_string(f.subject.count) + " file(s), " +
                    units::human_size(f.subject.bytes) + ": " + f.subject.title;
        out.push_back(std::move(f));
    }
    if (unstripped.subject.count) {
        unstripped.severity = findings::by_size(unstripped.subject.bytes);
        findings::keep_largest(unstripped.subject.paths);
        unstripped.message = std::to_string(unstripped.subject.count) + " ELF file(s) carry " +
                             units::human_size(unstripped.subject.bytes) + " of .debug_* sections";
        unstripped.fix = "strip --strip-debug in the build (keeps .dynsym: Python extensions "
                         "still load), or `gantry slim --strip`";
        unstripped.subject.slim_class = "strip";
        out.push_back(std::move(unstripped));
    }
    if (large.subject.count) {
        findings::keep_largest(large.subject.paths);
        large.message = std::to_string(large.subject.count) + " file(s) of at least " +
                        units::human_size(opt.large_file) + ", " +
                        units::human_size(large.subject.bytes) + " in all";
        large.fix = "datasets and checkpoints belong in a mounted volume, not in the image";
        large.subject.details = {{"threshold", opt.large_file}};
        out.push_back(std::move(large));
    }

    // Bytes lost between layers.
    auto lost = [&](const std::vector<Lost>& v, const char* id, const char* title,
                    const char* verb) {
        if (v.empty()) return;
        Finding f = finding(id, Severity::info, title);
        for (auto& l : v) {
            f.subject.bytes += l.bytes;
            ++f.subject.count;
            f.subject.paths.emplace_back(l.path + " (layer " + std::to_string(l.layer + 1) + ", " +
                                             verb + " in layer " + std::to_string(l.by + 1) + ")",
                                         l.bytes);
        }
        findings::keep_largest(f.subject.paths);
        f.severity = findings::by_size(f.subject.bytes);
        f.message = std::to_string(f.subject.count) + " file(s), " +
                    units::human_size(f.subject.bytes) + " " + verb +
                    " by a later layer but still shipped in the earlier one";
        f.fix = "create and remove temporary files in the same RUN (or a multi-stage build); "
                "`gantry slim` squashes them away";
        f.subject.slim_class = "squash";
        out.push_back(std::move(f));
    };
    lost(view.deleted, "LAYER-DELETED", "files deleted in a later layer", "deleted");
    lost(view.overwritten, "LAYER-OVERWRITTEN", "files overwritten in a later layer",
         "overwritten");

    // Identical contents at several paths.
    {
        Finding f = finding("DUPLICATE-FILES", Severity::info, "identical files at several paths");
        nlohmann::json groups = nlohmann::json::array();
        std::vector<std::vector<const Entry*>> gs;
        for (auto& [k, v] : dups)
            if (v.size() >= 2) gs.push_back(v);
        std::sort(gs.begin(), gs.end(), [](auto& a, auto& b) {
            auto wa = a[0]->size * (a.size() - 1), wb = b[0]->size * (b.size() - 1);
            return wa != wb ? wa > wb : a[0]->path < b[0]->path;
        });
        for (auto& g : gs) {
            std::uint64_t w = g[0]->size * (g.size() - 1);
            f.subject.bytes += w;
            f.subject.count += g.size();
            std::vector<std::string> ps;
            for (auto* e : g) ps.push_back(e->path);
            std::sort(ps.begin(), ps.end());
            if (groups.size() < 20) groups.push_back({{"size", g[0]->size}, {"paths", ps}});
            if (f.subject.paths.size() < 10)
                f.subject.paths.emplace_back(
                    ps[0] + " (+" + std::to_string(ps.size() - 1) + " copies)", w);
        }
        if (!gs.empty()) {
            f.severity = findings::by_size(f.subject.bytes);
            f.message = std::to_string(gs.size()) + " group(s) of identical files; the extra " +
                        "copies take " + units::human_size(f.subject.bytes);
            f.fix = "copy once and use symlinks or hard links (e.g. versioned .so copies instead "
                    "of links)";
            f.subject.details = {{"groups", groups}};
            out.push_back(std::move(f));
        }
    }

    for (auto& v : vendors) v->report(config, out);

    // Config: the base image.
    const auto& cfg = config.contains("config") && config["config"].is_object()
                          ? config["config"]
                          : nlohmann::json::object();
    bool judged = false;
    if (cfg.contains("Labels") && cfg["Labels"].is_object()) {
        auto& l = cfg["Labels"];
        auto it = l.find("org.opencontainers.image.base.name");
        if (it != l.end() && it->is_string()) {
            judge_base(it->get<std::string>(), l.contains("org.opencontainers.image.base.digest"),
                       out, "label org.opencontainers.image.base.name");
            judged = true;
        }
    }
    if (!judged && config.contains("history") && config["history"].is_array())
        for (auto& h : config["history"]) {
            if (!h.is_object() || !h.contains("created_by") || !h["created_by"].is_string())
                continue;
            std::string cb = h["created_by"].get<std::string>();
            auto pos = cb.find("FROM ");
            if (pos != 0 && cb.find("#(nop) FROM ") == std::string::npos) continue;
            std::string rest = cb.substr(cb.find("FROM ") + 5);
            auto sp = rest.find_first_of(" \t");
            judge_base(rest.substr(0, sp), false, out, "history");
            break;
        }

    std::stable_sort(out.begin(), out.end(), [](const Finding& a, const Finding& b) {
        if (a.subject.bytes != b.subject.bytes) return a.subject.bytes > b.subject.bytes;
        return a.id < b.id;
    });
    return out;
}

} // namespace gantry::analyze
