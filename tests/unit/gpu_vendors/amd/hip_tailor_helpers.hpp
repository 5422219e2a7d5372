// Helpers for tailor/hip's unit tests: the independent bundle tool (hip_bundle_tool.py, written
// from LLVM's source, not from gantry's C++) run as a child process, shell commands with their
// output, the kept sets, and an independent statement of the keep rule. The bundle builders are
// the HIP reader's (hip_bundle_builders.hpp, beside it).
#pragma once

#include "gpu_vendors/amd/tailor_hip.hpp"
#include "hip_bundle_builders.hpp"

#include <array>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <sys/wait.h>
#include <vector>

namespace hip_tailor_test {

using namespace hip_bundle_test;
using gantry::device_code::FileReport;
using gantry::device_code::KeepSet;
using gantry::gpu_vendors::amd::tailor_hip;

// Runs a shell command; its exit status, and stdout+stderr in `out`.
inline int sh(const std::string& cmd, std::string* out = nullptr) {
    std::string full = "(" + cmd + ") 2>&1";
    FILE* p = ::popen(full.c_str(), "r");
    if (!p) return -1;
    std::string text;
    std::array<char, 4096> buf;
    while (std::size_t n = std::fread(buf.data(), 1, buf.size(), p)) text.append(buf.data(), n);
    int rc = ::pclose(p);
    if (out) *out = text;
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

inline std::string slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

inline std::string tool() {
    return std::string(GANTRY_TESTS_DIR) + "/unit/gpu_vendors/amd/hip_bundle_tool.py";
}

// Debian's python3 (the pyenv one on PATH lacks its modules), with the zstd route the tool needs.
inline bool have_python() {
    return sh("/usr/bin/python3 -c 'import hashlib, zlib'") == 0;
}
inline bool have_zstd() {
    return sh("/usr/bin/python3 -c 'import zstandard' || command -v zstd") == 0;
}

inline KeepSet keep_amd(const std::vector<std::string>& ids) {
    KeepSet k;
    for (const auto& id : ids) k.by_format["hip"].push_back(parse_target_id(id)->str());
    return k;
}

// The keep rule, stated apart from the product: same processor, and for each feature either the
// code object leaves it out, or the kept target leaves it out, or both name the same value.
inline bool expect_kept(const std::string& code_object, const std::vector<std::string>& keep) {
    auto split = [](const std::string& s) {
        std::vector<std::string> parts;
        std::stringstream in(s);
        for (std::string p; std::getline(in, p, ':');) parts.push_back(p);
        return parts;
    };
    auto co = split(code_object);
    for (const auto& k : keep) {
        auto kp = split(k);
        if (kp[0] != co[0]) continue;
        bool ok = true;
        for (const char* f : {"xnack", "sramecc"}) {
            std::string cv, kv;
            for (std::size_t i = 1; i < co.size(); ++i)
                if (co[i].starts_with(f)) cv = co[i];
            for (std::size_t i = 1; i < kp.size(); ++i)
                if (kp[i].starts_with(f)) kv = kp[i];
            if (!cv.empty() && !kv.empty() && cv != kv) ok = false;
        }
        if (ok) return true;
    }
    return false;
}

// The tool's `list` of an ELF file: one line per entry, "BUNDLE KIND ID SIZE SHA256".
struct Listed {
    std::string bundle, kind, id, size, sha;
};
inline std::vector<Listed> tool_list(const std::string& path, std::string* error = nullptr) {
    std::string out;
    int rc = sh("/usr/bin/python3 " + tool() + " list " + path, &out);
    std::vector<Listed> v;
    if (rc != 0) {
        if (error) *error = out;
        ADD_FAILURE() << "hip_bundle_tool.py list " << path << ": " << out;
        return v;
    }
    std::stringstream in(out);
    for (Listed l; in >> l.bundle >> l.kind >> l.id >> l.size >> l.sha;) v.push_back(l);
    return v;
}

// A CCOB of `bundle` made by the tool (Python's zlib/hashlib, zstandard or the zstd command).
inline std::string tool_pack(unsigned version, unsigned method, const std::string& bundle) {
    std::string dir = temp_dir();
    write_file(dir + "/in", bundle);
    std::string out;
    EXPECT_EQ(sh("/usr/bin/python3 " + tool() + " pack " + std::to_string(version) + " " +
                     std::to_string(method) + " " + dir + "/in " + dir + "/out",
                 &out),
              0)
        << out;
    std::string packed = slurp(dir + "/out");
    sh("rm -rf " + dir);
    return packed;
}

} // namespace hip_tailor_test
