// tests/unit/lazy: a layer tar (pax, libarchive) from a list of entries, as the lazy tests build
// the layers they convert, parse and serve.
#pragma once

#include <archive.h>
#include <archive_entry.h>
#include <string>
#include <sys/types.h>
#include <vector>

namespace lazy_layer_tar {

struct Entry {
    std::string name;
    mode_t type;           // AE_IFREG, AE_IFDIR, AE_IFLNK (to DATA); 0: a hard link to DATA
    std::string data = {}; // a file's content, a link's target
};

// ENTRIES as a tar: files mode 0644, directories DIR_MODE.
inline std::string make_tar(const std::vector<Entry>& entries, mode_t dir_mode = 0755) {
    std::string out;
    archive* a = archive_write_new();
    archive_write_set_format_pax_restricted(a);
    archive_write_open(
        a, &out, nullptr,
        [](archive*, void* o, const void* b, size_t n) -> la_ssize_t {
            static_cast<std::string*>(o)->append(static_cast<const char*>(b), n);
            return static_cast<la_ssize_t>(n);
        },
        nullptr);
    for (auto& i : entries) {
        archive_entry* e = archive_entry_new();
        archive_entry_set_pathname(e, i.name.c_str());
        archive_entry_set_filetype(e, i.type ? i.type : AE_IFREG);
        archive_entry_set_perm(e, i.type == AE_IFDIR ? dir_mode : 0644);
        if (i.type == 0) archive_entry_set_hardlink(e, i.data.c_str());
        if (i.type == AE_IFLNK) archive_entry_set_symlink(e, i.data.c_str());
        if (i.type == AE_IFREG) archive_entry_set_size(e, static_cast<la_int64_t>(i.data.size()));
        archive_write_header(a, e);
        if (i.type == AE_IFREG) archive_write_data(a, i.data.data(), i.data.size());
        archive_entry_free(e);
    }
    archive_write_close(a);
    archive_write_free(a);
    return out;
}

} // namespace lazy_layer_tar
