// Fuzzes a Jetson's L4T mount lists (gpu_vendors/nvidia/tegra_csv parse_csv): the CSV files under
// /etc/nvidia-container-runtime/host-files-for-container.d of a driver root --driver-root may point
// at (a copied tree, a mounted image: hostile lines). Every entry taken must be what discovery
// may resolve and mount: an absolute path without "." or ".." components, empty components or a
// trailing "/", no control character, at most PATH_MAX, outside /proc and /sys, a device under
// /dev, a pattern only in a device's name, no whole top-level directory; every line is taken,
// skipped with a reason and its number, or blank or a comment.
#include "fuzz_support.hpp"
#include "gpu_vendors/nvidia/tegra_csv.hpp"

#include <algorithm>

using namespace gantry;

GANTRY_FUZZ_TARGET(tegra_csv) {
    namespace nv = gpu_vendors::nvidia;
    const std::string_view text = fuzz::bytes(data, size);
    const auto lines = static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n')) + 1;
    nv::CsvList l = nv::parse_csv(text);
    FUZZ_CHECK(l.entries.size() + l.skipped.size() <= lines);
    int last = 0;
    for (const auto& e : l.entries) {
        const std::string& p = e.path;
        FUZZ_CHECK(e.line > last);
        last = e.line;
        FUZZ_CHECK(p.size() > 1 && p.size() <= nv::kCsvMaxPath && p.front() == '/');
        FUZZ_CHECK(p.back() != '/' && p.find("//") == std::string::npos);
        FUZZ_CHECK(p.find("/../") == std::string::npos && !p.ends_with("/.."));
        FUZZ_CHECK(p.find("/./") == std::string::npos && !p.ends_with("/."));
        FUZZ_CHECK(std::none_of(p.begin(), p.end(), [](char c) {
            return static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
        }));
        FUZZ_CHECK(!p.starts_with("/proc/") && p != "/proc");
        FUZZ_CHECK(!p.starts_with("/sys/") && p != "/sys");
        const auto last_slash = p.rfind('/');
        FUZZ_CHECK(p.substr(0, last_slash).find_first_of("*?[") == std::string::npos);
        if (e.kind == nv::CsvKind::dev)
            FUZZ_CHECK(p.starts_with("/dev/"));
        else
            FUZZ_CHECK(!nv::csv_is_pattern(p));
        if (e.kind == nv::CsvKind::dir) FUZZ_CHECK(last_slash != 0);
    }
    for (const auto& s : l.skipped) {
        FUZZ_CHECK(s.line >= 1 && static_cast<std::size_t>(s.line) <= lines);
        FUZZ_CHECK(!s.reason.empty() && s.text.size() <= 200);
    }
    return 0;
}
