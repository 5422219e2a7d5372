#include "tailor/file.hpp"

#include "tailor/cuda.hpp"
#include "tailor/hip.hpp"

namespace gantry::tailor {

namespace {

// A vendor's report is worth returning when the file had that vendor's device code, or when
// something was left alone or refused (the user must hear of it).
bool worth(const FileReport& r) {
    return r.entries_before > 0 || !r.left_alone.empty() ||
           r.outcome != FileReport::Outcome::unchanged;
}

} // namespace

std::vector<FileReport> tailor_file(std::string& bytes, const KeepSet& keep,
                                    const std::string& path, bool write) {
    std::vector<FileReport> out;
    if (!keep.targets("cuda").empty())
        if (auto r = tailor_cuda(bytes, keep, path, write); worth(r)) out.push_back(std::move(r));
    if (!keep.targets("hip").empty())
        if (auto r = tailor_hip(bytes, keep, path, write); worth(r)) out.push_back(std::move(r));
    return out;
}

std::vector<FileReport> plan_file(std::string_view bytes, const KeepSet& keep,
                                  const std::string& path) {
    std::string copy(bytes);
    return tailor_file(copy, keep, path, false);
}

} // namespace gantry::tailor
