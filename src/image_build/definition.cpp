#include "image_build/definition.hpp"

#include "image_build/definition_apps.hpp"
#include "sif/metadata.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/text.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>

namespace gantry::image_build {
namespace {

namespace stdfs = std::filesystem;

[[noreturn]] void def_fail(const DefinitionOptions& opt, int line, const std::string& what,
                           std::string hint) {
    throw Error(Errc::invalid, opt.file + ":" + std::to_string(line) + ": " + what,
                std::move(hint));
}

// S as one word the builder's expansion gives back unchanged ($, quotes and the escape kept).
std::string def_literal(const std::string& s, std::string_view special = "\\$\"'") {
    std::string out;
    for (char c : s) {
        if (special.find(c) != std::string_view::npos) out.push_back('\\');
        out.push_back(c);
    }
    return out;
}

dockerfile::Instruction def_json(const std::string& keyword, int line,
                                 std::vector<std::string> args) {
    dockerfile::Instruction ins;
    ins.keyword = keyword;
    ins.line = ins.end_line = line;
    ins.json = true;
    ins.args = nlohmann::json(args).dump();
    ins.json_args = std::move(args);
    ins.original = keyword + " " + ins.args;
    return ins;
}

dockerfile::Instruction def_plain(const std::string& keyword, int line, std::string args) {
    dockerfile::Instruction ins;
    ins.keyword = keyword;
    ins.line = ins.end_line = line;
    ins.args = std::move(args);
    ins.original = keyword + " " + ins.args;
    return ins;
}

constexpr std::string_view kPostEnvironment = "/.singularity.d/env/91-environment.sh";

bool has_glob(const std::string& s) {
    return s.find_first_of("*?[") != std::string::npos;
}

class Translation {
  public:
    Translation(const deffile::Definition& def, const DefinitionOptions& opt)
        : def_(def), opt_(opt) {}

    DefinitionPlan run() {
        for (std::size_t i = 0; i < def_.stages.size(); ++i) stage(def_.stages[i], i);
        const auto& last = def_.stages.back();
        if (last.section("environment") && !last.section("runscript"))
            for (const auto& w : sif::env_entrypoint()) out_.entrypoint_prefix.push_back(w);
        if (opt_.test && last.section("test")) {
            for (const auto& w : sif::env_entrypoint()) out_.test_argv.push_back(w);
            out_.test_argv.push_back("/.singularity.d/test");
        }
        return std::move(out_);
    }

  private:
    void add(dockerfile::Instruction ins) {
        out_.instructions.instructions.push_back(std::move(ins));
    }

    void stage(const deffile::Stage& st, std::size_t index) {
        // Apptainer 1.x runs %pre on the host first, before the base is fetched
        // (internal/pkg/build/build.go, Full: runHostScript("pre", ...)), as it runs %setup
        std::string pre_layer;
        if (const auto* pre = st.section("pre")) pre_layer = run_host_script(*pre, index);
        std::string from = st.bootstrap() == "scratch" ? "scratch" : opt_.base(st);
        if (from.empty())
            def_fail(opt_, st.line, "From: is empty", "name the base image, e.g. From: debian:12");
        std::string name = text::lower(st.value("stage"));
        add(def_plain("FROM", st.line, def_literal(from) + (name.empty() ? "" : " AS " + name)));
        if (!pre_layer.empty()) add_host_layer(*st.section("pre"), pre_layer);
        // Apptainer's order (internal/pkg/build/build.go): %files from stages, %setup, %files
        for (const auto& s : st.sections)
            if (s.name == "files" && !s.args.empty()) files(s, true);
        if (const auto* setup = st.section("setup"))
            if (auto layer = run_host_script(*setup, index); !layer.empty())
                add_host_layer(*setup, layer);
        for (const auto& s : st.sections)
            if (s.name == "files" && s.args.empty()) files(s, false);
        // SCIF apps (definition_apps.hpp): their files in before %post, as Apptainer's
        // HandleBundle, each %appfiles into its app's directory
        const StageApps apps = stage_apps(st);
        if (!apps.order.empty()) {
            auto root = opt_.meta_dir / ("apps-" + std::to_string(index));
            write_app_files(apps, root, opt_.file);
            std::string context = "gantry-def-apps-" + std::to_string(index);
            out_.contexts[context] = root.string();
            auto first = std::find_if(st.sections.begin(), st.sections.end(),
                                      [](const auto& x) { return x.name.starts_with("app"); });
            auto ins = def_json("COPY", first->line, {".", "/"});
            ins.flags.push_back({"from", context, true});
            add(std::move(ins));
            for (const auto& app : apps.order)
                if (const auto* f = apps.section(app, "files"))
                    files(*f, false, "/scif/apps/" + app + "/");
        }
        if (const auto* post = st.section("post")) {
            // Apptainer's build writes the docker image's environment file before %post
            // (conveyorPacker_oci.go): for the bootstraps of that kind
            const std::string agent = st.bootstrap();
            if (agent == "docker" || agent == "docker-daemon" || agent == "oci" ||
                agent == "oci-archive" || agent == "docker-archive") {
                auto ins = def_json(
                    "RUN", st.line,
                    {"/bin/sh", "-c",
                     "mkdir -p /.singularity.d/env && f=/.singularity.d/env/"
                     "10-docker2singularity.sh && printf '%s' \"$GANTRY_DOCKER_ENV_SCRIPT\" > "
                     "\"$f\" && chmod 0755 \"$f\""});
                ins.flags.push_back({kDockerEnvFlag, "", false});
                add(std::move(ins));
            }
            run_post(*post);
        }
        // each %appinstall after %post, as Apptainer appends them to it (HandlePost)
        for (const auto& app : apps.order)
            if (const auto* i = apps.section(app, "install"); i && !text::trim(i->body).empty())
                add(def_json("RUN", i->line,
                             {"/bin/sh", "-ex", "-c", app_install_script(app, i->body)}));
        metadata(st, index);
        if (const auto* l = st.section("labels")) {
            std::string args;
            for (const auto& [k, v] : deffile::labels(*l, opt_.file))
                args += "\"" + def_literal(k, "\\$\"") + "\"=\"" + def_literal(v, "\\$\"") + "\" ";
            if (!args.empty()) add(def_plain("LABEL", l->line, args));
        }
        if (const auto* r = st.section("runscript")) {
            std::vector<std::string> entry;
            for (const auto& w : sif::env_entrypoint()) entry.push_back(w);
            add(def_json("ENTRYPOINT", r->line, entry));
            add(def_json("CMD", r->line, {sif::kRunscript}));
        }
        if (!name.empty()) names_.push_back(name);
    }

