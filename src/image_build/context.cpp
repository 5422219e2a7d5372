#include "image_build/context.hpp"

#include "image_build/ignore.hpp"
#include "layer/file_holes.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"
#include "util/hash.hpp"
#include "util/text.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <fnmatch.h>
#include <sys/stat.h>
#include <unistd.h>

namespace gantry::image_build {
namespace {

namespace stdfs = std::filesystem;

std::vector<std::string> sorted_names(const stdfs::path& dir) {
    std::vector<std::string> names;
    std::error_code ec;
    for (const auto& d : stdfs::directory_iterator(dir, ec)) names.push_back(d.path().filename());
    if (ec) throw Error(Errc::io, "reading " + dir.string() + ": " + ec.message());
    std::sort(names.begin(), names.end());
    return names;
}

} // namespace

std::vector<std::string> Context::resolve(std::string_view pattern) const {
    auto segs = clean_segments(pattern);
    std::vector<std::string> current = {""};
    for (const auto& seg : segs) {
        std::vector<std::string> next;
        for (const auto& base : current) {
            struct stat st;
            if (lstat((dir_ / base).c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) continue;
            for (const auto& name : sorted_names(dir_ / base))
                if (fnmatch(seg.c_str(), name.c_str(), 0) == 0 &&
                    !ignore_.excluded(text::join_path(base, name)))
                    next.push_back(text::join_path(base, name));
        }
        current = std::move(next);
    }
    if (current.empty())
        throw Error(Errc::not_found,
                    "COPY/ADD source " + std::string(pattern) + " selects nothing in the context " +
                        dir_.string(),
                    "check the path, and that .dockerignore does not exclude it");
    return current;
}

std::string Context::digest(const std::vector<std::string>& paths) const {
    Sha256 h;
    auto entry = [&](auto&& self, const std::string& rel) -> void {
        stdfs::path p = dir_ / rel;
        struct stat st;
        if (lstat(p.c_str(), &st) != 0)
            throw Error(Errc::io, "reading " + p.string() + ": " + std::strerror(errno));
        std::string head = rel + '\0' + std::to_string(st.st_mode) + '\0' +
                           std::to_string(S_ISREG(st.st_mode) ? st.st_size : 0) + '\0';
        h.update(head);
        if (S_ISREG(st.st_mode)) {
            Fd fd(open(p.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
            if (!fd) throw Error(Errc::io, "reading " + p.string() + ": " + std::strerror(errno));
            // a vast sparse file (layer/file_holes.hpp): its data regions, each with its place,
            // the holes unread; any other file: its bytes
            auto regions = layer::vast_holes(fd.get(), st.st_size, p.string());
            for (const auto& r : regions)
                h.update("@" + std::to_string(r.offset) + "+" + std::to_string(r.length) + '\0');
            if (regions.empty()) regions.push_back({0, st.st_size});
            for (const auto& r : regions)
                layer::read_region(
                    fd.get(), r, [&](const void* b, std::size_t n) { h.update(b, n); }, p.string());
        } else if (S_ISLNK(st.st_mode)) {
            std::error_code ec;
            h.update(stdfs::read_symlink(p, ec).string());
        } else if (S_ISDIR(st.st_mode)) {
            for (const auto& name : sorted_names(p))
                if (!ignore_.excluded(text::join_path(rel, name)))
                    self(self, text::join_path(rel, name));
        }
        h.update(std::string_view("\n"));
    };
    for (const auto& rel : paths) entry(entry, rel);
    return "sha256:" + h.hex_final();
}

} // namespace gantry::image_build
