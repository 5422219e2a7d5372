#include "engine_api/decode.hpp"

#include "engine_api/request.hpp"
#include "store/volumes.hpp"
#include "util/nettle.hpp"
#include "util/text.hpp"

#include <climits>
#include <cstdint>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <sys/stat.h>

namespace gantry::engine_api {

namespace {

using njson = nlohmann::json;

// base64url or base64, padded or not
std::optional<std::string> api_dec_base64(std::string s) {
    for (auto& c : s) {
        if (c == '-') c = '+';
        if (c == '_') c = '/';
    }
    while (s.size() % 4) s += '=';
    return nettle::base64_decode(s);
}

std::map<std::string, std::string> api_dec_string_map(const std::string& name,
                                                      const std::string& text, bool nulls_refused) {
    std::map<std::string, std::string> out;
    if (text.empty()) return out;
    njson j = njson::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_object())
        throw ApiError(400, "invalid value for " + name + ": not a JSON object of strings");
    for (auto& [k, v] : j.items()) {
        if (v.is_null() && nulls_refused)
            throw ApiError(400, "invalid value for " + name + ": \"" + k +
                                    "\" has no value (null: take it from the environment), "
                                    "which gantry's build does not do: give the value");
        if (!v.is_string())
            throw ApiError(400, "invalid value for " + name + ": the value of \"" + k +
                                    "\" is not a string");
        out[k] = v.get<std::string>();
    }
    return out;
}

} // namespace

std::optional<RegistryAuth> registry_auth(const std::string& header) {
    if (header.empty()) return std::nullopt;
    auto text = api_dec_base64(header);
    njson j = text ? njson::parse(*text, nullptr, false) : njson();
    if (!text || j.is_discarded() || !j.is_object())
        throw ApiError(400, "the X-Registry-Auth header is not base64 of a JSON object "
                            "({\"username\": ..., \"password\": ...}, as docker sends it)");
    RegistryAuth a;
    auto field = [&](const char* k) {
        auto it = j.find(k);
        if (it == j.end() || it->is_null()) return std::string();
        if (!it->is_string())
            throw ApiError(400,
                           std::string("the X-Registry-Auth header's ") + k + " is not a string");
        return it->get<std::string>();
    };
    a.username = field("username");
    a.password = field("password");
    a.identity_token = field("identitytoken");
    a.server = field("serveraddress");
    if (!field("registrytoken").empty())
        throw ApiError(400, "the X-Registry-Auth header's registrytoken (a bearer token) is "
                            "not used by gantry: give username and password, or an "
                            "identitytoken");
    if (a.username.empty() && a.identity_token.empty()) {
        if (!a.password.empty())
            throw ApiError(400, "the X-Registry-Auth header has a password but no username");
        return std::nullopt;
    }
    return a;
}

std::string registry_config_authfile(const std::string& header) {
    if (header.empty()) return "";
    auto text = api_dec_base64(header);
    njson j = text ? njson::parse(*text, nullptr, false) : njson();
    if (!text || j.is_discarded() || !j.is_object())
        throw ApiError(400, "the X-Registry-Config header is not base64 of a JSON object "
                            "({\"REGISTRY\": {\"username\": ..., \"password\": ...}})");
    njson auths = njson::object();
    for (auto& item : j.items()) {
        const std::string& reg = item.key(); // named: clang 14 lambdas take no bindings
        const njson& c = item.value();
        if (!c.is_object())
            throw ApiError(400,
                           "the X-Registry-Config header's entry for " + reg + " is not an object");
        auto str = [&](const char* k) {
            auto it = c.find(k);
            if (it == c.end() || it->is_null()) return std::string();
            if (!it->is_string())
                throw ApiError(400, "the X-Registry-Config header's " + std::string(k) + " for " +
                                        reg + " is not a string");
            return it->get<std::string>();
        };
        njson entry = njson::object();
        auto user = str("username"), pass = str("password"), auth = str("auth"),
             token = str("identitytoken");
        if (!user.empty())
            entry["auth"] = nettle::base64_encode(user + ":" + pass);
        else if (!auth.empty())
            entry["auth"] = auth;
        if (!token.empty()) entry["identitytoken"] = token;
        if (!entry.empty()) auths[reg] = entry;
    }
    if (auths.empty()) return "";
    return njson{{"auths", auths}}.dump();
}

std::string pull_reference(const std::string& from, const std::string& tag) {
    if (from.empty())
        throw ApiError(400, "POST /images/create needs fromImage (the image to pull) or "
                            "fromSrc (an image to import)");
    if (tag.empty()) return from;
    if (tag.find(':') != std::string::npos) return from + "@" + tag; // a digest
    return from + ":" + tag;
}

