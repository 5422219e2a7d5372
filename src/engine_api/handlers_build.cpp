// The Engine API's POST /build: the tar context (the body, spooled to the store's tmp/, at most
// kMaxBuildContextBytes) extracted as `gantry cp` extracts a tar (engine/copy_tree.hpp: names
// through a link, absolute names and ".." refused), then built by `gantry build` re-executed as a
// helper (its steps fork, which the service's threads must not), its output answered as docker's
// JSON stream ({"stream": LINE}) and the image's ID as {"aux": {"ID": ...}}. The query is
// decoded by build_query (decode.hpp): what gantry does not honour is a 400 naming it.
#include "engine/copy_tree.hpp"
#include "engine_api/decode.hpp"
#include "engine_api/helper.hpp"
#include "engine_api/job_stream.hpp"
#include "store/store.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/lock.hpp"

#include <cerrno>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace gantry::engine_api {

namespace {

// A directory in the store's tmp/ removed with what is in it when the build ends.
struct ApiBldScratch {
    std::filesystem::path dir;
    explicit ApiBldScratch(const std::filesystem::path& tmp) {
        std::string t = (tmp / "api-build-XXXXXX").string();
        if (!::mkdtemp(t.data())) throw_errno("cannot make a directory in " + tmp.string());
        dir = t;
    }
    ~ApiBldScratch() {
        try {
            fs::remove_tree(dir);
        } catch (...) {
        }
    }
    ApiBldScratch(const ApiBldScratch&) = delete;
    ApiBldScratch& operator=(const ApiBldScratch&) = delete;
};

// The Dockerfile's path in the context: relative, no "..", a regular file (not a link).
std::filesystem::path api_bld_dockerfile(const std::filesystem::path& ctx,
                                         const std::string& name) {
    std::filesystem::path p(name);
    if (p.is_absolute())
        throw ApiError(400, "dockerfile " + name +
                                " is absolute: name the Dockerfile's path in "
                                "the context (e.g. Dockerfile, docker/Dockerfile)");
    for (auto& part : p)
        if (part == "..")
            throw ApiError(400, "dockerfile " + name +
                                    " leaves the context (..): name a path in "
                                    "it");
    auto full = ctx / p;
    struct stat st {};
    if (::lstat(full.c_str(), &st) != 0)
        throw ApiError(400, "Cannot locate specified Dockerfile: " + name +
                                " (the context sent has no such file)");
    if (!S_ISREG(st.st_mode))
        throw ApiError(400, "the Dockerfile " + name +
                                " in the context is not a regular file "
                                "(a symbolic link is not followed)");
    return full;
}

} // namespace

Response handle_build(const ServiceContext& ctx, const Request& r) {
    auto q = build_query(r.query_all); // a parameter not honoured: 400 before any work
    auto cfg = r.headers.find("x-registry-config");
    std::string authfile = registry_config_authfile(cfg == r.headers.end() ? "" : cfg->second);
    if (r.upload.empty())
        throw ApiError(400, "POST /build needs the build context as a tar body (docker build "
                            "sends it; a remote context is not served)");
    // the store's writer lock while the context is in tmp/: `system prune` empties tmp/ under
    // the exclusive one
    auto lock = std::make_shared<FileLock>(store::Store(ctx.store_root).writer_lock());
    auto scratch = std::make_shared<ApiBldScratch>(std::filesystem::path(ctx.store_root) / "tmp");
    auto context = scratch->dir / "context";
    fs::make_dirs(context, 0700);
    {
        Fd in(::open(r.upload.c_str(), O_RDONLY | O_CLOEXEC));
        if (!in) throw_errno("cannot open the uploaded context " + r.upload.string());
        Fd dir(::open(context.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        if (!dir) throw_errno("cannot open " + context.string());
        try {
            engine::extract_tar_into(in.get(), dir.get(), "the build context");
        } catch (const Error& e) {
            throw ApiError(400,
                           "the build context is not a tar gantry extracts: " + api_error_text(e));
        }
    }
    auto dockerfile = api_bld_dockerfile(context, q.dockerfile);
    auto iidfile = scratch->dir / "iid";
    std::vector<std::string> args{
        fs::self_exe(), "--root",    ctx.store_root,   "build", "--progress",
        "plain",        "--iidfile", iidfile.string(), "-f",    dockerfile.string()};
    for (auto& t : q.tags) args.insert(args.end(), {"-t", t});
    for (auto& [k, v] : q.build_args) args.insert(args.end(), {"--build-arg", k + "=" + v});
    for (auto& [k, v] : q.labels) args.insert(args.end(), {"--label", k + "=" + v});
    if (!q.target.empty()) args.insert(args.end(), {"--target", q.target});
    if (!q.platform.empty()) args.insert(args.end(), {"--platform", q.platform});
    if (q.no_cache) args.push_back("--no-cache");
    if (q.pull) args.push_back("--pull");
    if (!authfile.empty()) { // the client's credentials for FROM's registries, its own
        auto file = scratch->dir / "auth.json";
        fs::write_atomic(file, authfile, 0600, fs::Sync::volatile_only);
        args.insert(args.end(), {"--authfile", file.string()});
    }
    args.push_back("--");
    args.push_back(context.string());
    const bool quiet = q.quiet;
    return job_response([args, quiet, scratch, iidfile, lock](const JobStream::Emit& emit) {
        auto h = spawn_helper(args, -1, HelperOut::pipe_both);
        std::string line, tail;
        char buf[8192];
        for (;;) {
            ssize_t n = ::read(h.out.get(), buf, sizeof buf);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) break;
            for (ssize_t i = 0; i < n; ++i) {
                line += buf[i];
                if (buf[i] != '\n' && line.size() < 64 * 1024) continue;
                if (!quiet) emit({{"stream", line}});
                tail = line;
                line.clear();
            }
        }
        if (!line.empty()) {
            if (!quiet) emit({{"stream", line + "\n"}});
            tail = line;
        }
        try {
            wait_helper(h);
        } catch (const Error&) {
            while (!tail.empty() && (tail.back() == '\n' || tail.back() == ' ')) tail.pop_back();
            if (tail.starts_with("gantry: ")) tail.erase(0, 8);
            throw Error(Errc::invalid, tail.empty() ? "the build failed" : tail);
        }
        auto id = fs::read_file(iidfile, 4096);
        while (!id.empty() && (id.back() == '\n' || id.back() == ' ')) id.pop_back();
        emit({{"aux", {{"ID", id}}}});
        if (quiet) emit({{"stream", id + "\n"}});
    });
}

} // namespace gantry::engine_api
