// The Engine API's requests and responses apart from the HTTP library: what a handler reads
// (the method, the route, the query, the body) and what it answers (a status, a body, or a
// stream read as the client takes it). The handlers call the same library functions the CLI's
// commands call (runtime/, store/, docker_model/): the service is a front door, no daemon; the
// containers and the store never depend on it.
#pragma once

#include "engine_api/request.hpp"
#include "gpu_vendors/roots.hpp"
#include "store/store.hpp"

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <sys/types.h>
#include <vector>

namespace gantry::engine_api {

using json = nlohmann::json;

struct Request {
    std::string method, path; // path: unversioned (split_version)
    std::string version;      // the API version the path named ("" none)
    std::map<std::string, std::string> query;
    std::multimap<std::string, std::string> query_all; // every value of a repeated name (t)
    std::string body;
    // an upload's body (request.hpp's upload_limit): the file it was spooled to in the store's
    // tmp/ (removed when the request ends), "" for other routes
    std::filesystem::path upload;
    // the request headers the handlers read (X-Registry-Auth, X-Registry-Config, Content-Type),
    // by their lower-case names
    std::map<std::string, std::string> headers;
    Route route;
    // the client's process where the socket says (SO_PEERCRED on a unix socket; 0 on TCP, for a
    // client in a PID namespace that hides it, and for the TLS front's own connections)
    pid_t client_pid = 0;
    // the query value NAME, "" when absent
    const std::string& arg(const std::string& name) const;
};

// A response body produced as the client reads it (logs -f, events). read() fills at most MAX
// bytes of BUF, blocking until some are ready; returns 0 at the end. GONE() says whether the
// client hung up, for a read that waits.
class Stream {
  public:
    virtual ~Stream() = default;
    virtual std::size_t read(char* buf, std::size_t max, const std::function<bool()>& gone) = 0;
};

// A connection taken over (attach, exec start: docker's hijack): after the 101 Switching
// Protocols answer, run() owns the socket SOCK (blocking) and is given the bytes the HTTP layer
// had read past the request; the connection closes when it returns. Destroyed unrun when the
// request did not ask for the upgrade (Upgrade: tcp) and was refused.
class Hijack {
  public:
    virtual ~Hijack() = default;
    virtual void run(int sock, std::string early) = 0;
};

struct Response {
    int status = 200;
    std::string content_type = "application/json";
    std::string body;
    std::unique_ptr<Stream> stream; // set: the body is this stream (chunked)
    std::map<std::string, std::string> headers;
    std::unique_ptr<Hijack> hijack; // set: answered 101 and handed the connection
};

// A JSON answer, and docker's error answer {"message": MESSAGE}.
Response json_response(int status, const json& body);
Response error_response(int status, const std::string& message);

// What the handlers share: the store the service serves (the CLI's, as --root names it).
struct ServiceContext {
    store::Store* store = nullptr;
    std::string store_root, version;
    std::vector<std::string> image_stores;
    // where the GPU host is (the service's --driver-root, --dev-root, --sys-root, ...) and the
    // CDI spec directories it adds (--cdi-spec-dir): every container it creates gets them, as
    // `gantry run` gets its own flags
    gpu_vendors::Roots gpu_roots;
    std::vector<std::string> cdi_dirs;
};

// Answers REQUEST (its route matched): the handler's answer, or the error JSON for an ApiError
// or a gantry Error (docker's status for its kind: not found 404, conflict 409, usage and
// invalid 400, unsupported 501, the rest 500). Never throws.
Response dispatch(const ServiceContext& ctx, Request& request);

// The handlers by area (handlers_*.cpp).
Response handle_system(const ServiceContext& ctx, const Request& r);
Response handle_containers(const ServiceContext& ctx, const Request& r);
Response handle_images(const ServiceContext& ctx, const Request& r);
Response handle_transfer(const ServiceContext& ctx, const Request& r);      // pull, push
Response handle_image_archive(const ServiceContext& ctx, const Request& r); // load, get
Response handle_build(const ServiceContext& ctx, const Request& r);
Response handle_archive(const ServiceContext& ctx, const Request& r); // containers' archive
Response handle_volumes(const ServiceContext& ctx, const Request& r);
Response handle_networks(const ServiceContext& ctx, const Request& r);
Response handle_stats(const ServiceContext& ctx, const Request& r); // containers' stats
// create, start, restart, rename, resize, attach (handlers_lifecycle.cpp)
Response handle_lifecycle(const ServiceContext& ctx, const Request& r);
// exec create, start, inspect, resize (handlers_exec.cpp)
Response handle_exec(const ServiceContext& ctx, const Request& r);

} // namespace gantry::engine_api
