// Fuzzes the WSL2 driver-store discovery (gpu_vendors/nvidia/discover_files find_wsl_files,
// find_nvml, find_binaries; gpu_vendors/amd/wsl_host.cpp discover_wsl): the names and links under
// /usr/lib/wsl/drivers/<inf>_<hash>/, /usr/lib/wsl/lib and /opt/rocm*/lib of a driver root that
// --driver-root may point at (a mounted host root, a copied tree: hostile names and links).
// The input builds that root in a scratch directory, one entry per line:
//   KIND PREFIX PATH [TAB ARG]
// KIND: 'd' a directory, 'f' a regular file holding ARG (read as an ELF for its SONAME), 'l' a
// symbolic link to ARG (absolute, relative, "..", a loop: anything). PREFIX: 'D'
// usr/lib/wsl/drivers/, 'W' usr/lib/wsl/lib/, 'O' opt/, 'U' usr/lib/x86_64-linux-gnu/, else
// none (the character starts PATH). PATH components "." and ".." are dropped, so the tree stays in
// the scratch root; only the links may point out of it. What discovery returns must stay in the
// root: every host path is the real file (no link left in it, so a bind mount mounts what was
// checked), lies under the root, and is a regular file or, for a store, a directory.
#include "fuzz_support.hpp"
#include "gpu_vendors/amd/wsl.hpp"
#include "gpu_vendors/nvidia/discover_detail.hpp"

#include <climits>
#include <cstdlib>
#include <sys/stat.h>

using namespace gantry;
namespace fs = std::filesystem;

namespace {

std::string clean_path(std::string_view prefix, std::string_view path) {
    std::string out(prefix);
    std::size_t at = 0;
    while (at <= path.size()) {
        auto end = path.find('/', at);
        if (end == std::string_view::npos) end = path.size();
        auto part = path.substr(at, end - at);
        if (!part.empty() && part != "." && part != "..") {
            if (!out.empty() && out.back() != '/') out += '/';
            out += part;
        }
        at = end + 1;
    }
    while (!out.empty() && out.back() == '/') out.pop_back();
    return out;
}

void build_root(const fs::path& root, std::string_view in) {
    int entries = 0;
    while (!in.empty() && entries++ < 64) {
        auto [line, rest] = fuzz::split_once(in, "\n");
        in = rest;
        if (line.size() < 2) continue;
        char kind = line[0];
        auto [spec, arg] = fuzz::split_once(line.substr(1), "\t");
        if (spec.empty()) continue;
        std::string_view prefix;
        switch (spec[0]) {
        case 'D':
            prefix = "usr/lib/wsl/drivers/";
            break;
        case 'W':
            prefix = "usr/lib/wsl/lib/";
            break;
        case 'O':
            prefix = "opt/";
            break;
        case 'U':
            prefix = "usr/lib/x86_64-linux-gnu/";
            break;
        default:
            break;
        }
        if (!prefix.empty()) spec.remove_prefix(1);
        std::string rel = clean_path(prefix, spec);
        if (rel.empty() || rel.size() > 512 || rel.find('\0') != std::string::npos) continue;
        fs::path p = root / rel;
        std::error_code ec;
        fs::create_directories(p.parent_path(), ec);
        if (ec) continue;
        if (kind == 'd') {
            fs::create_directories(p, ec);
        } else if (kind == 'l') {
            std::string target(arg);
            if (target.empty() || target.find('\0') != std::string::npos) continue;
            ::symlink(target.c_str(), p.c_str());
        } else if (kind == 'f') {
            std::FILE* f = std::fopen(p.c_str(), "wbx");
            if (!f) continue;
            std::fwrite(arg.data(), 1, arg.size(), f);
            std::fclose(f);
        }
    }
}

// path is the real file or directory it names, under root (real: the scratch root has no links)
void check_in_root(const std::string& root, const std::string& path, bool dir) {
    FUZZ_CHECK(path.starts_with(root + "/"));
    char real[PATH_MAX];
    FUZZ_CHECK(::realpath(path.c_str(), real) != nullptr);
    FUZZ_CHECK(path == real);
    struct stat st {};
    FUZZ_CHECK(::lstat(path.c_str(), &st) == 0);
    FUZZ_CHECK(dir ? S_ISDIR(st.st_mode) : S_ISREG(st.st_mode));
}

void check_in_root_path(const std::string& in_root) {
    FUZZ_CHECK(in_root.starts_with("/"));
    FUZZ_CHECK(in_root.find("/../") == std::string::npos && !in_root.ends_with("/.."));
    FUZZ_CHECK(in_root.find("/./") == std::string::npos && !in_root.ends_with("/."));
}

} // namespace

GANTRY_FUZZ_TARGET(wsl_driver_store) {
    const fs::path root_path = fuzz::Scratch::dir() / "root";
    std::error_code ec;
    fs::remove_all(root_path, ec);
    fs::create_directories(root_path);
    build_root(root_path, fuzz::bytes(data, size));
    const std::string root = root_path.string();

    namespace nv = gpu_vendors::nvidia;
    nv::Host h;
    h.wsl = true;
    h.driver_root = root;
    nv::detail::Resolver res(root);
    nv::detail::find_wsl_files(h, res);
    std::string nvml = nv::detail::find_nvml(h, res, nullptr);
    nv::detail::find_binaries(h, res);
    for (const auto& s : h.wsl_driver_store) check_in_root(root, s, true);
    for (const auto& l : h.libraries) {
        check_in_root(root, l.host_path, false);
        FUZZ_CHECK(l.name.find('/') == std::string::npos && !l.name.empty());
    }
    for (const auto& b : h.binaries) {
        check_in_root(root, b.host_path, false);
        check_in_root_path(b.container_path);
    }
    for (const auto& c : h.configs) {
        check_in_root(root, c.host_path, false);
        check_in_root_path(c.container_path);
    }
    for (const auto& s : h.wsl_shadowing) check_in_root_path(s);
    if (!nvml.empty()) {
        check_in_root_path(nvml);
        check_in_root(root, res.host(nvml), false);
    }

    gpu_vendors::Roots roots;
    roots.driver_root = root;
    roots.dev_root = root;
    auto amd = gpu_vendors::amd::discover_wsl(roots);
    if (!amd.dxcore.empty()) check_in_root(root, amd.dxcore, false);
    if (!amd.rocdxg.empty()) check_in_root(root, amd.rocdxg, false);
    return 0;
}
