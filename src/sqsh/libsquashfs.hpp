// sqsh/libsquashfs: the functions of squashfs-tools-ng's libsquashfs gantry calls, as pointers
// bound by dlopen (image.cpp). Internal to sqsh/: only its .cpp files include the C headers.
#pragma once

extern "C" {
#include <sqfs/compressor.h>
#include <sqfs/data_reader.h>
#include <sqfs/dir.h>
#include <sqfs/error.h>
#include <sqfs/id_table.h>
#include <sqfs/inode.h>
#include <sqfs/io.h>
#include <sqfs/meta_reader.h>
#include <sqfs/super.h>
#include <sqfs/xattr.h>
#include <sqfs/xattr_reader.h>
}

namespace gantry::sqsh {

struct Sqfs {
    decltype(&::sqfs_super_read) super_read;
    decltype(&::sqfs_compressor_config_init) compressor_config_init;
    decltype(&::sqfs_compressor_create) compressor_create;
    decltype(&::sqfs_id_table_create) id_table_create;
    decltype(&::sqfs_id_table_read) id_table_read;
    decltype(&::sqfs_id_table_index_to_id) id_table_index_to_id;
    decltype(&::sqfs_meta_reader_create) meta_reader_create;
    decltype(&::sqfs_meta_reader_read_inode) meta_reader_read_inode;
    decltype(&::sqfs_meta_reader_seek) meta_reader_seek;
    decltype(&::sqfs_meta_reader_read) meta_reader_read;
    decltype(&::sqfs_meta_reader_get_position) meta_reader_get_position;
    decltype(&::sqfs_readdir_state_init) readdir_state_init;
    decltype(&::sqfs_meta_reader_readdir) meta_reader_readdir;
    decltype(&::sqfs_data_reader_create) data_reader_create;
    decltype(&::sqfs_data_reader_load_fragment_table) data_reader_load_fragment_table;
    decltype(&::sqfs_data_reader_read) data_reader_read;
    decltype(&::sqfs_xattr_reader_create) xattr_reader_create;
    decltype(&::sqfs_xattr_reader_load) xattr_reader_load;
    decltype(&::sqfs_xattr_reader_get_desc) xattr_reader_get_desc;
    decltype(&::sqfs_inode_get_xattr_index) inode_get_xattr_index;
    decltype(&::sqfs_free) free;
};

// Loads libsquashfs.so.1 on first use; Error(unsupported) naming the package when it is missing.
const Sqfs& sqfs();

} // namespace gantry::sqsh
