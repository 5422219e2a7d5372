// gpu_vendors/image_findings: how a GPU vendor adds its findings to `gantry analyze`
// (Backend::analyze_findings): analyze walks the image's final view once and hands every regular
// file to each vendor's ImageFindings, then asks each for its findings (with the image config:
// Env, Labels). A vendor reads what its toolkit leaves (its device-code format's bytes per
// target, its development trees, its variables) and says what removing it would save
// (findings::Subject); analyze sorts them with its own and names no vendor.
#pragma once

#include "findings/finding.hpp"

#include <cstdint>
#include <map>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

namespace gantry::gpu_vendors {

// One regular file of an image's final view.
struct ImageFile {
    const std::string& path; // normalised, no leading slash: "usr/lib/libx.so"
    std::uint64_t size;
    // Its device-code bytes per format and target (device_code::Format::target_bytes):
    // ["cuda"]["sm_90"], ["hip"]["gfx90a:xnack-"]; empty for a file without any.
    const std::map<std::string, std::map<std::string, std::uint64_t>>& device_code;
};

// One analysis's state for one vendor.
class ImageFindings {
  public:
    virtual ~ImageFindings() = default;
    virtual void file(const ImageFile& f) = 0;
    // Appends this vendor's findings to OUT (each with its Subject), after every file.
    virtual void report(const nlohmann::json& config, std::vector<findings::Finding>& out) = 0;
};

} // namespace gantry::gpu_vendors
