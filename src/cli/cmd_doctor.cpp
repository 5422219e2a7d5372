// gantry doctor: proves before launch that an image's GPU code can run on this host. `doctor
// [IMAGE]` prints the chosen vendor's findings (gpu_vendors/backend.hpp: host rules, and the
// image's rules for the GPUs the request would get); `doctor --fatbin FILE [--json]` the fat binary
// table of one file (every container wherever it sits, each entry's kind, arch, compression and
// sizes) and its HIP code objects (each offload bundle entry's target ID, code object version, size
// and compression).
#include "cli/context.hpp"
#include "cli/host_root_flags.hpp"
#include "engine/cpu_check.hpp"
#include "engine/engine.hpp"
#include "engine/gpu_share.hpp"
#include "engine/platform_check.hpp"
#include "findings/finding.hpp"
#include "gpu_vendors/all/backends.hpp"
#include "kernel_cache/variables.hpp"
#include "oci/image.hpp"
#include "records/state.hpp"
#include "rootfs/rootfs.hpp"
#include "runspec/builder.hpp"
#include "store/images.hpp"
#include "userns/idmap.hpp"
#include "util/error.hpp"
#include "util/json.hpp"
#include "util/log.hpp"
#include "util/printable.hpp"

#include <cstdio>
#include <map>

