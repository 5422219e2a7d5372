#include "engine/kernel_cache_artifacts.hpp"

#include "engine/copy_tree.hpp"
#include "kernel_cache/caches.hpp"
#include "oci/reference.hpp"
#include "registry/artifacts.hpp"
#include "store/images.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"
#include "util/fs.hpp"
#include "util/hash.hpp"
#include "util/json.hpp"
#include "util/lock.hpp"
#include "util/log.hpp"
#include "util/text.hpp"

#include <ctime>
#include <fcntl.h>
#include <nlohmann/json.hpp>
#include <set>
#include <sys/stat.h>
#include <tuple>
#include <unistd.h>

namespace gantry::engine {

namespace stdfs = std::filesystem;

namespace {

constexpr std::uint64_t kMaxFacts = 1u << 20;
constexpr const char* kTreeName = "tree"; // the tar's top directory

// REPOSITORY ("host[:port]/path") parsed; a tag or digest in it refused (an artifact goes by
// its digest, and the image's repository is what is asked for)
oci::Reference parse_repository(const std::string& repository) {
    auto slash = repository.rfind('/');
    std::string last = slash == std::string::npos ? repository : repository.substr(slash + 1);
    if (repository.find('@') != std::string::npos || last.find(':') != std::string::npos)
        throw Error(Errc::usage,
                    "--repository " + repository + " names a tag or digest, not a repository",
                    "give the image's repository alone, e.g. registry.example.com/team/model");
    return oci::Reference::parse(repository);
}

// An anonymous temporary file in DIR, removed when closed
Fd temp_file(const stdfs::path& dir) {
    Fd fd(::open(dir.c_str(), O_RDWR | O_TMPFILE | O_CLOEXEC, 0600));
    if (!fd) throw_errno("cannot make a temporary file in " + dir.string());
    return fd;
}

std::uint64_t file_size(int fd, const std::string& what) {
    struct stat st {};
    if (::fstat(fd, &st) != 0) throw_errno("cannot stat " + what);
    return static_cast<std::uint64_t>(st.st_size);
}

// What a registry's tree may hold in a key: directories, regular files and symbolic links
// (links are never followed: the overlay shows them to the container as the container's own),
// without set-id bits; anything else removed.
void tidy_fetched_tree(const stdfs::path& dir) {
    std::error_code ec;
    for (auto it = stdfs::recursive_directory_iterator(dir, ec);
         !ec && it != stdfs::recursive_directory_iterator(); it.increment(ec)) {
        struct stat st {};
        if (::lstat(it->path().c_str(), &st) != 0) continue;
        if (S_ISLNK(st.st_mode)) continue;
        if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode)) {
            log::warn("kernel cache: " + it->path().string() +
                      " is neither a file, a directory nor a link: left out");
            ::unlink(it->path().c_str());
            continue;
        }
        if (st.st_mode & (S_ISUID | S_ISGID))
            ::chmod(it->path().c_str(),
                    st.st_mode & 0777 & ~static_cast<mode_t>(S_ISUID | S_ISGID));
    }
}

