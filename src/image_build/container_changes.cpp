// What a container changed (image_build/container_changes.hpp).
#include "image_build/container_changes.hpp"

#include "engine/squashfs.hpp"
#include "image_build/upper_layer.hpp"
#include "rootfs/image_files.hpp"
#include "sqsh/image_ref.hpp"
#include "store/images.hpp"
#include "util/error.hpp"

#include <algorithm>
#include <filesystem>
#include <memory>
#include <set>
#include <sys/stat.h>

namespace gantry::image_build {

namespace {

// the image's files of S: its layers in the store, or its squashfs file
struct ChangedImage {
    std::optional<store::Store> store;
    std::vector<oci::Digest> diff_ids;
    std::shared_ptr<sqsh::Image> sqsh;
    std::unique_ptr<rootfs::ImageFiles> files;
};

void open_changed_image(const records::ContainerState& s, ChangedImage& out) {
    const std::string what = "container " + s.name + "'s image " + s.image;
    if (s.manifest.empty() || s.store_root.empty())
        throw Error(Errc::unsupported, what + " is not recorded with its container",
                    "gantry diff reads a container gantry run or create made");
    if (auto sqsh = sqsh::file_of(s.image)) {
        auto opened = engine::open_squashfs(*sqsh, false);
        out.sqsh = opened.image;
        out.files = std::make_unique<sqsh::SquashFiles>(*out.sqsh, engine::squashfs_confinement());
        return;
    }
    out.store.emplace(s.store_root);
    store::Image img;
    try {
        img = store::read_image(*out.store, oci::Digest::parse(s.manifest));
    } catch (const Error& e) {
        throw Error(Errc::unsupported,
                    what + " is not in the store as layers (" + e.message() + ")",
                    "pull the image without --lazy to compare a container with it");
    }
    out.diff_ids = img.config.diff_ids;
    out.files = std::make_unique<rootfs::LayerFiles>(*out.store, out.diff_ids);
}

} // namespace

std::vector<ContainerChange> container_changes(const records::ContainerState& s) {
    if (s.spec.root_readonly) return {};
    const std::filesystem::path upper = std::filesystem::path(s.container_dir) / "upper";
    struct stat st {};
    if (s.container_dir.empty() || ::lstat(upper.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
        throw Error(Errc::unsupported,
                    "container " + s.name +
                        "'s writable layer is in memory: what it changed is not kept outside "
                        "its process",
                    "run it with --writable-layer disk (gantry create keeps one on disk)");
    ChangedImage image;
    open_changed_image(s, image);
    std::set<std::string> stubs; // the runtime's mount targets ("etc/hosts", "proc")
    for (const auto& m : s.spec.mounts)
        if (m.destination.size() > 1) stubs.insert(m.destination.substr(1));
    // the runtime's own binds (runtime/mounts.cpp): an etc/ holding only their empty targets
    // is no change
    stubs.insert({"etc/hostname", "etc/hosts", "etc/resolv.conf"});
    std::vector<ContainerChange> out;
    TarSink sink{[&](archive_entry* e) {
                     std::string path = archive_entry_pathname(e);
                     while (!path.empty() && path.back() == '/') path.pop_back();
                     auto slash = path.rfind('/');
                     std::string dir = slash == std::string::npos ? "" : path.substr(0, slash + 1);
                     std::string name = path.substr(dir.size());
                     if (name == ".wh..wh..opq") return; // its directory is listed itself
                     // what the runtime writes for every container (docker's are bind mounts,
                     // never in its diff)
                     if (path == "etc/hostname" || path == "etc/hosts" || path == "etc/resolv.conf")
                         return;
                     if (name.starts_with(".wh.")) {
                         out.push_back({"/" + dir + name.substr(4), 'D'});
                         return;
                     }
                     out.push_back({"/" + path, image.files->has(path) ? 'C' : 'A'});
                 },
                 nullptr}; // the entries alone: no file's bytes read
    write_upper(upper, std::nullopt, sink, stubs);
    std::sort(out.begin(), out.end(),
              [](const ContainerChange& a, const ContainerChange& b) { return a.path < b.path; });
    return out;
}

} // namespace gantry::image_build
