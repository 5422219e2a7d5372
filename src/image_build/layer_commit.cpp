#include "image_build/layer_commit.hpp"

#include "image_build/upper_layer.hpp"
#include "store/importer.hpp"
#include "store/layer_writer.hpp"
#include "userns/idmap.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"
#include "util/fs.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

namespace gantry::image_build {
namespace {

namespace stdfs = std::filesystem;

// Writes the layer and empties upper (this process can read and delete everything in it).
std::optional<WorkLayer> write_layer(store::Store& store, const UpperCommit& c) {
    store::LayerWriter out(store);
    TarSink sink{[&](archive_entry* e) { out.header(e); },
                 [&](const void* p, std::size_t n) { out.data(p, n); }};
    std::size_t n = write_upper(c.upper, c.epoch, sink, c.stubs, c.links);
    auto [blob, diff] = out.finish();
    std::error_code ec;
    if (!c.keep_upper)
        for (const auto& d : stdfs::directory_iterator(c.upper, ec))
            stdfs::remove_all(d.path(), ec);
    if (n == 0) return std::nullopt; // the blob of an empty tar stays for prune to collect
    return WorkLayer{blob, diff, static_cast<std::int64_t>(out.blob_size()), ""};
}

// The child: into a new user namespace, wait for the parent to map it, become its root, write.
[[noreturn]] void child(store::Store& store, const UpperCommit& c, int go_r, int ready_w,
                        int result_w) {
    std::string out;
    try {
        if (::unshare(CLONE_NEWUSER) != 0) throw_errno("cannot create a user namespace");
        char b = 1;
        if (::write(ready_w, &b, 1) != 1 || ::read(go_r, &b, 1) != 1 || b != 1)
            throw Error(Errc::internal, "the id maps of the layer writer were not written");
        if (::setresgid(0, 0, 0) != 0 || ::setresuid(0, 0, 0) != 0)
            throw_errno("cannot become root in the layer writer's user namespace");
        auto layer = write_layer(store, c);
        out = layer ? "L " + layer->blob.str() + " " + layer->diff_id.str() + " " +
                          std::to_string(layer->size)
                    : std::string("N");
    } catch (const Error& e) {
        out = "E " + std::to_string(static_cast<int>(e.code())) + " " + e.message();
    } catch (const std::exception& e) {
        out = "E 1 " + std::string(e.what());
    }
    try {
        fs::write_all(result_w, out.data(), out.size(), "the layer writer's result");
    } catch (const Error&) {
    }
    ::_exit(0);
}

std::optional<WorkLayer> write_layer_in_userns(store::Store& store, const UpperCommit& c) {
    int go[2], ready[2], result[2];
    if (::pipe2(go, O_CLOEXEC) != 0 || ::pipe2(ready, O_CLOEXEC) != 0 ||
        ::pipe2(result, O_CLOEXEC) != 0)
        throw_errno("pipe failed");
    Fd go_r(go[0]), go_w(go[1]), ready_r(ready[0]), ready_w(ready[1]), res_r(result[0]),
        res_w(result[1]);
    pid_t pid = ::fork();
    if (pid < 0) throw_errno("fork failed");
    if (pid == 0) child(store, c, go_r.get(), ready_w.get(), res_w.get());
    ready_w.reset();
    res_w.reset();
    go_r.reset();
    char b = 0;
    bool unshared = ::read(ready_r.get(), &b, 1) == 1;
    std::optional<Error> map_error;
    if (unshared) {
        try {
            userns::write_id_maps(pid, c.maps[0], c.maps[1]);
            b = 1;
        } catch (const Error& e) {
            map_error = e;
            b = 0;
        }
        if (::write(go_w.get(), &b, 1) != 1) b = 0;
    }
    go_w.reset();
    std::string msg = fs::read_stream(res_r.get(), 1 << 16, "the layer writer's result");
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (map_error) throw *map_error;
    if (msg.starts_with("N")) return std::nullopt;
    if (msg.starts_with("L ")) {
        char blob[80] = {}, diff[80] = {};
        long long size = 0;
        if (std::sscanf(msg.c_str(), "L %79s %79s %lld", blob, diff, &size) == 3)
            return WorkLayer{oci::Digest::parse(blob), oci::Digest::parse(diff), size, ""};
    }
    if (msg.starts_with("E ")) {
        auto sp = msg.find(' ', 2);
        int code = std::atoi(msg.c_str() + 2);
        throw Error(code > 0 && code < 200 ? static_cast<Errc>(code) : Errc::internal,
                    "writing the layer: " + msg.substr(sp == std::string::npos ? 2 : sp + 1));
    }
    throw Error(Errc::internal,
                "the layer writer exited without a result (status " + std::to_string(status) + ")");
}

} // namespace

std::optional<WorkLayer> commit_upper(store::Store& store, const UpperCommit& c) {
    auto layer = c.maps[0].empty() ? write_layer(store, c) : write_layer_in_userns(store, c);
    if (layer) unpack_layer(store, *layer, c.privileged);
    return layer;
}

void unpack_layer(store::Store& store, const WorkLayer& layer, bool privileged) {
    if (store.has_layer(layer.diff_id)) return;
    store::Importer importer(store, store::ImportOptions{privileged, 1});
    store::LayerJob job{layer.blob, layer.diff_id,
                        "built layer (" + layer.blob.str().substr(0, 19) + "…)",
                        []() -> std::unique_ptr<layer::Reader> {
                            throw Error(Errc::internal, "the built layer's blob vanished");
                        }};
    importer.layers({job});
}

} // namespace gantry::image_build
