#include "runspec/user_spec.hpp"

#include "oci/passwd.hpp"
#include "runspec/builder.hpp"
#include "util/error.hpp"
#include "util/text.hpp"

namespace gantry::runspec {

ResolvedUser resolve_user(const std::string& user, std::string_view passwd) {
    ResolvedUser out;
    auto users = oci::parse_passwd(passwd);
    auto colon = user.find(':');
    std::string u = user.substr(0, colon),
                gs = colon == std::string::npos ? "" : user.substr(colon + 1);
    bool found = false;
    if (text::all_digits(u)) {
        out.uid = numeric_id(u, "user ID");
        out.gid = out.uid;
        for (auto& p : users)
            if (p.uid == out.uid) {
                out.gid = p.gid;
                out.home = p.home;
                break;
            }
        found = true;
    } else {
        for (auto& p : users)
            if (p.name == u) {
                out.uid = p.uid;
                out.gid = p.gid;
                out.home = p.home;
                found = true;
            }
    }
    if (!found)
        throw Error(Errc::run_failed, "user \"" + u + "\" is not in the image's /etc/passwd",
                    "use a numeric -u UID[:GID]");
    if (!gs.empty()) {
        if (!text::all_digits(gs))
            throw Error(Errc::usage, "group \"" + gs + "\" must be numeric",
                        "give -u USER:GID, a numeric UID[:GID] or a user name");
        out.gid = numeric_id(gs, "group ID");
    }
    return out;
}

} // namespace gantry::runspec
