#include "oci/passwd.hpp"

#include "util/text.hpp"

namespace gantry::oci {

std::vector<PasswdEntry> parse_passwd(std::string_view passwd) {
    std::vector<PasswdEntry> out;
    for (auto line : text::lines(passwd)) {
        auto f = text::split(line, ':');
        if (f.size() < 6) continue;
        auto uid = text::to_u32(f[2]), gid = text::to_u32(f[3]); // "-1", "10x": not an entry
        if (uid && gid) out.push_back({std::string(f[0]), *uid, *gid, std::string(f[5])});
    }
    return out;
}

std::optional<PasswdEntry> passwd_entry(std::string_view passwd, std::uint32_t uid) {
    for (auto& e : parse_passwd(passwd))
        if (e.uid == uid) return e;
    return std::nullopt;
}

} // namespace gantry::oci