    // UNDER: a SCIF app's directory ("/scif/apps/NAME/"), which %appfiles destinations (the
    // source's path when none is given) are under
    void files(const deffile::Section& s, bool from_stage, const std::string& under = {}) {
        std::string from;
        if (from_stage) {
            from = text::lower(
                text::trim(std::string_view(s.args.substr(0, s.args.find('#'))).substr(4)));
            if (std::find(names_.begin(), names_.end(), from) == names_.end())
                def_fail(opt_, s.line, "%files from " + from + ": no earlier stage is named so",
                         "name the stage it copies from with Stage: " + from +
                             " in an earlier Bootstrap: block");
        }
        for (const auto& fc : deffile::file_copies(s, opt_.file)) {
            std::string src = fc.src, dst = fc.dst;
            std::string host_context; // a source outside the context: its directory's
            if (!from_stage && src.starts_with("/")) {
                auto norm = stdfs::path(src).lexically_normal();
                auto rel = norm.lexically_relative(opt_.context);
                if (rel.empty() || rel.string().starts_with("..")) {
                    // Apptainer copies %files from any host path the user can read: the
                    // source's directory becomes a named context of its own
                    if (has_glob(norm.parent_path().string()) || norm.filename().empty())
                        def_fail(opt_, fc.line,
                                 "%files source " + src +
                                     ": a pattern outside the build "
                                     "context may match in its last part only",
                                 "name the directory, or copy from the build context");
                    host_context = "gantry-def-host-" + std::to_string(out_.contexts.size());
                    out_.contexts[host_context] = norm.parent_path().string();
                    src = norm.filename().string();
                } else {
                    src = rel.string();
                }
            }
            if (!under.empty()) {
                const bool into_dir = dst.empty() && has_glob(fc.src); // the matches, in it
                dst = under +
                      (into_dir ? ""
                                : stdfs::path(dst.empty() ? fc.src : dst).relative_path().string());
                if (dst.back() != '/' && !fc.dst.empty() && fc.dst.back() == '/') dst += '/';
            }
            if (dst.empty()) {
                if (has_glob(fc.src))
                    def_fail(opt_, fc.line, "%files " + fc.src + " has no destination",
                             "give the directory to copy the matches into (SRC /DIR/)");
                dst = fc.src;
            }
            if (!dst.starts_with("/")) dst = "/" + dst;
            std::vector<std::string> words = {def_literal(src), def_literal(dst)};
            auto ins = def_json("COPY", fc.line, words);
            if (from_stage) ins.flags.push_back({"from", from, true});
            if (!host_context.empty()) ins.flags.push_back({"from", host_context, true});
            add(std::move(ins));
        }
    }

