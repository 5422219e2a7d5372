#include "image_build/builder.hpp"

#include "image_build/add_url.hpp"
#include "image_build/base_image.hpp"
#include "image_build/cache.hpp"
#include "image_build/context.hpp"
#include "image_build/copy_step.hpp"
#include "image_build/definition.hpp"
#include "image_build/finish.hpp"
#include "image_build/instructions.hpp"
#include "image_build/layer_commit.hpp"
#include "image_build/plan.hpp"
#include "image_build/run_mounts.hpp"
#include "image_build/run_step.hpp"
#include "image_build/stage_jobs.hpp"
#include "image_build/stage_state.hpp"
#include "image_build/work_image.hpp"
#include "rootfs/rootfs.hpp"
#include "sif/metadata.hpp"
#include "store/images.hpp"
#include "store/layer_tar.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/text.hpp"

#include <chrono>
#include <ctime>
#include <set>

namespace gantry::image_build {

std::filesystem::path cache_dir(const store::Store& store) {
    return store.root() / "build-cache";
}

namespace {

namespace stdfs = std::filesystem;

class Builder {
  public:
    Builder(store::Store& store, const BuildOptions& opt, engine::Caller caller)
        : store_(store), opt_(opt), ctx_(opt.context, Ignore::read(opt.context)),
          cache_(cache_dir(store) / "steps") {
        run_.caller = std::move(caller);
        res_.mode = run_mode(run_.caller);
        run_.fake_root = res_.mode == "fake-root";
        run_.epoch = opt.epoch;
        run_.quiet = opt.quiet;
        run_.device_host = opt.device_host;
        if (run_.fake_root) {
            run_.apt_no_sandbox = (work_dir() / "apt-no-sandbox.conf").string();
            fs::write_atomic(run_.apt_no_sandbox, "APT::Sandbox::User \"root\";\n", 0644,
                             fs::Sync::volatile_only);
        }
        PlanOptions po;
        po.file = opt.dockerfile_name;
        po.target = opt.target;
        po.build_args = opt.build_args;
        if (!opt.platform.empty()) po.platform = opt.platform;
        plan_ = make_plan(opt.instructions ? *opt.instructions : parse(opt.dockerfile, po), po);
        for (const auto& [k, v] : opt.gpu_env) build_args_[k] = v;
        for (const auto& [k, v] : opt.cpu_env) build_args_[k] = v;
        for (const auto& [k, v] : opt.build_args) build_args_[k] = v;
        check_allow_values(opt.allow);
        for (const auto& use : opt.devices) check_allowed(use, opt.allow);
        std::vector<std::string> none;
        resolve_devices(opt.devices, opt.device_host, none); // the command line's: all required
        global_args_ = plan_.predefined;
        for (const auto& [k, v] : plan_.global_args) global_args_[k] = v;
        for (int i : plan_.order) {
            first_step_[i] = total_;
            total_ += 1 + static_cast<int>(plan_.stages[i].steps.size());
            for (const auto& ins : plan_.stages[i].steps)
                with_line(ins, [&] {
                    check_supported(ins);
                    for (const auto& use : run_devices(ins)) // required ones are on the host
                        if (use.required) {
                            std::string why;
                            if (!available(use, opt.device_host, why))
                                throw Error(Errc::not_found,
                                            use.origin + "=" + use.name + ": " + why,
                                            "build on a host that has it, or drop ,required");
                        }
                });
        }
    }

    ~Builder() {
        std::error_code ec;
        if (!work_.empty()) stdfs::remove_all(work_, ec);
    }

    BuildResult run() {
        work_dir(); // before any fork: every stage's process shares it
        StageJobs j;
        j.order = plan_.order;
        j.deps = [&](int i) { return plan_.stages[i].deps; };
        j.jobs = opt_.jobs;
        j.build = [&](int i) { return stage_result(i); };
        j.done = [&](int i, const std::string& text) { take_result(i, text); };
        run_stage_jobs(j);
        WorkImage& img = done_.at(plan_.target);
        finish_target(store_, img, opt_, run_);
        // the time of the last step (kept by cache hits), as BuildKit's "created"
        const auto& hist = img.config["history"];
        img.config["created"] = !hist.empty() && hist.back().contains("created")
                                    ? hist.back()["created"]
                                    : nlohmann::json(text::rfc3339(now()));
        res_.manifest = img.commit(store_);
        res_.id = img.id();
        for (const auto& t : opt_.tags) res_.tags.push_back(store::normalize(t));
        if (!res_.tags.empty())
            store_.update_refs([&](store::RefMap& m) {
                for (const auto& t : res_.tags) m[t] = res_.manifest;
            });
        else if (opt_.keep_untagged)
            store_.update_untagged([&](std::set<oci::Digest>& u) { u.insert(res_.manifest); });
        return res_;
    }

