#include "sqsh/image_ref.hpp"

#include "sqsh/confined.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"
#include "util/fs.hpp"
#include "util/log.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace gantry::sqsh {

std::optional<std::string> file_of(const std::string& image) {
    for (std::string prefix : {"sqsh:", "sif:"})
        if (image.starts_with(prefix)) {
            if (image.size() == prefix.size())
                throw Error(Errc::usage, prefix + " names no file",
                            "write " + prefix + "PATH, e.g. " + prefix + "app." +
                                (prefix == "sif:" ? "sif" : "sqsh"));
            return image.substr(prefix.size());
        }
    bool pathlike = image.find('/') != std::string::npos || image.ends_with(".sqsh") ||
                    image.ends_with(".sqfs") || image.ends_with(".squashfs") ||
                    image.ends_with(".sif");
    struct stat st {};
    if (pathlike && ::stat(image.c_str(), &st) == 0 && S_ISREG(st.st_mode)) return image;
    return std::nullopt;
}

namespace {

rootfs::RunView view_of(const std::optional<Header>& h, std::string passwd, const std::string& path,
                        const Facts* facts) {
    rootfs::RunView v;
    // a gantry header (a SIF gantry wrote holds one) is the image's own config; else a SIF's
    // Apptainer metadata are the run's defaults (sif/metadata.hpp)
    if (!h && facts && facts->sif) {
        auto abs = fs::stdfs::absolute(path).lexically_normal().string();
        v.image.manifest_digest = oci::Digest::of("sif:" + abs);
        v.image.manifest.config.digest = v.image.manifest_digest;
        if (facts->sif->env_scripts && !facts->sif->shell)
            log::warn(path + " has environment scripts in /" + sif::kEnvDir +
                      " but no /bin/sh to source them: the run does not get their variables "
                      "(set them with -e)");
        auto doc = sif::image_config(*facts->sif, facts->sif_arch);
        doc["rootfs"] = {{"type", "layers"}, {"diff_ids", oci::json::array()}};
        v.image.config = oci::ImageConfig::from_json(doc);
    } else if (h) {
        v.image.manifest_digest = h->manifest;
        v.image.manifest.config.digest = h->config_digest;
        v.image.config = oci::ImageConfig::parse(h->config);
    } else {
        auto abs = fs::stdfs::absolute(path).lexically_normal().string();
        v.image.manifest_digest = oci::Digest::of("sqsh:" + abs);
        v.image.manifest.config.digest = v.image.manifest_digest;
        v.image.config = oci::ImageConfig::from_json(
            {{"rootfs", {{"type", "layers"}, {"diff_ids", oci::json::array()}}}});
    }
    v.image.config.diff_ids.clear(); // the layers are in the file, not in the store
    v.image.config.raw.erase("history");
    v.passwd = std::move(passwd);
    return v;
}

} // namespace

rootfs::RunView run_view(const Facts& facts, const std::string& path) {
    return view_of(facts.header, facts.passwd, path, &facts);
}

// Each reader loads the tables first: a deferred image's root inode is in its superblock.
bool SquashFiles::has(const std::string& path) const {
    return run_confined(
               image_, confine_,
               [&path](Image& im) {
                   im.open_tables();
                   return std::string(im.mode_of(path) ? "1" : "0");
               },
               1) == "1";
}

std::string SquashFiles::read(const std::string& path) const {
    constexpr std::size_t max = 64u << 20;
    return run_confined(
        image_, confine_,
        [&path](Image& im) {
            im.open_tables();
            return im.read_file(path, max).value_or("");
        },
        max);
}

std::vector<std::string> SquashFiles::list(const std::string& dir) const {
    constexpr std::size_t max = 64u << 20;
    std::string answer = run_confined(
        image_, confine_,
        [&dir](Image& im) {
            im.open_tables();
            std::string out;
            for (const auto& name : im.list_dir(dir)) put_field(out, name);
            return out;
        },
        max);
    std::vector<std::string> names;
    std::string_view rest(answer);
    for (std::string name; !rest.empty();) {
        if (!take_field(rest, name) || name.empty() || name.find('/') != std::string::npos)
            throw Error(Errc::invalid, image_.path() + ": the confined reader's listing of " + dir +
                                           " is malformed (a damaged or hostile image)");
        names.push_back(name);
    }
    return names;
}

int SquashFiles::open(const std::string& path) const {
    // the confined process writes the file into this memfd; gantry seals it
    Fd fd(::memfd_create("gantry-sqsh-file", MFD_CLOEXEC | MFD_ALLOW_SEALING));
    if (!fd) throw_errno("cannot create a memfd for " + path);
    int target = fd.get();
    std::string found = run_confined(
        image_, confine_,
        [&path, target](Image& im) {
            im.open_tables();
            auto data = im.read_file(path, 1u << 30);
            if (!data) return std::string("0");
            fs::write_all(target, data->data(), data->size(), path);
            return std::string("1");
        },
        1, target);
    if (found != "1") return -1;
    ::fcntl(fd.get(), F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL);
    ::lseek(fd.get(), 0, SEEK_SET);
    return fd.release();
}

} // namespace gantry::sqsh
