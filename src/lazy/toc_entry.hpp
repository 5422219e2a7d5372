// lazy/toc_entry: one tar entry's line in a table of contents, as the eStargz and zstd:chunked
// writers both write it (stargz-snapshotter's TOCEntry, containers/storage's FileMetadata): name,
// type, link target, device numbers, mode, owner, mtime, xattrs; the caller adds offsets, sizes
// and digests.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

struct archive_entry;

namespace gantry::lazy {

struct TocEntryStyle {
    const char* format; // "eStargz", for the error naming an entry the format cannot hold
    bool owner_names;   // userName/groupName too (eStargz has them, zstd:chunked not)
};

// Error(unsupported) naming WHAT and the entry for a type the format has not (a socket).
nlohmann::json toc_entry(archive_entry* e, const std::string& name, const std::string& what,
                         const TocEntryStyle& style);

} // namespace gantry::lazy
