// prepare(): the recipe that turns a RunRequest into a container ready to launch. Each step is a
// function below, in the order they run; what a user can get wrong is checked before anything
// is started, and the early start is begun as soon as its namespaces are known, so that the
// container process is created while the image is read and the spec built.
#include "cdi/registry.hpp"
#include "engine/apptainer_run.hpp"
#include "engine/cpu_check.hpp"
#include "engine/engine.hpp"
#include "engine/gpu_share.hpp"
#include "engine/gpus.hpp"
#include "engine/health.hpp"
#include "engine/image_groups.hpp"
#include "engine/kept_preparation.hpp"
#include "engine/kernel_caches.hpp"
#include "engine/labels.hpp"
#include "engine/options.hpp"
#include "engine/platform_check.hpp"
#include "engine/pull_policy.hpp"
#include "engine/squashfs.hpp"
#include "engine/unpack_fallback.hpp"
#include "engine/volumes.hpp"
#include "lazy/image.hpp"
#include "lazy/store_layers.hpp"
#include "lazy/tree.hpp"
#include "oci/image.hpp"
#include "oci/seccomp_profile.hpp"
#include "records/state.hpp"
#include "sandbox/thread_confinement.hpp"
#include "site/file_signature.hpp"
#include "sqsh/cache.hpp"
#include "sqsh/facts.hpp"
#include "sqsh/image_ref.hpp"
#include "sqsh/shared.hpp"
#include "store/images.hpp"
#include "store/owned_tree.hpp"
#include "store/platforms.hpp"
#include "userns/idmap.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/log.hpp"
#include "util/random.hpp"
#include "util/units.hpp"

#include <unistd.h>

