// A container made into an image (image_build/container_commit.hpp).
#include "image_build/container_commit.hpp"

#include "engine/request_json.hpp"
#include "engine/squashfs.hpp"
#include "image_build/import.hpp"
#include "image_build/layer_commit.hpp"
#include "image_build/work_image.hpp"
#include "oci/reference.hpp"
#include "sqsh/image_ref.hpp"
#include "store/images.hpp"
#include "util/error.hpp"
#include "util/log.hpp"
#include "util/text.hpp"

#include <algorithm>
#include <ctime>
#include <filesystem>
#include <optional>
#include <sys/stat.h>

namespace gantry::image_build {

namespace {

using json = nlohmann::json;

// KEY=VALUE entries of ADD over those of ENV (same key: ADD's), in docker's merge order
void merge_env(json& env, const std::vector<std::string>& add) {
    if (!env.is_array()) env = json::array();
    for (const auto& kv : add) {
        auto eq = kv.find('=');
        if (eq == std::string::npos) continue; // `-e K` of an unset K: docker sets nothing
        const std::string key = kv.substr(0, eq + 1);
        bool replaced = false;
        for (auto& e : env)
            if (e.is_string() && e.get<std::string>().starts_with(key)) {
                e = kv;
                replaced = true;
            }
        if (!replaced) env.push_back(kv);
    }
}

// docker's --expose PORT[-END][/PROTO] as ExposedPorts keys
void add_exposed(json& ports, const std::string& spec) {
    if (!ports.is_object()) ports = json::object();
    std::string proto = "tcp", range = spec;
    if (auto slash = spec.find('/'); slash != std::string::npos) {
        proto = spec.substr(slash + 1);
        range = spec.substr(0, slash);
    }
    auto dash = range.find('-');
    unsigned long first = 0, last = 0;
    try {
        first = std::stoul(range.substr(0, dash));
        last = dash == std::string::npos ? first : std::stoul(range.substr(dash + 1));
    } catch (const std::exception&) {
        return; // the run checked it; an unreadable one adds nothing
    }
    for (unsigned long p = first; p <= last && p <= 65535; ++p)
        ports[std::to_string(p) + "/" + proto] = json::object();
}

bool zero_value(const json& v) {
    return v.is_null() || (v.is_string() && v.get<std::string>().empty()) ||
           (v.is_boolean() && !v.get<bool>()) || (v.is_number() && v == 0) ||
           (v.is_array() && v.empty()) || (v.is_object() && v.empty());
}

std::vector<std::string> strings_of(const json& v, const std::string& field) {
    if (v.is_string()) return {v.get<std::string>()};
    std::vector<std::string> out;
    if (v.is_array())
        for (const auto& e : v) {
            if (!e.is_string()) break;
            out.push_back(e.get<std::string>());
        }
    if (!v.is_array() || out.size() != v.size())
        throw Error(Errc::usage, "the commit's config field " + field + " is not a list of strings",
                    "give it as docker's Config has it, e.g. [\"/bin/sh\"]");
    return out;
}

json object_of(const json& v, const std::string& field) {
    if (!v.is_object())
        throw Error(Errc::usage, "the commit's config field " + field + " is not an object",
                    "give it as docker's Config has it, e.g. {\"80/tcp\": {}}");
    return v;
}

// POST /commit's body over CONFIG, as docker merges it: a field given replaces the container's
// (Env, ExposedPorts, Labels and Volumes merged into theirs); a zero value leaves it
void apply_body(json& config, const json& body) {
    if (body.is_null()) return;
    if (!body.is_object())
        throw Error(Errc::usage, "the commit's config is not a JSON object",
                    "give docker's Config fields, e.g. {\"Cmd\": [\"sh\"]}");
    static const char* const kTaken[] = {"Cmd",          "Entrypoint", "Env",
                                         "ExposedPorts", "Labels",     "OnBuild",
                                         "User",         "Volumes",    "WorkingDir"};
    for (const auto& [key, v] : body.items()) {
        if (zero_value(v)) continue;
        if (std::find(std::begin(kTaken), std::end(kTaken), key) == std::end(kTaken))
            throw Error(Errc::usage,
                        "the commit's config field " + key + " is not applied by gantry's commit",
                        "give only Cmd, Entrypoint, Env, ExposedPorts, Labels, OnBuild, User, "
                        "Volumes and WorkingDir (or leave " +
                            key + " out)");
        if (key == "Cmd" || key == "Entrypoint" || key == "OnBuild") {
            config[key] = strings_of(v, key);
            if (key == "Entrypoint" && !body.contains("Cmd")) config.erase("Cmd");
        } else if (key == "Env") {
            merge_env(config["Env"], strings_of(v, key));
        } else if (key == "User" || key == "WorkingDir") {
            if (!v.is_string())
                throw Error(Errc::usage, "the commit's config field " + key + " is not a string",
                            "give it as a string");
            config[key] = v;
        } else {
            auto& into = config[key];
            if (!into.is_object()) into = json::object();
            into.update(object_of(v, key));
        }
    }
}

std::int64_t commit_time() {
    if (const char* epoch = std::getenv("SOURCE_DATE_EPOCH"); epoch && *epoch)
        return std::strtoll(epoch, nullptr, 10);
    return static_cast<std::int64_t>(std::time(nullptr));
}

// S paused while its layer is read, thawed however the commit ends
class PauseGuard {
  public:
    PauseGuard(const records::ContainerState& s, bool wanted) : s_(s) {
        if (!wanted || !s.running() || s.paused()) return;
        try {
            records::pause_container(s);
            paused_ = true;
        } catch (const Error& e) {
            if (e.code() != Errc::unsupported) throw;
            // docker's default is to pause: where the container has no freezer, say so
            log::warn("container " + s.name + " is committed while it runs (" + e.message() +
                      "); a file it is writing may be caught half-written");
        }
    }
    ~PauseGuard() {
        if (!paused_) return;
        try {
            records::unpause_container(s_);
        } catch (const Error& e) {
            log::warn("container " + s_.name + " was not thawed after its commit: " + e.message() +
                      " (gantry unpause " + s_.name + ")");
        }
    }
    PauseGuard(const PauseGuard&) = delete;
    PauseGuard& operator=(const PauseGuard&) = delete;

