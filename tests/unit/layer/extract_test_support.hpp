// What the layer extractor's split tests share (test_extract_*.cpp): extracting an in-memory
// tar into a sandbox, and reading back what landed (content, lstat, presence).
#pragma once

#include "extract_helpers.hpp"
#include "layer/extract.hpp"
#include "util/error.hpp"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <string>
#include <sys/stat.h>

// Named, not anonymous: the unit tests may be built as one translation unit (a unity build).
namespace layer_extract_test {

using namespace extract_test;
using gantry::layer::extract_tar;
using gantry::layer::ExtractOptions;
using gantry::layer::ExtractStats;
namespace stdfs = std::filesystem;

inline ExtractStats extract(const std::string& tar, int root_fd, bool privileged = false,
                            std::size_t chunk = 1 << 20) {
    StringReader r(tar, chunk);
    ExtractOptions opt;
    opt.what = "layer test";
    opt.privileged = privileged;
    return extract_tar(r, root_fd, opt);
}

inline bool contains(const std::string& s, const std::string& part) {
    return s.find(part) != std::string::npos;
}

inline std::string slurp(const stdfs::path& p) {
    std::ifstream f(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(f), {});
}

inline struct stat lstat_of(const stdfs::path& p) {
    struct stat st {};
    if (::lstat(p.c_str(), &st) != 0) ADD_FAILURE() << "lstat " << p << ": " << strerror(errno);
    return st;
}

inline bool present(const stdfs::path& p) {
    struct stat st {};
    return ::lstat(p.c_str(), &st) == 0;
}

} // namespace layer_extract_test
