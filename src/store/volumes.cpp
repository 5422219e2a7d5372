#include "store/volumes.hpp"

#include "store/owned_tree.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/random.hpp"
#include "util/text.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <sys/stat.h>

namespace gantry::store {

namespace {

stdfs::path vol_dir(const Store& store) {
    return store.root() / "volumes";
}

std::string vol_now() {
    return text::rfc3339(std::chrono::system_clock::to_time_t(std::chrono::system_clock::now()));
}

std::optional<Volume> vol_read(const Store& store, const std::string& name) {
    auto dir = vol_dir(store) / name;
    std::error_code ec;
    if (!stdfs::is_directory(dir / "_data", ec)) return std::nullopt;
    Volume v;
    v.name = name;
    v.mountpoint = dir / "_data";
    try {
        auto j = nlohmann::json::parse(fs::read_file(dir / "volume.json", 1 << 20));
        v.created = j.value("CreatedAt", "");
        if (j.contains("Labels") && j["Labels"].is_object())
            for (auto& [k, val] : j["Labels"].items())
                if (val.is_string()) v.labels[k] = val.get<std::string>();
    } catch (const std::exception&) {
        // a record unreadable: the volume is still its directory
    }
    return v;
}

} // namespace

bool valid_volume_name(const std::string& n) {
    auto alnum = [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    };
    if (n.size() < 2 || n.size() > 255 || !alnum(n[0])) return false;
    for (char c : n)
        if (!alnum(c) && c != '_' && c != '.' && c != '-') return false;
    return true;
}

Volume create_volume(const Store& store, std::string name,
                     const std::map<std::string, std::string>& labels) {
    if (name.empty()) name = random::hex_id(32);
    if (!valid_volume_name(name))
        throw Error(Errc::usage,
                    "\"" + name +
                        "\" includes invalid characters for a local volume name, only "
                        "\"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed",
                    "name the volume with letters, digits, _ . and - (at least 2)");
    if (auto v = vol_read(store, name)) {
        if (!labels.empty() && v->labels != labels)
            throw Error(Errc::conflict, "volume " + name + " already exists with other labels",
                        "remove it first (gantry volume rm " + name + "), or give its labels");
        return *v;
    }
    auto dir = vol_dir(store);
    fs::make_dirs(dir, 0700);
    auto tmp = dir / (".tmp-" + fs::unique_name());
    fs::make_dirs(tmp / "_data", 0755);
    Volume v{name, dir / name / "_data", vol_now(), labels};
    nlohmann::json j{{"CreatedAt", v.created}, {"Labels", labels}};
    fs::write_atomic(tmp / "volume.json", j.dump(), 0644);
    if (::rename(tmp.c_str(), (dir / name).c_str()) != 0) {
        int err = errno;
        remove_owned_tree(tmp);
        if (err == EEXIST || err == ENOTEMPTY) { // made meanwhile by another
            if (auto other = vol_read(store, name)) return *other;
        }
        errno = err;
        throw_errno("cannot make the volume " + name + " in " + dir.string());
    }
    fs::sync_dir(dir);
    return v;
}

std::optional<Volume> find_volume(const Store& store, const std::string& name) {
    if (!valid_volume_name(name)) return std::nullopt;
    return vol_read(store, name);
}

std::vector<Volume> list_volumes(const Store& store) {
    std::vector<Volume> out;
    std::error_code ec;
    for (auto& e : stdfs::directory_iterator(vol_dir(store), ec)) {
        auto name = e.path().filename().string();
        if (!valid_volume_name(name)) continue; // .tmp-*, .gone-*
        if (auto v = vol_read(store, name)) out.push_back(std::move(*v));
    }
    std::sort(out.begin(), out.end(),
              [](const Volume& a, const Volume& b) { return a.name < b.name; });
    return out;
}

void remove_volume(const Store& store, const std::string& name) {
    if (!find_volume(store, name))
        throw Error(Errc::not_found, "no such volume: " + name,
                    "gantry volume ls lists the volumes");
    auto dir = vol_dir(store);
    auto gone = dir / (".gone-" + fs::unique_name());
    if (::rename((dir / name).c_str(), gone.c_str()) != 0)
        throw_errno("cannot remove the volume " + name);
    remove_owned_tree(gone);
}

std::uint64_t volume_size(const Volume& v) {
    std::uint64_t n = 0;
    std::error_code ec;
    for (auto it = stdfs::recursive_directory_iterator(
             v.mountpoint, stdfs::directory_options::skip_permission_denied, ec);
         it != stdfs::recursive_directory_iterator(); it.increment(ec)) {
        if (ec) break;
        struct stat st {};
        if (::lstat(it->path().c_str(), &st) == 0 && S_ISREG(st.st_mode))
            n += static_cast<std::uint64_t>(st.st_size);
    }
    return n;
}

} // namespace gantry::store