// The artifact DIGEST of REPO unpacked into INTO when it is KEY's: false when its tree is
// above MAX_BYTES; Error when it is not what it claims
bool fetch_one(registry::Client& client, const std::string& repo, const oci::Digest& digest,
               const std::string& key, const std::string& where, const stdfs::path& into,
               std::uint64_t max_bytes) {
    const std::string what = "the kernel cache " + key + " in " + where;
    auto m = registry::get_manifest(client, repo, digest.str(), what);
    if (m.digest != digest)
        throw Error(Errc::invalid, what + ": the registry sent a manifest of another digest",
                    "the registry or a proxy alters it");
    const auto layers = kernel_cache_layers(m.body, what);
    const auto facts_size = layers.facts_size, tree_size = layers.tree_size;
    if (tree_size > max_bytes) {
        log::note(what + " is " + std::to_string(tree_size >> 20) +
                  " MiB, more than kernel_cache_max_size: not fetched");
        return false;
    }
    Fd facts_fd = temp_file(into);
    registry::download_blob(client, repo, layers.facts, facts_size, facts_fd.get(),
                            what + "'s facts");
    std::string text(facts_size, '\0');
    if (facts_size &&
        ::pread(facts_fd.get(), text.data(), text.size(), 0) != static_cast<ssize_t>(facts_size))
        throw_errno("cannot read " + what + "'s facts");
    auto theirs = kernel_cache::KeyFacts::from_json(safe_json::parse(text, what + "'s facts"));
    if (kernel_cache::key_of(theirs) != key)
        throw Error(Errc::invalid, what + "'s facts make another key: not used",
                    "whoever pushed it labelled another key's cache with this one");
    Fd tree_fd = temp_file(into);
    registry::download_blob(client, repo, layers.tree, tree_size, tree_fd.get(), what + "'s tree");
    if (::lseek(tree_fd.get(), 0, SEEK_SET) != 0) throw_errno("cannot read " + what);
    auto scratch = into / (".fetch.tmp-" + fs::unique_name());
    fs::make_dirs(scratch, 0700);
    try {
        Fd dir(::open(scratch.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        if (!dir) throw_errno("cannot open " + scratch.string());
        extract_tar_into(tree_fd.get(), dir.get(), what);
        auto top = scratch / kTreeName;
        if (!stdfs::is_directory(stdfs::symlink_status(top)))
            throw Error(Errc::invalid, what + "'s tree has no " + kTreeName + "/ directory",
                        "push it again with gantry kernel-cache push");
        tidy_fetched_tree(top);
        for (const auto& e : stdfs::directory_iterator(top))
            stdfs::rename(e.path(), into / e.path().filename());
        fs::remove_tree(scratch);
    } catch (...) {
        fs::remove_tree(scratch);
        throw;
    }
    log::note("kernel cache " + key + ": starting from " + where + " (" + digest.str() + ")");
    return true;
}

} // namespace

KernelCacheLayers kernel_cache_layers(const std::string& body, const std::string& what) {
    auto doc = safe_json::parse(body, what);
    auto layers = doc.is_object() ? doc.find("layers") : doc.end();
    if (layers == doc.end() || !layers->is_array() || layers->size() != 2)
        throw Error(Errc::invalid, what + " is not gantry's kernel cache artifact (two layers)",
                    "push it again with gantry kernel-cache push");
    auto layer = [&](std::size_t i, const char* type) {
        const auto& l = (*layers)[i];
        if (safe_json::string_field(l, "mediaType") != type ||
            !oci::Digest::valid(safe_json::string_field(l, "digest")) || !l.contains("size") ||
            !l["size"].is_number_unsigned())
            throw Error(Errc::invalid, what + "'s layer " + std::to_string(i) + " is not a " + type,
                        "push it again with gantry kernel-cache push");
        return std::pair{oci::Digest::parse(l["digest"].get<std::string>()),
                         l["size"].get<std::uint64_t>()};
    };
    KernelCacheLayers out;
    std::tie(out.facts, out.facts_size) = layer(0, kKernelCacheFactsType);
    std::tie(out.tree, out.tree_size) = layer(1, kKernelCacheTreeType);
    if (out.facts_size > kMaxFacts)
        throw Error(Errc::invalid,
                    what + "'s facts are " + std::to_string(out.facts_size) + " bytes",
                    "push it again with gantry kernel-cache push");
    return out;
}

std::string kernel_cache_repository(const store::Store& store, const kernel_cache::KeyFacts& facts,
                                    const std::string& repository) {
    if (!repository.empty()) return parse_repository(repository).repository();
    std::set<std::string> found;
    try {
        auto img = store::read_image(store, oci::Digest::parse(facts.image));
        for (const auto& ref : img.refs) try {
                found.insert(oci::Reference::parse(ref).repository());
            } catch (const Error&) {
            }
    } catch (const Error& e) {
        log::debug("kernel cache push: " + e.message());
    }
    if (found.size() == 1) return *found.begin();
    std::string names;
    for (auto& f : found) names += (names.empty() ? "" : ", ") + f;
    throw Error(Errc::usage,
                found.empty() ? "no image in the store has the manifest " + facts.image +
                                    " the key was made for, so its repository is not known"
                              : "the key's image is in several repositories (" + names + ")",
                "name the repository the image is pushed to: --repository REGISTRY/PATH");
}

KernelCacheArtifact push_kernel_cache_artifact(const stdfs::path& root, const std::string& key,
                                               const std::string& repository,
                                               const registry::ClientOptions& options) {
    auto info = kernel_cache::find(root, key);
    if (!info.facts)
        throw Error(Errc::invalid, "the kernel cache " + info.key + " has no readable facts.json",
                    "remove it: gantry kernel-cache rm " + info.key);
    auto ref = parse_repository(repository);
    auto client = registry::client_for(ref, options);
    const std::string repo = ref.path;
    auto subject = registry::get_manifest(*client, repo, info.facts->image,
                                          "the image manifest " + info.facts->image);
    // the tree, from the generation read under its lock (no publication removes it meanwhile)
    Fd tree = temp_file(root);
    {
        FileLock reading(info.dir / (info.generation + ".lock"), FileLock::Mode::shared);
        Fd dir(::open(info.dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        if (!dir) throw_errno("cannot open " + info.dir.string());
        write_tar(dir.get(), info.generation, kTreeName, tree.get(), false);
    }
    const std::uint64_t tree_size = file_size(tree.get(), "the kernel cache's tar");
    Sha256 sha;
    {
        std::vector<char> buf(1u << 20);
        for (std::uint64_t off = 0; off < tree_size;) {
            ssize_t n = ::pread(tree.get(), buf.data(), buf.size(), static_cast<off_t>(off));
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) throw_errno("cannot read the kernel cache's tar");
            sha.update(buf.data(), static_cast<std::size_t>(n));
            off += static_cast<std::uint64_t>(n);
        }
    }
    const auto tree_digest = oci::Digest::from_hex(sha.hex_final());
    const std::string facts = info.facts->to_json().dump(2) + "\n";
    const auto facts_digest = oci::Digest::of(facts);
    const auto empty_digest = oci::Digest::of(registry::kOciEmptyJson);
    registry::upload_blob(*client, repo, tree_digest, tree.get(), tree_size, {});
    registry::upload_blob(*client, repo, facts_digest, -1, 0, facts);
    registry::upload_blob(*client, repo, empty_digest, -1, 0, registry::kOciEmptyJson);
    nlohmann::ordered_json manifest = {
        {"schemaVersion", 2},
        {"mediaType", registry::kOciManifestType},
        {"artifactType", kKernelCacheArtifactType},
        {"config",
         {{"mediaType", registry::kOciEmptyType},
          {"digest", empty_digest.str()},
          {"size", 2},
          {"data", "e30="}}},
        {"layers",
         {{{"mediaType", kKernelCacheFactsType},
           {"digest", facts_digest.str()},
           {"size", facts.size()}},
          {{"mediaType", kKernelCacheTreeType},
           {"digest", tree_digest.str()},
           {"size", tree_size}}}},
        {"subject",
         {{"mediaType",
           subject.media_type.empty() ? registry::kOciManifestType : subject.media_type},
          {"digest", subject.digest.str()},
          {"size", subject.size}}},
        {"annotations",
         {{kKernelCacheArtifactKey, info.key},
          {"org.opencontainers.image.created",
           text::rfc3339(static_cast<std::int64_t>(::time(nullptr)))}}}};
    auto pushed = registry::push_referrer(*client, repo, manifest.dump(), subject.digest);
    return {info.key, ref.repository(), pushed.manifest.str(), tree_size,
            pushed.indexed_by_registry};
}

bool fetch_kernel_cache_artifact(const kernel_cache::KeyFacts& facts, const std::string& repository,
                                 const stdfs::path& into, std::uint64_t max_bytes,
                                 const registry::ClientOptions& options) {
    const std::string key = kernel_cache::key_of(facts);
    auto ref = oci::Reference::parse(repository);
    auto client = registry::client_for(ref, options);
    const std::string repo = ref.path;
    const auto subject = oci::Digest::parse(facts.image);
    auto found = registry::list_referrers(*client, repo, subject, kKernelCacheArtifactType);
    const std::string where = ref.repository();
    for (const auto& d : found) {
        auto ann = d.find("annotations");
        if (ann == d.end() || safe_json::string_field(*ann, kKernelCacheArtifactKey) != key)
            continue;
        const auto digest = oci::Digest::parse(d["digest"].get<std::string>());
        // a candidate that fails a check is passed over with a warning: the next may be sound
        try {
            if (fetch_one(*client, repo, digest, key, where, into, max_bytes)) return true;
        } catch (const Error& e) {
            log::warn("kernel cache " + key + ": the artifact " + digest.str() + " in " + where +
                      " is not used: " + e.message());
        } catch (const std::exception& e) { // a filesystem error while it was unpacked
            log::warn("kernel cache " + key + ": the artifact " + digest.str() + " in " + where +
                      " is not used: " + e.what());
        }
    }
    return false;
}

} // namespace gantry::engine
