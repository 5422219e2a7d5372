#include "image_build/run_step.hpp"

#include "gpu_vendors/all/backends.hpp"
#include "image_build/copy_step.hpp"
#include "image_build/layer_commit.hpp"
#include "image_build/output_tail.hpp"
#include "image_build/step_driver.hpp"
#include "oci/image.hpp"
#include "store/temporary_tag.hpp"
#include "userns/idmap.hpp"
#include "util/error.hpp"

#include <set>

namespace gantry::image_build {
namespace {

std::string relative(const std::string& dst) {
    std::string r = dst;
    while (r.starts_with('/')) r.erase(0, 1);
    while (r.ends_with('/')) r.pop_back();
    return r;
}

} // namespace

std::string run_mode(engine::Caller& caller) {
    if (caller.real_root) return "root";
    auto maps = caller.id_maps("auto");
    return userns::is_single_id(maps[0]) ? "fake-root" : "subordinate ids";
}

std::optional<WorkLayer> run_step(store::Store& store, const WorkImage& image, const RunStep& step,
                                  RunSettings& s) {
    auto manifest = image.commit(store);
    store::TemporaryTag named(store, manifest); // prune drops the name if this build dies

    engine::RunRequest r;
    r.image = named.ref();
    r.pull = "never"; // the work image is in the store; a site's pull_policy does not apply
    // the step runs as the stage's platform: natively, or under the host's binfmt_misc handler
    // for it (engine/platform_check.hpp), refused with the reason where there is none
    if (image.config.contains("architecture"))
        r.platform = oci::Platform::from_json(image.config).str();
    r.command = step.argv;
    r.entrypoint = "";
    r.env = step.env;
    // a build sees no GPU and no driver, whatever the image asks for: --gpu-arch says what to
    // compile for (the vendors' own "no GPU" value, over an image's NVIDIA_VISIBLE_DEVICES=all),
    // unless the step was given devices (--allow device): then that vendor's GPUs are asked
    const auto& dev = step.devices;
    for (const gpu_vendors::Backend* b : gpu_vendors::backends())
        if ((!dev.gpu_vendor || b->name() != *dev.gpu_vendor) && !b->hide_env().empty())
            r.env.emplace_back(b->hide_env());
    r.gpus = dev.gpus;
    r.gpu_vendor = dev.gpu_vendor;
    r.devices = dev.devices;
    r.gpu_roots = s.device_host.roots;
    r.cdi_dirs = s.device_host.cdi_dirs;
    const auto& cfg = image.config.value("config", nlohmann::json::object());
    r.workdir = cfg.value("WorkingDir", std::string());
    r.user = cfg.value("User", std::string());
    r.network = step.network;
    r.writable_layer = "disk";
    r.overlay_required = true; // the layer commit reads the upper directory
    // a step's work image is new at each step: a kernel cache keyed on it would never hit again,
    // so the config file's kernel_cache does not apply to builds
    r.kernel_cache = "off";
    r.write_warn = "1024p"; // a build reports no writes: they are the point
    r.fake_root = s.fake_root;
    r.mounts = step.mounts.binds;
    if (s.fake_root && !s.apt_no_sandbox.empty()) {
        auto conf = stat_in_image(store, image, "etc/apt/apt.conf.d");
        if (conf && S_ISDIR(conf->st_mode))
            r.mounts.push_back("type=bind,src=" + s.apt_no_sandbox +
                               ",dst=/etc/apt/apt.conf.d/zz-gantry-fake-root,readonly");
    }
    r.tmpfs = step.mounts.tmpfs;
    r.hostname = "buildkitsandbox";

    auto p = engine::prepare(store, r, s.caller);
    InjectionTraces traces;
    if (!dev.empty()) traces = confine_injection(p.spec);
    std::set<std::string> stubs;
    for (const auto& m : p.spec.mounts) stubs.insert(relative(m.destination));
    stubs.insert("etc/hostname"); // the runtime's own bind (runtime/mounts.cpp)
    stubs.erase("");
    auto upper = p.scratch->upper();
    int status;
    std::string tail;
    {
        OutputTail out(s.quiet);
        status = engine::run(p).status;
        out.stop();
        tail = out.last_lines();
    }
    if (status != 0) {
        std::string msg = step.what + " failed: exit status " + std::to_string(status);
        if (!tail.empty()) msg += "; its last output:";
        while (tail.ends_with('\n')) tail.pop_back();
        throw Error(Errc::run_failed, msg, "fix the command; nothing was tagged").with_detail(tail);
    }
    UpperCommit c;
    c.upper = upper;
    if (!s.caller.real_root) c.maps = s.caller.id_maps(s.fake_root ? "single" : "auto");
    c.stubs = std::move(stubs);
    c.links = std::move(traces.symlinks);
    c.epoch = s.epoch;
    c.privileged = s.caller.real_root;
    return commit_upper(store, c);
}

} // namespace gantry::image_build
