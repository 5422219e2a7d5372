#include "image_build/run_mounts.hpp"

#include "image_build/instruction_error.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"
#include "util/fs.hpp"
#include "util/hash.hpp"

#include <cerrno>
#include <cstdlib>
#include <fcntl.h>
#include <map>
#include <sys/stat.h>
#include <unistd.h>

namespace gantry::image_build {
namespace {

namespace stdfs = std::filesystem;

[[noreturn]] void bad_mount(const dockerfile::Instruction& ins, const std::string& what,
                            std::string hint = {}) {
    instruction_error(ins, "RUN --mount", what, std::move(hint));
}

// The mount's key=value fields (a bare key is "true"), first key wins for aliases later.
std::map<std::string, std::string> fields(const std::string& value) {
    std::map<std::string, std::string> out;
    std::size_t pos = 0;
    while (pos <= value.size()) {
        auto comma = value.find(',', pos);
        std::string kv = value.substr(pos, comma == std::string::npos ? comma : comma - pos);
        pos = comma == std::string::npos ? value.size() + 1 : comma + 1;
        if (kv.empty()) continue;
        auto eq = kv.find('=');
        out[kv.substr(0, eq)] = eq == std::string::npos ? "true" : kv.substr(eq + 1);
    }
    return out;
}

std::string get(const std::map<std::string, std::string>& f,
                std::initializer_list<const char*> names, const std::string& def = "") {
    for (const char* n : names)
        if (auto it = f.find(n); it != f.end()) return it->second;
    return def;
}

bool truthy(const std::string& v) {
    return v == "true" || v == "1";
}

std::string absolute_target(const MountContext& mc, const std::string& t) {
    if (t.starts_with("/")) return t;
    std::string wd = mc.state.config.value("WorkingDir", std::string("/"));
    return (wd.ends_with("/") ? wd : wd + "/") + t;
}

// A source path inside ROOT, resolved as if ROOT were "/": "..", absolute symbolic links and
// links that climb out all stay inside (openat2 RESOLVE_IN_ROOT), so a context's `link -> /etc`
// binds the context's own directory, never the host's. Returns the resolved real path, or ""
// when nothing is there.
stdfs::path inside(const stdfs::path& root, const std::string& src) {
    Fd r(::open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!r) throw_errno("cannot open " + root.string());
    std::string rel;
    for (const auto& s : clean_segments(src)) rel += (rel.empty() ? "" : "/") + s;
    if (rel.empty()) return stdfs::canonical(root);
    Fd f(fs::openat_in_root(r.get(), rel, O_PATH));
    if (!f) {
        if (errno == ENOENT) return {};
        throw_errno("cannot open " + src + " in " + root.string());
    }
    std::error_code ec;
    auto real = stdfs::read_symlink("/proc/self/fd/" + std::to_string(f.get()), ec);
    if (ec) throw Error(Errc::io, "cannot resolve " + src + ": " + ec.message());
    return real;
}

std::string bind_value(const std::string& src, const std::string& dst, bool ro) {
    return "type=bind,src=" + src + ",dst=" + dst + (ro ? ",readonly" : "");
}

} // namespace

std::vector<FileLock> run_mounts(const MountContext& mc, const dockerfile::Instruction& ins,
                                 RunMounts& out, std::vector<std::string>& inputs) {
    std::vector<FileLock> held;
    int n = 0;
    for (const auto* flag : ins.flags_named("mount")) {
        auto f = fields(mc.state.expand(flag->value));
        std::string type = get(f, {"type"}, "bind");
        std::string target = get(f, {"target", "dst", "destination"});
        if (type == "ssh")
            throw Error(Errc::unsupported,
                        "line " + std::to_string(ins.line) +
                            ": RUN --mount=type=ssh is not supported",
                        "pass what the step needs with --mount=type=secret");
        if (type == "secret") {
            std::string id = get(f, {"id"});
            if (id.empty() && !target.empty()) id = stdfs::path(target).filename();
            if (id.empty()) bad_mount(ins, "a secret mount needs id= or target=");
            if (target.empty()) target = "/run/secrets/" + id;
            const Secret* s = nullptr;
            for (const auto& x : mc.secrets)
                if (x.id == id) s = &x;
            if (!s) {
                if (truthy(get(f, {"required"})))
                    bad_mount(ins, "secret " + id + " was not given",
                              "pass it with --secret id=" + id + ",src=FILE");
                continue;
            }
            std::string src = s->src;
            if (!s->env.empty()) {
                const char* v = std::getenv(s->env.c_str());
                if (!v) bad_mount(ins, "secret " + id + ": the variable " + s->env + " is not set");
                auto file = mc.work / ("secret-" + std::to_string(n++));
                fs::write_atomic(file, v, 0400, fs::Sync::volatile_only); // for one RUN
                src = file.string();
            } else if (::access(src.c_str(), R_OK) != 0) {
                bad_mount(ins, "secret " + id + ": cannot read " + src);
            }
            out.binds.push_back(
                bind_value(stdfs::absolute(src).string(), absolute_target(mc, target), true));
            continue;
        }
        if (target.empty()) bad_mount(ins, type + " mount needs target=");
        target = absolute_target(mc, target);
        if (type == "tmpfs") {
            std::string size = get(f, {"size"});
            out.tmpfs.push_back(size.empty() ? target : target + ":size=" + size);
        } else if (type == "cache") {
            std::string id = get(f, {"id"}, target);
            std::string sharing = get(f, {"sharing"}, "shared");
            if (sharing != "shared" && sharing != "private" && sharing != "locked")
                bad_mount(ins, "sharing=" + sharing + ": use shared, private or locked");
            auto dir = mc.cache_mounts / Sha256::hex_of(id).substr(0, 32);
            bool fresh = !stdfs::exists(dir);
            stdfs::create_directories(mc.cache_mounts);
            if (sharing != "shared") {
                auto lock = FileLock::try_lock(dir.string() + ".lock", FileLock::Mode::exclusive);
                if (!lock.held()) {
                    if (sharing == "locked")
                        lock = FileLock(dir.string() + ".lock", FileLock::Mode::exclusive);
                    else { // private: another build has it; this step gets its own
                        dir = mc.work / ("cache-" + std::to_string(n++));
                        fresh = true;
                    }
                }
                if (lock.held()) held.push_back(std::move(lock));
            }
            if (fresh) {
                stdfs::create_directories(dir);
                std::string mode = get(f, {"mode"}, "0755");
                ::chmod(dir.c_str(), static_cast<mode_t>(std::strtoul(mode.c_str(), nullptr, 8)));
                if (::geteuid() == 0)
                    if (::chown(dir.c_str(), static_cast<uid_t>(std::stoul(get(f, {"uid"}, "0"))),
                                static_cast<gid_t>(std::stoul(get(f, {"gid"}, "0")))) != 0)
                        throw_errno("cannot set the owner of the cache mount " + dir.string());
            }
            bool ro = truthy(get(f, {"readonly", "ro"}));
            out.binds.push_back(bind_value(dir.string(), target, ro));
        } else if (type == "bind") {
            std::string src = get(f, {"source", "src"}, ".");
            std::string from = get(f, {"from"});
            stdfs::path root = mc.context.dir();
            std::string id;
            if (!from.empty()) root = mc.tree(from, id);
            auto path = inside(root, src);
            if (path.empty()) bad_mount(ins, "bind source " + src + " does not exist");
            if (!from.empty()) {
                inputs.push_back(id + ":" + src);
            } else { // what the bound directory holds (resolved in-root) keys the step
                auto rel = path.lexically_relative(stdfs::canonical(root)).string();
                inputs.push_back(mc.context.digest({rel == "." ? "" : rel}));
            }
            bool rw = truthy(get(f, {"rw", "readwrite"}));
            if (rw) { // writes are thrown away: bind a copy
                auto copy = mc.work / ("rw-" + std::to_string(n++));
                stdfs::copy(path, copy,
                            stdfs::copy_options::recursive | stdfs::copy_options::copy_symlinks);
                path = copy;
            }
            out.binds.push_back(bind_value(path.string(), target, !rw));
        } else {
            bad_mount(ins, "unknown type " + type, "use bind, cache, secret or tmpfs");
        }
    }
    return held;
}

} // namespace gantry::image_build