  private:
    // A RUN step's --device flags, each allowed by --allow (Error(usage) otherwise).
    std::vector<DeviceUse> run_devices(const dockerfile::Instruction& ins) const {
        std::vector<DeviceUse> uses;
        if (ins.keyword != "RUN") return uses;
        for (const auto* f : ins.flags_named("device")) {
            uses.push_back(parse_run_device(f->value, ins.line));
            check_allowed(uses.back(), opt_.allow);
        }
        return uses;
    }

    // Builds stage I; its image and the step counts it added, as text (a child process hands
    // it back to the parent).
    std::string stage_result(int i) {
        step_ = first_step_.at(i);
        int steps = res_.steps, cached = res_.cached, ran = res_.ran;
        stage(plan_.stages[i]);
        nlohmann::json r = done_.at(i).to_json();
        r["steps"] = res_.steps - steps;
        r["cached"] = res_.cached - cached;
        r["ran"] = res_.ran - ran;
        res_.steps = steps;
        res_.cached = cached;
        res_.ran = ran;
        return r.dump();
    }

    void take_result(int i, const std::string& text) {
        auto r = nlohmann::json::parse(text);
        done_[i] = WorkImage::from_json(r);
        res_.steps += r["steps"].get<int>();
        res_.cached += r["cached"].get<int>();
        res_.ran += r["ran"].get<int>();
    }

    std::int64_t now() const {
        return opt_.epoch ? *opt_.epoch : static_cast<std::int64_t>(std::time(nullptr));
    }

    void say(const std::string& line) {
        if (opt_.progress) opt_.progress(line);
    }

    std::string counter() const {
        return "[" + std::to_string(step_) + "/" + std::to_string(total_) + "]";
    }

    const stdfs::path& work_dir() {
        if (work_.empty()) {
            work_ = store_.tmp_dir() / ("build-" + fs::unique_name());
            stdfs::create_directories(work_);
        }
        return work_;
    }

    // FROM IMAGE for PLATFORM (null: any): image_build/base_image.hpp
    store::Image image(const std::string& ref, const oci::Platform* platform = nullptr) {
        return base_image(store_, ref, opt_.pull, opt_.pull_options, platform,
                          [this](const std::string& line) { say(line); });
    }

    // A stage's (or an image's) files as a directory, for COPY --from and RUN --mount from=.
    stdfs::path tree(const std::string& ref, int before, std::string& id) {
        int s = find_stage(plan_.stages, ref, before);
        if (auto c = opt_.contexts.find(ref); s < 0 && c != opt_.contexts.end()) {
            Context dir(c->second, Ignore());
            id = "context:" + ref + ":" + dir.digest({""});
            return c->second;
        }
        WorkImage img;
        if (s >= 0) {
            img = done_.at(s);
        } else {
            img = WorkImage::of(store_, image(ref));
        }
        id = img.id().str();
        auto it = trees_.find(id);
        if (it != trees_.end()) return it->second;
        auto dir = work_dir() / ("tree-" + img.id().hex()); // unique across stage processes
        rootfs::flatten(store_, img.diff_ids(), dir.string(), run_.caller.real_root);
        return trees_[id] = dir;
    }

    void stage(const Stage& s) {
        ++step_;
        WorkImage img;
        std::string from;
        if (s.scratch) {
            img = WorkImage::scratch(s.platform);
            from = "scratch " + s.platform.str(); // the cache key: one per platform
        } else if (s.base_stage >= 0) {
            img = done_.at(s.base_stage);
            from = img.id().str();
        } else {
            auto base = image(s.base, &s.platform);
            const auto& pl = base.config.platform;
            if (!pl.architecture.empty() && !s.platform.accepts(pl))
                throw Error(Errc::not_found,
                            opt_.dockerfile_name + ":" + std::to_string(s.line) + ":1: " + s.base +
                                " is a " + pl.str() + " image, and this stage builds for " +
                                s.platform.str(),
                            "name an image of " + s.platform.str() +
                                ", or say the platform the stage builds for (FROM "
                                "--platform=...; --platform)");
            img = WorkImage::of(store_, base);
            from = img.id().str();
        }
        say(counter() + " FROM " + s.base + (s.name.empty() ? "" : " AS " + s.name));
        key_ = step_key("", "FROM " + from);
        img_ = &img;
        st_ = StageState();
        st_.escape = plan_.escape;
        st_.config = img.run_config();
        if (st_.config.contains("Shell") && st_.config["Shell"].is_array())
            st_.shell = st_.config["Shell"].get<std::vector<std::string>>();
        stage_ = &s;
        triggers(); // the base image's ONBUILD
        for (const auto& ins : s.steps) {
            ++step_;
            with_line(ins, [&] { step(ins); });
        }
        done_[s.index] = std::move(img);
        img_ = nullptr;
    }

