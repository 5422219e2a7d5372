// What the store's split tests share (test_store_*.cpp): a temporary store root, reading and
// writing files, listing a directory, and catching a gantry::Error as a value.
#pragma once

#include "util/error.hpp"
#include "util/fs.hpp"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <stdexcept>
#include <string>
#include <sys/stat.h>
#include <vector>

// Named, not anonymous: the unit tests may be built as one translation unit (a unity build).
namespace store_test {

using gantry::Error;
namespace stdfs = std::filesystem;

class TempDir {
  public:
    TempDir() {
        std::string tmpl = (stdfs::temp_directory_path() / "gantry-store-XXXXXX").string();
        if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
        path_ = tmpl;
    }
    ~TempDir() {
        try {
            gantry::fs::remove_tree(path_);
        } catch (...) {
        }
    }
    const stdfs::path& path() const { return path_; }

  private:
    stdfs::path path_;
};

inline std::string slurp(const stdfs::path& p) {
    std::ifstream f(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(f), {});
}

inline void spit(const stdfs::path& p, const std::string& data) {
    std::ofstream f(p, std::ios::binary | std::ios::trunc);
    f << data;
}

inline std::vector<std::string> names_in(const stdfs::path& dir) {
    std::vector<std::string> out;
    for (auto& e : stdfs::directory_iterator(dir)) out.push_back(e.path().filename());
    std::sort(out.begin(), out.end());
    return out;
}

inline bool present(const stdfs::path& p) {
    struct stat st {};
    return ::lstat(p.c_str(), &st) == 0;
}

template <typename F>
std::optional<Error> error_of(F&& f) {
    try {
        f();
    } catch (const Error& e) {
        return e;
    }
    return std::nullopt;
}

inline bool contains(const std::string& s, const std::string& part) {
    return s.find(part) != std::string::npos;
}

} // namespace store_test
