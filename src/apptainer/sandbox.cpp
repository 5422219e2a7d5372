#include "apptainer/sandbox.hpp"

#include "apptainer/delegate.hpp"
#include "engine/squashfs.hpp"
#include "layer/extract.hpp"
#include "oci/image.hpp"
#include "registry/oras.hpp"
#include "sif/write.hpp"
#include "sqsh/confined.hpp"
#include "sqsh/facts.hpp"
#include "sqsh/image_tar.hpp"
#include "sqsh/load.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"
#include "util/fs.hpp"
#include "util/identity.hpp"
#include "util/log.hpp"
#include "util/spawn.hpp"

#include <array>
#include <cerrno>
#include <ctime>
#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

namespace gantry::apptainer {

namespace {

namespace stdfs = fs::stdfs;

// A temporary path beside TARGET (".NAME.tmp-UNIQUE[TAIL]"), removed at scope exit unless kept
class SandboxTemp {
  public:
    // TAIL after the unique part (".sif": what `gantry build -o` takes)
    SandboxTemp(const std::string& target, const std::string& tail) {
        auto p = stdfs::absolute(target).lexically_normal();
        path_ =
            (p.parent_path() / ("." + p.filename().string() + ".tmp-" + fs::unique_name() + tail))
                .string();
    }
    ~SandboxTemp() {
        if (path_.empty()) return;
        try {
            fs::remove_tree(path_);
        } catch (const Error& e) {
            log::warn("cannot remove " + path_ + ": " + e.message());
        }
    }
    SandboxTemp(const SandboxTemp&) = delete;
    SandboxTemp& operator=(const SandboxTemp&) = delete;
    const std::string& path() const { return path_; }
    void keep() { path_.clear(); }

  private:
    std::string path_;
};

// What a confined process streams, as the layer reader reads it
class SandboxStream final : public layer::Reader {
  public:
    explicit SandboxStream(sqsh::ConfinedStream& s) : s_(s) {}
    std::size_t read(void* buf, std::size_t n) override { return s_.read(buf, n); }

  private:
    sqsh::ConfinedStream& s_;
};

// The directories Apptainer's base environment gives every sandbox
// (internal/pkg/build/sources/base_environment.go), made in-root where the image lacks them
void sandbox_base_dirs(int root) {
    static constexpr std::array<std::pair<const char*, mode_t>, 11> dirs = {
        {{"proc", 0755},
         {"sys", 0755},
         {"dev", 0755},
         {"tmp", 01777},
         {"var", 0755},
         {"var/tmp", 01777},
         {"home", 0755},
         {"root", 0700},
         {"etc", 0755},
         {".singularity.d", 0755},
         {".singularity.d/env", 0755}}};
    for (auto [path, mode] : dirs) {
        auto p = stdfs::path(path);
        Fd parent(fs::openat_in_root(root, "/" + p.parent_path().string(),
                                     O_PATH | O_DIRECTORY | O_CLOEXEC));
        if (!parent) continue; // the image made its parent something else: left as it is
        if (::mkdirat(parent.get(), p.filename().c_str(), mode) == 0)
            ::fchmodat(parent.get(), p.filename().c_str(), mode, 0); // past the umask
    }
}

// TMP renamed to TARGET, which must not exist
void sandbox_publish(const std::string& tmp, const std::string& target) {
    if (::renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, target.c_str(), RENAME_NOREPLACE) != 0)
        throw_errno("cannot rename the sandbox into place as " + target,
                    "another process made " + target + " meanwhile: remove it and build again");
}

[[noreturn]] void sandbox_failed(const std::string& what, int status, const std::string& why) {
    throw Error(Errc::run_failed,
                what + " failed (" +
                    (WIFEXITED(status) ? "exit " + std::to_string(WEXITSTATUS(status))
                                       : std::string("killed")) +
                    ")" + (why.empty() ? std::string() : ": " + why),
                "its message above says why");
}

} // namespace