    template <class F>
    void with_line(const dockerfile::Instruction& ins, F&& f) {
        try {
            f();
        } catch (const Error& e) {
            const auto& m = e.message();
            if (m.starts_with("line ")) {
                auto colon = m.find(": ");
                throw Error(e.code(),
                            opt_.dockerfile_name + ":" + m.substr(5, colon - 5) +
                                ":1: " + m.substr(colon + 2),
                            e.hint())
                    .with_detail(e.detail());
            }
            if (m.starts_with(opt_.dockerfile_name + ":")) throw;
            throw e.with_context(opt_.dockerfile_name + ":" + std::to_string(ins.line) + ":1");
        }
    }

    void triggers() {
        auto& c = img_->run_config();
        if (!c.contains("OnBuild") || !c["OnBuild"].is_array()) return;
        auto list = c["OnBuild"];
        c.erase("OnBuild");
        st_.config.erase("OnBuild");
        for (const auto& t : list) {
            if (!t.is_string()) continue;
            // the parser wants a FROM first; the trigger is the one instruction after it
            auto df = dockerfile::parse_dockerfile("FROM scratch\n" + t.get<std::string>());
            for (const auto& ins : df.instructions) {
                if (ins.keyword == "FROM") continue;
                say(counter() + " ONBUILD " + ins.keyword + " " + ins.args);
                step(ins);
            }
        }
    }

    void history(const std::string& created_by, bool empty) {
        add_history(img_->config, created_by, empty, now());
    }

    void step(const dockerfile::Instruction& ins) {
        const std::string& k = ins.keyword;
        if (k == "RUN") return run_ins(ins);
        if (k == "COPY" || k == "ADD") return copy_ins(ins);
        std::string created_by;
        if (k == "HEALTHCHECK") {
            st_.config["Healthcheck"] = healthcheck(st_, ins);
            created_by = "HEALTHCHECK " + ins.args;
        } else if (k == "ONBUILD") {
            st_.config["OnBuild"].push_back(ins.args);
            created_by = "ONBUILD " + ins.args;
        } else {
            auto c = st_.apply(ins, build_args_, global_args_);
            if (!c)
                throw Error(Errc::internal,
                            "line " + std::to_string(ins.line) + ": " + k + " has no executor");
            created_by = *c;
        }
        img_->config["config"] = st_.config;
        key_ = step_key(key_, k + " " + st_.config.dump());
        say(counter() + " " + k + " " + ins.args);
        if (k == "WORKDIR") return workdir(created_by);
        // cached too, quietly: a rebuild then keeps this history entry's time, so a build whose
        // steps all hit gives the same image ID, as docker's does
        if (cached(created_by, true)) return;
        history(created_by, true);
        cache_.record(key_, CacheEntry{"", "", img_->config, created_by});
    }

    // WORKDIR creates its directory (root's, 0755) where the image lacks it, cached like a step.
    void workdir(const std::string& created_by) {
        std::string dir = st_.config.value("WorkingDir", std::string("/"));
        if (cached(created_by)) return;
        auto layer =
            mkdir_layer(store_, *img_, dir, std::nullopt, opt_.epoch, run_.caller.real_root);
        finish_step(layer, created_by);
    }

