// Fuzzes the Engine API's request decoding (engine_api/request): a request line's method and
// path (up to a newline), then a filters query value, which is also read as a create body
// (engine_api/create_body: translated, or refused with a 400), a query value (no NUL taken) and
// a terminal size (a winsize's field, or refused). The version split, the route match
// and the filters JSON must either decode or fail with an ApiError of a 4xx status and a message; a
// route's parameters come out of the path (no byte added), an image name keeps its slashes.
#include "engine_api/create_body.hpp"
#include "engine_api/request.hpp"
#include "fuzz_support.hpp"

using namespace gantry;

GANTRY_FUZZ_TARGET(engine_api_request) {
    std::string_view in = fuzz::bytes(data, size);
    auto [line, filters] = fuzz::split_once(in, "\n");
    auto [method, path] = fuzz::split_once(line, " ");
    try {
        auto t = engine_api::split_version(path);
        FUZZ_CHECK(t.path.size() <= path.size());
        auto r = engine_api::match_route(method, t.path);
        for (auto& [k, v] : r.params) {
            FUZZ_CHECK(!v.empty());
            FUZZ_CHECK(v.size() <= t.path.size());
        }
        FUZZ_CHECK(!r.endpoint.empty() || (method.empty() && t.path.empty()));
    } catch (const engine_api::ApiError& e) {
        FUZZ_CHECK(e.status() >= 400 && e.status() < 500);
        FUZZ_CHECK(*e.what() != '\0');
    }
    try {
        auto words = engine_api::filter_words(std::string(filters));
        for (auto& w : words) FUZZ_CHECK(w.find('=') != std::string::npos);
    } catch (const engine_api::ApiError& e) {
        FUZZ_CHECK(e.status() == 400);
    }
    try { // a NUL in the path or a query parameter: refused, never cut at
        engine_api::check_raw_target(path);
        FUZZ_CHECK(path.find('\0') == std::string_view::npos);
        engine_api::check_query_param("name", filters);
        FUZZ_CHECK(filters.find('\0') == std::string_view::npos);
    } catch (const engine_api::ApiError& e) {
        FUZZ_CHECK(e.status() == 400);
    }
    try { // a terminal size is a winsize's field or a refusal ("-0" is 0, as Go's Atoi reads it)
        auto n = engine_api::query_winsize("h", std::string(filters));
        std::string_view digits = filters.starts_with('-') ? filters.substr(1) : filters;
        FUZZ_CHECK(!digits.empty() && n <= 65535 &&
                   digits.find_first_not_of("0123456789") == std::string_view::npos);
        FUZZ_CHECK(digits.size() == filters.size() || n == 0);
    } catch (const engine_api::ApiError& e) {
        FUZZ_CHECK(e.status() == 400);
    }
    for (auto name : {"t", "since"}) {
        try {
            (void)engine_api::query_int(name, std::string(filters));
            (void)engine_api::query_time_nanos(name, std::string(filters));
        } catch (const engine_api::ApiError& e) {
            FUZZ_CHECK(e.status() == 400);
        }
    }
    try {
        auto body = engine_api::parse_body(std::string(filters));
        auto r = engine_api::create_request(body, "web");
        FUZZ_CHECK(!r.image.empty());
        // docker's modes, or a user network's name (never empty: bridge is the default)
        FUZZ_CHECK(!r.network.empty() && r.network != "default");
        // each alias a name
        for (auto& a : r.network_aliases)
            FUZZ_CHECK(!a.empty() && a.find('/') == std::string::npos);
    } catch (const engine_api::ApiError& e) {
        FUZZ_CHECK(e.status() == 400);
        FUZZ_CHECK(*e.what() != '\0');
    }
    return 0;
}
