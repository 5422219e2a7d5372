// tailor/keep: the kept set given on the command line, and the names the report uses.
#include "tailor/tailor.hpp"
#include "util/error.hpp"

#include <algorithm>
#include <cctype>

namespace gantry::tailor {

namespace {

std::string trim(std::string s) {
    auto sp = [](unsigned char c) { return std::isspace(c) != 0; };
    while (!s.empty() && sp(static_cast<unsigned char>(s.back()))) s.pop_back();
    std::size_t i = 0;
    while (i < s.size() && sp(static_cast<unsigned char>(s[i]))) ++i;
    return s.substr(i);
}

bool all_digits(const std::string& s) {
    return !s.empty() && s.size() <= 3 &&
           std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c) != 0; });
}

// "sm_90", "compute_90", "9.0" -> 90; 0 when it is none of these.
unsigned cuda_sm(const std::string& item) {
    std::string digits;
    if (item.starts_with("sm_"))
        digits = item.substr(3);
    else if (item.starts_with("compute_"))
        digits = item.substr(8);
    else if (auto dot = item.find('.'); dot != std::string::npos) {
        std::string major = item.substr(0, dot), minor = item.substr(dot + 1);
        if (!all_digits(major) || major.size() > 2 || minor.size() != 1 || !all_digits(minor))
            return 0;
        digits = major + minor;
    } else
        return 0;
    // An arch-specific suffix names the same device ("sm_90a" is a 9.0 GPU).
    if (!digits.empty() && (digits.back() == 'a' || digits.back() == 'f')) digits.pop_back();
    if (!all_digits(digits) || digits.size() < 2) return 0;
    unsigned sm = static_cast<unsigned>(std::stoul(digits));
    return sm >= 10 && sm <= 999 ? sm : 0;
}

} // namespace

KeepSet parse_keep_list(const std::string& list) {
    KeepSet k;
    std::size_t start = 0;
    bool any = false;
    while (start <= list.size()) {
        std::size_t comma = list.find(',', start);
        std::string item = trim(
            list.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
        start = comma == std::string::npos ? list.size() + 1 : comma + 1;
        if (item.empty()) continue;
        any = true;
        std::string lower = item;
        std::transform(lower.begin(), lower.end(), lower.begin(),
                       [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        if (unsigned sm = cuda_sm(lower)) {
            CudaTarget t{sm};
            if (std::find(k.cuda.begin(), k.cuda.end(), t) == k.cuda.end()) k.cuda.push_back(t);
            continue;
        }
        if (lower.starts_with("gfx") || lower.starts_with("amdgcn-")) {
            if (auto id = compat::parse_target_id(item)) {
                if (std::find(k.amd.begin(), k.amd.end(), *id) == k.amd.end()) k.amd.push_back(*id);
                continue;
            }
        }
        throw Error(Errc::usage,
                    "--keep-arch: \"" + item +
                        "\" is neither a CUDA architecture nor an AMD target",
                    "give CUDA GPUs as sm_80 / 8.0 and AMD GPUs as target IDs (gfx90a, "
                    "gfx90a:xnack-), comma-separated, or `host` for the GPUs of this machine");
    }
    if (!any)
        throw Error(Errc::usage, "--keep-arch: the list is empty",
                    "name at least one GPU architecture (sm_90, gfx942) or `host`");
    std::sort(k.cuda.begin(), k.cuda.end(),
              [](const CudaTarget& a, const CudaTarget& b) { return a.sm < b.sm; });
    return k;
}

std::string KeepSet::str() const {
    std::string s;
    for (auto& c : cuda) s += (s.empty() ? "" : ",") + ("sm_" + std::to_string(c.sm));
    for (auto& a : amd) s += (s.empty() ? "" : ",") + a.str();
    if (!cuda.empty()) s += ptx ? " (+newest PTX)" : " (no PTX)";
    return s;
}

const char* to_string(FileReport::Outcome o) {
    switch (o) {
    case FileReport::Outcome::changed:
        return "changed";
    case FileReport::Outcome::unchanged:
        return "unchanged";
    case FileReport::Outcome::refused:
        return "refused";
    }
    return "unchanged";
}

} // namespace gantry::tailor
