/* Linking libarchive statically keeps `gantry run` fast: the shared libarchive drags in libxml2,
 * ICU and a second libstdc++ (~2,500 symbol bindings at every start). In the static archive the
 * tar writers reference one helper that lives in the object holding libarchive's format-by-name
 * table, which would pull in every writer (7zip, xar, zip with their crypto and XML
 * dependencies). gantry writes only regular files in pax format, so that helper is never
 * reached; this definition stands in for it and keeps the table out of the link. A libarchive
 * that pulls the table in some other way fails the link with a duplicate symbol, loudly. */
#include <archive.h>
#include <archive_entry.h>

void __archive_write_entry_filetype_unsupported(struct archive* a, struct archive_entry* entry,
                                                const char* format);

void __archive_write_entry_filetype_unsupported(struct archive* a, struct archive_entry* entry,
                                                const char* format) {
    archive_set_error(a, 84 /* EILSEQ */, "%s: %s format cannot archive this file type",
                      archive_entry_pathname(entry), format);
}
