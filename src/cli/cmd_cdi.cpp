// gantry cdi generate | list | validate: CDI specs for this host's GPUs (any vendor's backend), the
// devices the spec directories offer, and strict checks of spec files.
#include "cdi/registry.hpp"
#include "cdi/spec.hpp"
#include "cli/context.hpp"
#include "cli/host_root_flags.hpp"
#include "gpu_vendors/all/backends.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/log.hpp"
#include "util/printable.hpp"

#include <cstdio>
#include <filesystem>
#include <system_error>

namespace gantry::cli {

namespace {

namespace stdfs = std::filesystem;

// --output: a file, or a directory (/etc/cdi, /var/run/cdi or any existing one) that gets
// VENDOR.<ext> inside.
stdfs::path output_path(const std::string& out, cdi::Format fmt, const std::string& vendor) {
    stdfs::path p(out);
    std::string clean = p.lexically_normal().string();
    while (clean.size() > 1 && clean.back() == '/') clean.pop_back();
    std::error_code ec;
    bool spec_dir = clean == "/etc/cdi" || clean == "/var/run/cdi" || clean == "/run/cdi";
    if (spec_dir || stdfs::is_directory(p, ec)) {
        if (spec_dir) fs::make_dirs(clean, 0755);
        return stdfs::path(clean) / (vendor + (fmt == cdi::Format::json ? ".json" : ".yaml"));
    }
    return p;
}

void register_generate(CLI::App& parent, Context& ctx) {
    struct Opts {
        gpu_vendors::Roots roots;
        std::optional<std::string> vendor;
        std::string format, output;
        std::vector<std::string> naming;
    };
    auto o = std::make_shared<Opts>();
    auto* cmd = parent.add_subcommand("generate", "Write a CDI spec for this host's GPUs");
    cmd->add_option("--vendor", o->vendor, gpu_vendors::vendor_flag_help());
    add_host_root_flags(cmd, o->roots);
    cmd->add_option("--format", o->format,
                    "yaml or json (default: by --output's extension, else yaml)")
        ->check(CLI::IsMember({"yaml", "json"}));
    cmd->add_option("-o,--output", o->output,
                    "File to write atomically (default: stdout); /etc/cdi or /var/run/cdi "
                    "writes VENDOR.yaml there");
    cmd->add_option("--device-name-strategy", o->naming,
                    "index (0, 0:1) or uuid (GPU-…, MIG-…); repeatable (default: both for nvidia, "
                    "index for amd, as their vendors' tools)")
        ->delimiter(',')
        ->check(CLI::IsMember({"index", "uuid"}));
    cmd->callback([&ctx, o] {
        ctx.action = [o] {
            cdi::Format fmt = cdi::Format::yaml;
            if (!o->format.empty())
                fmt = o->format == "json" ? cdi::Format::json : cdi::Format::yaml;
            else if (!o->output.empty())
                fmt = cdi::format_for(o->output);
            gpu_vendors::Roots roots = o->roots;
            for (const gpu_vendors::RootFlag& f : gpu_vendors::host_root_flags())
                roots.of(f) = stdfs::absolute(roots.of(f)).lexically_normal().string();
            const auto& backend = gpu_vendors::choose(roots, o->vendor);
            gpu_vendors::CdiOptions copt{o->naming, fs::self_exe()};
            std::vector<std::string> warnings;
            cdi::Spec spec = backend.generate_cdi(roots, copt, &warnings);
            for (const auto& w : warnings) log::warn(w);
            std::string text = cdi::serialize(spec, fmt);
            if (o->output.empty() || o->output == "-") {
                std::fwrite(text.data(), 1, text.size(), stdout);
                return 0;
            }
            auto path = output_path(o->output, fmt, std::string(backend.name()));
            fs::write_atomic(path, text, 0644);
            log::note("wrote " + path.string() + " (cdiVersion " + spec.cdi_version + ", " +
                      std::to_string(spec.devices.size()) + " devices of kind " + spec.kind + ")");
            return 0;
        };
    });
}

void register_list(CLI::App& parent, Context& ctx) {
    auto dirs = std::make_shared<std::vector<std::string>>();
    auto* cmd = parent.add_subcommand("list", "List the CDI devices the spec directories offer");
    cmd->add_option("--spec-dir", *dirs,
                    "Directory to read instead of /etc/cdi and /var/run/cdi (repeatable; later "
                    "ones win)");
    cmd->callback([&ctx, dirs] {
        ctx.action = [dirs] {
            cdi::Registry reg(dirs->empty() ? cdi::default_spec_dirs() : *dirs);
            for (const auto& e : reg.errors()) log::warn(e);
            for (const auto& n : reg.device_names()) std::printf("%s\n", n.c_str());
            return 0;
        };
    });
}

void register_validate(CLI::App& parent, Context& ctx) {
    auto files = std::make_shared<std::vector<std::string>>();
    auto* cmd = parent.add_subcommand("validate", "Check CDI spec files strictly");
    cmd->add_option("FILE", *files, "Spec files (.yaml or .json)")->required();
    cmd->callback([&ctx, files] {
        ctx.action = [files] {
            bool ok = true;
            for (const auto& f : *files) {
                std::vector<std::string> problems;
                cdi::Spec spec;
                try {
                    spec = cdi::load(f, false);
                    for (const auto& p : cdi::validate(spec)) problems.push_back(f + ": " + p);
                } catch (const Error& e) {
                    problems.push_back(e.message());
                }
                if (problems.empty()) {
                    std::printf("%s: ok (cdiVersion %s, kind %s, %zu device%s)\n",
                                text::printable(f).c_str(),
                                text::printable(spec.cdi_version).c_str(),
                                text::printable(spec.kind).c_str(), spec.devices.size(),
                                spec.devices.size() == 1 ? "" : "s");
                    continue;
                }
                ok = false;
                for (const auto& p : problems)
                    std::fprintf(stderr, "%s\n", text::printable(p).c_str());
            }
            return ok ? 0 : exit_status(Errc::invalid);
        };
    });
}

} // namespace

void register_cdi(CLI::App& app, Context& ctx) {
    auto* cdi = app.add_subcommand("cdi", "Container Device Interface specs");
    cdi->require_subcommand(1);
    register_generate(*cdi, ctx);
    register_list(*cdi, ctx);
    register_validate(*cdi, ctx);
}

} // namespace gantry::cli
