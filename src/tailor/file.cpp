#include "tailor/file.hpp"

#include "gpu_vendors/all/backends.hpp"

namespace gantry::tailor {

namespace {

// A format's report is worth returning when the file had that format's device code, or when
// something was left alone or refused (the user must hear of it).
bool worth(const FileReport& r) {
    return r.entries_before > 0 || !r.left_alone.empty() ||
           r.outcome != FileReport::Outcome::unchanged;
}

} // namespace

std::vector<FileReport> tailor_file(std::string& bytes, const KeepSet& keep,
                                    const std::string& path, bool write) {
    std::vector<FileReport> out;
    for (const device_code::Format* f : gpu_vendors::device_code_formats())
        if (!keep.targets(std::string(f->name())).empty())
            if (auto r = f->tailor(bytes, keep, path, write); worth(r)) out.push_back(std::move(r));
    return out;
}

std::vector<FileReport> plan_file(std::string_view bytes, const KeepSet& keep,
                                  const std::string& path) {
    std::string copy(bytes);
    return tailor_file(copy, keep, path, false);
}

} // namespace gantry::tailor
