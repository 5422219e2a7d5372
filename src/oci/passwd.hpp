// A container's /etc/passwd, read as runc and docker read it: "name:x:uid:gid:gecos:home:shell"
// lines; a line whose uid or gid is no number is no entry. runspec uses it for -u and HOME,
// runtime for HOME when process.env has none (as runc sets it).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gantry::oci {

struct PasswdEntry {
    std::string name;
    std::uint32_t uid = 0, gid = 0;
    std::string home;
};

std::vector<PasswdEntry> parse_passwd(std::string_view passwd);
// The first entry of PASSWD for UID (runc: the first match wins).
std::optional<PasswdEntry> passwd_entry(std::string_view passwd, std::uint32_t uid);

} // namespace gantry::oci
