#include "image_build/definition_build.hpp"

#include "archive/load.hpp"
#include "deffile/arguments.hpp"
#include "deffile/deffile.hpp"
#include "engine/squashfs.hpp"
#include "image_build/definition.hpp"
#include "image_build/options.hpp"
#include "registry/oras.hpp"
#include "sqsh/load.hpp"
#include "store/images.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/identity.hpp"
#include "util/log.hpp"
#include "util/spawn.hpp"

#include <sys/wait.h>
#include <unistd.h>

namespace gantry::image_build {
namespace {

namespace stdfs = std::filesystem;

std::string strip_scheme(std::string s, std::string_view scheme) {
    if (s.starts_with(scheme)) s.erase(0, scheme.size());
    return s;
}

// A stage's base as a reference the builder's FROM takes.
std::string definition_base(store::Store& store, const deffile::Stage& st,
                            const std::string& file) {
    const std::string agent = st.bootstrap();
    std::string from = st.value("from");
    const std::string at = file + ":" + std::to_string(st.header.at("from").line) + ": ";
    if (agent == "docker") return strip_scheme(from, "docker://");
    if (agent == "docker-daemon") {
        from = strip_scheme(from, "docker-daemon:");
        try {
            (void)store::find_image(store, from);
        } catch (const Error& e) {
            if (e.code() != Errc::not_found) throw;
            throw Error(Errc::not_found,
                        at + "Bootstrap: docker-daemon: " + from + " is not in gantry's store",
                        "gantry has no daemon; its store is the local image store: gantry pull " +
                            from + " (or gantry load), or use Bootstrap: docker");
        }
        return from;
    }
    if (agent == "oras") {
        // a SIF artifact (registry/oras.hpp), pulled into the store's tmp, loaded as a
        // localimage is, then removed
        from = strip_scheme(from, "oras://");
        auto tmp = store.tmp_dir() / ("oras-" + fs::unique_name() + ".sif");
        struct Remove {
            stdfs::path p;
            ~Remove() {
                std::error_code ec;
                stdfs::remove(p, ec);
            }
        } remove{tmp};
        try {
            registry::oras_pull(from, tmp.string(), {});
        } catch (const Error& e) {
            throw Error(e.code(), at + "Bootstrap: oras: " + e.message(), e.hint());
        }
        auto r = sqsh::load(store, tmp.string(), "", running_as_real_root(),
                            engine::squashfs_confinement());
        return r.config.str();
    }
    if (agent == "localimage") {
        if (stdfs::is_directory(from))
            throw Error(Errc::unsupported,
                        at + "Bootstrap: localimage: " + from +
                            " is a directory (a sandbox); gantry builds from image files",
                        "make it a SIF or squashfs file first, or gantry import a tar of it");
        if (!stdfs::is_regular_file(from))
            throw Error(Errc::not_found, at + "Bootstrap: localimage: no file " + from,
                        "give the path of a .sif or .sqsh file");
        if (!sqsh::is_squashfs_file(from))
            throw Error(Errc::unsupported,
                        at + "Bootstrap: localimage: " + from + " is not a SIF or squashfs file",
                        "give a .sif or .sqsh image file");
        auto r =
            sqsh::load(store, from, "", running_as_real_root(), engine::squashfs_confinement());
        return r.config.str();
    }
    // oci, oci-archive, docker-archive: a layout directory or archive, as gantry load reads it
    std::string path = strip_scheme(strip_scheme(from, agent + "://"), agent + ":");
    if (!stdfs::exists(path) && path.rfind(':') != std::string::npos)
        path.resize(path.rfind(':')); // PATH:TAG names the layout; the one image is taken
    if (!stdfs::exists(path))
        throw Error(Errc::not_found, at + "Bootstrap: " + agent + ": no such path " + path,
                    "give an OCI layout directory or an archive (docker save, OCI)");
    archive::LoadOptions lo;
    lo.privileged = running_as_real_root();
    auto images = archive::load(store, path, lo);
    if (images.size() != 1)
        throw Error(Errc::unsupported,
                    at + "Bootstrap: " + agent + ": " + path + " holds " +
                        std::to_string(images.size()) + " images, not one",
                    "gantry load it and use Bootstrap: docker-daemon with From: NAME");
    return images[0].config.str();
}

// Apptainer's runHostScript (internal/pkg/build/stage.go): %pre or %setup on the host, as the
// user who builds (rootless: no root to lend it), `/bin/sh -ex SCRIPT` with $APPTAINER_ROOTFS and
// $SINGULARITY_ROOTFS naming ROOTFS and the environment's variables set
void run_setup_script(const deffile::Section& s, const stdfs::path& rootfs,
                      const std::string& file) {
    const std::string section = "%" + s.name;
    auto script = rootfs.parent_path() / (s.name + ".sh");
    fs::write_atomic(script, s.body, 0700, fs::Sync::volatile_only);
    const std::string env = "/.singularity.d/env/91-environment.sh";
    log::note("running " + section + " on the host as uid " + std::to_string(::geteuid()) +
              " ($APPTAINER_ROOTFS: a directory added over the image)");
    Spawned p({"/usr/bin/env", "APPTAINER_ROOTFS=" + rootfs.string(),
               "SINGULARITY_ROOTFS=" + rootfs.string(), "APPTAINER_ENVIRONMENT=" + env,
               "SINGULARITY_ENVIRONMENT=" + env, "/bin/sh", "-ex", script.string()},
              {{0, 0}, {1, 1}, {2, 2}}, {});
    int status = p.wait();
    if (!Spawned::ok(status))
        throw Error(Errc::run_failed,
                    file + ":" + std::to_string(s.line) + ": " + section + " failed (" +
                        (WIFEXITED(status) ? "exit " + std::to_string(WEXITSTATUS(status))
                                           : std::string("killed")) +
                        ")",
                    "gantry runs " + section +
                        " as you, not as root, and $APPTAINER_ROOTFS is an empty "
                        "directory whose files are added over the image: a script that needs root "
                        "or reads the image's files cannot run there; do that in %post");
}

} // namespace

bool is_definition(const std::string& file, const std::string& text) {
    return file.ends_with(".def") || deffile::looks_like_definition(text);
}

DefinitionBuild::DefinitionBuild(store::Store& store, BuildOptions& bo, bool test) {
    try {
        plan(store, bo, test);
    } catch (...) {
        std::error_code ec;
        if (!meta_.empty()) stdfs::remove_all(meta_, ec);
        throw;
    }
}

void DefinitionBuild::plan(store::Store& store, BuildOptions& bo, bool test) {
    const std::string& file = bo.dockerfile_name;
    require_utf8(bo.dockerfile, file, bo.build_args, bo.labels);
    auto def = deffile::parse(bo.dockerfile, file);
    auto used = deffile::substitute(def, bo.build_args, file);
    for (const auto& [k, v] : bo.build_args)
        if (!used.count(k)) unused_.push_back(k);
    bo.build_args.clear();
    meta_ = store.tmp_dir() / ("def-" + fs::unique_name());
    stdfs::create_directories(meta_);
    DefinitionOptions o;
    o.file = file;
    o.context = bo.context;
    o.meta_dir = meta_;
    o.test = test;
    o.text = bo.dockerfile;
    o.setup = [&file](const deffile::Section& s, const stdfs::path& rootfs) {
        run_setup_script(s, rootfs, file);
    };
    o.base = [&](const deffile::Stage& st) { return definition_base(store, st, file); };
    auto plan = plan_definition(def, o);
    bo.instructions = std::move(plan.instructions);
    bo.contexts = std::move(plan.contexts);
    bo.entrypoint_prefix = std::move(plan.entrypoint_prefix);
    bo.test_argv = std::move(plan.test_argv);
}

DefinitionBuild::~DefinitionBuild() {
    std::error_code ec;
    if (!meta_.empty()) stdfs::remove_all(meta_, ec);
}

} // namespace gantry::image_build
