// The Engine API's registry transfers: POST /images/create (pull) and POST /images/{name}/push,
// through registry::pull and registry::push as `gantry pull` and `gantry push` call them (push
// after the same licence check, analyze::check_push_licences), their
// per-layer progress (registry/progress.hpp's observer) answered as docker's JSON message
// stream. The client's X-Registry-Auth is the credentials of that one transfer; without it the
// service's user's auth files are read, as the CLI reads them.
#include "analyze/licence_check.hpp"
#include "engine_api/decode.hpp"
#include "engine_api/job_stream.hpp"
#include "engine_api/spawn.hpp"
#include "oci/reference.hpp"
#include "registry/pull.hpp"
#include "registry/push.hpp"
#include "store/images.hpp"
#include "store/platforms.hpp"
#include "util/error.hpp"
#include "util/identity.hpp"

namespace gantry::engine_api {

namespace {

// "sha256:ab12cd34ef56" (a Progress label) as docker's short layer id "ab12cd34ef56"
std::string api_xfer_id(const std::string& label) {
    auto colon = label.find(':');
    return colon == std::string::npos ? label : label.substr(colon + 1);
}

std::string api_xfer_bar(std::int64_t current, std::int64_t total) {
    constexpr int width = 50;
    int fill = total > 0 ? static_cast<int>(width * std::min(current, total) / total) : 0;
    std::string bar(static_cast<std::size_t>(fill), '=');
    if (fill < width) bar += '>';
    bar.resize(width, ' ');
    return "[" + bar + "]  " + registry::human_bytes(current) + "/" + registry::human_bytes(total);
}

registry::ClientOptions api_xfer_client(const Request& r) {
    registry::ClientOptions o;
    auto it = r.headers.find("x-registry-auth");
    if (it == r.headers.end()) return o;
    if (auto a = registry_auth(it->second)) {
        registry::Credentials c;
        if (!a->identity_token.empty()) {
            c.username = "<token>";
            c.password = a->identity_token;
            c.identity_token = true;
        } else {
            c.username = a->username;
            c.password = a->password;
        }
        c.source = "the X-Registry-Auth header";
        o.creds = c;
    }
    return o;
}

// docker's lines for a pull's layers
registry::ProgressObserver api_xfer_pull_observer(const JobStream::Emit& emit) {
    return [emit](const registry::ProgressEvent& e) {
        using K = registry::ProgressEvent::Kind;
        json line{{"progressDetail", json::object()}, {"id", api_xfer_id(e.label)}};
        switch (e.kind) {
        case K::added:
            line["status"] = "Pulling fs layer";
            break;
        case K::started:
            line["status"] = "Waiting";
            break;
        case K::advanced:
            line["status"] = "Downloading";
            line["progressDetail"] = {{"current", e.current}, {"total", e.total}};
            line["progress"] = api_xfer_bar(e.current, e.total);
            break;
        case K::finished:
            if (e.state == registry::ProgressState::skipped) {
                line["status"] = "Already exists";
            } else if (e.state == registry::ProgressState::done) {
                line["status"] = "Download complete";
                emit(line);
                line["status"] = "Pull complete";
            } else {
                return; // the error line follows
            }
            break;
        }
        emit(line);
    };
}

registry::ProgressObserver api_xfer_push_observer(const JobStream::Emit& emit) {
    return [emit](const registry::ProgressEvent& e) {
        using K = registry::ProgressEvent::Kind;
        json line{{"progressDetail", json::object()}, {"id", api_xfer_id(e.label)}};
        switch (e.kind) {
        case K::added:
            line["status"] = "Preparing";
            break;
        case K::started:
            line["status"] = "Waiting";
            break;
        case K::advanced:
            line["status"] = "Pushing";
            line["progressDetail"] = {{"current", e.current}, {"total", e.total}};
            line["progress"] = api_xfer_bar(e.current, e.total);
            break;
        case K::finished:
            if (e.state == registry::ProgressState::skipped)
                line["status"] = e.note.rfind("mounted from ", 0) == 0
                                     ? "Mounted from " + e.note.substr(13)
                                     : std::string("Layer already exists");
            else if (e.state == registry::ProgressState::done)
                line["status"] = "Pushed";
            else
                return;
            break;
        }
        emit(line);
    };
}

// POST /images/create?fromSrc=: docker's import, `gantry import` in a helper (the importer
// unpacks the layer, which forks): fromSrc - (the request body, spooled) or an http(s) URL
// (gantry import fetches it), repo and tag naming the image (repo is required: gantry import
// makes no untagged image), changes (repeatable: import's --change), message, platform.
// docker's answer: the JSON line {"status": "sha256:ID"}.
Response api_xfer_import(const ServiceContext& ctx, const Request& r) {
    const std::string& src = r.arg("fromSrc");
    if (!r.arg("fromImage").empty())
        throw ApiError(400, "fromImage (a pull) and fromSrc (an import) cannot go together");
    const std::string& repo = r.arg("repo");
    if (repo.empty())
        throw ApiError(400, "an import needs repo, the image's name: gantry import makes no "
                            "untagged image (docker import TAR NAME[:TAG])");
    std::string source;
    if (src == "-") {
        if (r.upload.empty())
            throw ApiError(400, "fromSrc=- imports the request body, and there is none");
        source = r.upload.string();
    } else if (src.starts_with("http://") || src.starts_with("https://")) {
        source = src;
    } else {
        throw ApiError(400, "fromSrc \"" + src +
                                "\": give - (the tar as the request body) or an http(s) URL");
    }
    std::vector<std::string> args = {"import", source,
                                     r.arg("tag").empty() ? repo : repo + ":" + r.arg("tag")};
    auto changes = r.query_all.equal_range("changes");
    for (auto it = changes.first; it != changes.second; ++it)
        if (!it->second.empty()) args.insert(args.end(), {"--change", it->second});
    if (!r.arg("message").empty()) args.insert(args.end(), {"--message", r.arg("message")});
    if (!r.arg("platform").empty()) args.insert(args.end(), {"--platform", r.arg("platform")});
    auto res = run_helper(ctx.store_root, args);
    if (res.status != 0) throw_helper_failure(res, "import");
    std::string id = res.out;
    while (!id.empty() && (id.back() == '\n' || id.back() == ' ')) id.pop_back();
    return json_response(200, {{"status", id}});
}

Response api_xfer_pull(const ServiceContext& ctx, const Request& r) {
    if (!r.arg("fromSrc").empty()) return api_xfer_import(ctx, r);
    for (const char* p : {"repo", "message"})
        if (!r.arg(p).empty())
            throw ApiError(400, std::string(p) + " goes with fromSrc (an import): leave it out "
                                                 "of a pull (fromImage)");
    if (r.query.count("changes"))
        throw ApiError(400, "changes goes with fromSrc (an import): leave it out of a pull "
                            "(fromImage)");
    std::string ref = pull_reference(r.arg("fromImage"), r.arg("tag"));
    registry::PullOptions po;
    po.client = api_xfer_client(r); // a bad header: 400 before the stream starts
    if (!r.arg("platform").empty()) po.platform = oci::Platform::parse(r.arg("platform"));
    po.quiet = true;
    po.privileged = running_as_real_root();
    auto parsed = oci::Reference::parse(ref); // a malformed name: 400 before the stream starts
    std::string root = ctx.store_root;
    return job_response([root, ref, parsed, po](const JobStream::Emit& emit) mutable {
        store::Store store(root);
        emit({{"status", "Pulling from " + parsed.path},
              {"id", parsed.digest.empty() ? parsed.tag_or_latest() : parsed.digest}});
        po.observer = api_xfer_pull_observer(emit);
        auto before = store.refs();
        auto res = registry::pull(store, ref, po);
        emit({{"status", "Digest: " + res.manifest.str()}});
        auto was = before.find(res.ref);
        bool same = was != before.end() && was->second == res.manifest;
        std::string name = oci::Reference::parse(res.ref).familiar();
        emit({{"status", std::string(same ? "Status: Image is up to date for "
                                          : "Status: Downloaded newer image for ") +
                             name}});
    });
}

Response api_xfer_push(const ServiceContext& ctx, const Request& r) {
    const std::string& name = r.route.params.at("name");
    std::string tag = r.arg("tag");
    registry::PushOptions po;
    po.client = api_xfer_client(r);
    po.quiet = true;
    // the local names pushed: NAME:TAG, or every tag of the repository NAME (docker's push
    // without a tag)
    std::vector<std::string> refs;
    std::string repo;
    {
        auto parsed = oci::Reference::parse(name);
        repo = parsed.repository();
        if (!tag.empty()) {
            refs.push_back(store::normalize(
                name + (tag.find(':') != std::string::npos ? "@" + tag : ":" + tag)));
        } else {
            for (auto& [ref, md] : store::Store(ctx.store_root).refs()) {
                try {
                    auto p = oci::Reference::parse(ref);
                    if (p.repository() == repo && !p.tag.empty()) refs.push_back(ref);
                } catch (const Error&) {
                }
            }
        }
        if (refs.empty() || !store::Store(ctx.store_root).refs().count(refs.front()))
            return error_response(404, "An image does not exist locally with the tag: " + name +
                                           (tag.empty() ? "" : ":" + tag));
    }
    // platform (API 1.46+, docker 28's push --platform): that platform's image alone
    std::optional<oci::Platform> platform;
    if (!r.arg("platform").empty()) {
        platform = query_platform(r.arg("platform"));
        store::Store store(ctx.store_root);
        for (auto& ref : refs) { // before the stream starts: a 404 naming what it holds
            try {
                (void)store::resolve_platform(store, ref, *platform);
            } catch (const Error& e) {
                if (e.code() != Errc::not_found) throw;
                return error_response(404, e.message());
            }
        }
    }
    std::string root = ctx.store_root;
    return job_response([root, refs, repo, po, platform](const JobStream::Emit& emit) mutable {
        store::Store store(root);
        emit({{"status", "The push refers to repository [" + repo + "]"}});
        po.observer = api_xfer_push_observer(emit);
        for (auto& ref : refs) {
            // the licence check `gantry push` runs, its mode the config file's for the registry
            auto said = analyze::check_push_licences(store, ref, "", std::nullopt);
            if (!said.empty()) emit({{"status", said}});
            if (platform) po.manifest = store::resolve_platform(store, ref, *platform);
            auto res = registry::push(store, ref, "", po);
            auto parsed = oci::Reference::parse(res.ref);
            auto size = res.manifest_size;
            emit({{"status", parsed.tag_or_latest() + ": digest: " + res.manifest.str() +
                                 " size: " + std::to_string(size)}});
            emit({{"progressDetail", json::object()},
                  {"aux",
                   {{"Tag", parsed.tag_or_latest()},
                    {"Digest", res.manifest.str()},
                    {"Size", size}}}});
        }
    });
}

} // namespace

Response handle_transfer(const ServiceContext& ctx, const Request& r) {
    if (r.route.id == RouteId::image_create) return api_xfer_pull(ctx, r);
    return api_xfer_push(ctx, r);
}

} // namespace gantry::engine_api
