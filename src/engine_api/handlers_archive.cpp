// The Engine API's container archive (docker cp): GET, HEAD and PUT /containers/{id}/archive.
// The copy is `gantry cp`'s (engine/copy.hpp): run in a helper process, gantry itself re-executed
// as `gantry --root ROOT cp CONTAINER:PATH -` (the tar out) or `gantry --root ROOT cp -
// CONTAINER:DIR` (the tar in, the uploaded body on its stdin), because a stopped container's
// root is mounted in a forked child (engine/stopped_root.hpp), which the service's threads must
// not fork. The X-Docker-Container-Path-Stat header is the tar stream's first entry (the path
// itself, as cp writes it). Hostile entries are refused by cp's extraction, as on the CLI.
#include "engine_api/decode.hpp"
#include "engine_api/helper.hpp"
#include "engine_api/job_stream.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"
#include "util/fs.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>

namespace gantry::engine_api {

namespace {

// The rest of a GET's tar: what was read for the stat first, then the helper's pipe.
class ApiArcStream : public Stream {
  public:
    ApiArcStream(HelperProcess h, std::string head) : h_(std::move(h)), head_(std::move(head)) {}
    ~ApiArcStream() override { kill_helper(h_); }
    std::size_t read(char* buf, std::size_t max, const std::function<bool()>&) override {
        if (!head_.empty()) {
            std::size_t n = std::min(max, head_.size());
            std::memcpy(buf, head_.data(), n);
            head_.erase(0, n);
            return n;
        }
        for (;;) {
            ssize_t n = ::read(h_.out.get(), buf, max);
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) throw_errno("cannot read the copy helper's output");
            if (n == 0 && h_.pid > 0) wait_helper(h_); // a failure half-way: the stream breaks
            return static_cast<std::size_t>(n);
        }
    }

  private:
    HelperProcess h_;
    std::string head_;
};

std::vector<std::string> api_arc_args(const ServiceContext& ctx, const std::string& from,
                                      const std::string& to) {
    return {fs::self_exe(), "--root", ctx.store_root, "cp", from, to};
}

Response api_arc_out(const ServiceContext& ctx, const Request& r, const std::string& id,
                     const std::string& path) {
    auto h = spawn_helper(api_arc_args(ctx, id + ":" + path, "-"), -1, HelperOut::pipe);
    std::string head;
    std::optional<PathStat> stat;
    char buf[16384];
    try {
        while (!stat) {
            ssize_t n = ::read(h.out.get(), buf, sizeof buf);
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) throw_errno("cannot read the copy helper's output");
            if (n == 0) {
                wait_helper(h); // its error: not found is docker's 404
                throw ApiError(500, "internal error: the copy helper wrote no tar stream");
            }
            head.append(buf, static_cast<std::size_t>(n));
            stat = tar_first_entry(head);
        }
    } catch (const Error& e) {
        kill_helper(h);
        if (e.code() == Errc::not_found)
            throw ApiError(404, "Could not find the file " + path + " in container " + id + ": " +
                                    e.message());
        throw;
    } catch (...) {
        kill_helper(h);
        throw;
    }
    Response res;
    res.headers["X-Docker-Container-Path-Stat"] = path_stat_header(*stat);
    if (r.route.id == RouteId::archive_head) {
        kill_helper(h);
        res.content_type.clear();
        return res;
    }
    res.content_type = "application/x-tar";
    res.stream = std::make_unique<ApiArcStream>(std::move(h), std::move(head));
    return res;
}

Response api_arc_in(const ServiceContext& ctx, const Request& r, const std::string& id,
                    const std::string& path) {
    if (query_bool(r.arg("copyUIDGID")))
        throw ApiError(400, "copyUIDGID=1 (docker cp -a: the archive's owners kept) is not "
                            "honoured: gantry cp writes files as the service's user (root "
                            "inside a rootless container)");
    // noOverwriteDirNonDir: gantry's extraction never replaces a directory by a non-directory,
    // nor the reverse (a 409 names the entry), whatever the client asks
    if (r.upload.empty())
        throw ApiError(400, "PUT /containers/{id}/archive needs the tar stream as its body");
    Fd in(::open(r.upload.c_str(), O_RDONLY | O_CLOEXEC));
    if (!in) throw_errno("cannot open the uploaded archive " + r.upload.string());
    auto h = spawn_helper(api_arc_args(ctx, "-", id + ":" + path), in.get(), HelperOut::none);
    try {
        wait_helper(h);
    } catch (const Error& e) {
        if (e.code() == Errc::not_found)
            throw ApiError(404, "Could not find the file " + path + " in container " + id + ": " +
                                    e.message());
        if (e.code() == Errc::invalid) throw ApiError(400, e.message());
        throw;
    }
    return Response{200, "", "", nullptr, {}};
}

} // namespace

Response handle_archive(const ServiceContext& ctx, const Request& r) {
    const std::string& id = r.route.params.at("id");
    const std::string& path = r.arg("path");
    if (path.empty()) throw ApiError(400, "path is required: the path in the container");
    if (id.find(':') != std::string::npos || id.empty() || id.front() == '-')
        throw ApiError(400, "invalid container name " + id);
    if (r.route.id == RouteId::archive_put) return api_arc_in(ctx, r, id, path);
    return api_arc_out(ctx, r, id, path);
}

} // namespace gantry::engine_api