BuildQuery build_query(const std::multimap<std::string, std::string>& query) {
    BuildQuery q;
    for (auto& [k, v] : query) {
        if (k == "t") {
            if (!v.empty()) q.tags.push_back(v);
        } else if (k == "dockerfile") {
            if (!v.empty()) q.dockerfile = v;
        } else if (k == "target") {
            q.target = v;
        } else if (k == "buildargs") {
            q.build_args = api_dec_string_map("buildargs", v, true);
        } else if (k == "labels") {
            q.labels = api_dec_string_map("labels", v, false);
        } else if (k == "nocache") {
            q.no_cache = query_bool(v);
        } else if (k == "pull") {
            q.pull = query_bool(v);
        } else if (k == "q") {
            q.quiet = query_bool(v);
        } else if (k == "rm") {
            // intermediate containers: gantry's build, as BuildKit's, has none, so neither
            // removing them (rm's default) nor keeping them (rm=0, docker-py's default) changes
            // anything: every value is accepted
        } else if (k == "forcerm") {
            // removing them even after a failure: what gantry does anyway
        } else if (k == "version") {
            if (v != "1" && !v.empty())
                throw ApiError(400, "version=" + v +
                                        " (BuildKit's session protocol) is not "
                                        "served: build with DOCKER_BUILDKIT=0 over the API, or run "
                                        "gantry build");
        } else if (k == "networkmode") {
            if (!v.empty() && v != "default" && v != "host")
                throw ApiError(400, "networkmode=" + v +
                                        " is not honoured: gantry's build "
                                        "runs its steps on the host's network");
        } else if (k == "platform") {
            q.platform = v;
        } else if (k == "extrahosts" || k == "remote" || k == "cachefrom" || k == "shmsize" ||
                   k == "squash" || k == "memory" || k == "memswap" || k == "cpushares" ||
                   k == "cpusetcpus" || k == "cpuperiod" || k == "cpuquota" || k == "ulimits" ||
                   k == "outputs" || k == "isolation" || k == "session" || k == "cgroupparent" ||
                   k == "cpusetmems" || k == "buildid") {
            // docker's defaults, as its CLI sends them when no flag asked otherwise
            bool is_default = v.empty() || v == "0" || v == "false" || v == "[]" || v == "null" ||
                              v == "{}" || (k == "isolation" && v == "default");
            if (!is_default)
                throw ApiError(400, k + "=" + v +
                                        " is not honoured by gantry's build over the "
                                        "Engine API: leave it out, or run gantry build");
        } else {
            throw ApiError(400, "the build parameter " + k +
                                    " is not known to gantry's "
                                    "Engine API: leave it out");
        }
    }
    return q;
}

VolumeSpec volume_spec(const std::string& body) {
    VolumeSpec s;
    if (body.empty()) return s;
    njson j = njson::parse(body, nullptr, false);
    if (j.is_discarded() || !j.is_object())
        throw ApiError(400, "the volume's create body is not a JSON object");
    for (auto& [k, v] : j.items()) {
        if (k == "Name") {
            if (!v.is_string() && !v.is_null())
                throw ApiError(400, "the volume's Name is not a string");
            if (v.is_string()) s.name = v.get<std::string>();
        } else if (k == "Driver") {
            if (!v.is_null() && (!v.is_string() || (v != "" && v != "local")))
                throw ApiError(400, "the volume driver " + v.dump() +
                                        " is not served: gantry has the local driver only "
                                        "(a directory per volume)");
        } else if (k == "DriverOpts") {
            if (!v.is_null() && !(v.is_object() && v.empty()))
                throw ApiError(400, "the local driver's options (DriverOpts: type, device, o) "
                                    "are not honoured: gantry's volumes are plain directories, "
                                    "nothing is mounted");
        } else if (k == "Labels") {
            if (v.is_null()) continue;
            s.labels = api_dec_string_map("Labels", v.dump(), false);
        } else if (k == "ClusterVolumeSpec") {
            if (!v.is_null())
                throw ApiError(400, "ClusterVolumeSpec (swarm) is not served by gantry");
        } else {
            throw ApiError(400, "the volume's create body has " + k +
                                    ", which gantry does not know: leave it out");
        }
    }
    if (!s.name.empty() && !store::valid_volume_name(s.name))
        throw ApiError(400, "\"" + s.name +
                                "\" includes invalid characters for a local volume "
                                "name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed");
    return s;
}

std::uint32_t go_file_mode(std::uint32_t m) {
    std::uint32_t out = m & 0777;
    constexpr std::uint32_t dir = 1u << 31, symlink = 1u << 27, device = 1u << 26, pipe = 1u << 25,
                            socket = 1u << 24, setuid = 1u << 23, setgid = 1u << 22,
                            chardev = 1u << 21, sticky = 1u << 20;
    if (S_ISDIR(m)) out |= dir;
    if (S_ISLNK(m)) out |= symlink;
    if (S_ISBLK(m)) out |= device;
    if (S_ISCHR(m)) out |= device | chardev;
    if (S_ISFIFO(m)) out |= pipe;
    if (S_ISSOCK(m)) out |= socket;
    if (m & S_ISUID) out |= setuid;
    if (m & S_ISGID) out |= setgid;
    if (m & S_ISVTX) out |= sticky;
    return out;
}

