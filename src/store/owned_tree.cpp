#include "store/owned_tree.hpp"

#include "layer/extract.hpp"
#include "userns/idmap.hpp"
#include "userns/userns_child.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/identity.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ftw.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

namespace gantry::store {

namespace stdfs = std::filesystem;

namespace {

struct OwnerWalk {
    std::uint64_t applied = 0, unmapped = 0;
    std::string error;
};
thread_local OwnerWalk* owner_walk = nullptr;

int apply_one_owner(const char* path, const struct stat* st, int type, struct FTW*) {
    if (type == FTW_SL || type == FTW_SLN) return 0; // no record on a symbolic link
    if (type == FTW_DNR || type == FTW_NS) {
        owner_walk->error = std::string("cannot read ") + path;
        return 1;
    }
    char v[64] = {};
    auto n = ::lgetxattr(path, layer::kOwnerXattr, v, sizeof v - 1);
    if (n <= 0) return 0;
    unsigned long uid = 0, gid = 0;
    if (std::sscanf(v, "%lu:%lu", &uid, &gid) != 2) return 0;
    // applied, the record goes: the owner on disk is the truth from now on (a RUN step's chown
    // of a copied-up file must not be undone by a stale record: image_build/upper_layer.hpp)
    if ((st->st_uid == uid && st->st_gid == gid) ||
        ::lchown(path, static_cast<uid_t>(uid), static_cast<gid_t>(gid)) == 0) {
        ::lremovexattr(path, layer::kOwnerXattr);
        ++owner_walk->applied;
        return 0;
    }
    if (errno != EINVAL) {
        owner_walk->error = std::string("cannot chown ") + path + ": " + std::strerror(errno);
        return 1;
    }
    // one of the two ids is outside the maps: the other still applies; the record stays
    bool u = ::lchown(path, static_cast<uid_t>(uid), static_cast<gid_t>(-1)) == 0;
    bool g = ::lchown(path, static_cast<uid_t>(-1), static_cast<gid_t>(gid)) == 0;
    if (u || g) ++owner_walk->applied;
    ++owner_walk->unmapped;
    return 0;
}

std::string digest_text(const TreeDigest& t) {
    return t.digest + " " + std::to_string(t.entries) + " " + std::to_string(t.content_bytes) +
           " " + std::to_string(t.unreadable);
}

TreeDigest parse_digest(const std::string& s, std::size_t& pos) {
    TreeDigest t;
    char digest[100] = {};
    unsigned long long e = 0, b = 0, u = 0;
    int used = 0;
    if (std::sscanf(s.c_str() + pos, "%99s %llu %llu %llu%n", digest, &e, &b, &u, &used) != 4)
        throw Error(Errc::internal, "the tree walker's answer is malformed: " + s);
    pos += static_cast<std::size_t>(used);
    t.digest = digest;
    t.entries = e;
    t.content_bytes = b;
    t.unreadable = u;
    return t;
}

oci::json map_rows(const std::vector<oci::IdMapping>& m) {
    auto rows = oci::json::array();
    for (auto& r : m) rows.push_back({r.container_id, r.host_id, r.size});
    return rows;
}

} // namespace

SubIdMaps owner_maps() {
    SubIdMaps m;
    userns::subid_maps(m.uids, m.gids);
    return m;
}

bool layer_owners_applied(const Store& store, const oci::Digest& diff) {
    try {
        auto meta = oci::parse_json(fs::read_file(store.layer_dir(diff) / "meta.json", 1u << 20),
                                    "layer metadata");
        return meta.contains("owners");
    } catch (const Error&) {
        return false;
    }
}

void remove_owned_tree(const stdfs::path& path) {
    SubIdMaps maps;
    try {
        fs::remove_tree(path);
        return;
    } catch (const Error& e) {
        if (e.code() != Errc::io) throw;
        maps = owner_maps();
        if (maps.empty()) throw; // a namespace would add no id the caller lacks
    }
    try {
        userns::run_in_userns(maps.uids, maps.gids, "removing " + path.string(), [&] {
            fs::remove_tree(path);
            return std::string();
        });
    } catch (const Error& e) {
        throw Error(Errc::io, e.message(), "remove it as root (sudo rm -rf " + path.string() + ")");
    }
}

AppliedOwners apply_owners(const stdfs::path& rootfs, const SubIdMaps& maps) {
    auto out = userns::run_in_userns(
        maps.uids, maps.gids, "applying the owners of " + rootfs.string(), [&] {
            OwnerWalk w;
            owner_walk = &w;
            int rc = ::nftw(rootfs.c_str(), apply_one_owner, 64, FTW_PHYS | FTW_MOUNT);
            owner_walk = nullptr;
            if (!w.error.empty()) throw Error(Errc::io, w.error);
            if (rc != 0) throw_errno("cannot walk " + rootfs.string());
            return std::to_string(w.applied) + " " + std::to_string(w.unmapped) + " " +
                   digest_text(tree_digest(rootfs));
        });
    AppliedOwners a;
    unsigned long long applied = 0, unmapped = 0;
    int used = 0;
    if (std::sscanf(out.c_str(), "%llu %llu %n", &applied, &unmapped, &used) != 2)
        throw Error(Errc::internal, "the owner walker's answer is malformed: " + out);
    a.applied = applied;
    a.unmapped = unmapped;
    std::size_t pos = static_cast<std::size_t>(used);
    a.tree = parse_digest(out, pos);
    return a;
}

TreeDigest tree_digest_in_userns(const stdfs::path& rootfs, const SubIdMaps& maps, DataHash data) {
    auto out = userns::run_in_userns(maps.uids, maps.gids, "walking " + rootfs.string(), [&] {
        return digest_text(tree_digest(rootfs, nullptr, data));
    });
    std::size_t pos = 0;
    return parse_digest(out, pos);
}

void to_container_ids(struct stat& st) {
    if (running_as_real_root()) return;
    static const SubIdMaps maps = [] {
        SubIdMaps m = owner_maps();
        if (m.empty()) userns::unprivileged_maps(::getuid(), ::getgid(), false, m.uids, m.gids);
        return m;
    }();
    auto map = [](const std::vector<oci::IdMapping>& rows, std::uint32_t host) {
        for (auto& r : rows)
            if (host >= r.host_id && host - r.host_id < r.size)
                return r.container_id + (host - r.host_id);
        return std::uint32_t{65534};
    };
    st.st_uid = map(maps.uids, st.st_uid);
    st.st_gid = map(maps.gids, st.st_gid);
}

std::optional<struct stat> stat_in_userns(const stdfs::path& rootfs, const std::string& rel,
                                          const SubIdMaps& maps) {
    auto out = userns::run_in_userns(maps.uids, maps.gids, "looking at " + rel, [&] {
        auto p = rootfs / rel;
        struct stat st {};
        if (::lstat(p.c_str(), &st) != 0) {
            if (errno == ENOENT || errno == ENOTDIR) return std::string("N");
            throw_errno("cannot look at " + p.string());
        }
        char v[64] = {};
        unsigned long uid = st.st_uid, gid = st.st_gid;
        if (::lgetxattr(p.c_str(), layer::kOwnerXattr, v, sizeof v - 1) > 0)
            (void)std::sscanf(v, "%lu:%lu", &uid, &gid);
        return "S " + std::to_string(st.st_mode) + " " + std::to_string(uid) + " " +
               std::to_string(gid) + " " + std::to_string(st.st_size) + " " +
               std::to_string(st.st_mtim.tv_sec) + " " + std::to_string(st.st_rdev);
    });
    if (!out.starts_with("S ")) return std::nullopt;
    unsigned long long mode = 0, uid = 0, gid = 0, rdev = 0;
    long long size = 0, mtime = 0;
    if (std::sscanf(out.c_str(), "S %llu %llu %llu %lld %lld %llu", &mode, &uid, &gid, &size,
                    &mtime, &rdev) != 6)
        throw Error(Errc::internal, "the stat in the user namespace is malformed: " + out);
    struct stat st {};
    st.st_mode = static_cast<mode_t>(mode);
    st.st_uid = static_cast<uid_t>(uid);
    st.st_gid = static_cast<gid_t>(gid);
    st.st_size = static_cast<off_t>(size);
    st.st_mtim.tv_sec = static_cast<time_t>(mtime);
    st.st_rdev = static_cast<dev_t>(rdev);
    return st;
}

void record_store_maps(const Store& store, const SubIdMaps& maps) {
    auto path = store.root() / "owners.json";
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0) return check_store_maps(store.root(), maps);
    fs::write_atomic(path, maps_json(maps).dump(2) + "\n", 0644);
}

