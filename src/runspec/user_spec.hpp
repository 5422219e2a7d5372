// -u USER[:GROUP] against a container's /etc/passwd, for run and exec: USER a name or a numeric
// ID (0 to 4294967294), GROUP numeric. A numeric USER's group and home come from its passwd
// entry when it has one (else the group is the same number and the home empty).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace gantry::runspec {

struct ResolvedUser {
    std::uint32_t uid = 0, gid = 0;
    std::string home; // "" when the user has no passwd entry
};

// Error(run_failed) for a name PASSWD lacks, Error(usage) for a non-numeric GROUP or an ID out
// of range.
ResolvedUser resolve_user(const std::string& user, std::string_view passwd);

} // namespace gantry::runspec
