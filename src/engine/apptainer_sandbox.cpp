// engine/apptainer_sandbox: a sandbox directory as the image of a `gantry apptainer` run
// (engine/apptainer_run.hpp, read_apptainer_sandbox). The tree is hostile input: its
// /.singularity.d files and /etc/passwd are read through rootfs::DirFiles (every path resolved
// inside the directory), and the launch mounts it as an overlay's lower layer (engine/launch.cpp)
// or, with --writable, binds it as the root; the runtime resolves every mount target in-root.
#include "engine/apptainer_run.hpp"
#include "engine/engine.hpp"
#include "rootfs/dir_files.hpp"
#include "sif/metadata.hpp"
#include "sqsh/image_ref.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

#include <sys/stat.h>
#include <unistd.h>

namespace gantry::engine {

namespace {

constexpr std::size_t kMaxSandboxPasswd = 4u << 20; // as a squashfs image's etc/passwd

} // namespace

bool read_apptainer_sandbox(Prepared& p) {
    const RunRequest& r = p.request;
    if (r.apptainer_action.empty()) return false; // gantry apptainer's alone
    struct stat st {};
    const bool dir = ::stat(r.image.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
    if (!dir) {
        if (r.apptainer_writable)
            throw Error(Errc::usage,
                        "--writable: no SIF writable overlay partition found in " + r.image +
                            " (Apptainer's reason: a SIF's root file system is squashfs, "
                            "read-only)",
                        "--writable-tmpfs for writes dropped at exit, or a sandbox to write in: "
                        "gantry apptainer build --sandbox DIR " +
                            r.image);
        return false;
    }
    const std::string abs = fs::stdfs::absolute(r.image).lexically_normal().string();
    if (r.apptainer_writable && ::access(abs.c_str(), W_OK) != 0)
        throw Error(Errc::usage,
                    "could not use " + abs + " for writing, you don't have write permissions",
                    "run it without --writable (or with --writable-tmpfs), or build a sandbox "
                    "of your own: gantry apptainer build --sandbox DIR " +
                        r.image);
    rootfs::DirFiles files(abs);
    sqsh::Facts facts;
    sif::Metadata md;
    if (auto labels = files.read(sif::kLabelsFile); !labels.empty())
        sif::add_labels(md.labels, labels, abs + "/" + sif::kLabelsFile);
    md.runscript = files.has(sif::kRunscript + 1);
    md.startscript = files.has(sif::kStartscript + 1);
    md.shell = files.has("bin/sh") || files.has("usr/bin/sh");
    for (const auto& n : files.list(sif::kEnvDir))
        if (n.ends_with(".sh")) md.env_scripts = true;
    facts.sif = std::move(md);
    facts.sif_arch = "unknown";
    facts.passwd = files.read("etc/passwd");
    if (facts.passwd.size() > kMaxSandboxPasswd)
        throw Error(Errc::invalid, abs + "/etc/passwd is over 4 MiB",
                    "a passwd file of that size is damaged or hostile");
    p.view = sqsh::run_view(facts, abs);
    apply_apptainer(p.view, r, &facts, abs);
    p.sandbox = abs;
    return true;
}

} // namespace gantry::engine
