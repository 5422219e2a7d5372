#include "archive/save.hpp"

#include "layer/stream.hpp"
#include "oci/reference.hpp"
#include "store/images.hpp"
#include "store/layer_tar.hpp"
#include "store/platforms.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/log.hpp"

#include <algorithm>
#include <archive.h>
#include <archive_entry.h>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <map>
#include <set>
#include <sys/stat.h>
#include <unistd.h>

namespace gantry::archive {

using oci::Descriptor;
using oci::Digest;
using oci::json;

SaveFormat parse_save_format(const std::string& t) {
    if (t == "docker-archive" || t == "docker") return SaveFormat::docker_archive;
    if (t == "oci-archive") return SaveFormat::oci_archive;
    if (t == "oci-dir" || t == "oci") return SaveFormat::oci_dir;
    throw Error(Errc::usage, "unknown save format \"" + t + "\"",
                "use docker-archive, oci-archive or oci-dir");
}

namespace {

// Where the output's entries go: a tar stream or a directory.
class Sink {
  public:
    virtual ~Sink() = default;
    virtual bool has(const std::string& name) const = 0;
    virtual void add(const std::string& name, std::uint64_t size, layer::Reader& data) = 0;
    void add_text(const std::string& name, const std::string& text) {
        struct StrReader : layer::Reader {
            const std::string& s;
            std::size_t pos = 0;
            explicit StrReader(const std::string& t) : s(t) {}
            std::size_t read(void* b, std::size_t n) override {
                n = std::min(n, s.size() - pos);
                std::memcpy(b, s.data() + pos, n);
                pos += n;
                return n;
            }
        } r(text);
        add(name, text.size(), r);
    }
    virtual void finish() = 0;
    std::uint64_t bytes = 0;
};

class TarSink final : public Sink {
  public:
    // The archive is written to an unnamed file (O_TMPFILE) in the output's directory and
    // linked into place only when complete: a save killed at any moment (even kill -9) leaves
    // nothing behind. A filesystem without O_TMPFILE gets a named temporary, removed on errors.
    TarSink(const std::filesystem::path& out)
        : out_(out), tmp_(out.string() + ".tmp-" + fs::unique_name()),
          a_(archive_write_new(), archive_write_free) {
        auto dir = out.parent_path().empty() ? std::filesystem::path(".") : out.parent_path();
        fd_.reset(::open(dir.c_str(), O_TMPFILE | O_WRONLY | O_CLOEXEC, 0644));
        unnamed_ = static_cast<bool>(fd_);
        if (!fd_ && errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL)
            throw_errno("cannot create " + out_.string());
        if (!fd_) fd_.reset(::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
        if (!fd_) throw_errno("cannot create " + tmp_.string());
        archive_write_set_format_pax_restricted(a_.get());
        archive_write_set_bytes_in_last_block(a_.get(), 1);
        if (archive_write_open_fd(a_.get(), fd_.get()) != ARCHIVE_OK) fail();
    }
    // Streamed to FD (standard output: `gantry save IMAGE > x.tar`, docker's default), kept
    // open: what a stream's reader does with a partial archive is its own.
    explicit TarSink(int fd)
        : out_("standard output"), fd_(::fcntl(fd, F_DUPFD_CLOEXEC, 3)), streamed_(true),
          a_(archive_write_new(), archive_write_free) {
        if (!fd_) throw_errno("cannot write to standard output");
        archive_write_set_format_pax_restricted(a_.get());
        archive_write_set_bytes_in_last_block(a_.get(), 1);
        if (archive_write_open_fd(a_.get(), fd_.get()) != ARCHIVE_OK) fail();
    }
    ~TarSink() override {
        if (!done_ && !streamed_) ::unlink(tmp_.c_str()); // the unnamed file goes with its fd
    }
    bool has(const std::string& name) const override { return names_.count(name); }
    void add(const std::string& name, std::uint64_t size, layer::Reader& data) override {
        if (!names_.insert(name).second) return;
        std::unique_ptr<archive_entry, void (*)(archive_entry*)> e(archive_entry_new(),
                                                                   archive_entry_free);
        archive_entry_set_pathname(e.get(), name.c_str());
        archive_entry_set_filetype(e.get(), AE_IFREG);
        archive_entry_set_perm(e.get(), 0644);
        archive_entry_set_size(e.get(), static_cast<la_int64_t>(size));
        archive_entry_set_mtime(e.get(), 0, 0);
        if (archive_write_header(a_.get(), e.get()) != ARCHIVE_OK) fail();
        std::vector<char> buf(1 << 20);
        std::uint64_t left = size;
        while (left > 0) {
            std::size_t n = data.read(buf.data(), std::min<std::uint64_t>(buf.size(), left));
            if (n == 0) throw Error(Errc::internal, "short read while saving " + name);
            if (archive_write_data(a_.get(), buf.data(), n) < 0) fail();
            left -= n;
        }
        if (data.read(buf.data(), 1) != 0)
            throw Error(Errc::internal,
                        name + " is larger than recorded; run `gantry system fsck`");
        bytes += size;
    }
    void finish() override {
        if (archive_write_close(a_.get()) != ARCHIVE_OK) fail();
        if (streamed_) {
            done_ = true;
            return;
        }
        if (unnamed_) { // linkat(AT_EMPTY_PATH) needs CAP_DAC_READ_SEARCH; /proc/self/fd does not
            auto self = "/proc/self/fd/" + std::to_string(fd_.get());
            // straight to the output when it does not exist yet (no window at all), else beside
            // it and renamed over it
            if (::linkat(AT_FDCWD, self.c_str(), AT_FDCWD, out_.c_str(), AT_SYMLINK_FOLLOW) == 0) {
                done_ = true;
                return;
            }
            if (errno != EEXIST ||
                ::linkat(AT_FDCWD, self.c_str(), AT_FDCWD, tmp_.c_str(), AT_SYMLINK_FOLLOW) != 0)
                throw_errno("cannot write " + out_.string());
        }
        fd_.reset();
        if (::rename(tmp_.c_str(), out_.c_str()) != 0) {
            int err = errno;
            ::unlink(tmp_.c_str());
            throw sys_error(err, "cannot write " + out_.string());
        }
        done_ = true;
    }

  private:
    [[noreturn]] void fail() {
        const char* m = archive_error_string(a_.get());
        int err = archive_errno(a_.get());
        if (err > 0) throw sys_error(err, "cannot write " + out_.string());
        throw Error(Errc::io, "cannot write " + out_.string() + ": " + (m ? m : "tar error"));
    }
    std::filesystem::path out_, tmp_;
    Fd fd_;
    bool streamed_ = false;
    std::unique_ptr<struct archive, int (*)(struct archive*)> a_;
    std::set<std::string> names_;
    bool done_ = false;
    bool unnamed_ = false; // fd_ is an O_TMPFILE file, linked as tmp_ only in finish()
};

class DirSink final : public Sink {
  public:
    explicit DirSink(const std::filesystem::path& out)
        : out_(out), tmp_(out.string() + ".tmp-" + fs::unique_name()) {
        fs::make_dirs(tmp_ / "blobs/sha256");
    }
    ~DirSink() override {
        if (!done_) try {
                fs::remove_tree(tmp_);
            } catch (...) {
            }
    }
    bool has(const std::string& name) const override { return names_.count(name); }
    void add(const std::string& name, std::uint64_t size, layer::Reader& data) override {
        if (!names_.insert(name).second) return;
        Fd fd(::open((tmp_ / name).c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
        if (!fd) throw_errno("cannot create " + (out_ / name).string());
        std::vector<char> buf(1 << 20);
        while (std::size_t n = data.read(buf.data(), buf.size()))
            fs::write_all(fd.get(), buf.data(), n, (out_ / name).string());
        bytes += size;
    }
    void finish() override {
        if (::rename(tmp_.c_str(), out_.c_str()) != 0)
            throw_errno("cannot create " + out_.string(),
                        "the output directory must not exist yet (or be empty)");
        done_ = true;
    }

  private:
    std::filesystem::path out_, tmp_;
    std::set<std::string> names_;
    bool done_ = false;
};

// The temporaries of earlier saves to OUT whose writer is gone (a kill -9, a crash): the
// oci-dir's OUT.tmp-<id>/ directory, or the named OUT.tmp-<id> file of filesystems without
// O_TMPFILE. OUT itself is only ever renamed or linked into place whole, so they are all a
// killed save leaves; the next save to OUT removes them. A live writer's (another save to OUT
// going on) are left alone, and so is anything not named after OUT.
void reclaim_temporaries(const std::filesystem::path& out) {
    auto parent = out.parent_path().empty() ? std::filesystem::path(".") : out.parent_path();
    const std::string prefix = out.filename().string() + ".tmp-";
    std::error_code ec;
    for (auto& e : std::filesystem::directory_iterator(parent, ec)) {
        auto name = e.path().filename().string();
        if (!name.starts_with(prefix) || !fs::temporary_writer_gone(name)) continue;
        struct stat st {};
        if (::lstat(e.path().c_str(), &st) != 0) continue;
        if (S_ISDIR(st.st_mode))
            fs::remove_tree(e.path());
        else
            ::unlink(e.path().c_str()); // a file or symbolic link: never followed
    }
}

struct Named {
    store::Image image;
    std::vector<std::string> refs; // references to record in the output
    // a name holding several platforms (store/platforms.hpp): all of them, image among them
    std::vector<store::Image> platforms;
};

std::string convert_media_type(const std::string& mt) {
    if (mt == oci::media::docker_manifest) return oci::media::oci_manifest;
    if (mt == oci::media::docker_config) return oci::media::oci_config;
    if (mt == oci::media::docker_layer) return oci::media::oci_layer;
    if (mt == oci::media::docker_layer_gzip) return oci::media::oci_layer_gzip;
    return mt;
}

void add_blob(const store::Store& store, Sink& sink, const Digest& d) {
    std::string name = "blobs/sha256/" + d.hex();
    if (sink.has(name)) return;
    Fd fd(::open(store.blob_path(d).c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd)
        throw_errno("blob " + d.str() + " is missing from the store",
                    "run `gantry system fsck`, then load or pull the image again");
    layer::FdReader r(fd.get(), "blob " + d.str());
    sink.add(name, store.blob_size(d), r);
}

// IMG's blobs and manifest into the layout; returns the descriptor of the manifest written
Descriptor write_oci_image(const store::Store& store, const store::Image& img, Sink& sink) {
    oci::Manifest m = img.manifest;
    std::string text;
    // layers the store keeps only unpacked (store/layer_tar.hpp) go in as their rebuilt
    // uncompressed tar: digest = diff_id, so the manifest is a new one (said on stderr)
    std::vector<std::size_t> rebuilt;
    for (std::size_t i = 0; i < m.layers.size(); ++i)
        if (!store.has_blob(m.layers[i].digest) && i < img.config.diff_ids.size() &&
            store::has_tar_split(store, img.config.diff_ids[i]))
            rebuilt.push_back(i);
    for (std::size_t i : rebuilt) {
        const Digest& diff = img.config.diff_ids[i];
        auto meta =
            oci::parse_json(fs::read_file(store.layer_dir(diff) / "meta.json"), "layer metadata");
        auto& l = m.layers[i];
        l.digest = diff;
        l.size = meta.at("size").get<std::int64_t>();
        l.media_type = m.media_type == oci::media::docker_manifest ? oci::media::docker_layer
                                                                   : oci::media::oci_layer;
    }
    if (m.media_type == oci::media::docker_manifest || !rebuilt.empty()) {
        m.media_type = convert_media_type(m.media_type);
        m.config.media_type = convert_media_type(m.config.media_type);
        for (auto& l : m.layers) l.media_type = convert_media_type(l.media_type);
        text = m.to_json().dump();
    } else {
        text = store.read_blob(img.manifest_digest);
    }
    Digest md = Digest::of(text);
    if (!rebuilt.empty())
        log::note("image " + img.manifest_digest.str().substr(0, 19) +
                  "…: " + std::to_string(rebuilt.size()) +
                  " layer(s) the store keeps unpacked are written uncompressed (digest = "
                  "diff_id): the archive's manifest is " +
                  md.str() + ", not " + img.manifest_digest.str());
    add_blob(store, sink, m.config.digest);
    for (std::size_t i = 0; i < m.layers.size(); ++i) {
        const auto& l = m.layers[i];
        if (std::find(rebuilt.begin(), rebuilt.end(), i) == rebuilt.end()) {
            add_blob(store, sink, l.digest);
            continue;
        }
        std::string name = "blobs/sha256/" + l.digest.hex();
        if (sink.has(name)) continue;
        auto r = store::open_reconstruction(store, l.digest, "layer " + l.digest.str());
        sink.add(name, static_cast<std::uint64_t>(l.size), *r);
    }
    if (!sink.has("blobs/sha256/" + md.hex())) sink.add_text("blobs/sha256/" + md.hex(), text);
    Descriptor d{
        oci::media::oci_manifest, md, static_cast<std::int64_t>(text.size()), {}, std::nullopt, {}};
    if (!img.config.platform.os.empty()) d.platform = img.config.platform;
    return d;
}

void write_oci(const store::Store& store, const std::vector<Named>& images, Sink& sink) {
    sink.add_text("oci-layout", R"({"imageLayoutVersion":"1.0.0"})");
    oci::Index index;
    index.media_type = oci::media::oci_index;
    for (auto& n : images) {
        Descriptor top;
        if (n.platforms.size() > 1) { // their index, index.json naming it (as docker saves)
            oci::Index own;
            own.media_type = oci::media::oci_index;
            for (auto& img : n.platforms)
                own.manifests.push_back(write_oci_image(store, img, sink));
            std::string text = own.to_json().dump();
            top = Descriptor{oci::media::oci_index,
                             Digest::of(text),
                             static_cast<std::int64_t>(text.size()),
                             {},
                             std::nullopt,
                             {}};
            if (!sink.has("blobs/sha256/" + top.digest.hex()))
                sink.add_text("blobs/sha256/" + top.digest.hex(), text);
        } else {
            top = write_oci_image(store, n.image, sink);
        }
        for (const std::string& ref : n.refs.empty() ? std::vector<std::string>{""} : n.refs) {
            Descriptor d = top;
            if (!ref.empty()) {
                auto r = oci::Reference::parse(ref);
                d.annotations["io.containerd.image.name"] = r.str();
                if (!r.tag.empty()) d.annotations["org.opencontainers.image.ref.name"] = r.tag;
            }
            index.manifests.push_back(d);
        }
    }
    sink.add_text("index.json", index.to_json().dump());
}

void write_docker(const store::Store& store, const std::vector<Named>& images, Sink& sink) {
    json manifest = json::array();
    for (auto& n : images) {
        const auto& m = n.image.manifest;
        json entry;
        entry["Config"] = m.config.digest.hex() + ".json";
        if (!sink.has(entry["Config"])) {
            std::string cfg = store.read_blob(m.config.digest);
            sink.add_text(entry["Config"], cfg);
        }
        entry["RepoTags"] = json::array();
        for (auto& r : n.refs) {
            auto ref = oci::Reference::parse(r);
            if (!ref.tag.empty()) entry["RepoTags"].push_back(ref.repository() + ":" + ref.tag);
        }
        entry["Layers"] = json::array();
        const auto& diff_ids = n.image.config.diff_ids;
        for (size_t i = 0; i < m.layers.size(); ++i) {
            const Digest& diff = diff_ids.at(i);
            std::string name = diff.hex() + ".tar";
            entry["Layers"].push_back(name);
            if (sink.has(name)) continue;
            const Descriptor& l = m.layers[i];
            // the blob, or the tar rebuilt from the tree (store/layer_tar.hpp)
            auto content = store::open_layer(store, l.digest, diff, "layer " + l.digest.str());
            auto comp =
                content.rebuilt ? oci::Compression::none : oci::layer_compression(l.media_type);
            std::uint64_t size = static_cast<std::uint64_t>(l.size);
            if (comp != oci::Compression::none ||
                content.rebuilt) { // uncompressed in docker archives
                auto meta = oci::parse_json(fs::read_file(store.layer_dir(diff) / "meta.json"),
                                            "layer metadata");
                size = meta.at("size").get<std::uint64_t>();
            }
            auto plain = layer::make_decompressor(comp, *content.reader, "blob " + l.digest.str());
            sink.add(name, size, *plain);
        }
        manifest.push_back(entry);
    }
    sink.add_text("manifest.json", manifest.dump());
}

} // namespace

std::vector<oci::Platform> parse_platforms(const std::string& text) {
    std::vector<oci::Platform> out;
    std::size_t start = 0;
    while (start <= text.size()) {
        auto comma = text.find(',', start);
        std::string one = text.substr(start, comma == std::string::npos ? comma : comma - start);
        if (one.empty())
            throw Error(Errc::usage, "--platform " + text + " names an empty platform",
                        "--platform linux/amd64,linux/arm64");
        auto p = oci::Platform::parse(one);
        for (auto& o : out)
            if (o.str() == p.str())
                throw Error(Errc::usage, "--platform " + text + " names " + p.str() + " twice",
                            "name each platform once");
        out.push_back(p);
        if (comma == std::string::npos) break;
        start = comma + 1;
    }
    return out;
}

namespace {

// The images of REF (a name, or "" for an ID resolved to MD) WANT asks for, one per platform
// asked, each held (store::resolve_platform's error otherwise).
std::vector<store::PlatformImage> chosen_platforms(const store::Store& store,
                                                   const std::string& text,
                                                   const std::vector<oci::Platform>& want) {
    std::vector<store::PlatformImage> out;
    for (auto& w : want) {
        Digest md = store::resolve_platform(store, text, w);
        if (std::none_of(out.begin(), out.end(),
                         [&](const store::PlatformImage& p) { return p.manifest == md; }))
            out.push_back({store::image_platform(store, md), md});
    }
    return out;
}

} // namespace

SaveResult save(const store::Store& store, const std::vector<std::string>& refs,
                const std::filesystem::path& out, SaveFormat format, const ManifestRewrite& rewrite,
                const std::vector<oci::Platform>& want, IdNames id_names) {
    if (refs.empty()) throw Error(Errc::usage, "save needs at least one image");
    if (rewrite && format == SaveFormat::docker_archive)
        throw Error(Errc::usage, "save --compression needs --format oci-archive or oci-dir",
                    "a docker-archive holds its layers uncompressed (as docker save writes "
                    "them): add --format oci-archive");
    std::vector<Named> images;
    std::map<std::string, size_t> seen;
    for (auto& text : refs) {
        Digest md = store::resolve(store, text);
        std::string ref;
        try {
            auto r = oci::Reference::parse(text);
            if (store.refs().count(r.str())) ref = r.str();
        } catch (const Error&) {
        }
        std::vector<store::PlatformImage> platforms;
        if (!want.empty()) {
            platforms = chosen_platforms(store, text, want);
            md = platforms.front().manifest;
            if (platforms.size() > 1 && format == SaveFormat::docker_archive)
                throw Error(Errc::usage,
                            "a docker-archive holds one image per name: " + text + " has " +
                                std::to_string(platforms.size()) + " of the platforms asked",
                            "add --format oci-archive, or name one platform with --platform");
        } else if (!ref.empty()) {
            platforms = store::name_images(store, ref);
        }
        if (platforms.size() > 1 && format == SaveFormat::docker_archive) {
            log::warn(ref + " holds " + std::to_string(platforms.size()) +
                      " platforms; a docker-archive holds one image per name: saving " +
                      store::image_platform(store, md).str() +
                      "'s (--format oci-archive saves them all)");
            platforms.clear();
        }
        // the same image, or the same platforms, saved once with every name given
        std::string key = md.str();
        for (auto& p : platforms) key += "," + p.manifest.str();
        auto it = seen.find(key);
        if (it == seen.end()) {
            Named n{store::read_image(store, md), {}, {}};
            if (ref.empty() && id_names == IdNames::all)
                n.refs = n.image.refs; // by ID: keep all its names
            if (rewrite) n.image = store::read_image(store, rewrite(md));
            if (platforms.size() > 1)
                for (auto& p : platforms)
                    n.platforms.push_back(
                        store::read_image(store, rewrite ? rewrite(p.manifest) : p.manifest));
            seen[key] = images.size();
            images.push_back(std::move(n));
            it = seen.find(key);
        }
        if (!ref.empty()) images[it->second].refs.push_back(ref);
    }
    struct stat st {};
    if (out == "-") {
        if (format == SaveFormat::oci_dir)
            throw Error(Errc::usage, "an oci-dir cannot be written to standard output",
                        "give a directory: gantry save --format oci-dir -o DIR IMAGE");
    } else if (::lstat(out.c_str(), &st) == 0) {
        bool empty_dir = S_ISDIR(st.st_mode) && std::filesystem::is_empty(out);
        if (!(format == SaveFormat::oci_dir && empty_dir) && format == SaveFormat::oci_dir)
            throw Error(Errc::conflict, out.string() + " already exists",
                        "remove it or choose another output directory");
        if (empty_dir) std::filesystem::remove(out);
        if (S_ISDIR(st.st_mode) && format != SaveFormat::oci_dir)
            throw Error(Errc::conflict, out.string() + " is a directory",
                        "give a file name for archives, or use --format oci-dir");
    }
    std::unique_ptr<Sink> sink;
    if (out == "-") {
        sink = std::make_unique<TarSink>(STDOUT_FILENO);
    } else {
        reclaim_temporaries(out);
        if (format == SaveFormat::oci_dir)
            sink = std::make_unique<DirSink>(out);
        else
            sink = std::make_unique<TarSink>(out);
    }
    if (format == SaveFormat::docker_archive)
        write_docker(store, images, *sink);
    else
        write_oci(store, images, *sink);
    sink->finish();
    return SaveResult{images.size(), sink->bytes};
}

} // namespace gantry::archive