namespace gantry::engine {

namespace {

std::string random_id() {
    return random::hex_id(6);
}

// The flags, before anything is started or read.
void check_request(Prepared& p) {
    if (p.request.network.empty()) p.request.network = configured_network();
    const auto& r = p.request;
    p.write_warn = units::parse_size(r.write_warn, "--write-warn");
    check_flags(r, p.options);
    p.network = plan_network(r);
    p.resources = resources(r);
}

// The user namespace's id maps: the caller's, or the host's own for real root.
void map_ids(Prepared& p) {
    auto& o = p.options;
    o.privileged_user = p.caller.real_root;
    o.host_uid = p.caller.uid;
    o.host_gid = p.caller.gid;
    if (o.privileged_user) return;
    auto maps = p.caller.id_maps(p.request.userns);
    o.uid_maps = std::move(maps[0]);
    o.gid_maps = std::move(maps[1]);
    if (p.request.userns == "subid" && o.uid_maps.size() < 2)
        throw Error(Errc::run_failed,
                    "no subordinate ids for this user (or newuidmap/newgidmap missing)",
                    "add a range to /etc/subuid and /etc/subgid (usermod --add-subuids) and "
                    "install the uidmap package");
    // the store's image files owned by subordinate ids (store/owned_tree.hpp) must be the ids
    // these maps give; with the caller's id alone they show as nobody, as podman's do
    if (!p.request.group_add.empty() && userns::is_single_id(o.gid_maps))
        throw Error(Errc::run_failed,
                    "--group-add needs subordinate group ids: in a user namespace that maps the "
                    "caller's own id alone, setgroups(2) is denied, so no supplementary group "
                    "can be set",
                    "add a range to /etc/subgid (usermod --add-subgids) and install the uidmap "
                    "package, or run as root");
    if (!userns::is_single_id(o.uid_maps) && p.store)
        store::check_store_maps(p.store->root(), store::SubIdMaps{o.uid_maps, o.gid_maps});
}

// The early start (runtime::EarlyStart): begun before the command line was parsed when the line
// allowed it, else now that the options are known (a command's own "-m" or "-d" kept it from
// the line's scan, as in `python -m ...`). The launch takes it over or cancels it.
void start_process_early(Prepared& p, std::unique_ptr<runtime::EarlyStart> early) {
    if (early && may_start_early(p.request, p.caller))
        p.early = std::move(early);
    else if (!early)
        p.early = start_early(p.request, p.options, p.caller);
}

// A lazily pulled image's root: p.lazy, the tree of REC (gantry's squashfs artifact, mounted
// from the registry, or its layers' merged tree); its etc/passwd when WANT_PASSWD (the squashfs
// artifact's is read with its tables in any case).
std::string open_lazy_root(Prepared& p, const lazy::Record& rec, std::vector<lazy::Toc> tocs,
                           bool want_passwd) {
    registry::ClientOptions client;
    client.tls_verify = p.request.tls_verify;
    if (lazy::is_squashfs(rec)) {
        auto opened =
            lazy::open_squashfs(*p.store, rec, client, sandbox::confinement(lazy::server_calls()));
        p.lazy = std::move(opened.tree);
        return std::move(opened.passwd);
    }
    auto tree = lazy::open(*p.store, rec, client, p.caller.real_root, std::move(tocs));
    std::string passwd = want_passwd ? tree->read_file("etc/passwd", 4u << 20).value_or("") : "";
    p.lazy = std::move(tree);
    return passwd;
}

// --pull lazy: the image's record (once every layer was made local, the image is a store image
// and takes the store's path, lazy/store_layers.hpp) (made now unless `pull --lazy` made it), its
// tree and view.
void read_lazy_image(Prepared& p) {
    registry::PullOptions po;
    po.client.tls_verify = p.request.tls_verify;
    po.quiet = true;
    if (!p.request.platform.empty()) po.platform = oci::Platform::parse(p.request.platform);
    auto rec = lazy::find(*p.store, p.request.image);
    std::vector<lazy::Toc> tocs; // parsed once, by the pull, when it is made now
    if (!rec) rec = lazy::pull(*p.store, p.request.image, po, &tocs);
    p.view.image.manifest_digest = rec->manifest;
    p.view.image.manifest.config.digest = rec->config;
    p.view.image.config = oci::ImageConfig::parse(p.store->read_blob(rec->config));
    p.view.image.config.diff_ids.clear(); // the layers are in the registry, not in the store
    p.view.image.config.raw.erase("history");
    p.view.passwd = open_lazy_root(p, *rec, std::move(tocs), true);
}

// Whether the image read is of the platform --platform names (any, without the flag; an image
// that records none fits every platform).
bool platform_fits(const Prepared& p) {
    if (p.request.platform.empty()) return true;
    const auto& image = p.view.image.config.platform;
    return image.architecture.empty() || oci::Platform::parse(p.request.platform).accepts(image);
}

// Pulls the run's image into the store, as `gantry pull` would (its policy said to).
void pull_for_run(Prepared& p) {
    registry::PullOptions po;
    po.client.tls_verify = p.request.tls_verify;
    po.quiet = log::level() == log::Level::quiet;
    po.tty = ::isatty(2) == 1;
    po.interactive = ::isatty(0) == 1 && ::isatty(1) == 1;
    po.privileged = p.caller.real_root;
    if (!p.request.platform.empty()) po.platform = oci::Platform::parse(p.request.platform);
    registry::pull(*p.store, p.request.image, po);
}

// What names the run's image in the store: with --platform, the image of that platform its
// name holds (store/platforms.hpp), by digest; else the name (its default: the host's platform's
// image when it holds one).
std::string stored_image(const Prepared& p) {
    if (p.request.platform.empty()) return p.request.image;
    try {
        if (auto md = store::name_image_for(*p.store, store::normalize(p.request.image),
                                            oci::Platform::parse(p.request.platform)))
            return md->str();
    } catch (const Error& e) { // not a name (an ID, a file): the image as given
        log::debug(p.request.image + ": " + e.message());
    }
    return p.request.image;
}

// The run view of a store image, the squashfs cache's or a shared store's; false when none has
// it.
bool read_stored_image(Prepared& p) {
    try {
        p.view = rootfs::find_run_view(*p.store, stored_image(p));
        return true;
    } catch (const Error& e) {
        if (e.code() != Errc::not_found) throw;
    }
    // the node's squashfs cache, then the shared stores
    auto stores = sqsh::search_dirs(*p.store, p.request.image_stores);
    auto shared = sqsh::find_shared(stores, p.request.image);
    if (!shared) return false;
    if (shared->store == stores[0]) sqsh::touch_cached(shared->file);
    site::verify_file(shared->file);
    auto sq = open_squashfs(shared->file, true, p.store->root() / "sqsh-facts");
    p.sqsh = sq.image;
    p.view = sqsh::run_view(sq.facts, shared->file);
    apply_apptainer(p.view, p.request, &sq.facts, shared->file);
    return true;
}

// A store image under the run's pull policy (engine/pull_policy.hpp).
void read_pulled_image(Prepared& p, PullPolicy policy) {
    const std::string& image = p.request.image;
    if (image.starts_with('/') || image.starts_with("./") || image.starts_with("../"))
        throw Error(Errc::not_found, "no image file " + image + " (or not a regular file)",
                    "give the path of a squashfs image file (`gantry save --format squashfs`), "
                    "or an image's name");
    if (policy == PullPolicy::always) pull_for_run(p);
    if (policy == PullPolicy::newer) {
        try {
            pull_for_run(p);
        } catch (const Error& e) {
            // the registry out of reach: the stored image, if there is one, is the newest known
            if (e.code() != Errc::network || !read_stored_image(p)) throw;
            log::warn("cannot check " + p.request.image + " for a newer image (" + e.message() +
                      "): running the stored one");
            return;
        }
    }
    if (read_stored_image(p)) {
        // --platform names a platform the name does not hold: pulled for it, as docker does
        // (the name then holds that platform beside its others); the other policies refuse below
        if (policy != PullPolicy::missing || platform_fits(p)) return;
        log::note("image " + p.request.image + " in the store is built for " +
                  p.view.image.config.platform.str() + ": pulling it for " +
                  oci::Platform::parse(p.request.platform).str());
        pull_for_run(p);
        p.sqsh.reset(); // the view read was maybe a shared store's squashfs file's
        p.view = rootfs::find_run_view(*p.store, stored_image(p));
        return;
    }
    if (policy != PullPolicy::missing) {
        try {
            p.view = rootfs::find_run_view(*p.store, stored_image(p));
        } catch (const Error& e) {
            throw Error(e.code(), e.message(),
                        "this run's pull policy is " + std::string(pull_policy_word(policy)) +
                            " (--pull, or the config file's pull_policy): `gantry pull " +
                            p.request.image + "` first, or run with --pull missing");
        }
        return;
    }
    log::note("unable to find image " + p.request.image + " locally: pulling it");
    pull_for_run(p);
    p.view = rootfs::find_run_view(*p.store, stored_image(p));
}

// The image's run view (config and passwd), and whether this host can run it.
void read_image(Prepared& p) {
    const PullPolicy policy = pull_policy(p.request.pull);
    if (p.request.no_unpack && !sqsh::file_of(p.request.image))
        throw Error(Errc::usage, "--no-unpack applies to a squashfs image file (FILE.sqsh) only",
                    "drop --no-unpack: " + p.request.image + " is not such a file");
    if (read_apptainer_sandbox(p)) {
        // an Apptainer sandbox directory: its view read and applied
    } else if (policy == PullPolicy::lazy && !lazy::in_store(*p.store, p.request.image)) {
        read_lazy_image(p);
    } else if (auto file = sqsh::file_of(p.request.image)) {
        site::verify_file(*file); // policy.json's "sif" scopes, before the file is read
        // rootless, the file is served over FUSE: where the caller cannot open /dev/fuse, it is
        // unpacked into the store once instead (engine/unpack_fallback.hpp)
        std::string why = p.caller.real_root ? std::string() : fuse_unusable();
        if (!why.empty() && p.request.no_unpack)
            throw Error(Errc::run_failed, "cannot serve " + *file + " over FUSE: " + why,
                        "make /dev/fuse usable (as root: chmod 0666 /dev/fuse, as distributions "
                        "ship it, or modprobe fuse), or leave out --no-unpack: the image is then "
                        "unpacked into the store once");
        if (!why.empty()) {
            p.view = rootfs::find_run_view(*p.store, unpacked_copy(*p.store, *file, why));
        } else {
            auto sq = open_squashfs(*file, true, p.store->root() / "sqsh-facts");
            p.sqsh = sq.image;
            p.view = sqsh::run_view(sq.facts, *file);
            apply_apptainer(p.view, p.request, &sq.facts, *file);
        }
    } else {
        read_pulled_image(p, policy == PullPolicy::lazy ? PullPolicy::never : policy);
    }
    // any other image (a store image, an unpacked squashfs file): a squashfs file's was applied
    // with its facts above
    if ((p.request.apptainer_test || !p.request.apptainer_action.empty()) && !p.sqsh &&
        p.sandbox.empty())
        apply_apptainer(p.view, p.request, nullptr, "");
    check_platform(
        p.request.image, p.view.image.config.platform, p.request.platform,
        [&p](const std::string& path) { // a handler without F: the image's emulator
            if (path.size() < 2 || path[0] != '/' || p.lazy) return false;
            if (p.sqsh)
                return sqsh::SquashFiles(*p.sqsh, squashfs_confinement()).has(path.substr(1));
            return rootfs::LayerFiles(*p.store, p.view.image.config.diff_ids).has(path.substr(1));
        });
}

// The image's VOLUME paths as --image-volume asks (engine/volumes.hpp): whether the image has
// files under one is read from its layers or squashfs; a lazily pulled image's are not fetched
// for it (it may have some: the path is left to the image).
void mount_image_volumes(Prepared& p) {
    const auto& raw = p.view.image.config.raw;
    if (!raw.contains("config")) return;
    std::unique_ptr<rootfs::ImageFiles> files;
    if (p.sqsh)
        files = std::make_unique<sqsh::SquashFiles>(*p.sqsh, squashfs_confinement());
    else if (!p.lazy)
        files = std::make_unique<rootfs::LayerFiles>(*p.store, p.view.image.config.diff_ids);
    add_image_volumes(*p.store, p.request, raw["config"], p.request.image,
                      [&files](const std::string& path) {
                          return !files || !files->list(path.substr(1)).empty();
                      });
}

// The runtime spec, from the image config and the request; its environment computed once, for
// the spec and for the GPU step.
void build_spec(Prepared& p) {
    add_options(p.request, p.options);
    // a container in a network of its own is named by its id, as docker's
    if ((p.network.mode == network::Mode::bridge || p.network.mode == network::Mode::user) &&
        p.options.hostname.empty()) {
        p.id = random_id();
        p.options.hostname = p.id;
    }
    add_exposed_ports(p.network, p.request, p.view.image.config.raw);
    const auto& config = p.view.image.config.raw;
    p.options.environment = runspec::environment(config, p.options);
    resolve_group_names(p); // --group-add NAME: the image's /etc/group
    p.spec = runspec::build(config, p.options, p.view.passwd);
    join_container_network(p);
    p.spec.resources = runtime::to_linux_resources(p.resources); // inspect and bundles read them
    if (p.request.fake_root) {
        if (!p.spec.seccomp)
            throw Error(Errc::usage, "--fake-root is a seccomp filter: it cannot run unconfined",
                        "drop --security-opt seccomp=unconfined or --fake-root");
        p.spec.annotations[oci::kFakeRootAnnotation] = "true";
    }
}

// The image's x86-64 needs (its --cpu-arch label, the ISA note of the program it runs) against
// this host's CPU (engine/cpu_check.hpp): refused here rather than dying with SIGILL.
void check_cpu(Prepared& p) {
    std::string program = p.spec.args.empty() ? std::string() : p.spec.args[0];
    rootfs::LayerFiles layers(*p.store, p.view.image.config.diff_ids);
    std::optional<sqsh::SquashFiles> squash;
    if (p.sqsh) squash.emplace(*p.sqsh, squashfs_confinement());
    const rootfs::ImageFiles* files = &layers;
    if (squash) files = &*squash;
    if (p.lazy) files = nullptr;
    std::string cache; // the per-boot cache of program lookups, when there is a runtime dir
    try {
        cache = (records::runtime_dir() / "cpu-programs").string();
    } catch (const Error& e) {
        log::debug("no CPU check cache: " + e.message());
    }
    refuse_cpu_shortfalls(cpu_shortfalls(p.view.image.config.raw, files, program, p.spec.env, cache,
                                         p.view.image.manifest_digest.empty()
                                             ? std::string()
                                             : p.view.image.manifest_digest.str()),
                          p.request.image, p.request.no_require);
}

// The container's id and its scratch: the writable layer and, when needed, a directory in the
// store. A detached container outlives this process: its hold is a file, released by `gantry rm`.
void make_scratch(Prepared& p) {
    // `gantry start`: the container's own id and directory, its writable layer kept
    bool again = !p.request.container_id.empty();
    p.id = again ? p.request.container_id : p.id.empty() ? random_id() : p.id;
    p.layer = writable_layer(p.request);
    p.scratch = std::make_unique<store::Scratch>(
        *p.store, p.id, p.layer.layer, p.view.image.manifest_digest, p.request.detach || again,
        p.sqsh == nullptr && p.lazy == nullptr && p.sandbox.empty(), again);
}

// CDI devices from any vendor's specs; their hooks run with exactly their declared env.
void add_cdi_devices(Prepared& p) {
    std::vector<std::string> names;
    for (auto& name : p.request.devices)
        if (!name.starts_with('/')) names.push_back(name);
    if (names.empty()) return;
    auto res = cdi::apply_device_names(
        p.spec, names, p.request.cdi_dirs, cdi::ApplyOptions{false, true},
        {"--device", Errc::usage,
         "use vendor.com/class=name, e.g. nvidia.com/gpu=0 (`gantry cdi list`), or a host "
         "device path such as /dev/fuse"});
    for (auto& w : res.warnings) log::warn(w);
    // gantry's own runtime binds the host's nodes and places no device cgroup: a narrower
    // access than "rwm" in a spec's permissions is said, not dropped silently
    for (const auto& rule : p.spec.device_rules)
        if (rule.access != "rwm")
            log::warn("CDI device " + std::string(1, rule.type) + " " +
                      std::to_string(rule.major.value_or(0)) + ":" +
                      std::to_string(rule.minor.value_or(0)) + ": its permissions \"" +
                      rule.access +
                      "\" are not applied by gantry run (no device cgroup: the host node's own "
                      "mode and owner decide); runc or crun apply them to a `gantry bundle`");
    for (auto& h : res.hooks)
        p.spec.hooks[h.hook_name].push_back(oci::Hook{h.path, h.args, h.env, h.timeout, false});
}

// OCI hooks are given the bundle's directory: its config.json is the spec they see.
void write_hook_bundle(Prepared& p) {
    if (p.spec.hooks.empty()) return;
    auto cfg = p.spec.to_json();
    cfg["root"]["path"] = (p.scratch->mount_point() / "root").string();
    // the container's own directory: a crash discards it, so on the start path it is not synced
    fs::write_atomic(p.scratch->dir() / "config.json", cfg.dump(2) + "\n", 0644,
                     fs::Sync::volatile_only);
}

// The root of a kept container (engine/kept_preparation.hpp) opened again: a store image's
// layers as create found them (held by the container: there even when its name was removed),
// the squashfs file (checked against the site's policy again, not parsed), or the lazily pulled
// image (a store image once its layers were all made local, as read_image finds it).
void reopen_root(Prepared& p, const KeptPreparation& kept) {
    p.view.image.manifest_digest = kept.manifest;
    switch (kept.root) {
    case KeptPreparation::Root::store:
        p.view.image.config.diff_ids = kept.diff_ids;
        return;
    case KeptPreparation::Root::squashfs:
        site::verify_file(kept.squashfs_file);
        p.sqsh = sqsh::open_deferred(kept.squashfs_file);
        return;
    case KeptPreparation::Root::lazy:
        if (lazy::in_store(*p.store, p.request.image)) {
            p.view = rootfs::find_run_view(*p.store, p.request.image);
            return;
        }
        auto rec = lazy::find(*p.store, p.request.image);
        if (!rec)
            throw Error(Errc::not_found,
                        "the lazily pulled image " + p.request.image +
                            " of this container is no longer in the store",
                        "pull it again (`gantry pull --lazy " + p.request.image +
                            "`), or remove the container and run a new one");
        open_lazy_root(p, *rec, {}, false);
        return;
    }
}

} // namespace

Prepared prepare_again(store::Store& store, RunRequest request, Caller caller,
                       KeptPreparation kept) {
    Prepared p;
    p.request = std::move(request);
    p.caller = std::move(caller);
    p.store = &store;
    p.write_warn = units::parse_size(p.request.write_warn, "--write-warn");
    p.resources = resources(p.request);
    p.options.privileged_user = p.caller.real_root;
    p.spec = std::move(kept.spec);
    restore_gpu_share(p); // what create's GPU step decided
    p.labels = std::move(kept.labels);
    if (p.request.network.empty()) p.request.network = configured_network(); // as prepare
    p.network = plan_network(p.request);
    p.network.ports = std::move(kept.ports); // -P's too, as create found them
    join_container_network(p);               // its process now, not create's
    reopen_root(p, kept);
    make_scratch(p);
    write_network_files(p);
    reattach_kernel_cache(p);
    return p;
}

namespace {

// What prepare() does once its Prepared holds the request, caller and store.
void prepare_request(Prepared& p, std::unique_ptr<runtime::EarlyStart> early) {
    resolve_named_volumes(*p.store, p.request);
    check_request(p);
    map_ids(p);
    start_process_early(p, std::move(early));
    read_image(p);
    mount_image_volumes(p);
    p.healthcheck = health_config(p.view.image.config.raw.value("config", oci::json()), p.request,
                                  p.request.image)
                        .to_json();
    p.labels = container_labels(p.view.image.config.raw.contains("config")
                                    ? p.view.image.config.raw["config"].value("Labels", oci::json())
                                    : oci::json(),
                                p.request.labels, p.request.label_files);
    build_spec(p);
    check_cpu(p);
    make_scratch(p);
    write_network_files(p);
    add_apptainer_passwd(p);
    add_gpus(p);
    add_cdi_devices(p);
    attach_kernel_cache(p);
    write_hook_bundle(p);
}

} // namespace

Prepared prepare(store::Store& store, RunRequest request, Caller caller,
                 std::unique_ptr<runtime::EarlyStart> early) {
    Prepared p;
    p.request = std::move(request);
    p.caller = std::move(caller);
    p.store = &store;
    // the anonymous volumes this preparation makes go again when it fails (a kept request's
    // own, made by an earlier start, stay)
    const std::size_t kept_volumes = p.request.anonymous_volumes.size();
    try {
        prepare_request(p, std::move(early));
    } catch (...) {
        std::vector<std::string> made(p.request.anonymous_volumes.begin() +
                                          static_cast<std::ptrdiff_t>(kept_volumes),
                                      p.request.anonymous_volumes.end());
        remove_anonymous_volumes(store, made);
        throw;
    }
    return p;
}

} // namespace gantry::engine
