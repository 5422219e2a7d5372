// lazy/toc_entry: one tar entry's line in a table of contents, as the eStargz and zstd:chunked
// writers both write it (stargz-snapshotter's TOCEntry, containers/storage's FileMetadata): name,
// type, link target, device numbers, mode, owner, mtime, xattrs; the caller adds offsets, sizes
// and digests. Also what both writers do with a source entry before it is written: eStargz's own
// files are dropped, a sparse file becomes a regular one.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

struct archive_entry;

namespace gantry::lazy {

struct TocEntryStyle {
    const char* format; // "eStargz", for the error naming an entry the format cannot hold
    bool owner_names;   // userName/groupName too (eStargz has them, zstd:chunked not)
};

// Whether the tar member E is one of eStargz's own files at the layer's root
// (`stargz.index.json`, `.prefetch.landmark`, `.no.prefetch.landmark`) or a hard link to one: a
// layer pulled from an eStargz image holds them, and a conversion drops them (as
// stargz-snapshotter's converter drops the landmarks it finds) rather than carry an eStargz
// artefact into another format or write a second one.
bool is_estargz_artefact(archive_entry* e);

// E as a writer puts it into a layer of its own: a sparse file (GNU/PAX sparse) becomes a
// regular file of its whole size, its holes read as zeros (archive_read_data fills them), as Go's
// archive/tar, and so skopeo, write it; the lazy formats have no sparse map. Error(unsupported)
// naming WHAT, the entry and FORMAT for one over layer::kMaxExpandedSparse.
void as_plain_entry(archive_entry* e, const std::string& what, const char* format);

// Error(unsupported) naming WHAT and the entry for a type the format has not (a socket), or a
// name, link target, owner name or xattr name that is not UTF-8 (a JSON string cannot hold it:
// Go's encoding/json would write U+FFFD and the TOC would name another file).
nlohmann::json toc_entry(archive_entry* e, const std::string& name, const std::string& what,
                         const TocEntryStyle& style);

} // namespace gantry::lazy
