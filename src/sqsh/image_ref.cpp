#include "sqsh/image_ref.hpp"

#include "util/error.hpp"
#include "util/fs.hpp"

#include <sys/stat.h>

namespace gantry::sqsh {

std::optional<std::string> file_of(const std::string& image) {
    if (image.starts_with("sqsh:")) {
        if (image.size() == 5)
            throw Error(Errc::usage, "sqsh: names no file", "write sqsh:PATH, e.g. sqsh:app.sqsh");
        return image.substr(5);
    }
    bool pathlike = image.find('/') != std::string::npos || image.ends_with(".sqsh") ||
                    image.ends_with(".sqfs") || image.ends_with(".squashfs");
    struct stat st {};
    if (pathlike && ::stat(image.c_str(), &st) == 0 && S_ISREG(st.st_mode)) return image;
    return std::nullopt;
}

rootfs::RunView run_view(Image& image) {
    rootfs::RunView v;
    if (auto h = image.header()) {
        v.image.manifest_digest = h->manifest;
        v.image.manifest.config.digest = h->config_digest;
        v.image.config = oci::ImageConfig::parse(h->config);
    } else {
        auto abs = fs::stdfs::absolute(image.path()).lexically_normal().string();
        v.image.manifest_digest = oci::Digest::of("sqsh:" + abs);
        v.image.manifest.config.digest = v.image.manifest_digest;
        v.image.config = oci::ImageConfig::from_json(
            {{"rootfs", {{"type", "layers"}, {"diff_ids", oci::json::array()}}}});
    }
    v.image.config.diff_ids.clear(); // the layers are in the file, not in the store
    v.image.config.raw.erase("history");
    v.passwd = image.read_file("etc/passwd", 4u << 20).value_or("");
    return v;
}

} // namespace gantry::sqsh