bool is_sandbox(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

void refuse_existing_target(const std::string& target, bool force) {
    std::error_code ec;
    if (!force && (stdfs::exists(target, ec) || stdfs::is_symlink(target, ec)))
        throw Error(Errc::conflict, "build target '" + target + "' already exists",
                    "--force replaces it");
}

std::vector<std::string> sif_line(const SandboxSource& source, const std::string& out) {
    const std::string& spec = source.spec;
    std::vector<std::string> line = source.gantry;
    if (spec.find("://") != std::string::npos) {
        if (!source.build_args.empty() || source.notest)
            throw Error(Errc::usage,
                        "--build-arg and --notest apply to a definition file, not " + spec,
                        "drop them");
        line.insert(line.end(), {"pull", docker_ref(spec, "build"), "--format", "sif", "-o", out});
        return line;
    }
    std::error_code ec;
    const bool definition = stdfs::is_regular_file(spec, ec) || spec.ends_with(".def") ||
                            spec.find('/') != std::string::npos;
    if (!definition) { // an image of gantry's store
        if (!source.build_args.empty() || source.notest)
            throw Error(Errc::usage,
                        "--build-arg and --notest apply to a definition file, not the image " +
                            spec,
                        "drop them");
        line.insert(line.end(), {"save", spec, "--format", "sif", "-o", out});
        return line;
    }
    line.insert(line.end(), {"build", "-f", spec, "-o", out});
    for (const auto& a : source.build_args) line.insert(line.end(), {"--build-arg", a});
    if (source.notest) line.push_back("--notest");
    return line;
}

void unpack_sandbox(const std::string& file, const std::string& dir) {
    auto image = sqsh::open_deferred(file);
    SandboxTemp tmp(dir, "");
    if (::mkdir(tmp.path().c_str(), 0755) != 0) throw_errno("cannot create " + tmp.path());
    Fd root(::open(tmp.path().c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!root) throw_errno("cannot open " + tmp.path());
    layer::ExtractOptions opt;
    opt.what = file;
    opt.privileged = running_as_real_root();
    opt.record_owners = false; // the caller's files, as Apptainer's unprivileged build leaves
    layer::ExtractStats stats;
    sqsh::stream_confined(
        *image, engine::squashfs_confinement(),
        [](sqsh::Image& im, int fd) { sqsh::write_tar(im, fd); },
        [&](sqsh::ConfinedStream& s) {
            SandboxStream in(s);
            stats = layer::extract_tar(in, root.get(), opt);
        });
    sandbox_base_dirs(root.get());
    if (stats.stripped_setid)
        log::note(std::to_string(stats.stripped_setid) +
                  " setuid/setgid bits dropped (a rootless sandbox holds the caller's files)");
    sandbox_publish(tmp.path(), dir);
    tmp.keep();
}

void sif_from_sandbox(const std::string& dir, const std::string& out) {
    const std::string gen = fs::find_program("gensquashfs");
    if (gen.empty())
        throw Error(Errc::unsupported, "gensquashfs is not installed: it packs " + dir,
                    "install squashfs-tools-ng (apt-get install squashfs-tools-ng)");
    SandboxTemp squashfs(out, ".sqfs");
    std::vector<std::string> args = {
        gen, "--pack-dir", dir, "--keep-time", "--compressor", "zstd", "--quiet", squashfs.path()};
    if (!running_as_real_root()) args.insert(args.end() - 1, "--all-root");
    Spawned p(args, {{0, 0}, {2, 2}}, {1});
    if (int st = p.wait(); !Spawned::ok(st))
        sandbox_failed("gensquashfs of " + dir, st, p.messages());
    Fd in(::open(squashfs.path().c_str(), O_RDONLY | O_CLOEXEC));
    struct stat st {};
    if (!in || ::fstat(in.get(), &st) != 0) throw_errno("cannot read " + squashfs.path());
    auto size = static_cast<std::uint64_t>(st.st_size);
    std::string id(16, '\0');
    if (::getrandom(id.data(), id.size(), 0) != static_cast<ssize_t>(id.size()))
        throw_errno("getrandom failed");
    id[6] = static_cast<char>((id[6] & 0x0f) | 0x40); // a version 4 UUID, as the reference's
    id[8] = static_cast<char>((id[8] & 0x3f) | 0x80);
    SandboxTemp sif(out, "");
    Fd file(::open(sif.path().c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
    if (!file) throw_errno("cannot create " + sif.path());
    std::string head = sif::layout(size, oci::Platform::host().architecture, id, ::time(nullptr));
    fs::write_all(file.get(), head.data(), head.size(), out);
    loff_t from = 0, to = static_cast<loff_t>(sif::kPartitionOffset);
    for (std::uint64_t left = size; left > 0;) {
        ssize_t n = ::copy_file_range(in.get(), &from, file.get(), &to, left, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) throw_errno("cannot write " + out, "check the space left beside it");
        left -= static_cast<std::uint64_t>(n);
    }
    fs::sync_file(file.get(), out);
    if (::rename(sif.path().c_str(), out.c_str()) != 0) throw_errno("cannot rename " + out);
    sif.keep();
}

std::vector<std::string> build_sif(const std::string& out, const SandboxSource& source,
                                   bool force) {
    refuse_existing_target(out, force);
    const std::string& spec = source.spec;
    if (is_sandbox(spec)) {
        sif_from_sandbox(spec, out);
        return {};
    }
    if (auto ref = oras_ref(spec); !ref.empty()) {
        registry::ClientOptions co;
        if (source.no_https) co.tls_verify = false;
        SandboxTemp pulled(out, ".sif");
        registry::oras_pull(ref, pulled.path(), co);
        if (::rename(pulled.path().c_str(), out.c_str()) != 0)
            throw_errno("cannot rename the pulled SIF into place as " + out);
        pulled.keep();
        return {};
    }
    if (spec.find("://") == std::string::npos && sqsh::is_squashfs_file(spec)) {
        SandboxTemp tree(out, ".sandbox");
        unpack_sandbox(spec, tree.path());
        sif_from_sandbox(tree.path(), out);
        return {};
    }
    SandboxSource delegated = source;
    delegated.gantry.clear();
    return sif_line(delegated, out);
}

void build_sandbox(const std::string& dir, const SandboxSource& source, bool force) {
    refuse_existing_target(dir, force);
    const std::string& spec = source.spec;
    // the SIF unpacked: the source itself, or one written beside DIR for it
    SandboxTemp made(dir, ".sif");
    std::string file = spec;
    if (is_sandbox(spec)) {
        sif_from_sandbox(spec, made.path());
        file = made.path();
    } else if (auto ref = oras_ref(spec); !ref.empty()) {
        registry::ClientOptions co;
        if (source.no_https) co.tls_verify = false;
        registry::oras_pull(ref, made.path(), co);
        file = made.path();
    } else if (spec.find("://") != std::string::npos || !sqsh::is_squashfs_file(spec)) {
        auto line = sif_line(source, made.path());
        const std::string verb = line.at(source.gantry.size());
        log::note("writing " + spec + " as a SIF first (gantry " + verb + "), then unpacking it");
        Spawned p(line, {{0, 0}, {1, 1}, {2, 2}}, {});
        if (int st = p.wait(); !Spawned::ok(st))
            sandbox_failed("gantry " + verb + " of " + spec, st, "");
        file = made.path();
    }
    // --force: the old tree moved aside, then removed once the new one is in place
    std::error_code ec;
    const bool replacing = stdfs::exists(dir, ec) || stdfs::is_symlink(dir, ec);
    const std::string old = SandboxTemp(dir, ".old").path(); // a name only: nothing there yet
    if (replacing && ::rename(dir.c_str(), old.c_str()) != 0)
        throw_errno("cannot move the old " + dir + " aside");
    try {
        unpack_sandbox(file, dir);
    } catch (...) {
        if (replacing) ::rename(old.c_str(), dir.c_str()); // as it was
        throw;
    }
    if (replacing) fs::remove_tree(old);
}

} // namespace gantry::apptainer
