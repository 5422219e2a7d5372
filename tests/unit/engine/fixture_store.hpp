// A store holding images written by hand, for the engine's tests: each image a config (Env, Cmd,
// platform, ...) and one unpacked layer with the given files, tagged under a reference as
// `gantry load` or `pull` would leave it.
#pragma once

#include "oci/image.hpp"
#include "store/images.hpp"
#include "store/store.hpp"
#include "util/fd.hpp"
#include "util/fs.hpp"

#include <fcntl.h>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <sys/stat.h>
#include <unistd.h>

namespace gantry::testing {

class FixtureStore {
  public:
    FixtureStore() : dir_(make_temp()), store_(dir_ / "store") {}
    ~FixtureStore() { std::filesystem::remove_all(dir_); }
    FixtureStore(const FixtureStore&) = delete;
    FixtureStore& operator=(const FixtureStore&) = delete;

    store::Store& store() { return store_; }
    const std::filesystem::path& dir() const { return dir_; }

    // Adds an image under REF: CONFIG is the config's "config" object (Env, Cmd, User, ...),
    // FILES the layer's regular files by path (directories made as needed).
    oci::Digest add_image(const std::string& ref, const nlohmann::json& config,
                          const std::map<std::string, std::string>& files,
                          const std::string& architecture = oci::Platform::host().architecture) {
        auto blob = store_.put_blob("layer of " + ref);
        auto diff_id = oci::Digest::of("layer tar of " + ref);
        nlohmann::json cfg = {{"architecture", architecture},
                              {"os", "linux"},
                              {"config", config},
                              {"rootfs", {{"type", "layers"}, {"diff_ids", {diff_id.str()}}}}};
        std::string cfg_text = cfg.dump();
        auto cfg_digest = store_.put_blob(cfg_text);
        nlohmann::json m = {
            {"schemaVersion", 2},
            {"mediaType", oci::media::oci_manifest},
            {"config",
             {{"mediaType", oci::media::oci_config},
              {"digest", cfg_digest.str()},
              {"size", cfg_text.size()}}},
            {"layers",
             {{{"mediaType", oci::media::oci_layer_gzip}, {"digest", blob.str()}, {"size", 1}}}}};
        auto manifest = store_.put_blob(m.dump());
        store::PendingLayer layer = store_.begin_layer();
        for (auto& [path, content] : files) write(layer.rootfs_fd(), path, content);
        layer.commit(diff_id, nlohmann::json{{"blob", blob.str()}, {"size", 4096}}.dump());
        store_.update_refs([&](store::RefMap& refs) { refs[store::normalize(ref)] = manifest; });
        return manifest;
    }

  private:
    static std::filesystem::path make_temp() {
        char tmpl[] = "/tmp/gantry-engine-test-XXXXXX";
        if (!::mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
        return tmpl;
    }
    static void write(int root, const std::string& path, const std::string& content) {
        std::string dir;
        for (size_t slash = path.find('/'); slash != std::string::npos;
             slash = path.find('/', slash + 1))
            ::mkdirat(root, path.substr(0, slash).c_str(), 0755);
        Fd f(::openat(root, path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
        if (!f) throw std::runtime_error("cannot create " + path + " in the fixture layer");
        fs::write_all(f.get(), content.data(), content.size(), path);
    }

    std::filesystem::path dir_;
    store::Store store_;
};

} // namespace gantry::testing
