// Volumes in a run (engine/volumes.hpp).
#include "engine/volumes.hpp"

#include "runspec/builder.hpp"
#include "runspec/mount_flag.hpp"
#include "util/error.hpp"
#include "util/log.hpp"
#include "util/text.hpp"

#include <algorithm>
#include <set>

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

// the directory of volume NAME, made when missing (with LABELS: --mount's volume-label); ""
// makes an anonymous one, recorded in R
std::string vol_dir(const store::Store& store, const std::string& name, RunRequest& r,
                    const std::map<std::string, std::string>& labels = {}) {
    auto v = store::create_volume(store, name, labels);
    if (name.empty()) r.anonymous_volumes.push_back(v.name);
    return v.mountpoint.string();
}

std::string vol_bind_word(const std::string& dir, const std::string& target, bool readonly) {
    std::string w =
        "type=bind," + vol_csv_field("source", dir) + "," + vol_csv_field("target", target);
    return readonly ? w + ",readonly" : w;
}

std::string vol_trimmed(std::string p) {
    while (p.size() > 1 && p.back() == '/') p.pop_back();
    return p;
}

// the destinations R's mounts already have
std::set<std::string> vol_destinations(const RunRequest& r) {
    std::set<std::string> out;
    for (auto& v : r.volumes) {
        auto parts = text::split(v, ':');
        out.insert(vol_trimmed(std::string(parts.size() == 1 ? parts[0] : parts[1])));
    }
    for (auto& m : r.mounts) {
        auto f = runspec::parse_mount_flag(m);
        out.insert(vol_trimmed(f.bind     ? f.bind->destination
                               : f.volume ? f.volume->target
                                          : f.tmpfs.substr(0, f.tmpfs.find(':'))));
    }
    for (auto& t : r.tmpfs) out.insert(vol_trimmed(t.substr(0, t.find(':'))));
    return out;
}

// docker's --volumes-from CONTAINER[:ro|rw]: the container's binds and volumes (not its tmpfs
// mounts), read-only as they were unless the mode says otherwise; a destination R mounts
// already keeps R's mount
void add_volumes_from(RunRequest& r) {
    if (r.volumes_from.empty()) return;
    records::StateDir states;
    auto taken = vol_destinations(r);
    for (auto& word : r.volumes_from) {
        auto colon = word.rfind(':');
        std::string name = word, mode;
        if (colon != std::string::npos) {
            name = word.substr(0, colon);
            mode = word.substr(colon + 1);
            if (mode != "ro" && mode != "rw")
                throw Error(Errc::usage,
                            "--volumes-from " + word + ": unknown mode \"" + mode + "\"",
                            "give CONTAINER, CONTAINER:ro or CONTAINER:rw");
        }
        auto s = states.get(name); // Error(not_found) naming it
        for (const auto* m : records::user_mounts(s)) {
            if (m->type == "tmpfs" || taken.count(vol_trimmed(m->destination))) continue;
            bool ro = mode.empty() ? std::find(m->options.begin(), m->options.end(), "ro") !=
                                         m->options.end()
                                   : mode == "ro";
            r.mounts.push_back(vol_bind_word(m->source, m->destination, ro));
            taken.insert(vol_trimmed(m->destination));
        }
    }
}

} // namespace

void resolve_named_volumes(const store::Store& store, RunRequest& r) {
    for (auto& v : r.volumes) {
        auto colon = v.find(':');
        if (colon == std::string::npos && v.starts_with('/')) { // -v DST: anonymous
            runspec::check_destination(v, "-v " + v);
            v = vol_dir(store, "", r) + ":" + v;
            continue;
        }
        if (colon == std::string::npos || colon == 0) continue; // parse_volume's to refuse
        std::string src = v.substr(0, colon);
        if (src[0] == '/' || src[0] == '.') continue; // a host path
        if (!store::valid_volume_name(src))
            throw Error(Errc::usage,
                        "-v " + v + ": \"" + src +
                            "\" is neither a host path nor a volume name "
                            "([a-zA-Z0-9][a-zA-Z0-9_.-]+)",
                        "give an absolute host path, ./relative, or a volume's name");
        std::string dir = vol_dir(store, src, r);
        if (dir.find(':') != std::string::npos)
            throw Error(Errc::usage, "-v " + v + ": the volume's directory " + dir + " has a colon",
                        "use --mount type=volume,source=" + src + ",target=...");
        v = dir + v.substr(colon);
    }
    for (auto& m : r.mounts) {
        auto flag = runspec::parse_mount_flag(m);
        if (!flag.volume) continue;
        m = vol_bind_word(vol_dir(store, flag.volume->name, r, flag.volume->labels),
                          flag.volume->target, flag.volume->readonly);
    }
    add_volumes_from(r);
}

void add_image_volumes(const store::Store& store, RunRequest& r, const nlohmann::json& config,
                       const std::string& image,
                       const std::function<bool(const std::string&)>& image_has_files) {
    if (r.image_volume != "bind" && r.image_volume != "tmpfs" && r.image_volume != "ignore")
        throw Error(Errc::usage, "unknown --image-volume \"" + r.image_volume + "\"",
                    "use bind (an anonymous volume, the default), tmpfs or ignore");
    auto vols = config.is_object() ? config.find("Volumes") : config.end();
    if (r.image_volume == "ignore" || vols == config.end() || !vols->is_object()) return;
    auto taken = vol_destinations(r);
    for (auto it = vols->begin(); it != vols->end(); ++it) {
        const std::string path = vol_trimmed(it.key());
        if (!path.starts_with('/') || path.find('\0') != std::string::npos ||
            path.find(':') != std::string::npos)
            throw Error(Errc::invalid,
                        "the image " + image + " declares VOLUME \"" + it.key() +
                            "\", which is not an absolute path without a colon",
                        "fix the image's VOLUME, or run it with --image-volume ignore");
        runspec::check_destination(path, "the image's VOLUME " + path);
        if (!taken.insert(path).second) continue;
        if (r.image_volume == "tmpfs") {
            r.tmpfs.push_back(path);
        } else if (image_has_files(path)) {
            log::note("the image's VOLUME " + path +
                      " has files in the image: they stay in the container's layer (gantry does "
                      "not copy an image's files into a new volume); mount a volume there "
                      "yourself to keep new files outside it");
        } else {
            r.volumes.push_back(vol_dir(store, "", r) + ":" + path);
        }
    }
}

void remove_anonymous_volumes(const store::Store& store, const std::vector<std::string>& names) {
    for (auto& name : names) {
        try {
            auto v = store::find_volume(store, name);
            if (!v) continue;
            if (auto users = volume_users(*v); !users.empty()) {
                log::debug("the anonymous volume " + name + " stays: " + users.front() +
                           " uses it");
                continue;
            }
            store::remove_volume(store, name);
        } catch (const std::exception& e) {
            log::warn("the anonymous volume " + name + " was not removed: " + e.what() +
                      " (remove it with `gantry volume rm " + name + "`)");
        }
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
