#include "engine_api/request.hpp"

#include <charconv>
#include <cstdlib>
#include <nlohmann/json.hpp>

namespace gantry::engine_api {

namespace {

// "1.41" as {1, 41}; nothing when it is not N.N
std::optional<std::pair<int, int>> api_req_parse_version(std::string_view v) {
    auto dot = v.find('.');
    if (dot == std::string_view::npos || dot == 0 || dot + 1 == v.size() || v.size() > 12)
        return std::nullopt;
    int major = 0, minor = 0;
    auto a = std::from_chars(v.data(), v.data() + dot, major);
    auto b = std::from_chars(v.data() + dot + 1, v.data() + v.size(), minor);
    if (a.ec != std::errc{} || a.ptr != v.data() + dot || b.ec != std::errc{} ||
        b.ptr != v.data() + v.size())
        return std::nullopt;
    return std::pair{major, minor};
}

struct ApiReqPattern {
    const char* method;
    const char* pattern;
    RouteId id;
};

// The endpoints served, in docker's spelling of their paths.
constexpr ApiReqPattern kApiReqServed[] = {
    {"GET", "/_ping", RouteId::ping},
    {"HEAD", "/_ping", RouteId::ping},
    {"GET", "/version", RouteId::version},
    {"GET", "/info", RouteId::info},
    {"GET", "/events", RouteId::events},
    {"GET", "/containers/json", RouteId::containers_list},
    {"POST", "/containers/prune", RouteId::containers_prune},
    {"GET", "/containers/{id}/json", RouteId::container_inspect},
    {"GET", "/containers/{id}/logs", RouteId::container_logs},
    {"POST", "/containers/{id}/stop", RouteId::container_stop},
    {"POST", "/containers/{id}/kill", RouteId::container_kill},
    {"POST", "/containers/{id}/pause", RouteId::container_pause},
    {"POST", "/containers/{id}/unpause", RouteId::container_unpause},
    {"POST", "/containers/{id}/wait", RouteId::container_wait},
    {"DELETE", "/containers/{id}", RouteId::container_delete},
    {"GET", "/containers/{id}/top", RouteId::container_top},
    {"GET", "/containers/{id}/changes", RouteId::container_changes},
    {"GET", "/containers/{id}/stats", RouteId::container_stats},
    {"POST", "/commit", RouteId::commit},
    {"POST", "/containers/create", RouteId::container_create},
    {"POST", "/containers/{id}/start", RouteId::container_start},
    {"POST", "/containers/{id}/restart", RouteId::container_restart},
    {"POST", "/containers/{id}/rename", RouteId::container_rename},
    {"POST", "/containers/{id}/attach", RouteId::container_attach},
    {"POST", "/containers/{id}/exec", RouteId::exec_create},
    {"POST", "/containers/{id}/resize", RouteId::container_resize},
    {"POST", "/exec/{id}/start", RouteId::exec_start},
    {"POST", "/exec/{id}/resize", RouteId::exec_resize},
    {"GET", "/exec/{id}/json", RouteId::exec_inspect},
    {"GET", "/images/json", RouteId::images_list},
    {"GET", "/images/{name*}/json", RouteId::image_inspect},
    {"GET", "/images/{name*}/history", RouteId::image_history},
    {"DELETE", "/images/{name*}", RouteId::image_delete},
    {"POST", "/images/{name*}/tag", RouteId::image_tag},
    {"GET", "/networks", RouteId::networks_list},
    {"GET", "/networks/{id}", RouteId::network_inspect},
    {"POST", "/networks/create", RouteId::network_create},
    {"DELETE", "/networks/{id}", RouteId::network_delete},
    {"POST", "/networks/{id}/connect", RouteId::network_connect},
    {"POST", "/networks/{id}/disconnect", RouteId::network_disconnect},
    {"POST", "/networks/prune", RouteId::networks_prune},
    {"GET", "/volumes", RouteId::volumes_list},
    {"POST", "/images/create", RouteId::image_create},
    {"POST", "/images/load", RouteId::images_load},
    {"GET", "/images/get", RouteId::images_get},
    {"GET", "/images/{name*}/get", RouteId::image_get},
    {"POST", "/images/{name*}/push", RouteId::image_push},
    {"POST", "/build", RouteId::build},
    {"GET", "/containers/{id}/archive", RouteId::archive_get},
    {"HEAD", "/containers/{id}/archive", RouteId::archive_head},
    {"PUT", "/containers/{id}/archive", RouteId::archive_put},
    {"POST", "/volumes/create", RouteId::volume_create},
    {"POST", "/volumes/prune", RouteId::volumes_prune},
    {"GET", "/volumes/{name}", RouteId::volume_inspect},
    {"DELETE", "/volumes/{name}", RouteId::volume_delete},
};

// docker's other endpoints (API 1.41): answered 501, naming them, until they are served.
constexpr ApiReqPattern kApiReqNotYet[] = {
    {"POST", "/containers/{id}/update", RouteId::not_yet},
    {"GET", "/containers/{id}/attach/ws", RouteId::not_yet},
    {"GET", "/containers/{id}/export", RouteId::not_yet},
    {"GET", "/images/search", RouteId::not_yet},
    {"POST", "/images/prune", RouteId::not_yet},
    {"POST", "/build/prune", RouteId::not_yet},
    {"GET", "/system/df", RouteId::not_yet},
    {"POST", "/auth", RouteId::not_yet},
    {"GET", "/distribution/{name*}/json", RouteId::not_yet},
    {"POST", "/session", RouteId::not_yet},
};

std::vector<std::string_view> api_req_segments(std::string_view p) {
    std::vector<std::string_view> out;
    std::size_t i = 0;
    while (i < p.size()) {
        if (p[i] == '/') {
            ++i;
            continue;
        }
        auto j = p.find('/', i);
        if (j == std::string_view::npos) j = p.size();
        out.push_back(p.substr(i, j - i));
        i = j;
    }
    return out;
}

// PATH's segments against PATTERN's; a {name*} takes every segment its literal tail leaves.
bool api_req_match(std::string_view pattern, const std::vector<std::string_view>& path,
                   std::map<std::string, std::string>& params) {
    auto pat = api_req_segments(pattern);
    std::size_t pi = 0, si = 0;
    for (; pi < pat.size(); ++pi) {
        auto p = pat[pi];
        if (p.size() > 2 && p.front() == '{' && p.back() == '}') {
            bool rest = p[p.size() - 2] == '*';
            std::string name(p.substr(1, p.size() - (rest ? 3 : 2)));
            std::size_t tail = pat.size() - pi - 1;
            if (si >= path.size()) return false;
            std::size_t take =
                rest ? (path.size() - si >= tail + 1 ? path.size() - si - tail : 0) : 1;
            if (take == 0) return false;
            std::string value;
            for (std::size_t k = 0; k < take; ++k)
                value += (k ? "/" : "") + std::string(path[si + k]);
            params[name] = value;
            si += take;
            continue;
        }
        if (si >= path.size() || path[si] != p) return false;
        ++si;
    }
    return si == path.size();
}

std::string api_req_time_error(const std::string& name, const std::string& value) {
    return "invalid value for " + name + ": \"" + value +
           "\" is not a timestamp (Unix seconds, optionally with a fraction)";
}

} // namespace

Target split_version(std::string_view path) {
    Target t;
    if (path.size() > 2 && path.substr(0, 2) == "/v") {
        auto end = path.find('/', 2);
        auto word = path.substr(2, end == std::string_view::npos ? path.size() - 2 : end - 2);
        if (!word.empty() && word.front() >= '0' && word.front() <= '9') {
            auto v = api_req_parse_version(word);
            if (!v)
                throw ApiError(400, "invalid API version in the path: \"v" + std::string(word) +
                                        "\" (expected /vMAJOR.MINOR/, e.g. /v" + kApiVersion +
                                        "/)");
            auto max = *api_req_parse_version(kApiVersion);
            auto min = *api_req_parse_version(kMinApiVersion);
            if (*v > max)
                throw ApiError(400, "client version " + std::string(word) +
                                        " is too new. Maximum supported API version is " +
                                        kApiVersion);
            if (*v < min)
                throw ApiError(400, "client version " + std::string(word) +
                                        " is too old. Minimum supported API version is " +
                                        kMinApiVersion +
                                        ", please upgrade your client to a newer version");
            t.version = std::string(word);
            path = end == std::string_view::npos ? std::string_view("/") : path.substr(end);
        }
    }
    t.path = std::string(path);
    return t;
}

Route match_route(std::string_view method, std::string_view path) {
    auto segs = api_req_segments(path);
    Route r;
    for (auto& p : kApiReqServed) {
        std::map<std::string, std::string> params;
        if (method == p.method && api_req_match(p.pattern, segs, params)) {
            r.id = p.id;
            r.params = std::move(params);
            r.endpoint = std::string(p.method) + " " + p.pattern;
            return r;
        }
    }
    for (auto& p : kApiReqNotYet) {
        std::map<std::string, std::string> params;
        if (method == p.method && api_req_match(p.pattern, segs, params)) {
            r.id = RouteId::not_yet;
            r.params = std::move(params);
            r.endpoint = std::string(p.method) + " " + p.pattern;
            return r;
        }
    }
    r.endpoint = std::string(method) + " " + std::string(path);
    return r;
}

std::uint64_t upload_limit(RouteId id) {
    switch (id) {
    case RouteId::build:
        return kMaxBuildContextBytes;
    case RouteId::images_load:
    case RouteId::archive_put:
    case RouteId::image_create: // an import's tar (fromSrc=-); a pull sends none
        return kMaxUploadBytes;
    default:
        return 0;
    }
}

std::string upload_too_big(RouteId id) {
    std::string what = id == RouteId::build          ? "the build context"
                       : id == RouteId::images_load  ? "the image archive"
                       : id == RouteId::image_create ? "the tar to import"
                                                     : "the archive";
    return what + " is larger than " + std::to_string(upload_limit(id) >> 20) +
           " MiB, the most gantry's Engine API takes" +
           (id == RouteId::build ? ": leave what the build does not need out of the context "
                                   "(.dockerignore), or run gantry build on the directory"
                                 : "");
}

void check_raw_target(std::string_view uri) {
    auto path = uri.substr(0, uri.find('?'));
    bool nul = uri.find('\0') != std::string_view::npos; // raw, in the path or the query
    for (std::size_t i = path.find('%'); !nul && i != std::string_view::npos;
         i = path.find('%', i + 1))
        nul = path.substr(i + 1, 2) == "00";
    if (nul)
        throw ApiError(400, "invalid request path: it has a NUL byte (%00), which no container, "
                            "image, exec or volume name holds: remove it");
}

void check_query_param(std::string_view key, std::string_view value) {
    if (key.find('\0') != std::string_view::npos)
        throw ApiError(400, "invalid query parameter \"" +
                                std::string(key.substr(0, key.find('\0'))) +
                                "...\": its name has a NUL byte (%00): remove it");
    if (value.find('\0') != std::string_view::npos)
        throw ApiError(400, "invalid value for the query parameter " + std::string(key) +
                                ": it has a NUL byte (%00), which no name, path or argument "
                                "holds: remove it");
}

bool query_bool(const std::string& v) {
    return !(v.empty() || v == "0" || v == "false" || v == "False" || v == "FALSE" || v == "no" ||
             v == "none");
}

oci::Platform query_platform(const std::string& value) {
    try {
        if (!value.starts_with("{")) return oci::Platform::parse(value);
        auto j = nlohmann::json::parse(value);
        if (!j.is_object()) throw std::invalid_argument("not an object");
        auto p = oci::Platform::from_json(j);
        if (p.os.empty() || p.architecture.empty()) throw std::invalid_argument("no os or arch");
        return p;
    } catch (const std::exception&) { // gantry::Error, nlohmann's, ours above
        throw ApiError(400, "invalid value for platform: \"" + value +
                                "\" is neither a JSON OCI platform ({\"os\":\"linux\","
                                "\"architecture\":\"arm64\"}) nor OS/ARCH[/VARIANT]");
    }
}

long long query_int(const std::string& name, const std::string& value) {
    long long n = 0;
    auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
    if (value.empty() || ec != std::errc{} || end != value.data() + value.size() || n < 0)
        throw ApiError(400, "invalid value for " + name + ": \"" + value +
                                "\" is not a non-negative integer");
    return n;
}

unsigned short query_winsize(const std::string& name, const std::string& value) {
    int n = -1;
    auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
    if (ec != std::errc{} || end != value.data() + value.size() || n < 0 || n > 65535)
        throw ApiError(400, "invalid value for " + name + ": \"" + value +
                                "\" is not a terminal size (an integer from 0 to 65535)");
    return static_cast<unsigned short>(n);
}

long long query_time_nanos(const std::string& name, const std::string& value) {
    auto dot = value.find('.');
    std::string secs = value.substr(0, dot);
    std::string frac = dot == std::string::npos ? "" : value.substr(dot + 1);
    long long s = 0;
    auto [end, ec] = std::from_chars(secs.data(), secs.data() + secs.size(), s);
    if (secs.empty() || ec != std::errc{} || end != secs.data() + secs.size() || s < 0 ||
        s > 9'000'000'000LL || frac.size() > 9)
        throw ApiError(400, api_req_time_error(name, value));
    long long ns = 0;
    for (std::size_t i = 0; i < 9; ++i) {
        char c = i < frac.size() ? frac[i] : '0';
        if (c < '0' || c > '9') throw ApiError(400, api_req_time_error(name, value));
        ns = ns * 10 + (c - '0');
    }
    return s * 1'000'000'000LL + ns;
}

std::vector<std::string> filter_words(const std::string& text) {
    std::vector<std::string> words;
    if (text.empty()) return words;
    nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_object())
        throw ApiError(400, "invalid filter: the filters query value is not a JSON object "
                            "(docker's {\"KEY\": {\"VALUE\": true}})");
    for (auto& [key, values] : j.items()) {
        if (values.is_object()) {
            for (auto& [value, on] : values.items()) {
                if (!on.is_boolean())
                    throw ApiError(400, "invalid filter '" + key + "': the value of \"" + value +
                                            "\" is not true or false");
                if (on.get<bool>()) words.push_back(key + "=" + value);
            }
        } else if (values.is_array()) {
            for (auto& v : values) {
                if (!v.is_string())
                    throw ApiError(400, "invalid filter '" + key + "': its values are not strings");
                words.push_back(key + "=" + v.get<std::string>());
            }
        } else {
            throw ApiError(400, "invalid filter '" + key +
                                    "': its values are neither an object nor an array");
        }
    }
    return words;
}

} // namespace gantry::engine_api
