// Fuzzes `docker save` archives' manifest.json (archive/load): the input is the manifest.json of
// a tar that also holds a valid image (config.json, layer.tar; config2.json lists no layers)
// and is loaded into a fresh store, as `gantry load -i` does. Whatever the manifest names, a
// load that fails leaves no reference behind; one that succeeds tags what it reports.
#include "archive/load.hpp"
#include "fuzz_support.hpp"
#include "store/store.hpp"

using namespace gantry;
namespace stdfs = std::filesystem;

namespace {

void add_member(std::string& tar, const std::string& name, std::string_view content) {
    char h[512] = {};
    std::snprintf(h, 100, "%s", name.c_str());
    std::snprintf(h + 100, 8, "%07o", 0644);
    std::snprintf(h + 108, 8, "%07o", 0);
    std::snprintf(h + 116, 8, "%07o", 0);
    std::snprintf(h + 124, 12, "%011zo", content.size());
    std::snprintf(h + 136, 12, "%011o", 0);
    h[156] = '0';
    std::memcpy(h + 257, "ustar", 6);
    std::memcpy(h + 263, "00", 2);
    std::memset(h + 148, ' ', 8);
    unsigned sum = 0;
    for (unsigned char c : h) sum += c;
    std::snprintf(h + 148, 8, "%06o", sum);
    tar.append(h, sizeof h);
    tar.append(content);
    tar.append((512 - content.size() % 512) % 512, '\0');
}

struct Fixed {
    std::string layer, config, config2;
    Fixed() {
        add_member(layer, "hello.txt", "hello\n");
        layer.append(1024, '\0');
        std::string diff = oci::Digest::of(layer).str();
        config = R"({"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[")" +
                 diff + R"("]}})";
        config2 =
            R"({"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}})";
    }
};

} // namespace

GANTRY_FUZZ_TARGET(docker_archive) {
    static const Fixed fixed;
    std::string tar;
    add_member(tar, "manifest.json", fuzz::bytes(data, size));
    add_member(tar, "config.json", fixed.config);
    add_member(tar, "config2.json", fixed.config2);
    add_member(tar, "layer.tar", fixed.layer);
    tar.append(1024, '\0');
    std::string path = fuzz::write_scratch_file("image.tar", tar);
    const stdfs::path root = fuzz::Scratch::dir() / "store";
    std::error_code ec;
    stdfs::remove_all(root, ec);
    store::Store st(root);
    archive::LoadOptions opt;
    opt.jobs = 1;
    std::vector<archive::LoadedImage> loaded;
    bool ok = fuzz::expect_error([&] { loaded = archive::load(st, path, opt); });
    auto refs = st.refs();
    if (!ok) {
        // A failed load of several images leaving the good ones tagged is a known bug being
        // fixed elsewhere (fuzz/known/docker_archive-multi-image-atomicity.json): until then the
        // rule is checked for single-image archives only, or for all with GANTRY_FUZZ_STRICT=1.
        static const bool strict = std::getenv("GANTRY_FUZZ_STRICT") != nullptr;
        auto doc = oci::json::parse(fuzz::bytes(data, size), nullptr, false);
        if (strict || !doc.is_array() || doc.size() <= 1) FUZZ_CHECK(refs.empty());
    } else {
        for (auto& img : loaded)
            for (auto& r : img.refs) FUZZ_CHECK(refs.count(r) == 1);
    }
    return 0;
}