std::string path_stat_header(const PathStat& s) {
    njson j{{"name", s.name},
            {"size", s.size},
            {"mode", go_file_mode(s.mode)},
            {"mtime", text::rfc3339(s.mtime_ns / 1'000'000'000)},
            {"linkTarget", s.link_target}};
    // a name that is not UTF-8 (Linux allows any bytes but '/' and NUL) is sent with U+FFFD in
    // place of each invalid byte, as Go's encoding/json writes it for docker
    return nettle::base64_encode(j.dump(-1, ' ', false, njson::error_handler_t::replace));
}

namespace {

std::int64_t api_dec_octal(const char* p, std::size_t n) {
    std::int64_t v = 0;
    std::size_t i = 0;
    while (i < n && (p[i] == ' ' || p[i] == '\0')) ++i;
    for (; i < n && p[i] >= '0' && p[i] <= '7'; ++i) {
        if (v > (INT64_MAX >> 3)) break;
        v = v * 8 + (p[i] - '0');
    }
    return v;
}

std::string api_dec_field(const char* p, std::size_t n) {
    std::size_t len = 0;
    while (len < n && p[len]) ++len;
    return std::string(p, len);
}

[[noreturn]] void api_dec_not_tar() {
    throw ApiError(500, "internal error: the copy helper's output is not a tar stream");
}

} // namespace

std::optional<PathStat> tar_first_entry(const std::string& head) {
    std::size_t off = 0;
    std::string long_name, long_link;
    std::map<std::string, std::string> pax;
    for (int headers = 0; headers < 8; ++headers) {
        if (head.size() < off + 512) return std::nullopt;
        const char* h = head.data() + off;
        bool zero = true;
        for (std::size_t i = 0; i < 512 && zero; ++i) zero = h[i] == 0;
        if (zero) api_dec_not_tar();
        // the checksum: the header's bytes with the field as spaces
        std::int64_t sum = 0;
        for (std::size_t i = 0; i < 512; ++i)
            sum += (i >= 148 && i < 156) ? ' ' : static_cast<unsigned char>(h[i]);
        if (sum != api_dec_octal(h + 148, 8)) api_dec_not_tar();
        char type = h[156];
        std::int64_t size = api_dec_octal(h + 124, 12);
        if (type == 'x' || type == 'L' || type == 'K') {
            if (size < 0 || size > (1 << 20)) api_dec_not_tar();
            std::size_t data = off + 512,
                        padded = (static_cast<std::size_t>(size) + 511) / 512 * 512;
            if (head.size() < data + padded) return std::nullopt;
            std::string body = head.substr(data, static_cast<std::size_t>(size));
            if (type == 'L') long_name = api_dec_field(body.data(), body.size());
            if (type == 'K') long_link = api_dec_field(body.data(), body.size());
            if (type == 'x') {
                std::size_t i = 0;
                while (i < body.size()) { // "LEN KEY=VALUE\n"
                    auto sp = body.find(' ', i);
                    if (sp == std::string::npos) api_dec_not_tar();
                    std::size_t len = 0;
                    for (std::size_t k = i; k < sp; ++k) {
                        if (body[k] < '0' || body[k] > '9' || len > body.size()) api_dec_not_tar();
                        len = len * 10 + static_cast<std::size_t>(body[k] - '0');
                    }
                    if (len < sp - i + 2 || i + len > body.size()) api_dec_not_tar();
                    std::string rec = body.substr(sp + 1, i + len - sp - 2);
                    auto eq = rec.find('=');
                    if (eq != std::string::npos) pax[rec.substr(0, eq)] = rec.substr(eq + 1);
                    i += len;
                }
            }
            off = data + padded;
            continue;
        }
        PathStat s;
        std::string name = api_dec_field(h, 100);
        std::string prefix = api_dec_field(h + 345, 155);
        if (!prefix.empty()) name = prefix + "/" + name;
        if (!long_name.empty()) name = long_name;
        if (pax.count("path")) name = pax["path"];
        while (name.size() > 1 && name.back() == '/') name.pop_back();
        auto slash = name.rfind('/');
        s.name = slash == std::string::npos ? name : name.substr(slash + 1);
        s.link_target = api_dec_field(h + 157, 100);
        if (!long_link.empty()) s.link_target = long_link;
        if (pax.count("linkpath")) s.link_target = pax["linkpath"];
        s.size = size;
        if (pax.count("size")) s.size = std::strtoll(pax["size"].c_str(), nullptr, 10);
        s.mtime_ns = api_dec_octal(h + 136, 12) * 1'000'000'000LL;
        std::uint32_t perm = static_cast<std::uint32_t>(api_dec_octal(h + 100, 8)) & 07777;
        switch (type) {
        case '5':
            s.mode = S_IFDIR | perm;
            break;
        case '2':
            s.mode = S_IFLNK | perm;
            break;
        case '3':
            s.mode = S_IFCHR | perm;
            break;
        case '4':
            s.mode = S_IFBLK | perm;
            break;
        case '6':
            s.mode = S_IFIFO | perm;
            break;
        default:
            s.mode = S_IFREG | perm;
        }
        return s;
    }
    api_dec_not_tar();
}

} // namespace gantry::engine_api
