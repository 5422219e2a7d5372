// What garbage collection, prune and the space accounting share (store/gc.cpp, prune.cpp):
// the live set of the store (what references, holds, running containers and lazy records
// need) and small helpers over the store's directories. Internal to the store module.
#pragma once

#include "store/gc.hpp"

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace gantry::store::detail {

struct Live {
    std::set<std::string> blobs;  // hex
    std::set<std::string> layers; // diffID hex
    std::uint64_t images = 0;
    std::set<std::string> lazy_copies; // lazy records' layer blobs (hex): their local copies
    std::vector<FsckProblem> problems;
    // hex of a blob or diffID -> what needs it ("image NAME", "container NAME", "a running
    // container"), for fsck's messages
    std::map<std::string, std::set<std::string>> users;
    // each root image (by manifest): the blobs (hex) and layers (diffID hex) it needs, and
    // whether a container uses it (a hold or a running one)
    std::map<Digest, std::pair<std::set<std::string>, std::set<std::string>>> image_needs;
    std::map<Digest, std::size_t> image_containers;
    // each live layer blob (hex) -> its diffID (hex): a blob the store does not keep because
    // the layer's tree and tar-split give it back (store/layer_tar.hpp) is not missing
    std::map<std::string, std::string> layer_diff;
};
// One pass over small metadata: refs.json, holds, use locks, each named image's manifest and
// config, lazy records. No layer blob or tree is read.
Live live_set(const Store& store);

std::vector<std::string> entries(const stdfs::path& dir);
std::uint64_t file_bytes(const stdfs::path& p);
// {apparent, allocated} bytes of an unpacked layer as meta.json recorded them
std::pair<std::uint64_t, std::uint64_t> layer_sizes(const stdfs::path& dir);
std::uint64_t layer_bytes(const stdfs::path& dir);
// Renames the layer into tmp/ first (a half-removed tree is never a layer), then deletes it.
void remove_layer_dir(Store& store, const std::string& hex);

} // namespace gantry::store::detail
