#include "rootfs/run_view.hpp"

#include "rootfs/rootfs.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/log.hpp"

#include <cerrno>
#include <optional>
#include <sys/stat.h>

namespace gantry::rootfs {

namespace {

constexpr int kFormat = 1;

std::optional<RunView> read_view(const store::Store& store, const oci::Digest& md) {
    auto path = store.views_dir() / (md.hex() + ".json");
    try {
        auto doc = oci::parse_json(fs::read_file(path, 4u << 20), path.string());
        if (!doc.is_object() || doc.value("format", 0) != kFormat ||
            doc.value("manifest", std::string()) != md.str())
            return std::nullopt;
        auto cfg = doc.find("config");
        auto pw = doc.find("passwd");
        if (cfg == doc.end() || pw == doc.end() || !pw->is_string()) return std::nullopt;
        RunView v;
        v.image.manifest_digest = md;
        v.image.config = oci::ImageConfig::from_json(std::move(*cfg));
        v.passwd = pw->get<std::string>();
        return v;
    } catch (const Error&) { // missing, damaged, an old format: built again
        return std::nullopt;
    } catch (const oci::json::exception&) {
        return std::nullopt;
    }
}

void save_view(const store::Store& store, const RunView& v) {
    oci::json cfg = v.image.config.raw;
    cfg.erase("history"); // run has no use for it, and it is most of a config's bytes
    oci::json doc = {{"format", kFormat},
                     {"manifest", v.image.manifest_digest.str()},
                     {"config", std::move(cfg)},
                     {"passwd", v.passwd}};
    auto dir = store.views_dir();
    try {
        if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST)
            throw_errno("cannot create " + dir.string());
        // a cache, but published durably as everything the store keeps (one sync, on an
        // image's first run): a crash never leaves a name whose data is not on the disk
        fs::write_atomic(dir / (v.image.manifest_digest.hex() + ".json"),
                         doc.dump(-1, ' ', false, oci::json::error_handler_t::replace) + "\n",
                         0644);
    } catch (const Error& e) {
        log::debug("run view not saved: " + e.message());
    }
}

} // namespace

RunView find_run_view(const store::Store& store, const std::string& ref_or_id) {
    oci::Digest md = store::resolve(store, ref_or_id);
    if (auto v = read_view(store, md)) return std::move(*v);
    RunView v;
    v.image = store::read_image(store, md);
    v.passwd = read_image_file(store, v.image.config.diff_ids, "etc/passwd");
    save_view(store, v);
    return v;
}

} // namespace gantry::rootfs
