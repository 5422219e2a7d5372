// analyze/gpu_inventory: which GPU vendor components an image carries, per layer (CUDA toolkit
// libraries and tools, cuDNN, NCCL, TensorRT, driver libraries, NVIDIA's wheels, ROCm, firmware:
// the tables of gpu_components/), each with its versions, how it was recognised, the licence it
// falls under (from the licence files and package metadata inside the image, else the table),
// and for files under a licence with a distributable list (Attachment A of the CUDA EULA) whether
// the list the image's own licence text names lists them. States facts, never a legal verdict.
#pragma once

#include "analyze/scan.hpp"

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace gantry::analyze {

// One component in one layer.
struct ComponentInLayer {
    std::string component, name, vendor, role; // the table's row
    std::uint32_t layer = 0;                   // 0-based
    std::uint64_t files = 0, bytes = 0;
    std::uint64_t final_files = 0;          // of these, in the image as a container sees it
    std::vector<std::string> versions;      // from file names and package metadata
    std::vector<std::string> recognised_by; // "file name", "path", "SONAME", "dpkg", "pip"
    std::string licence, licence_name;      // a table licence id or an SPDX id; "" = unknown
    std::string licence_from;               // where the licence was read: a path, or "table"
    bool open_source = false;
    std::string list; // the distributable list that applies ("" = the licence has none)
    int listed = -1;  // 1 / 0: the list names / does not name these files; -1: no list
    std::vector<std::pair<std::string, std::uint64_t>> paths; // a sample, largest first
    std::string source;          // the table row's source: "<id> §section"; source_document: its
    std::string source_document; // document and version
};

struct PackageInLayer {
    std::uint32_t layer = 0;
    std::string manager; // "dpkg" or "pip"
    std::string name, version, component;
    std::string licence,
        licence_name;         // from the package's licence file, copyright file or METADATA
    std::string licence_from; // where: a path in the image
    bool open_source = false;
};

struct LicenceFile {
    std::uint32_t layer = 0;
    std::string path;
    std::string licence, name, list; // identified; licence "" when the text is not recognised
    bool open_source = false, cut = false, in_final = false;
};

struct GpuInventory {
    std::vector<ComponentInLayer> components; // by layer, then table order
    std::vector<PackageInLayer> packages;
    std::vector<LicenceFile> licence_files;
    // per licence with lists: the list applied, and the licence file it was read from (or
    // "table: newest" when the image carries no such text)
    std::map<std::string, std::pair<std::string, std::string>> lists;
    std::uint64_t texts_skipped = 0; // metadata and licence files not read (limits)
    bool empty() const { return components.empty() && licence_files.empty(); }
};

nlohmann::json to_json(const GpuInventory& g);
std::string render_text(const GpuInventory& g);

} // namespace gantry::analyze