void check_store_maps(const stdfs::path& store_root, const SubIdMaps& maps) {
    auto path = store_root / "owners.json";
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return; // the usual case: nothing applied
    std::string text;
    try {
        text = fs::read_file(path, 1u << 20);
    } catch (const Error&) {
        return; // none (or unreadable: the importer's checks of each layer still hold)
    }
    auto recorded = oci::json::parse(text, nullptr, false);
    if (recorded.is_discarded() || same_maps(recorded, maps)) return;
    throw Error(Errc::conflict,
                "the store " + store_root.string() +
                    " holds image files owned by your subordinate ids as they were: " +
                    describe_maps(recorded) + "; yours are now " + describe_maps(maps_json(maps)) +
                    " (/etc/subuid or /etc/subgid changed)",
                "restore your ranges in /etc/subuid and /etc/subgid, or have root remove the "
                "store (sudo rm -rf " +
                    store_root.string() + ") and load or pull the images again");
}

oci::json maps_json(const SubIdMaps& maps) {
    return {{"uid_map", map_rows(maps.uids)}, {"gid_map", map_rows(maps.gids)}};
}

bool same_maps(const oci::json& recorded, const SubIdMaps& maps) {
    if (!recorded.is_object()) return false;
    auto want = maps_json(maps);
    return recorded.value("uid_map", oci::json()) == want["uid_map"] &&
           recorded.value("gid_map", oci::json()) == want["gid_map"];
}

std::string describe_maps(const oci::json& recorded) {
    std::string out;
    for (const char* key : {"uid_map", "gid_map"}) {
        if (!recorded.is_object() || !recorded.contains(key) || !recorded[key].is_array()) continue;
        std::string part;
        for (auto& r : recorded[key]) {
            if (!r.is_array() || r.size() != 3) continue;
            auto c = r[0].get<std::uint64_t>(), h = r[1].get<std::uint64_t>(),
                 n = r[2].get<std::uint64_t>();
            if (c == 0) continue; // the user's own id
            if (!part.empty()) part += ", ";
            part += std::to_string(c) + "-" + std::to_string(c + n - 1) + " -> " +
                    std::to_string(h) + "-" + std::to_string(h + n - 1);
        }
        if (part.empty()) continue;
        if (!out.empty()) out += "; ";
        out += std::string(key == std::string("uid_map") ? "uids " : "gids ") + part;
    }
    return out.empty() ? "no subordinate ids" : out;
}

} // namespace gantry::store
