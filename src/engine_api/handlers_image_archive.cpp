// The Engine API's image archives: POST /images/load (a docker save tar, or an OCI archive, as
// `gantry load` takes them: archive::load on the body spooled to the store's tmp/) and
// GET /images/get?names=... and GET /images/{name}/get (archive::save's docker archive, as
// `gantry save` writes it, streamed from tmp/).
#include "archive/load.hpp"
#include "archive/save.hpp"
#include "engine_api/job_stream.hpp"
#include "oci/reference.hpp"
#include "util/error.hpp"
#include "util/identity.hpp"

#include <cstdlib>
#include <fcntl.h>
#include <filesystem>
#include <unistd.h>

namespace gantry::engine_api {

namespace {

Response api_iar_load(const ServiceContext& ctx, const Request& r) {
    if (r.upload.empty())
        throw ApiError(400, "POST /images/load needs the archive as the request body");
    bool quiet = query_bool(r.arg("quiet"));
    archive::LoadOptions lo;
    auto given = r.query_all.equal_range("platform"); // API 1.48+, repeated for several
    for (auto it = given.first; it != given.second; ++it)
        if (!it->second.empty()) lo.platforms.push_back(query_platform(it->second));
    lo.privileged = running_as_real_root();
    lo.keep_unnamed = true; // docker's: an archive's unnamed image stays untagged
    // opened now: the spooled file goes when the request ends, the job may still read it
    Fd fd(::open(r.upload.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) throw_errno("cannot open the uploaded archive " + r.upload.string());
    std::string root = ctx.store_root;
    return job_response(
        [root, quiet, lo, fd = std::make_shared<Fd>(std::move(fd))](const JobStream::Emit& emit) {
            store::Store store(root);
            if (!quiet) emit({{"stream", "Loading the archive into the store\n"}});
            auto path = "/proc/self/fd/" + std::to_string(fd->get());
            auto images = archive::load(store, path, lo);
            for (auto& img : images) {
                if (img.refs.empty())
                    emit({{"stream", "Loaded image ID: " + img.config.str() + "\n"}});
                for (auto& ref : img.refs) {
                    std::string name = ref;
                    try {
                        name = oci::Reference::parse(ref).familiar();
                    } catch (const Error&) {
                    }
                    emit({{"stream", "Loaded image: " + name + "\n"}});
                }
            }
        });
}

Response api_iar_get(const ServiceContext& ctx, const Request& r) {
    std::vector<std::string> names;
    if (r.route.id == RouteId::image_get) {
        names.push_back(r.route.params.at("name"));
    } else {
        auto range = r.query_all.equal_range("names");
        for (auto it = range.first; it != range.second; ++it)
            if (!it->second.empty()) names.push_back(it->second);
        if (names.empty())
            throw ApiError(400, "GET /images/get needs names=IMAGE (repeated for more images)");
    }
    std::vector<oci::Platform> platforms; // API 1.48+, repeated for several (1.49)
    auto given = r.query_all.equal_range("platform");
    for (auto it = given.first; it != given.second; ++it)
        if (!it->second.empty()) platforms.push_back(query_platform(it->second));
    store::Store store(ctx.store_root);
    auto lock = store.writer_lock(); // `system prune` empties tmp/ under the exclusive one
    std::string tmpl = (store.tmp_dir() / "api-save-XXXXXX.tar").string();
    {
        Fd made(::mkostemps(tmpl.data(), 4, O_CLOEXEC));
        if (!made) throw_errno("cannot make a file in " + store.tmp_dir().string());
    }
    std::filesystem::path tmp = tmpl;
    try {
        // by ID: no names, as docker's daemon writes it
        archive::save(store, names, tmp, archive::SaveFormat::docker_archive, {}, platforms,
                      archive::IdNames::none);
    } catch (...) {
        ::unlink(tmp.c_str());
        throw;
    }
    Fd fd(::open(tmp.c_str(), O_RDONLY | O_CLOEXEC));
    ::unlink(tmp.c_str()); // the open file goes with the stream
    if (!fd) throw_errno("cannot open the archive written to " + tmp.string());
    Response res;
    res.content_type = "application/x-tar";
    res.stream = std::make_unique<FileStream>(std::move(fd));
    return res;
}

} // namespace

Response handle_image_archive(const ServiceContext& ctx, const Request& r) {
    if (r.route.id == RouteId::images_load) return api_iar_load(ctx, r);
    return api_iar_get(ctx, r);
}

} // namespace gantry::engine_api