    // The step under key_: reused from the cache when it is there and its layer still is.
    bool cached(const std::string& created_by, bool config_only = false) {
        if (opt_.no_cache) return false;
        auto e = cache_.lookup(key_);
        if (!e || e->created_by != created_by) return false;
        if (!e->layer_digest.empty()) {
            try {
                WorkLayer l{oci::Digest::parse(e->layer_digest), oci::Digest::parse(e->diff_id), 0,
                            ""};
                if (store_.has_blob(l.blob)) {
                    l.size = static_cast<std::int64_t>(store_.blob_size(l.blob));
                } else if (auto d = store::dropped_blob(store_, l.diff_id);
                           d && d->blob == l.blob && store::has_tar_split(store_, l.diff_id)) {
                    l.size = static_cast<std::int64_t>(d->size); // kept unpacked only
                } else {
                    return false;
                }
                unpack_layer(store_, l, run_.caller.real_root);
                img_->layers.push_back(l);
            } catch (const Error&) {
                return false;
            }
            on_layer(img_->layers.back().diff_id);
        }
        img_->config = e->config;
        st_.config = img_->run_config();
        if (config_only) return true;
        ++res_.cached;
        ++res_.steps;
        say("  cached");
        return true;
    }

    void finish_step(const std::optional<WorkLayer>& layer, const std::string& created_by) {
        if (layer) img_->add_layer(*layer);
        history(created_by, !layer);
        ++res_.steps;
        ++res_.ran;
        cache_.record(key_,
                      CacheEntry{layer ? layer->blob.str() : "", layer ? layer->diff_id.str() : "",
                                 img_->config, created_by});
        if (layer) on_layer(layer->diff_id);
    }

    // Later steps are keyed on this layer too, as docker's on their parent image: a config-only
    // entry made over a layer `rmi` removed named it ("layer ... is not unpacked", issue 76).
    void on_layer(const oci::Digest& diff_id) { key_ = step_key(key_, "LAYER", {diff_id.str()}); }

    void run_ins(const dockerfile::Instruction& ins) {
        check_supported(ins); // again: a base image's ONBUILD triggers were not planned
        RunStep rs;
        rs.network = opt_.network;
        if (const auto* f = ins.flag("network")) {
            if (f->value == "none" || f->value == "host")
                rs.network = f->value;
            else if (f->value != "default")
                throw Error(Errc::invalid, "line " + std::to_string(ins.line) + ": RUN --network=" +
                                               f->value + ": use default, none or host");
        }
        rs.argv = run_argv(st_, ins);
        // a definition file's step that writes Apptainer's docker environment file
        if (ins.flag(kDockerEnvFlag))
            rs.env.push_back("GANTRY_DOCKER_ENV_SCRIPT=" +
                             sif::docker_env_script(st_.config.value("Env", nlohmann::json())));
        auto env = st_.expansion_env();
        for (const auto* toolchain : {&opt_.gpu_env, &opt_.cpu_env})
            for (const auto& [k, v] : *toolchain)
                if (!st_.args.count(k)) env.emplace(k, v);
        dockerfile::Env config_env;
        for (const auto& e : st_.config.value("Env", nlohmann::json::array())) {
            auto s = e.get<std::string>();
            config_env[s.substr(0, s.find('='))] = "";
        }
        for (const auto& [k, v] : env)
            if (!config_env.count(k)) rs.env.push_back(k + "=" + v);
        std::vector<std::string> inputs;
        MountContext mc{
            store_,
            ctx_,
            st_,
            opt_.secrets,
            cache_dir(store_) / "mounts",
            work_dir(),
            [&](const std::string& ref, std::string& id) { return tree(ref, stage_->index, id); }};
        auto held = run_mounts(mc, ins, rs.mounts, inputs);
        auto uses = opt_.devices;
        for (auto& u : run_devices(ins)) uses.push_back(std::move(u));
        std::vector<std::string> skipped;
        if (!uses.empty()) rs.devices = resolve_devices(uses, opt_.device_host, skipped);
        // the key: what the step runs and mounts as written (expanded), and the content digests
        // of what its binds read (their host paths vary per build)
        nlohmann::json mounts = nlohmann::json::array();
        for (const auto* f : ins.flags_named("mount")) mounts.push_back(st_.expand(f->value));
        nlohmann::json what = {
            {"argv", rs.argv}, {"env", rs.env}, {"network", rs.network}, {"mounts", mounts}};
        if (!rs.devices.seen.empty()) what["devices"] = rs.devices.seen; // what the step saw
        key_ = step_key(key_, "RUN " + what.dump(), inputs);
        std::string shown = ins.json ? nlohmann::json(rs.argv).dump() : rs.argv.back();
        std::string shell;
        for (const auto& w : st_.shell) shell += w + " ";
        std::string created_by = "RUN " + (ins.json ? shown : shell + shown) + " # buildkit";
        say(counter() + " RUN " + (ins.json ? shown : ins.args));
        for (const auto& line : skipped) say("  skipped device " + line);
        if (cached(created_by)) return;
        rs.what = counter() + " RUN " + ins.args;
        auto t0 = std::chrono::steady_clock::now();
        auto layer = run_step(store_, *img_, rs, run_);
        double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        char buf[32];
        std::snprintf(buf, sizeof buf, "%.2fs", s);
        say(std::string("  done in ") + buf);
        finish_step(layer, created_by);
    }

