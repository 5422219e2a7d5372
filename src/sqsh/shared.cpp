#include "sqsh/shared.hpp"

#include "oci/image.hpp"
#include "oci/reference.hpp"
#include "store/images.hpp"
#include "util/config_file.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/text.hpp"
#include "util/yaml.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace gantry::sqsh {

namespace {

constexpr std::size_t kMaxRefFile = 4096;

void add_unique(std::vector<std::string>& out, std::string dir) {
    while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
    if (!dir.empty() && std::find(out.begin(), out.end(), dir) == out.end())
        out.push_back(std::move(dir));
}

void add_config_stores(std::vector<std::string>& out) {
    std::string file;
    yaml::Node doc = config_file::load(file, "it is YAML, e.g. `image_stores: [/shared/gantry]`");
    if (doc.kind == yaml::Node::Kind::null) return;
    const yaml::Node* list = doc.find("image_stores");
    if (!list || list->kind == yaml::Node::Kind::null) return;
    if (list->kind != yaml::Node::Kind::seq)
        throw Error(Errc::invalid,
                    file + " line " + std::to_string(list->line) +
                        ": image_stores is not a list of directories",
                    "write `image_stores: [/shared/gantry]`");
    for (auto& item : list->items) {
        if (item.kind != yaml::Node::Kind::scalar || item.value.empty())
            throw Error(Errc::invalid,
                        file + " line " + std::to_string(item.line) +
                            ": an image store is not a directory name",
                        "write `image_stores: [/shared/gantry]`");
        add_unique(out, item.value);
    }
}

// A small file's text; nullopt when absent. ESTALE (the file replaced on another NFS client
// between open and read) is retried.
std::optional<std::string> read_small(const std::string& path) {
    for (int attempt = 0; attempt < 3; ++attempt) {
        Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
        if (!fd) {
            if (errno == ENOENT || errno == ENOTDIR) return std::nullopt;
            if (errno == ESTALE) continue;
            throw_errno("cannot read " + path);
        }
        try {
            return fs::read_stream(fd.get(), kMaxRefFile, path);
        } catch (const Error&) {
            if (errno == ESTALE) continue;
            throw;
        }
    }
    throw Error(Errc::io, "cannot read " + path + ": it keeps changing (stale NFS handle)",
                "try again");
}

bool is_file(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

std::string object_file(const std::string& dir, const oci::Digest& d) {
    return dir + "/sqsh/" + d.hex() + ".sqsh";
}

// The manifest digest a reference file holds; Error(invalid) naming it when it holds anything
// else (a damaged store is not a missing image).
oci::Digest ref_digest(const std::string& path, const std::string& text) {
    auto t = text;
    while (!t.empty() && (t.back() == '\n' || t.back() == ' ')) t.pop_back();
    try {
        return oci::Digest::parse(t);
    } catch (const Error&) {
        throw Error(Errc::invalid, "shared image store: " + path + " does not hold a digest",
                    "republish the image: gantry push --image-store DIR REF");
    }
}

// A SIF file of DIR's top level (Apptainer's library layout), by the names IMAGE may have.
std::optional<SharedImage> find_sif_in(const std::string& dir, const std::string& image) {
    for (auto& name : sif_file_names(image)) {
        auto f = dir + "/" + name;
        if (!is_file(f)) continue;
        auto abs = fs::stdfs::absolute(f).lexically_normal().string();
        return SharedImage{dir, name.substr(0, name.size() - 4), oci::Digest::of("sif:" + abs), f,
                           true};
    }
    return std::nullopt;
}

std::optional<SharedImage> find_in(const std::string& dir, const std::string& image) {
    // by digest: sha256:<hex>, or REPO@sha256:<hex>
    std::string digest;
    if (image.starts_with("sha256:"))
        digest = image;
    else if (auto at = image.find('@'); at != std::string::npos)
        digest = image.substr(at + 1);
    if (!digest.empty()) {
        oci::Digest d;
        try {
            d = oci::Digest::parse(digest);
        } catch (const Error&) {
            return std::nullopt;
        }
        auto f = object_file(dir, d);
        if (!is_file(f)) return std::nullopt;
        return SharedImage{dir, "", d, f};
    }
    std::string ref;
    try {
        ref = oci::Reference::parse(image).str();
    } catch (const Error&) {
        return find_sif_in(dir, image); // not a reference: only a file's name (My App.sif)
    }
    auto path = dir + "/refs/" + ref_file_name(ref);
    auto text = read_small(path);
    if (!text) return find_sif_in(dir, image);
    auto d = ref_digest(path, *text);
    auto f = object_file(dir, d);
    if (!is_file(f))
        throw Error(Errc::invalid,
                    "shared image store " + dir + ": " + ref + " names " + d.str() +
                        ", which is not there (" + f + ")",
                    "republish it: gantry push --image-store " + dir + " " + ref);
    return SharedImage{dir, ref, d, f};
}

std::string decode(const std::string& name) {
    std::string out;
    for (std::size_t i = 0; i < name.size(); ++i) {
        if (name[i] == '%' && i + 2 < name.size() && std::isxdigit((unsigned char)name[i + 1]) &&
            std::isxdigit((unsigned char)name[i + 2])) {
            out += static_cast<char>(std::stoi(name.substr(i + 1, 2), nullptr, 16));
            i += 2;
        } else {
            out += name[i];
        }
    }
    return out;
}

} // namespace

void put_object(const std::string& path, const std::string& data) {
    if (is_file(path)) return;
    std::string tmp = path + ".tmp-" + fs::unique_name();
    {
        Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
        if (!fd) throw_errno("cannot create " + tmp);
        try {
            fs::write_all(fd.get(), data.data(), data.size(), path);
            if (::fsync(fd.get()) != 0) throw_errno("cannot write " + path);
        } catch (...) {
            ::unlink(tmp.c_str());
            throw;
        }
    }
    int rc = ::link(tmp.c_str(), path.c_str());
    int err = errno;
    ::unlink(tmp.c_str());
    if (rc != 0 && err != EEXIST) throw sys_error(err, "cannot create " + path);
    if (rc == 0) fs::sync_dir(fs::stdfs::path(path).parent_path()); // the new name, durably
}

std::vector<std::string> sif_file_names(const std::string& image) {
    std::vector<std::string> out;
    if (image.empty() || image.starts_with('.') || image.find('@') != std::string::npos ||
        image.starts_with("sha256:") || image.find('\0') != std::string::npos)
        return out;
    if (image.find('/') == std::string::npos)
        out.push_back(image.ends_with(".sif") ? image : image + ".sif");
    if (image.ends_with(".sif")) return out; // a file's name, not a reference
    try {
        auto r = oci::Reference::parse(image);
        if (!r.digest.empty()) return out;
        auto base = r.path.substr(r.path.rfind('/') + 1);
        auto pulled = base + "_" + r.tag_or_latest() + ".sif";
        if (std::find(out.begin(), out.end(), pulled) == out.end()) out.push_back(pulled);
    } catch (const Error&) {
    }
    return out;
}

std::string ref_file_name(const std::string& ref) {
    return text::url_escape(ref);
}

std::vector<std::string> configured_stores(const std::vector<std::string>& given) {
    std::vector<std::string> out;
    for (auto& g : given) add_unique(out, g);
    if (const char* env = std::getenv("GANTRY_IMAGE_STORES"); env && *env) {
        std::string s = env;
        for (std::size_t p = 0; p <= s.size();) {
            auto q = s.find(':', p);
            if (q == std::string::npos) q = s.size();
            add_unique(out, s.substr(p, q - p));
            p = q + 1;
        }
    }
    add_config_stores(out);
    return out;
}

std::optional<SharedImage> find_shared(const std::vector<std::string>& stores,
                                       const std::string& image) {
    for (auto& dir : stores)
        if (auto hit = find_in(dir, image)) return hit;
    return std::nullopt;
}

std::vector<SharedImage> list_shared(const std::vector<std::string>& stores) {
    std::vector<SharedImage> out;
    for (auto& dir : stores) {
        auto refs = dir + "/refs";
        DIR* d = ::opendir(refs.c_str());
        if (!d) continue;
        while (auto* e = ::readdir(d)) {
            std::string name = e->d_name;
            if (name.starts_with(".") || name.find(".tmp-") != std::string::npos) continue;
            auto path = refs + "/" + name;
            auto text = read_small(path);
            if (!text) continue;
            auto digest = ref_digest(path, *text);
            out.push_back({dir, decode(name), digest, object_file(dir, digest)});
        }
        ::closedir(d);
    }
    std::sort(out.begin(), out.end(),
              [](const SharedImage& a, const SharedImage& b) { return a.ref < b.ref; });
    // then each store's SIF files (Apptainer's library layout: DIR/NAME.sif)
    for (auto& dir : stores) {
        DIR* d = ::opendir(dir.c_str());
        if (!d) continue;
        std::vector<SharedImage> sifs;
        while (auto* e = ::readdir(d)) {
            std::string name = e->d_name;
            if (name.starts_with(".") || !name.ends_with(".sif") || name.size() == 4) continue;
            auto f = dir + "/" + name;
            if (!is_file(f)) continue;
            auto abs = fs::stdfs::absolute(f).lexically_normal().string();
            sifs.push_back(
                {dir, name.substr(0, name.size() - 4), oci::Digest::of("sif:" + abs), f, true});
        }
        ::closedir(d);
        std::sort(sifs.begin(), sifs.end(),
                  [](const SharedImage& a, const SharedImage& b) { return a.ref < b.ref; });
        for (auto& s : sifs) out.push_back(std::move(s));
    }
    return out;
}

PublishResult publish(const store::Store& store, const std::string& ref, const std::string& dir,
                      const SaveOptions& opt) {
    auto img = store::find_image(store, ref);
    try {
        for (auto sub : {"", "/sqsh", "/manifests", "/configs", "/refs"})
            fs::make_dirs(dir + sub, 0755);
    } catch (const Error& e) {
        throw Error(Errc::io, "cannot publish into the image store " + dir + ": " + e.message(),
                    "publish from an account that can write " + dir);
    }
    PublishResult r;
    r.image = {dir, "", img.manifest_digest, object_file(dir, img.manifest_digest)};
    // the objects first, the reference last: a reader never finds a tag without its image
    put_object(dir + "/manifests/" + img.manifest_digest.hex() + ".json",
               store.read_blob(img.manifest_digest));
    put_object(dir + "/configs/" + img.manifest.config.digest.hex() + ".json",
               store.read_blob(img.manifest.config.digest));
    if (is_file(r.image.file)) {
        r.existed = true;
    } else {
        SaveOptions o = opt;
        o.replace = false;
        auto s = save(store, img.manifest_digest.str(), r.image.file, o);
        r.existed = s.existed;
    }
    struct stat st {};
    if (::stat(r.image.file.c_str(), &st) == 0) r.bytes = static_cast<std::uint64_t>(st.st_size);
    std::string name;
    try {
        name = oci::Reference::parse(ref).str();
    } catch (const Error&) {
    }
    bool is_id = ref.starts_with("sha256:") ||
                 (ref.find_first_not_of("0123456789abcdef") == std::string::npos);
    if (!name.empty() && !is_id && ref.find('@') == std::string::npos) {
        fs::write_atomic(dir + "/refs/" + ref_file_name(name), img.manifest_digest.str() + "\n");
        r.image.ref = name;
    }
    return r;
}

} // namespace gantry::sqsh
