// The Engine API's request decoding, apart from any socket: the API version a path names, the
// route it matches, docker's query values (booleans, numbers, the filters JSON) and the limits
// every request is held to. What fails here is an ApiError with docker's status code (400 for a
// malformed request), answered as docker's error JSON; the service keeps serving.
#pragma once

#include "oci/image.hpp"

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace gantry::engine_api {

// The API version served (what Debian 12's docker CLI 20.10 and docker-compose 1.29 speak;
// newer clients negotiate down to it) and the oldest accepted, as docker 20.10's daemon.
inline constexpr const char* kApiVersion = "1.41";
inline constexpr const char* kMinApiVersion = "1.12";

// The limits a request is held to (bytes): its header section (MHD's per-connection memory
// pool, which also holds the request line), its body, and a query value's decoded length.
inline constexpr std::size_t kMaxHeaderBytes = 64 * 1024;
inline constexpr std::size_t kMaxBodyBytes = 1024 * 1024;
inline constexpr std::size_t kMaxQueryValueBytes = 16 * 1024;
// The bodies that are uploads (an image archive to load, a build context, a tar to extract in a
// container): spooled to a file in the store's tmp/ as they arrive, never held in memory, up to
// this many bytes for the route (0: not an upload; its body is held to kMaxBodyBytes). Over it:
// 413, naming the bound.
inline constexpr std::uint64_t kMaxBuildContextBytes = 2ull << 30;
inline constexpr std::uint64_t kMaxUploadBytes = 64ull << 30;

// A failure answered with STATUS and docker's {"message": MESSAGE}.
class ApiError : public std::runtime_error {
  public:
    ApiError(int status, const std::string& message)
        : std::runtime_error(message), status_(status) {}
    int status() const noexcept { return status_; }

  private:
    int status_;
};

// A request path split into the version it names ("/v1.41/info": "1.41"; none: "") and the
// rest ("/info"). A version that is not N.N, newer than kApiVersion or older than
// kMinApiVersion is ApiError(400) in docker's words.
struct Target {
    std::string version, path;
};
Target split_version(std::string_view path);

// The routes the service knows, by method and path pattern; {name} is one path segment,
// {name*} the rest of the path up to the pattern's literal tail (an image name has slashes:
// "/images/{name*}/json" matches "/images/docker.io/library/busybox:latest/json").
enum class RouteId {
    ping,
    version,
    info,
    events,
    containers_list,
    containers_prune,
    container_inspect,
    container_logs,
    container_stop,
    container_kill,
    container_pause,
    container_unpause,
    container_wait,
    container_delete,
    container_top,
    container_stats,
    container_create,
    container_start,
    container_restart,
    container_rename,
    container_resize,
    container_attach,
    container_changes,
    commit,
    exec_create,
    exec_start,
    exec_inspect,
    exec_resize,
    images_list,
    image_inspect,
    image_history,
    image_delete,
    image_tag,
    networks_list,
    network_inspect,
    network_create,
    network_delete,
    network_connect,
    network_disconnect,
    networks_prune,
    volumes_list,
    image_create,
    image_push,
    images_load,
    images_get,
    image_get,
    build,
    archive_get,
    archive_head,
    archive_put,
    volume_create,
    volume_inspect,
    volume_delete,
    volumes_prune,
    not_yet,  // an endpoint of the API this landing does not serve yet: 501 naming it
    not_found // no endpoint of the API: 404 naming it
};
struct Route {
    RouteId id = RouteId::not_found;
    std::map<std::string, std::string> params; // {name} -> the segment it matched
    std::string endpoint;                      // "POST /containers/{id}/stop", for messages
};
// METHOD and PATH (unversioned, as split_version leaves it; already percent-decoded). HEAD is
// served as GET for /_ping only.
Route match_route(std::string_view method, std::string_view path);

// The most bytes ID's body may upload (kMaxBuildContextBytes for build, kMaxUploadBytes for
// load and archive PUT), 0 when its body is no upload; and the words of a 413 for it.
std::uint64_t upload_limit(RouteId id);
std::string upload_too_big(RouteId id);

// The request's target as the client sent it (URI_RAW, before percent-decoding): a raw NUL
// byte anywhere in it, or a %00 in its path, is ApiError(400) before any routing, since the
// decoded path would be cut at it and routed on its prefix (a %00 in a query value is
// check_query_param's, naming the parameter).
void check_raw_target(std::string_view uri_raw);
// A decoded query parameter KEY=VALUE (their full bytes): a NUL byte in either is ApiError(400)
// naming the parameter (a value cut at it would be a different value).
void check_query_param(std::string_view key, std::string_view value);

// docker's boolean query values (moby's httputils.BoolValue): "", "0", "false", "False", "no",
// "none" are false; anything else is true.
bool query_bool(const std::string& value);
// A non-negative integer query value, or ApiError(400) naming NAME.
long long query_int(const std::string& name, const std::string& value);
// A terminal's size, h or w of the resize endpoints: a winsize field (an unsigned short), 0 to
// 65535; anything else ("" too: docker's strconv.Atoi refuses it) is ApiError(400) naming NAME,
// never a size cut down.
unsigned short query_winsize(const std::string& name, const std::string& value);
// docker's timestamp query values (since/until of events, logs): Unix seconds with an optional
// fraction, in nanoseconds; ApiError(400) naming NAME otherwise.
long long query_time_nanos(const std::string& name, const std::string& value);

// docker's platform query value of the image endpoints (API 1.48+: a JSON OCI platform,
// {"os":"linux","architecture":"arm64","variant":"v8"}), or OS/ARCH[/VARIANT] as the other
// endpoints take it; ApiError(400) naming the parameter otherwise.
oci::Platform query_platform(const std::string& value);

// docker's filters query value as its clients encode it ({"label": {"a=b": true}}, or the older
// {"label": ["a=b"]}), as the KEY=VALUE words docker_model's filters take, keys sorted.
// Anything else is ApiError(400) in docker's words ("invalid filter ...").
std::vector<std::string> filter_words(const std::string& json_text);

} // namespace gantry::engine_api
