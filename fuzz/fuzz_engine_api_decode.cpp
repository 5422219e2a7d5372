// Fuzzes the Engine API's decoding for the image, build, archive and volume endpoints
// (engine_api/decode): the input's first byte picks the decoder, the rest is its input: an
// X-Registry-Auth or X-Registry-Config header, a volume's create body, a build query (NAME=VALUE
// lines), a network's create body, or the start of a tar stream whose first entry is stat'ed for
// docker cp. Each must decode or fail with an ApiError (400; 500 for a tar the helper could not
// have written), never crash; a stat's name has no slash; a build keeps every t value given.
#include "engine_api/decode.hpp"
#include "engine_api/network_body.hpp"
#include "engine_api/request.hpp"
#include "fuzz_support.hpp"
#include "network/user_network.hpp"
#include "util/error.hpp"

using namespace gantry;

GANTRY_FUZZ_TARGET(engine_api_decode) {
    if (size == 0) return 0;
    // 5: a network's create body (a byte no seed before it began with: the others keep theirs)
    const std::uint8_t pick = data[0] == 5 ? 5 : data[0] % 5;
    std::string in(fuzz::bytes(data + 1, size - 1));
    try {
        switch (pick) {
        case 0:
            if (auto a = engine_api::registry_auth(in))
                FUZZ_CHECK(!a->username.empty() || !a->identity_token.empty());
            break;
        case 1:
            (void)engine_api::registry_config_authfile(in);
            break;
        case 2: {
            auto v = engine_api::volume_spec(in);
            FUZZ_CHECK(v.name.find('/') == std::string::npos);
            break;
        }
        case 3: {
            std::multimap<std::string, std::string> q;
            std::size_t tags = 0;
            std::string_view rest = in;
            while (!rest.empty()) {
                auto [line, tail] = fuzz::split_once(rest, "\n");
                auto [k, v] = fuzz::split_once(line, "=");
                if (k == "t" && !v.empty()) ++tags;
                q.emplace(std::string(k), std::string(v));
                if (tail.size() >= rest.size()) break;
                rest = tail;
            }
            auto b = engine_api::build_query(q);
            FUZZ_CHECK(b.tags.size() == tags);
            break;
        }
        case 5: {
            // a network's create body (engine_api/network_body), its subnet and gateway read
            // as network create reads them: parsed or refused by name, never a crash
            auto n = engine_api::network_create_body(in);
            FUZZ_CHECK(!n.name.empty());
            try {
                if (!n.subnet.empty()) {
                    auto c = network::parse_cidr(n.subnet, "Subnet");
                    FUZZ_CHECK(c.prefix >= 8 && c.prefix <= 30 && c.contains(c.network));
                    FUZZ_CHECK(network::parse_cidr(network::ipv4_text(c.network) + "/" +
                                                       std::to_string(c.prefix),
                                                   "Subnet")
                                   .network == c.network);
                }
                if (!n.gateway.empty()) (void)network::parse_ipv4(n.gateway, "Gateway");
            } catch (const Error& e) {
                FUZZ_CHECK(e.code() == Errc::usage || e.code() == Errc::unsupported);
            }
            break;
        }
        default:
            if (auto s = engine_api::tar_first_entry(in)) {
                FUZZ_CHECK(s->name.find('/') == std::string::npos || s->name == "/");
                (void)engine_api::path_stat_header(*s);
            }
        }
    } catch (const engine_api::ApiError& e) {
        FUZZ_CHECK(e.status() == 400 || (pick == 4 && e.status() == 500));
        FUZZ_CHECK(*e.what() != '\0');
    }
    return 0;
}
