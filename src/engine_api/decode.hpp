// The Engine API's decoding of what the image, build, archive and volume endpoints take, apart
// from any socket or store: the X-Registry-Auth header, the reference a pull names, the build's
// query (buildargs, labels, the parameters gantry does not honour), a volume's create body and
// the X-Docker-Container-Path-Stat header. What fails is ApiError(400) naming the value.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace gantry::engine_api {

// docker's X-Registry-Auth: base64url (or plain base64) of {"username", "password",
// "serveraddress"} or {"identitytoken"}. Empty, or "{}" (what the docker CLI sends without a
// login): nothing.
struct RegistryAuth {
    std::string username, password, identity_token, server;
};
std::optional<RegistryAuth> registry_auth(const std::string& header);

// docker's X-Registry-Config (POST /build: every registry the client has credentials for,
// base64url of {"REGISTRY": {"username", "password"} or {"auth"} or {"identitytoken"}}) as the
// text of a docker config.json that gantry build's --authfile reads ({"auths": {...}}); ""
// when it names none. Malformed: ApiError(400).
std::string registry_config_authfile(const std::string& header);

// The reference POST /images/create?fromImage=&tag= names: TAG a tag (":TAG") or a digest
// ("@sha256:..."); none: FROM as it is.
std::string pull_reference(const std::string& from, const std::string& tag);

// POST /build's query (its repeated t: every value, in order).
struct BuildQuery {
    std::vector<std::string> tags;
    std::string dockerfile = "Dockerfile", target;
    std::string platform; // gantry build's --platform ("": the host's)
    std::map<std::string, std::string> build_args, labels;
    bool no_cache = false, pull = false, quiet = false;
};
// QUERY: every name with its values as sent. A parameter gantry does not honour with a value
// other than docker's default is ApiError(400) naming it; buildargs and labels must be JSON
// objects of strings (a null build arg: the variable from the environment, refused).
BuildQuery build_query(const std::multimap<std::string, std::string>& query);

// POST /volumes/create's body: {"Name", "Driver", "DriverOpts", "Labels"}. A driver other than
// local, or driver options, are ApiError(400) naming them; a name that is not docker's
// [a-zA-Z0-9][a-zA-Z0-9_.-]+ is ApiError(400). An empty name: one is made up by the caller.
struct VolumeSpec {
    std::string name;
    std::map<std::string, std::string> labels;
};
VolumeSpec volume_spec(const std::string& body);

// X-Docker-Container-Path-Stat: base64 of {"name", "size", "mode" (Go's os.FileMode bits),
// "mtime" (RFC 3339), "linkTarget"}.
struct PathStat {
    std::string name, link_target;
    std::int64_t size = 0;
    std::uint32_t mode = 0;    // st_mode
    std::int64_t mtime_ns = 0; // since the epoch
};
std::string path_stat_header(const PathStat& s);
// The first entry of a tar stream's start HEAD (pax 'x' and GNU 'L'/'K' headers applied) as the
// stat of the path it was written from: its name's last component, size, mode (type bits from
// the entry's type), mtime, link target. Nothing while HEAD is too short to hold it;
// ApiError(500) when HEAD is not a tar.
std::optional<PathStat> tar_first_entry(const std::string& head);
// st_mode as Go's os.FileMode (the type bits docker's client reads: dir, symlink, ...).
std::uint32_t go_file_mode(std::uint32_t st_mode);

} // namespace gantry::engine_api