    // %pre and %setup, on the host now (stage_jobs build later): what the script writes under
    // $APPTAINER_ROOTFS (an empty directory of its own) is one COPY over the stage's image,
    // named by the context returned ("" when it wrote nothing)
    std::string run_host_script(const deffile::Section& s, std::size_t index) {
        if (text::trim(s.body).empty()) return {};
        if (!opt_.setup)
            def_fail(opt_, s.line, "%" + s.name + " cannot run here", "copy files in with %files");
        auto rootfs = opt_.meta_dir / (s.name + "-" + std::to_string(index)) / "rootfs";
        stdfs::create_directories(rootfs);
        opt_.setup(s, rootfs);
        if (stdfs::is_empty(rootfs)) return {};
        std::string name = "gantry-def-" + s.name + "-" + std::to_string(index);
        out_.contexts[name] = rootfs.string();
        return name;
    }

    void add_host_layer(const deffile::Section& s, const std::string& context) {
        auto ins = def_json("COPY", s.line, {".", "/"});
        ins.flags.push_back({"from", context, true});
        add(std::move(ins));
    }

    void run_post(const deffile::Section& s) {
        if (text::trim(s.body).empty()) return;
        // as Apptainer's: in /, with $APPTAINER_ENVIRONMENT naming the env script %post may
        // append to (sourced at run time after 90-environment.sh)
        std::string script = "cd /\nmkdir -p /.singularity.d/env\n"
                             "export APPTAINER_ENVIRONMENT=" +
                             std::string(kPostEnvironment) +
                             " SINGULARITY_ENVIRONMENT=" + std::string(kPostEnvironment) + "\n" +
                             s.body;
        std::vector<std::string> argv = {"/bin/sh", "-ex", "-c", script};
        std::string args(text::trim(s.args.substr(0, s.args.find('#'))));
        if (!args.empty()) { // "-c SHELL ARGS" (checked by the parser)
            argv.clear();
            for (auto w : text::split(text::trim(std::string_view(args).substr(2)), ' '))
                if (!w.empty()) argv.emplace_back(w);
            if (argv.empty())
                def_fail(opt_, s.line, "%post -c names no shell", "write %post -c /bin/bash");
            argv.push_back("-c");
            argv.push_back(script);
        }
        add(def_json("RUN", s.line, argv));
    }

    // Apptainer's files of the stage, in a directory copied in as one layer.
    void metadata(const deffile::Stage& st, std::size_t index) {
        std::vector<std::pair<std::string, std::string>> files; // path under .singularity.d
        int line = st.line;
        auto script = [&](const char* section, const char* path, const char* head) {
            if (const auto* s = st.section(section)) {
                files.emplace_back(path, head + s->body);
                line = std::max(line, s->line);
            }
        };
        script("environment", "env/90-environment.sh",
               "#!/bin/sh\n# Custom environment shell code should follow\n\n");
        script("runscript", "runscript", "#!/bin/sh\n\n");
        script("startscript", "startscript", "#!/bin/sh\n\n");
        script("test", "test", "#!/bin/sh\n\n");
        script("help", "runscript.help", "");
        if (const auto* l = st.section("labels")) {
            nlohmann::json doc = nlohmann::json::object();
            for (const auto& [k, v] : deffile::labels(*l, opt_.file)) doc[k] = v;
            files.emplace_back("labels.json", doc.dump(4) + "\n");
        }
        if (!opt_.text.empty()) files.emplace_back("Singularity", opt_.text);
        if (files.empty()) return;
        auto root = opt_.meta_dir / ("stage-" + std::to_string(index));
        for (const auto& [path, content] : files) {
            auto p = root / ".singularity.d" / path;
            stdfs::create_directories(p.parent_path());
            bool exec = path != "runscript.help" && path != "labels.json" && path != "Singularity";
            fs::write_atomic(p, content, exec ? 0755 : 0644, fs::Sync::volatile_only);
        }
        std::string name = "gantry-def-meta-" + std::to_string(index);
        out_.contexts[name] = root.string();
        auto ins = def_json("COPY", line, {".singularity.d", "/.singularity.d"});
        ins.flags.push_back({"from", name, true});
        add(std::move(ins));
    }

    const deffile::Definition& def_;
    const DefinitionOptions& opt_;
    DefinitionPlan out_;
    std::vector<std::string> names_; // the stages so far, by name
};

} // namespace

DefinitionPlan plan_definition(const deffile::Definition& def, const DefinitionOptions& opt) {
    return Translation(def, opt).run();
}

} // namespace gantry::image_build
