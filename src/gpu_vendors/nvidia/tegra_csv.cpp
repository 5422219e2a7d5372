#include "gpu_vendors/nvidia/tegra_csv.hpp"

#include <optional>

namespace gantry::gpu_vendors::nvidia {

namespace tegra_csv_impl { // named: the module builds in unity batches

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r'))
        s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
        s.remove_suffix(1);
    return s;
}

std::optional<CsvKind> kind_of(std::string_view k) {
    if (k == "dev") return CsvKind::dev;
    if (k == "dir") return CsvKind::dir;
    if (k == "lib") return CsvKind::lib;
    if (k == "sym") return CsvKind::sym;
    return std::nullopt;
}

bool has_pattern(std::string_view s) {
    return s.find_first_of("*?[") != std::string_view::npos;
}

bool under(std::string_view path, std::string_view dir) {
    return path == dir ||
           (path.starts_with(dir) && path.size() > dir.size() && path[dir.size()] == '/');
}

std::string printable(std::string_view line) {
    std::string out(line.substr(0, 200));
    for (char& c : out)
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
    return out;
}

// The reason a path is refused, or "" with *out the normalised path.
std::string judge(CsvKind kind, std::string_view path, std::string* out) {
    if (path.empty()) return "no path";
    for (char c : path)
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
            return "the path holds a control character";
    if (path.size() > kCsvMaxPath) return "the path is longer than PATH_MAX";
    if (path.front() != '/')
        return "not an absolute path (each entry names a path of the host, from /)";
    std::string norm;
    int depth = 0;
    std::size_t at = 0;
    while (at < path.size()) {
        auto end = path.find('/', at);
        if (end == std::string_view::npos) end = path.size();
        std::string_view part = path.substr(at, end - at);
        at = end + 1;
        if (part.empty()) continue;
        if (part == "..") return "a \"..\" component (it would leave the driver root)";
        if (part == ".") return "a \".\" component";
        if (has_pattern(part) && end != path.size())
            return "a pattern in a directory component (only the file name may be one)";
        norm += '/';
        norm += part;
        ++depth;
    }
    if (norm.empty()) return "the root directory itself";
    if (kind == CsvKind::dir && depth < 2)
        return "a whole top-level directory (it would hide the image's own)";
    if (under(norm, "/proc") || under(norm, "/sys"))
        return "under /proc or /sys (the container's own, never the host's)";
    if (kind == CsvKind::dev && !norm.starts_with("/dev/")) return "a device outside /dev";
    if (kind != CsvKind::dev && has_pattern(norm))
        return "a pattern in a " + std::string(to_string(kind)) +
               " entry (only dev entries may be)";
    *out = std::move(norm);
    return {};
}

} // namespace tegra_csv_impl

const char* to_string(CsvKind k) {
    switch (k) {
    case CsvKind::dev:
        return "dev";
    case CsvKind::dir:
        return "dir";
    case CsvKind::lib:
        return "lib";
    case CsvKind::sym:
        return "sym";
    }
    return "?";
}

bool csv_is_pattern(std::string_view path) {
    auto slash = path.rfind('/');
    return tegra_csv_impl::has_pattern(slash == std::string_view::npos ? path
                                                                       : path.substr(slash + 1));
}

CsvList parse_csv(std::string_view text) {
    CsvList out;
    int n = 0;
    while (!text.empty()) {
        auto nl = text.find('\n');
        std::string_view raw = text.substr(0, nl);
        text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
        ++n;
        std::string_view line = tegra_csv_impl::trim(raw);
        if (line.empty() || line.front() == '#') continue;
        auto skip = [&](std::string reason) {
            out.skipped.push_back({n, tegra_csv_impl::printable(line), std::move(reason)});
        };
        auto comma = line.find(',');
        if (comma == std::string_view::npos) {
            skip("not \"KIND, PATH\"");
            continue;
        }
        std::string_view k = tegra_csv_impl::trim(line.substr(0, comma));
        auto kind = tegra_csv_impl::kind_of(k);
        if (!kind) {
            skip("unknown kind \"" + tegra_csv_impl::printable(k.substr(0, 40)) +
                 "\" (dev, dir, lib or sym)");
            continue;
        }
        std::string path;
        if (std::string why =
                tegra_csv_impl::judge(*kind, tegra_csv_impl::trim(line.substr(comma + 1)), &path);
            !why.empty()) {
            skip(std::move(why));
            continue;
        }
        out.entries.push_back({*kind, std::move(path), n});
    }
    return out;
}

} // namespace gantry::gpu_vendors::nvidia
