// Named volumes in a run (engine/volumes.hpp).
#include "engine/volumes.hpp"

#include "records/state.hpp"
#include "runspec/mount_flag.hpp"
#include "util/error.hpp"

namespace gantry::engine {

namespace {

// a --mount field holding PATH, quoted as Go's encoding/csv reads it when it must be
std::string vol_csv_field(const std::string& key, const std::string& value) {
    std::string f = key + "=" + value;
    if (f.find_first_of(",\"") == std::string::npos) return f;
    std::string q = "\"";
    for (char c : f) q += c == '"' ? std::string("\"\"") : std::string(1, c);
    return q + "\"";
}

std::string vol_dir(const store::Store& store, const std::string& name) {
    return store::create_volume(store, name, {}).mountpoint.string();
}

} // namespace

void resolve_named_volumes(const store::Store& store, RunRequest& r) {
    for (auto& v : r.volumes) {
        auto colon = v.find(':');
        if (colon == std::string::npos || colon == 0) continue; // parse_volume's to refuse
        std::string src = v.substr(0, colon);
        if (src[0] == '/' || src[0] == '.') continue; // a host path
        if (!store::valid_volume_name(src))
            throw Error(Errc::usage,
                        "-v " + v + ": \"" + src +
                            "\" is neither a host path nor a volume name "
                            "([a-zA-Z0-9][a-zA-Z0-9_.-]+)",
                        "give an absolute host path, ./relative, or a volume's name");
        std::string dir = vol_dir(store, src);
        if (dir.find(':') != std::string::npos)
            throw Error(Errc::usage, "-v " + v + ": the volume's directory " + dir + " has a colon",
                        "use --mount type=volume,source=" + src + ",target=...");
        v = dir + v.substr(colon);
    }
    for (auto& m : r.mounts) {
        auto flag = runspec::parse_mount_flag(m);
        if (!flag.volume) continue;
        std::string w = "type=bind," + vol_csv_field("source", vol_dir(store, flag.volume->name)) +
                        "," + vol_csv_field("target", flag.volume->target);
        if (flag.volume->readonly) w += ",readonly";
        m = w;
    }
}

std::vector<std::string> volume_users(const store::Volume& v) {
    std::vector<std::string> users;
    const std::string dir = v.mountpoint.string();
    for (const auto& s : records::StateDir().list())
        for (const auto& m : s.spec.mounts)
            if (m.source == dir) {
                users.push_back(s.name);
                break;
            }
    return users;
}

void check_volume_unused(const store::Volume& v) {
    auto users = volume_users(v);
    if (users.empty()) return;
    std::string list;
    for (auto& u : users) list += (list.empty() ? "" : ", ") + u;
    throw Error(Errc::conflict, "remove " + v.name + ": volume is in use - [" + list + "]",
                "remove the container" + std::string(users.size() > 1 ? "s" : "") + " first (" +
                    list + ")");
}

} // namespace gantry::engine
