// gantry doctor: proves before launch that an image's GPU code can run on this host. `doctor
// [IMAGE]` prints the chosen vendor's findings (vendor/backend.hpp: host rules, and the image's
// rules for the GPUs the request would get); `doctor --fatbin FILE [--json]` the fat binary table
// of one file (every container wherever it sits, each entry's kind, arch, compression and sizes)
// and its HIP code objects (each offload bundle entry's target ID, code object version, size and
// compression).
#include "cli/context.hpp"
#include "cli/host_root_flags.hpp"
#include "compat/fatbin.hpp"
#include "compat/hip_fatbin.hpp"
#include "engine/engine.hpp"
#include "oci/image.hpp"
#include "rootfs/rootfs.hpp"
#include "runspec/builder.hpp"
#include "runtime/state.hpp"
#include "store/images.hpp"
#include "util/error.hpp"
#include "util/log.hpp"
#include "vendor/backend.hpp"
#include "vendor/nvidia/doctor_rules.hpp"

#include <cstdio>
#include <map>

namespace gantry::cli {

void register_doctor(CLI::App& app, Context& ctx);

namespace {

std::string version_column(const compat::FatbinEntry& e) {
    if (e.is_ptx()) return std::to_string(e.code_major) + "." + std::to_string(e.code_minor);
    if (e.is_sass() && e.toolkit)
        return std::to_string(e.toolkit / 10) + "." + std::to_string(e.toolkit % 10);
    return "-";
}

std::string kind_column(const compat::FatbinEntry& e) {
    std::string k = e.kind == compat::EntryKind::unknown ? "kind" + std::to_string(e.raw_kind)
                                                         : compat::to_string(e.kind);
    if (e.relocatable) k += " (rdc)";
    return k;
}

struct Total {
    std::uint64_t entries = 0, size = 0, uncompressed = 0;
};

// HIP code objects (.hip_fatbin offload bundles) of the same file, beside the CUDA entries.
std::string hip_target(const compat::HipBundleEntry& e) {
    return e.target_id.empty() ? e.target.str() : e.target_id;
}

oci::json hip_json(const compat::HipFatbin& h) {
    oci::json out{
        {"found", h.found}, {"section_offset", h.section_offset}, {"section_size", h.section_size}};
    out["bundles"] = oci::json::array();
    for (const auto& b : h.bundles)
        out["bundles"].push_back({{"offset", b.offset},
                                  {"size", b.size},
                                  {"compression", compat::to_string(b.compression)},
                                  {"ccob_version", b.ccob_version},
                                  {"uncompressed_size", b.uncompressed_size},
                                  {"entries", b.entry_count}});
    out["entries"] = oci::json::array();
    std::vector<std::string> order;
    std::map<std::string, Total> totals;
    for (const auto& e : h.entries) {
        oci::json j{{"id", e.id},
                    {"kind", e.kind_name},
                    {"triple", e.triple},
                    {"target_id", hip_target(e)},
                    {"offset", e.offset},
                    {"size", e.size},
                    {"bundle", e.bundle},
                    {"compression", compat::to_string(h.bundles[e.bundle].compression)},
                    {"device_code", e.is_device_code()}};
        if (e.size > 0 && e.header.is_amdgpu) {
            j["processor"] = e.header.target.processor;
            j["code_object_version"] = e.header.code_object_version;
            j["e_flags"] = e.header.e_flags;
            j["xnack"] = compat::to_string(e.header.target.xnack);
            j["sramecc"] = compat::to_string(e.header.target.sramecc);
        } else if (e.size > 0) {
            j["header_error"] = e.header.error;
        }
        out["entries"].push_back(std::move(j));
        if (!e.is_device_code()) continue;
        auto t = hip_target(e);
        if (!totals.count(t)) order.push_back(t);
        totals[t].entries += 1;
        totals[t].size += e.size;
    }
    out["totals"] = oci::json::array();
    for (const auto& t : order)
        out["totals"].push_back(
            {{"target_id", t}, {"entries", totals[t].entries}, {"size", totals[t].size}});
    return out;
}

void print_hip_text(const std::string& path, const compat::HipFatbin& h) {
    std::size_t code = 0;
    for (const auto& e : h.entries) code += e.is_device_code() ? 1 : 0;
    std::printf("%s: .hip_fatbin with %zu offload bundle%s, %zu HIP code object%s\n", path.c_str(),
                h.bundles.size(), h.bundles.size() == 1 ? "" : "s", code, code == 1 ? "" : "s");
    if (code == 0) return;
    std::vector<std::vector<std::string>> rows;
    rows.push_back({"KIND", "TARGET", "VERSION", "COMPRESSION", "SIZE", "BUNDLE"});
    for (const auto& e : h.entries) {
        if (!e.is_device_code()) continue;
        const auto& b = h.bundles[e.bundle];
        std::string co = e.header.is_amdgpu ? "co v" + std::to_string(e.header.code_object_version)
                                            : "? (" + e.header.error + ")";
        std::string comp = compat::to_string(b.compression);
        if (b.ccob_version) comp += " (CCOB v" + std::to_string(b.ccob_version) + ")";
        rows.push_back({e.kind_name, hip_target(e), co, comp, std::to_string(e.size),
                        std::to_string(e.bundle)});
    }
    std::printf("\n");
    print_table(rows);
}

int print_fatbin(const std::string& path, bool json) {
    auto hip = compat::read_hip_fatbin_file(path);
    compat::FatbinOptions opts;
    opts.cubin = compat::FatbinOptions::Cubin::all;
    auto fb = compat::scan_fatbin_file(path, opts);
    // a damaged container is invalid input: listed, then exit 4 (what was readable still shows)
    const int damaged = fb.problems.empty() ? 0 : exit_status(Errc::invalid);

    // Totals per arch name, in order of first appearance.
    std::vector<std::string> order;
    std::map<std::string, Total> totals;
    Total all;
    for (auto& e : fb.entries) {
        if (e.stub) continue;
        auto name = e.arch_name() + (e.relocatable ? " (rdc)" : "");
        if (!totals.count(name)) order.push_back(name);
        auto& t = totals[name];
        for (auto* x : {&t, &all}) {
            x->entries += 1;
            x->size += e.disk_size();
            x->uncompressed += e.uncompressed_size;
        }
    }

    if (json) {
        oci::json out;
        out["path"] = fb.path;
        out["file_size"] = fb.file_size;
        out["elf"] = fb.elf;
        out["containers"] = oci::json::array();
        for (auto& c : fb.containers) {
            oci::json j{{"offset", c.offset},           {"size", c.size},
                        {"declared_size", c.declared},  {"section", c.region},
                        {"relocatable", c.relocatable}, {"nvlink_stub", c.stub},
                        {"entries", c.entry_count}};
            if (!c.error.empty()) j["error"] = c.error;
            out["containers"].push_back(std::move(j));
        }
        out["entries"] = oci::json::array();
        for (auto& e : fb.entries) {
            oci::json j{{"kind", compat::to_string(e.kind)},
                        {"arch", e.arch_name()},
                        {"sm", e.arch},
                        {"variant", e.variant == compat::ArchVariant::a   ? "a"
                                    : e.variant == compat::ArchVariant::f ? "f"
                                                                          : ""},
                        {"compression", compat::to_string(e.compression)},
                        {"offset", e.offset},
                        {"size", e.disk_size()},
                        {"payload_size", e.size},
                        {"uncompressed_size", e.uncompressed_size},
                        {"flags", e.flags},
                        {"container", e.container},
                        {"section", fb.containers[e.container].region},
                        {"relocatable", e.relocatable},
                        {"nvlink_stub", e.stub}};
            if (e.is_ptx())
                j["ptx_isa"] = std::to_string(e.code_major) + "." + std::to_string(e.code_minor);
            if (e.is_sass() && e.toolkit) j["toolkit"] = version_column(e);
            if (e.is_sass() && e.cubin_sm) j["cubin_sm"] = e.cubin_sm;
            if (!e.cubin_error.empty()) j["cubin_error"] = e.cubin_error;
            out["entries"].push_back(std::move(j));
        }
        out["totals"] = oci::json::array();
        for (auto& name : order) {
            auto& t = totals[name];
            out["totals"].push_back({{"arch", name},
                                     {"entries", t.entries},
                                     {"size", t.size},
                                     {"uncompressed_size", t.uncompressed}});
        }
        out["problems"] = fb.problems;
        out["hip"] = hip_json(hip);
        std::printf("%s\n", out.dump(2).c_str());
        return damaged;
    }

    for (auto& p : fb.problems) log::warn(path + ": " + p);
    if (hip.found) {
        print_hip_text(path, hip);
        if (fb.containers.empty()) return damaged; // a HIP-only file: no empty CUDA table
        std::printf("\n");
    }
    const std::size_t stubs = fb.stub_containers();
    std::printf("%s: %zu fatbin container%s", path.c_str(), fb.containers.size(),
                fb.containers.size() == 1 ? "" : "s");
    if (stubs)
        std::printf(" (%zu nvlink stub%s without code skipped)", stubs, stubs == 1 ? "" : "s");
    std::printf(", %llu entr%s\n", static_cast<unsigned long long>(all.entries),
                all.entries == 1 ? "y" : "ies");
    if (all.entries == 0) return damaged;

    std::vector<std::vector<std::string>> rows;
    rows.push_back(
        {"KIND", "ARCH", "COMPRESSION", "SIZE", "UNCOMPRESSED", "PTX-ISA/TOOLKIT", "SECTION"});
    for (auto& e : fb.entries) {
        if (e.stub) continue;
        rows.push_back({kind_column(e), e.arch_name(), compat::to_string(e.compression),
                        std::to_string(e.disk_size()), std::to_string(e.uncompressed_size),
                        version_column(e), fb.containers[e.container].region});
    }
    std::printf("\n");
    print_table(rows);

    rows.clear();
    rows.push_back({"ARCH", "ENTRIES", "SIZE", "UNCOMPRESSED"});
    for (auto& name : order) {
        auto& t = totals[name];
        rows.push_back({name, std::to_string(t.entries), std::to_string(t.size),
                        std::to_string(t.uncompressed)});
    }
    rows.push_back({"total", std::to_string(all.entries), std::to_string(all.size),
                    std::to_string(all.uncompressed)});
    std::printf("\n");
    print_table(rows);
    return damaged;
}

} // namespace

namespace {

int report(const std::vector<compat::Finding>& findings, bool json) {
    if (json) {
        oci::json a = oci::json::array();
        for (auto& f : findings)
            a.push_back({{"id", f.id},
                         {"severity", compat::to_string(f.severity)},
                         {"message", f.message},
                         {"fix", f.fix}});
        std::printf("%s\n", oci::json{{"result", compat::to_string(compat::worst(findings))},
                                      {"findings", a}}
                                .dump(2)
                                .c_str());
    } else {
        for (auto sev : {compat::Severity::fail, compat::Severity::warn, compat::Severity::info,
                         compat::Severity::pass})
            for (auto& f : findings) {
                if (f.severity != sev) continue;
                std::printf("%-5s %-26s %s\n", compat::to_string(f.severity), f.id.c_str(),
                            f.message.c_str());
                if (!f.fix.empty()) std::printf("      %-26s fix: %s\n", "", f.fix.c_str());
            }
    }
    return compat::worst(findings) == compat::Severity::fail ? 10 : 0;
}

} // namespace

void register_doctor(CLI::App& app, Context& ctx) {
    struct Opts {
        std::string fatbin, image, path;
        vendor::Roots roots;
        std::optional<std::string> gpus, gpu_vendor;
        std::vector<std::string> env;
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
    add_host_root_flags(cmd, o->roots);
    cmd->add_option("--gpu-vendor", o->gpu_vendor,
                    "nvidia or amd (default: the vendor whose driver the host has; nvidia when "
                    "both)");
    cmd->callback([&ctx, o] {
        ctx.action = [&ctx, o] {
            if (!o->fatbin.empty()) return print_fatbin(o->fatbin, o->json);
            const auto& backend = vendor::choose(o->roots, o->gpu_vendor);
            vendor::DoctorContext dctx{o->roots};
            dctx.cache_dir = runtime::runtime_dir().string();
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
            return report(vendor::doctor(backend, dctx), o->json);
        };
    });
}

} // namespace gantry::cli
