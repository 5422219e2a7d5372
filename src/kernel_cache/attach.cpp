// A container's use of a key: the setting, the key's directory made, the writer's lock, the
// generation read, the run's own layer; finish() at its end (caches.hpp).
#include "kernel_cache/caches.hpp"
#include "kernel_cache/layout.hpp"
#include "kernel_cache/shared.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/log.hpp"

#include <sys/stat.h>
#include <unistd.h>

namespace gantry::kernel_cache {

namespace stdfs = std::filesystem;

Setting Setting::parse(const std::string& word, const std::string& where) {
    Setting s;
    if (word.empty() || word == "off") return s;
    if (word == "auto") {
        s.kind = Kind::automatic;
        return s;
    }
    if (!word.starts_with('/'))
        throw Error(Errc::usage,
                    where + ": \"" + word + "\" is neither auto, off nor an absolute directory",
                    "use --kernel-cache=auto (the store's kernel-caches/), off, or "
                    "--kernel-cache=/ABSOLUTE/DIR");
    // the overlay's mount options are split at ',' and its lower layers at ':'
    if (word.find_first_of(",:\n") != std::string::npos)
        throw Error(Errc::usage, where + ": the directory " + word + " holds a ',' or ':'",
                    "give a directory whose path has neither (overlayfs options cannot name it)");
    s.kind = Kind::dir;
    s.dir = stdfs::path(word).lexically_normal().string();
    return s;
}

std::string Setting::word() const {
    switch (kind) {
    case Kind::off:
        return "off";
    case Kind::automatic:
        return "auto";
    case Kind::dir:
        return dir;
    }
    return "off";
}

stdfs::path root_of(const Setting& setting, const stdfs::path& store_root) {
    stdfs::path root = setting.kind == Setting::Kind::dir ? stdfs::path(setting.dir)
                                                          : store_root / "kernel-caches";
    if (root.string().find_first_of(",:\n") != std::string::npos)
        throw Error(Errc::usage,
                    "the kernel caches' directory " + root.string() + " holds a ',' or ':'",
                    "give --kernel-cache=DIR a directory whose path has neither (overlayfs "
                    "options cannot name it)");
    return root;
}

const char* to_string(Role r) {
    return r == Role::writer ? "writer" : "reader";
}

namespace {

// A new key's directory: facts.json, runs/, and gen-0 holding the pointed variables' directories
// (mode 0777: the container's users, whatever their ids, write there through the overlay).
void make_key(const stdfs::path& dir, const KeyFacts& facts, const AttachOptions& options) {
    fs::make_dirs(dir, 0700);
    fs::make_dirs(dir / kRuns, 0700);
    if (::access((dir / kCurrent).c_str(), F_OK) == 0) return;
    auto tmp = dir / (std::string(".new-gen-") + fs::unique_name());
    fs::make_dirs(tmp, 0755);
    try {
        // a node's first start of a key another node published to a shared store: its work
        if (auto seed = find_shared(options.shared_stores, facts)) {
            link_tree(*seed, tmp);
            log::note("kernel cache " + dir.filename().string() + ": starting from " +
                      seed->parent_path().string());
        } else if (options.fetch) {
            try {
                options.fetch(facts, tmp);
            } catch (const Error& e) {
                log::warn("kernel cache " + dir.filename().string() +
                          ": starting empty, the registry's copy was not fetched: " + e.message());
                fs::remove_tree(tmp);
                fs::make_dirs(tmp, 0755);
            }
        }
    } catch (...) {
        fs::remove_tree(tmp);
        throw;
    }
    ::chmod(tmp.c_str(), 0777);
    for (const auto& d : options.directories) {
        fs::make_dirs(tmp / d, 0777);
        for (auto p = tmp / d; p != tmp; p = p.parent_path()) ::chmod(p.c_str(), 0777);
    }
    fs::write_atomic(dir / kFacts, facts.to_json().dump(2) + "\n", 0644);
    auto gen = dir / generation_name(0);
    if (::rename(tmp.c_str(), gen.c_str()) != 0)
        throw_errno("cannot make the kernel cache " + gen.string());
    swap_current(dir, generation_name(0));
}

} // namespace

Attachment attach(const stdfs::path& root, const KeyFacts& facts, const std::string& container_id,
                  const AttachOptions& options) {
    fs::make_dirs(root, 0700);
    Attachment a;
    a.root_ = root;
    a.max_bytes_ = options.max_bytes;
    a.key = key_of(facts);
    a.key_dir = root / a.key;
    {
        // shared with other attaches, exclusive for rm and prune: no key removed under us
        FileLock root_guard(root / kRootLock, FileLock::Mode::shared);
        fs::make_dirs(a.key_dir, 0700);
        FileLock key_guard(a.key_dir / kKeyLock, FileLock::Mode::exclusive);
        make_key(a.key_dir, facts, options);
        a.writer_lock_ = FileLock::try_lock(a.key_dir / kWriterLock, FileLock::Mode::exclusive);
        a.role = a.writer_lock_.held() ? Role::writer : Role::reader;
        std::string gen = current_generation(a.key_dir);
        a.generation = a.key_dir / gen;
        // held while the container runs: publish and prune leave this generation alone
        a.generation_lock_ = FileLock(a.key_dir / (gen + ".lock"), FileLock::Mode::shared);
        a.run_dir_ = a.key_dir / kRuns / container_id;
        fs::remove_tree(a.run_dir_); // a kept container started again: a fresh layer
        a.run_lock_ =
            FileLock(a.key_dir / kRuns / (container_id + ".lock"), FileLock::Mode::exclusive);
        fs::make_dirs(a.run_dir_ / "upper", 0700);
        fs::make_dirs(a.run_dir_ / "work", 0700);
        fs::write_atomic(a.key_dir / kUsed, std::to_string(::time(nullptr)) + "\n", 0644,
                         fs::Sync::volatile_only);
    }
    a.upper = a.run_dir_ / "upper";
    a.work = a.run_dir_ / "work";
    return a;
}

std::vector<std::string> Attachment::mount_options() const {
    return {"lowerdir=" + generation.string(), "upperdir=" + upper.string(),
            "workdir=" + work.string(), "userxattr"};
}

void Attachment::finish() {
    if (finished_ || run_dir_.empty()) return;
    finished_ = true;
    std::error_code ec;
    bool added = role == Role::writer && !stdfs::is_empty(upper, ec) && !ec;
    if (added) try {
            std::string gen = publish(key_dir, upper, true);
            log::debug("kernel cache " + key + ": published " + gen);
            generation_lock_.unlock(); // its old generation: no longer read by this container
            writer_lock_.unlock();
            auto pruned = prune(root_, false, max_bytes_);
            for (auto& k : pruned.keys)
                log::note("kernel cache " + k + " evicted (the caches hold more than " +
                          std::to_string(max_bytes_ >> 20) + " MiB: kernel_cache_max_size)");
        } catch (const Error& e) {
            log::warn("kernel cache " + key +
                      ": the container's additions were not kept: " + e.message());
        }
    try {
        fs::remove_tree(run_dir_);
        ::unlink((run_dir_.string() + ".lock").c_str());
    } catch (const Error& e) {
        log::debug("kernel cache " + key + ": " + e.message());
    }
    generation_lock_.unlock();
    writer_lock_.unlock();
    run_lock_.unlock();
}

std::vector<int> Attachment::descriptors() const {
    std::vector<int> out;
    for (const FileLock* l : {&writer_lock_, &generation_lock_, &run_lock_})
        if (l->held()) out.push_back(l->descriptor());
    return out;
}

Attachment::~Attachment() {
    if (handed_over_ || finished_ || run_dir_.empty()) return;
    try {
        fs::remove_tree(run_dir_);
        ::unlink((run_dir_.string() + ".lock").c_str());
    } catch (...) {
    }
}

} // namespace gantry::kernel_cache