    void copy_ins(const dockerfile::Instruction& ins) {
        bool add = ins.keyword == "ADD";
        check_supported(ins);
        auto words = copy_words(st_, ins);
        CopyRequest req;
        req.what = ins.keyword + " " + ins.args;
        req.epoch = opt_.epoch;
        req.privileged = run_.caller.real_root;
        req.extract_archives = add;
        std::string dest = words.dest;
        req.dest_is_dir = dest.ends_with("/") || dest == "." || dest.ends_with("/.");
        if (!dest.starts_with("/")) {
            std::string wd = st_.config.value("WorkingDir", std::string("/"));
            dest = (wd.ends_with("/") ? wd : wd + "/") + dest;
        }
        req.dest = dest;
        if (const auto* f = ins.flag("chown"))
            req.chown = resolve_owner(store_, *img_, st_.expand(f->value));
        if (const auto* f = ins.flag("chmod")) req.chmod = parse_chmod(st_.expand(f->value));
        std::vector<std::string> inputs;
        const auto* from = ins.flag("from");
        std::string from_id;
        stdfs::path root = ctx_.dir();
        if (from) root = tree(st_.expand(from->value), stage_->index, from_id);
        Context src_ctx(root, Ignore());
        const Context& c = from ? src_ctx : ctx_;
        for (const auto& pattern : words.sources) {
            if (add && is_url(pattern)) { // fetched now: its content is the cache key's input
                const auto* sum = ins.flag("checksum");
                auto f = fetch_url(pattern, work_dir() / ("url-" + fs::unique_name()),
                                   sum ? st_.expand(sum->value) : "");
                inputs.push_back(f.digest);
                CopySource cs{f.dir, f.name, nullptr, false};
                cs.remote = true;
                req.sources.push_back(cs);
                continue;
            }
            if (pattern.find("://") != std::string::npos || pattern.starts_with("git@"))
                throw Error(Errc::unsupported,
                            "line " + std::to_string(ins.line) + ": " + ins.keyword + " " +
                                pattern + ": this kind of source is not supported",
                            "ADD fetches http(s) URLs; clone repositories in a RUN step");
            auto paths = c.resolve(pattern);
            inputs.push_back(from ? from_id + ":" + pattern : ctx_.digest(paths));
            bool stage_files = from && !opt_.contexts.count(st_.expand(from->value));
            for (const auto& p : paths)
                req.sources.push_back(
                    CopySource{root, p, from ? nullptr : &ctx_.ignore(), stage_files});
        }
        std::string flags;
        for (const auto& f : ins.flags) flags += "--" + f.name + "=" + st_.expand(f.value) + " ";
        key_ = step_key(key_,
                        ins.keyword + " " + flags + nlohmann::json(words.sources).dump() + " " +
                            dest + (req.dest_is_dir ? "/" : ""),
                        inputs);
        std::string created_by = ins.keyword + " " + ins.args + " # buildkit";
        say(counter() + " " + ins.keyword + " " + ins.args);
        if (cached(created_by)) return;
        finish_step(copy_layer(store_, *img_, req), created_by);
    }

    store::Store& store_;
    const BuildOptions& opt_;
    Context ctx_;
    StepCache cache_;
    RunSettings run_;
    Plan plan_;
    dockerfile::Env build_args_, global_args_;
    BuildResult res_;
    std::map<int, WorkImage> done_;
    std::map<std::string, stdfs::path> trees_;
    stdfs::path work_;
    int step_ = 0, total_ = 0;
    std::map<int, int> first_step_; // a stage's first step number (its FROM), less one
    // the stage being built
    const Stage* stage_ = nullptr;
    WorkImage* img_ = nullptr;
    StageState st_;
    std::string key_;
};

} // namespace

BuildResult build_one_platform(store::Store& store, const BuildOptions& opt,
                               engine::Caller caller) {
    Builder b(store, opt, std::move(caller));
    return b.run();
}

} // namespace gantry::image_build
