#include "engine/kernel_caches.hpp"

#include "cpu/isa.hpp"
#include "engine/kernel_cache_artifacts.hpp"
#include "engine/labels.hpp"
#include "gpu_vendors/all/backends.hpp"
#include "kernel_cache/variables.hpp"
#include "oci/reference.hpp"
#include "records/state.hpp"
#include "sqsh/shared.hpp"
#include "util/config_file.hpp"
#include "util/error.hpp"
#include "util/log.hpp"
#include "util/text.hpp"
#include "util/units.hpp"

#include <sys/utsname.h>

namespace gantry::engine {

namespace {

constexpr const char* kKernelCacheExample = "it is YAML, e.g. `kernel_cache: auto`";

// The config file's NAME, "" when it sets none; WHERE names its line.
std::string config_value(const char* name, std::string& where) {
    std::string file;
    yaml::Node doc = config_file::load(file, kKernelCacheExample);
    const yaml::Node* key = doc.kind == yaml::Node::Kind::map ? doc.find(name) : nullptr;
    if (!key || key->kind == yaml::Node::Kind::null) return "";
    where = file + " line " + std::to_string(key->line) + ": " + name;
    if (key->kind != yaml::Node::Kind::scalar)
        throw Error(Errc::invalid, where + " is not a word",
                    "write e.g. `kernel_cache: auto` or `kernel_cache_max_size: 50GiB`");
    return key->value;
}

std::string runtime_cache_dir() {
    try {
        return records::runtime_dir().string();
    } catch (const Error& e) {
        log::debug("no GPU discovery cache: " + e.message());
        return "";
    }
}

// The config file's kernel_cache_registry: whether a key this node lacks is looked for in the
// registry of the run's image (false without it)
bool kernel_cache_from_registry() {
    std::string where;
    std::string word = config_value("kernel_cache_registry", where);
    if (word.empty() || word == "false") return false;
    if (word == "true") return true;
    throw Error(Errc::invalid, where + " is \"" + word + "\", neither true nor false",
                "write `kernel_cache_registry: true` to look for keys in the image's registry");
}

// The repository the run's image reference names, "" for an ID or a name without a registry
// reference
std::string image_repository(const std::string& image) {
    try {
        if (oci::looks_like_digest_prefix(image)) return "";
        return oci::Reference::parse(image).repository();
    } catch (const Error&) {
        return "";
    }
}

} // namespace

std::uint64_t kernel_cache_max_bytes() {
    std::string where;
    std::string word = config_value("kernel_cache_max_size", where);
    if (word.empty()) return kernel_cache::kDefaultMaxBytes;
    try {
        return units::parse_size(word, where);
    } catch (const Error& e) {
        throw Error(Errc::invalid, e.message(), "write e.g. `kernel_cache_max_size: 50GiB`");
    }
}

kernel_cache::Setting kernel_cache_setting(const RunRequest& request) {
    if (!request.kernel_cache.empty())
        return kernel_cache::Setting::parse(request.kernel_cache, "--kernel-cache");
    // the container's own labels only: an image's label must not choose where gantry writes
    auto labels = container_labels(oci::json::object(), request.labels, request.label_files);
    if (auto it = labels.find(kKernelCacheLabel); it != labels.end())
        return kernel_cache::Setting::parse(it->second,
                                            std::string("the label ") + kKernelCacheLabel);
    std::string where;
    std::string word = config_value("kernel_cache", where);
    try {
        return kernel_cache::Setting::parse(word, where);
    } catch (const Error& e) {
        throw Error(Errc::invalid, e.message(), e.hint());
    }
}

kernel_cache::KeyFacts key_facts(const std::string& image, unsigned user,
                                 const gpu_vendors::Backend* backend,
                                 const gpu_vendors::Roots& roots) {
    kernel_cache::KeyFacts f;
    f.image = image;
    f.user = user;
    if (backend) {
        f.vendor = std::string(backend->name());
        f.host = backend->kernel_cache_facts(roots, runtime_cache_dir());
        return f;
    }
    // no GPU: the CPU's code (JITs that compile for the host CPU, ccache's compilers)
    f.vendor = "cpu";
    struct utsname u {};
    f.host.push_back(std::string("machine=") + (::uname(&u) == 0 ? u.machine : "unknown"));
    try {
        auto host = cpu::host_cpu();
        if (host.family == cpu::Family::x86_64) {
            f.host.push_back("cpu=x86-64-v" + std::to_string(cpu::level_of(host.features)));
        } else { // aarch64's versions are coarse: a JIT targets the features themselves
            f.host.push_back("cpu=" + cpu::arm_level_of(host.features));
            f.host.push_back(
                "cpu-features=" +
                text::join(std::vector<std::string>(host.features.begin(), host.features.end()),
                           " "));
        }
    } catch (const Error& e) { // no features line: the machine says it
        log::debug("kernel cache key: " + e.message());
    }
    return f;
}

kernel_cache::KeyFacts kernel_cache_facts(const Prepared& p) {
    const auto& r = p.request;
    const auto& image = p.view.image;
    std::string digest = !image.manifest_digest.empty() ? image.manifest_digest.str()
                         : !image.manifest.config.digest.empty()
                             ? image.manifest.config.digest.str()
                             : std::string();
    if (digest.empty())
        throw Error(Errc::unsupported,
                    "--kernel-cache: the image " + r.image + " has no digest to key a cache on",
                    "run an image from the store or a registry, or leave --kernel-cache out");
    return key_facts(digest, p.caller.uid,
                     gpu_vendors::for_run(r.gpu_roots, r.gpu_vendor, p.spec.env, r.gpus),
                     r.gpu_roots);
}

std::shared_ptr<kernel_cache::Attachment>
attach_kernel_cache(oci::RuntimeSpec& spec, const kernel_cache::Setting& setting,
                    const kernel_cache::KeyFacts& facts, const std::filesystem::path& store_root,
                    const std::string& id, const std::vector<std::string>& image_stores,
                    const std::string& repository) {
    auto root = kernel_cache::root_of(setting, store_root);
    auto variables = gpu_vendors::kernel_cache_variables();
    kernel_cache::AttachOptions options;
    options.directories = kernel_cache::directories(variables);
    options.max_bytes = kernel_cache_max_bytes();
    // a key this node lacks starts from a shared store's copy (kernel_cache/shared.hpp)
    options.shared_stores = sqsh::configured_stores(image_stores);
    // ... else from the image's registry, where the config file asks for it
    if (!repository.empty() && kernel_cache_from_registry()) {
        const auto max_bytes = options.max_bytes;
        options.fetch = [repository, max_bytes](const kernel_cache::KeyFacts& f,
                                                const std::filesystem::path& into) {
            return fetch_kernel_cache_artifact(f, repository, into, max_bytes, {});
        };
    }
    auto a =
        std::make_shared<kernel_cache::Attachment>(kernel_cache::attach(root, facts, id, options));
    oci::Mount m;
    m.destination = kernel_cache::kMountPath;
    m.type = "overlay";
    m.source = "overlay";
    m.options = a->mount_options();
    spec.mounts.push_back(std::move(m));
    for (auto& e : kernel_cache::pointed_env(spec.env, variables)) spec.env.push_back(std::move(e));
    spec.annotations[kKernelCacheKeyAnnotation] = a->key;
    spec.annotations[kKernelCacheDirAnnotation] = a->key_dir.string();
    spec.annotations[kKernelCacheRoleAnnotation] = kernel_cache::to_string(a->role);
    log::debug("kernel cache " + a->key + " (" + kernel_cache::to_string(a->role) +
               "): " + a->key_dir.string());
    return a;
}

void attach_kernel_cache(Prepared& p) {
    auto setting = kernel_cache_setting(p.request);
    p.request.kernel_cache = setting.word(); // a kept container's starts keep this one
    if (setting.kind == kernel_cache::Setting::Kind::off) return;
    p.kernel_cache =
        attach_kernel_cache(p.spec, setting, kernel_cache_facts(p), p.store->root(), p.id,
                            p.request.image_stores, image_repository(p.request.image));
}

std::filesystem::path kernel_cache_root(const std::filesystem::path& store_root,
                                        const std::string& dir) {
    if (!dir.empty())
        return kernel_cache::root_of(kernel_cache::Setting::parse(dir, "--dir"), store_root);
    std::string where;
    std::string word = config_value("kernel_cache", where);
    kernel_cache::Setting s;
    try {
        s = kernel_cache::Setting::parse(word, where);
    } catch (const Error& e) {
        throw Error(Errc::invalid, e.message(), e.hint());
    }
    if (s.kind != kernel_cache::Setting::Kind::dir) s.kind = kernel_cache::Setting::Kind::automatic;
    return kernel_cache::root_of(s, store_root);
}

std::string commit_kernel_cache(const std::string& container) {
    auto s = records::StateDir().get_started(container);
    if (!s.running())
        throw Error(Errc::not_found, "the container " + container + " is not running",
                    "a writer's additions are published when it exits; commit is for one that "
                    "runs");
    const auto& a = s.spec.annotations;
    auto key = a.find(kKernelCacheKeyAnnotation);
    auto dir = a.find(kKernelCacheDirAnnotation);
    auto role = a.find(kKernelCacheRoleAnnotation);
    if (key == a.end() || dir == a.end() || role == a.end())
        throw Error(Errc::usage, "the container " + container + " has no kernel cache",
                    "run it with --kernel-cache (or the label io.gantry.kernel-cache=auto)");
    if (role->second != "writer")
        throw Error(Errc::usage,
                    "the container " + container + " reads the kernel cache " + key->second +
                        ": another container writes it",
                    "commit the writer (gantry inspect shows each one's role); a reader's "
                    "additions are discarded");
    std::filesystem::path key_dir = dir->second;
    return kernel_cache::publish(key_dir, key_dir / "runs" / s.id / "upper", false);
}

void reattach_kernel_cache(Prepared& p) {
    auto& mounts = p.spec.mounts;
    std::erase_if(mounts, [](const oci::Mount& m) {
        return m.destination == kernel_cache::kMountPath && m.type == "overlay";
    });
    for (const char* a :
         {kKernelCacheKeyAnnotation, kKernelCacheDirAnnotation, kKernelCacheRoleAnnotation})
        p.spec.annotations.erase(a);
    attach_kernel_cache(p);
}

} // namespace gantry::engine
