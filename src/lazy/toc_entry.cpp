#include "lazy/toc_entry.hpp"

#include "layer/tar_reader.hpp"
#include "util/error.hpp"
#include "util/nettle.hpp"
#include "util/text.hpp"

#include <archive_entry.h>
#include <string_view>

namespace gantry::lazy {

namespace {

bool at_root_is_estargz_file(const char* path) {
    if (!path) return false;
    std::string_view name = path;
    while (name.starts_with("./") || name.starts_with('/'))
        name.remove_prefix(name[0] == '/' ? 1 : 2);
    return name == "stargz.index.json" || name == ".prefetch.landmark" ||
           name == ".no.prefetch.landmark";
}

} // namespace

bool is_estargz_artefact(archive_entry* e) {
    return at_root_is_estargz_file(archive_entry_pathname(e)) ||
           at_root_is_estargz_file(archive_entry_hardlink(e));
}

void as_plain_entry(archive_entry* e, const std::string& what, const char* format) {
    layer::refuse_vast_sparse(e, what, format);
    if (archive_entry_sparse_count(e) > 0) archive_entry_sparse_clear(e);
}

nlohmann::json toc_entry(archive_entry* e, const std::string& name, const std::string& what,
                         const TocEntryStyle& style) {
    nlohmann::json ent = {{"name", name}};
    const char* hl = archive_entry_hardlink(e);
    mode_t type = archive_entry_filetype(e);
    if (hl) {
        ent["type"] = "hardlink";
        ent["linkName"] = hl;
    } else if (type == AE_IFDIR) {
        ent["type"] = "dir";
    } else if (type == AE_IFREG) {
        ent["type"] = "reg";
    } else if (type == AE_IFLNK) {
        const char* target = archive_entry_symlink(e);
        ent["type"] = "symlink";
        ent["linkName"] = target ? target : "";
    } else if (type == AE_IFCHR || type == AE_IFBLK) {
        ent["type"] = type == AE_IFCHR ? "char" : "block";
        ent["devMajor"] = archive_entry_rdevmajor(e);
        ent["devMinor"] = archive_entry_rdevminor(e);
    } else if (type == AE_IFIFO) {
        ent["type"] = "fifo";
    } else {
        throw Error(Errc::unsupported,
                    what + ": entry " + name + " has a type " + style.format +
                        " has not (a socket?)",
                    "remove it from the image, or push without --compression");
    }
    ent["mode"] = archive_entry_mode(e) & 07777;
    ent["uid"] = archive_entry_uid(e);
    ent["gid"] = archive_entry_gid(e);
    if (style.owner_names) {
        if (const char* u = archive_entry_uname(e); u && *u) ent["userName"] = u;
        if (const char* g = archive_entry_gname(e); g && *g) ent["groupName"] = g;
    }
    ent["modtime"] = text::rfc3339(archive_entry_mtime(e));
    nlohmann::json xattrs = nlohmann::json::object();
    archive_entry_xattr_reset(e);
    const char* xn = nullptr;
    const void* xv = nullptr;
    size_t xs = 0;
    while (archive_entry_xattr_next(e, &xn, &xv, &xs) == ARCHIVE_OK)
        xattrs[xn] = nettle::base64_encode(std::string(static_cast<const char*>(xv), xs));
    if (!xattrs.empty()) ent["xattrs"] = xattrs;
    try {
        (void)ent.dump(); // JSON strings are UTF-8; a Linux name may be any bytes
    } catch (const nlohmann::json::type_error&) {
        std::string shown =
            nlohmann::json(name).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
        throw Error(Errc::unsupported,
                    what + ": entry " + shown +
                        " has a name, link target, owner name or extended attribute name that is "
                        "not UTF-8, which a " +
                        style.format + " table of contents (JSON) cannot hold",
                    "rename it in the image, or push without --compression");
    }
    return ent;
}

} // namespace gantry::lazy