namespace gantry::cli {

void register_doctor(CLI::App& app, Context& ctx);

namespace {

// The file's device code, every registered format's listing (device_code::Format::list): the
// formats found in the file, or each format's headline when none is.
int print_fatbin(const std::string& path, bool json) {
    const auto formats = gpu_vendors::device_code_formats();
    if (json) {
        auto document = nlohmann::json::object();
        for (const device_code::Format* f : formats) f->list_json(path, document);
        std::printf("%s\n", safe_json::dump_lossy(document, 2).c_str());
        // a damaged container is invalid input: listed, then exit 4
        auto problems = document.find("problems");
        return problems != document.end() && !problems->empty() ? exit_status(Errc::invalid) : 0;
    }
    std::vector<device_code::Listing> listings;
    bool any = false;
    for (const device_code::Format* f : formats) {
        listings.push_back(f->list(path));
        any = any || listings.back().found;
    }
    int status = 0; // a damaged container is invalid input: what was readable still shows
    bool first = true;
    for (const auto& l : listings) {
        for (const auto& p : l.problems) log::warn(path + ": " + p);
        if (l.damaged) status = exit_status(Errc::invalid);
        if (any && !l.found) continue;
        if (!first) std::printf("\n");
        first = false;
        std::printf("%s\n", text::printable(l.headline).c_str());
        for (const auto& table : l.tables) {
            std::printf("\n");
            print_table(table);
        }
    }
    return status;
}

} // namespace

namespace {

int report(const std::vector<findings::Finding>& findings, bool json) {
    if (json) {
        oci::json a = oci::json::array();
        for (auto& f : findings)
            a.push_back({{"id", f.id},
                         {"severity", findings::to_string(f.severity)},
                         {"message", f.message},
                         {"fix", f.fix}});
        std::printf(
            "%s\n",
            safe_json::dump_lossy(
                {{"result", findings::to_string(findings::worst(findings))}, {"findings", a}}, 2)
                .c_str());
    } else {
        for (auto sev : {findings::Severity::fail, findings::Severity::warn,
                         findings::Severity::info, findings::Severity::pass})
            for (auto& f : findings) {
                if (f.severity != sev) continue;
                // an image's values in a message (its env, its paths) through the one rule
                std::printf("%-5s %-26s %s\n", findings::to_string(f.severity), f.id.c_str(),
                            text::printable(f.message).c_str());
                if (!f.fix.empty())
                    std::printf("      %-26s fix: %s\n", "", text::printable(f.fix).c_str());
            }
    }
    return findings::worst(findings) == findings::Severity::fail ? 10 : 0;
}

} // namespace

void register_doctor(CLI::App& app, Context& ctx) {
    struct Opts {
        std::string fatbin, image, path;
        gpu_vendors::Roots roots;
        std::optional<std::string> gpus, gpu_vendor;
        std::vector<std::string> env;
        std::string cpuset_cpus;
        bool json = false;
    };
    auto o = std::make_shared<Opts>();
    auto* cmd = app.add_subcommand("doctor", "Check that GPU code can run on this host");
    cmd->add_option("--fatbin", o->fatbin,
                    "List the CUDA fat binaries and HIP code objects in FILE (an ELF library, "
                    "executable or object, a raw .fatbin or a raw HIP offload bundle)")
        ->type_name("FILE");
    cmd->add_flag("--json", o->json, "Print JSON");
    cmd->add_option("image", o->image, "Image to check against this host (optional)");
    cmd->add_option("--path", o->path,
                    "Scan only image files under this path for GPU code (e.g. usr/lib)");
    cmd->add_option("--gpus", o->gpus, "GPUs the container would get (docker syntax)");
    cmd->add_option("-e,--env", o->env, "Environment the container would get (K=V)")
        ->allow_extra_args(false);
    cmd->add_option("--cpuset-cpus", o->cpuset_cpus,
                    "CPUs the container would run on, checked against its GPUs' NUMA nodes "
                    "(default: those gantry may use)")
        ->type_name("LIST");
    add_host_root_flags(cmd, o->roots);
    cmd->add_option("--gpu-vendor", o->gpu_vendor, gpu_vendors::vendor_flag_help());
    cmd->callback([&ctx, o] {
        ctx.action = [&ctx, o] {
            if (!o->fatbin.empty()) return print_fatbin(o->fatbin, o->json);
            const auto& backend = gpu_vendors::choose(o->roots, o->gpu_vendor);
            gpu_vendors::DoctorContext dctx{o->roots};
            dctx.cache_dir = records::runtime_dir().string();
            dctx.gpus = o->gpus;
            dctx.path_prefix = o->path;
            auto caller = engine::Caller::current();
            dctx.caller = {caller.real_root, caller.uid, caller.gid, false};
            store::Image img;
            if (!o->image.empty()) {
                auto& store = ctx.store();
                img = store::find_image(store, o->image);
                dctx.store = &store;
                dctx.image = &img;
                dctx.ref = o->image;
                runspec::RunOptions ro; // the environment exactly as a run computes it
                ro.env = o->env;
                dctx.env = runspec::environment(img.config.raw, ro);
            }
            auto findings = gpu_vendors::doctor(backend, dctx);
            // What keeps rootless runs from starting at all (the host's sysctls, read under
            // --sys-root as a simulated host keeps them): a failure for a rootless caller.
            const std::string& sys_root = o->roots.sys_root;
            std::string base = sys_root == "/" ? "" : sys_root;
            if (auto b = userns::rootless_blocked(base + "/proc", base + "/sys"))
                findings.push_back(
                    {"HOST-ROOTLESS-BLOCKED",
                     caller.real_root ? findings::Severity::warn : findings::Severity::fail, b->why,
                     b->hint});
            for (auto& f : engine::cpu_findings(dctx.store, dctx.image, o->path))
                findings.push_back(std::move(f));
            if (dctx.store && dctx.image)
                for (auto& f : engine::platform_findings(*dctx.store, *dctx.image))
                    findings.push_back(std::move(f));
            // an image (or -e) that turns a JIT's cache off: --kernel-cache cannot keep it
            for (auto& f :
                 kernel_cache::disabled_caches(dctx.env, gpu_vendors::kernel_cache_disablers()))
                findings.push_back(std::move(f));
            // CPUs far from the GPUs (their NUMA nodes)
            for (auto& f : engine::far_cpu_findings(backend, o->roots, dctx.gpus, dctx.env,
                                                    o->cpuset_cpus, dctx.caller))
                findings.push_back(std::move(f));
            return report(findings, o->json);
        };
    });
}

} // namespace gantry::cli
