// gpu_components/table: the GPU vendor component tables. They are data in the vendor folders
// (src/gpu_vendors/nvidia/components.yaml, src/gpu_vendors/amd/components.yaml), compiled into
// gantry and read here once: which files of an image are which vendor component (CUDA toolkit
// libraries and tools, cuDNN, NCCL, TensorRT, driver libraries, ROCm, firmware), the licence each
// falls under, the distributable lists that name them (Attachment A of each CUDA EULA version, §2
// of the cuDNN supplement), and for every row the source it comes from (document, version,
// section). Facts only: nothing here decides whether a redistribution complies with a licence.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace gantry::gpu_components {

struct Source {
    std::string id, document, version, where;
};

struct Licence {
    std::string id, name, spdx; // spdx: "" when the licence has no SPDX identifier
    bool open_source = false;
    std::vector<std::string> markers; // all in one text identify it (case-sensitive)
    std::string source;               // a Source id
    std::string contact; // whom to ask about it, for the fix of its lists' findings; "" none
    // A finding of its own when an image carries its text (the licence governs the image):
    // the finding's ID ("" none), title, message and fix, "{path}" standing for the text's path.
    std::string note_id, note_title, note_message, note_fix;
    // What lint's GL018 says of a COPY of this licence's toolkit files that its newest list does
    // not name: the clause that keeps them from shipping, and a COPY source that may ship (the
    // fix's example); "" when the licence has no such clause.
    std::string unlisted_toolkit_terms, distributable_example;
};

// A licence text's list of distributable files, identified in an image by its markers.
struct DistributableList {
    std::string id, licence, name;
    std::string rule;                 // the finding's ID for files the list does not name
    std::vector<std::string> markers; // all of them in one licence file
    std::string source;
};

enum class Role : unsigned char { toolkit, library, driver, driver_compat, firmware, tool };
const char* to_string(Role r);

struct Component {
    std::string id, name, vendor; // vendor: its table's (--gpu-vendor's word)
    Role role = Role::library;
    std::string licence;                // a Licence id; "" = not in the table
    std::vector<std::string> files;     // globs on the file name
    std::vector<std::string> paths;     // globs on the path ("usr/local/cuda/*"; '*' crosses '/')
    bool elf = false;                   // only ELF files
    std::vector<std::string> listed_in; // DistributableList ids naming these files
    std::vector<std::string> packages;  // dpkg / pip package names (globs, lower case)
    std::string source;                 // "<source id> §section ..."
};

// What a vendor's table says of its driver's files found in an image (analyze's
// GPU-DRIVER-IN-IMAGE): who else injects the host's ("" none), and what to ship instead.
struct DriverNote {
    std::string vendor, injected_by, instead;
};

struct Table {
    std::vector<Source> sources;
    std::vector<DriverNote> driver_notes; // at most one per vendor
    // Files that hold a licence's text, read to tell which licence and list apply: globs on the
    // path ("usr/local/cuda*/EULA.txt"; '*' crosses '/').
    std::vector<std::string> licence_texts;
    // Notices of a vendor's that describe a component rather than being part of it: globs on
    // the lower-case file name ("vendor_sla*").
    std::vector<std::string> notice_files;
    std::vector<Licence> licences;
    std::vector<DistributableList> lists;
    std::vector<Component> components; // first match wins
    const Licence* licence(std::string_view id) const;
    const Source* source(std::string_view id) const;
    const DistributableList* list(std::string_view id) const;
    // The newest list of a licence (the last in table order); nullptr when it has none.
    const DistributableList* newest_list(std::string_view licence) const;
};

// The tables compiled into gantry, parsed on first use.
const Table& table();

// Parses one vendor's table (YAML) and appends it to `into`; Error(invalid) naming `name` and
// the line for an unknown key, a missing field or a reference to an undeclared id.
void parse_table(std::string_view yaml_text, const std::string& vendor, const std::string& name,
                 Table& into);

} // namespace gantry::gpu_components
