// tailor/file: one ELF file's tailoring: each registered format's rewrite in registry order
// (device_code::Format::tailor), each proving its own result. What slim and analyze call.
#pragma once

#include "tailor/tailor.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace gantry::tailor {

// Tailors BYTES in place (their size never changes); with write=false nothing changes and the
// reports say what a write would do. One report per vendor whose fat binaries the file holds
// (none for a file without device code). Never throws for malformed contents.
std::vector<FileReport> tailor_file(std::string& bytes, const KeepSet& keep,
                                    const std::string& path, bool write = true);

// The plan for bytes that cannot be changed (a copy is tailored with write=false).
std::vector<FileReport> plan_file(std::string_view bytes, const KeepSet& keep,
                                  const std::string& path);

// Whether a report changed (or would change) its file.
inline bool changed(const std::vector<FileReport>& reports) {
    for (auto& r : reports)
        if (r.outcome == FileReport::Outcome::changed) return true;
    return false;
}

} // namespace gantry::tailor