  private:
    const records::ContainerState& s_;
    bool paused_ = false;
};

std::string command_text(const std::vector<std::string>& words) {
    std::string out;
    for (const auto& w : words) out += (out.empty() ? "" : " ") + w;
    return out;
}

} // namespace

json container_config(const records::ContainerState& s, json config) {
    if (!config.is_object()) config = json::object();
    std::optional<engine::RunRequest> r;
    struct stat st {};
    if (!s.container_dir.empty() &&
        ::stat((std::filesystem::path(s.container_dir) / "request.json").c_str(), &st) == 0)
        r = engine::read_request(s.container_dir);
    if (r) {
        if (r->entrypoint) { // docker: --entrypoint clears the image's CMD
            if (r->entrypoint->empty())
                config.erase("Entrypoint");
            else
                config["Entrypoint"] = {*r->entrypoint};
            if (r->command.empty())
                config.erase("Cmd");
            else
                config["Cmd"] = r->command;
        } else if (!r->command.empty()) {
            config["Cmd"] = r->command;
        }
        merge_env(config["Env"], r->env);
        if (config["Env"].empty()) config.erase("Env");
        if (!r->workdir.empty()) config["WorkingDir"] = r->workdir;
        if (!r->user.empty()) config["User"] = r->user;
        for (const auto& e : r->expose) add_exposed(config["ExposedPorts"], e);
        if (!r->stop_signal.empty()) config["StopSignal"] = r->stop_signal;
    }
    for (const auto& p : s.ports) add_exposed(config["ExposedPorts"], p.container_key());
    if (!s.labels.empty()) {
        json labels = json::object();
        for (const auto& [k, v] : s.labels) labels[k] = v;
        config["Labels"] = std::move(labels);
    }
    if (!s.healthcheck.is_null()) config["Healthcheck"] = s.healthcheck;
    return config;
}

Committed commit_container(const records::ContainerState& s, const CommitRequest& req) {
    const std::string what = "container " + s.name;
    Committed out;
    if (!req.ref.empty()) {
        auto parsed = oci::Reference::parse(req.ref);
        if (!parsed.digest.empty())
            throw Error(Errc::usage, "commit names an image REPO[:TAG], not " + req.ref,
                        "leave the @digest out: the new image's digest is its own");
        out.ref = parsed.str();
    }
    for (const auto* text : {&req.message, &req.author})
        if (text::first_non_utf8(*text))
            throw Error(Errc::usage,
                        std::string(text == &req.message ? "--message" : "--author") +
                            " holds bytes that are not UTF-8; an image's config is JSON, which "
                            "holds UTF-8 only",
                        "give it as UTF-8");
    if (s.manifest.empty() || s.store_root.empty())
        throw Error(Errc::unsupported, what + "'s image is not recorded with it",
                    "gantry commit takes a container gantry run or create made");
    if (sqsh::file_of(s.image))
        throw Error(Errc::unsupported,
                    what + " runs a squashfs file (" + s.image +
                        "), which is not layers in the store to commit onto",
                    "load it into the store (gantry load) and run the container from there");
    const std::filesystem::path upper = std::filesystem::path(s.container_dir) / "upper";
    struct stat st {};
    if (!s.spec.root_readonly &&
        (s.container_dir.empty() || ::lstat(upper.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)))
        throw Error(Errc::unsupported,
                    what + "'s writable layer is in memory: what it changed is not kept outside "
                           "its process",
                    "run it with --writable-layer disk (gantry create keeps one on disk)");

    store::Store store(s.store_root);
    auto writer = store.writer_lock(); // no collection before the image is named
    store::Image image;
    try {
        image = store::read_image(store, oci::Digest::parse(s.manifest));
    } catch (const Error& e) {
        throw Error(Errc::unsupported,
                    what + "'s image " + s.image + " is not in the store as layers (" +
                        e.message() + ")",
                    "pull the image without --lazy to commit a container of it");
    }
    auto work = WorkImage::of(store, image);
    // everything the request says is applied before a byte of the layer is written
    json base = container_config(s, work.run_config());
    json container_cfg = base;
    container_cfg["Image"] = s.image;
    container_cfg["Hostname"] = s.spec.hostname;
    apply_body(base, req.config);
    work.run_config() = apply_commit_changes(req.changes, std::move(base));

    std::optional<WorkLayer> layer;
    if (!s.spec.root_readonly) {
        PauseGuard pause(s, req.pause);
        UpperCommit c;
        c.upper = upper;
        c.maps = {s.spec.uid_mappings, s.spec.gid_mappings}; // none: real root, no user namespace
        for (const auto& m : s.spec.mounts)
            if (m.destination.size() > 1) c.stubs.insert(m.destination.substr(1));
        // the runtime's own binds (runtime/mounts.cpp): their empty targets
        c.stubs.insert({"etc/hostname", "etc/hosts", "etc/resolv.conf"});
        c.privileged = req.privileged;
        c.keep_upper = true;
        layer = commit_upper(store, c);
    }
    if (layer) work.add_layer(*layer);
    out.new_layer = layer.has_value();

    const std::int64_t created = commit_time();
    work.config["created"] = text::rfc3339(created);
    work.config["container"] = s.id;
    work.config["container_config"] = std::move(container_cfg);
    work.config["parent"] = image.id().str();
    if (!req.author.empty())
        work.config["author"] = req.author;
    else
        work.config.erase("author");
    if (!req.message.empty())
        work.config["comment"] = req.message;
    else
        work.config.erase("comment");
    json h = {{"created", text::rfc3339(created)}, {"created_by", command_text(s.command)}};
    if (!req.author.empty()) h["author"] = req.author;
    if (!req.message.empty()) h["comment"] = req.message;
    if (!layer) h["empty_layer"] = true;
    work.config["history"].push_back(std::move(h));

    out.manifest = work.commit(store);
    out.config = work.id();
    if (out.ref.empty())
        store.update_untagged([&](std::set<oci::Digest>& u) { u.insert(out.manifest); });
    else
        store.update_refs([&](store::RefMap& m) { m[out.ref] = out.manifest; });
    return out;
}

} // namespace gantry::image_build
