#include "store/layer_tar.hpp"

#include "layer/igzip.hpp"
#include "layer/tar_split.hpp"
#include "oci/image.hpp"
#include "store/layer_writer.hpp"
#include "util/config_file.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/hash.hpp"

#include <cstring>
#include <fcntl.h>
#include <mutex>
#include <optional>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>
#include <zstd.h>

namespace gantry::store {

namespace {

constexpr const char* kLayerTarExample =
    "store:\n  keep_compressed: true   # keep each layer's compressed blob beside its tree";
constexpr std::uint64_t kLayerTarSplitMax = 1ull << 30; // the decompressed record

std::string layer_tar_fix(const Digest& diff_id) {
    return "pull or load the image again (gantry rmi it first; `gantry system fsck --repair` "
           "removes the damaged layer " +
           diff_id.str().substr(0, 19) + "…)";
}

std::string read_split(const Store& store, const Digest& diff_id, const std::string& what) {
    auto path = store.layer_dir(diff_id) / kTarSplitFile;
    std::string z = fs::read_file(path, 256u << 20);
    unsigned long long n = ZSTD_getFrameContentSize(z.data(), z.size());
    if (n == ZSTD_CONTENTSIZE_ERROR || n == ZSTD_CONTENTSIZE_UNKNOWN || n > kLayerTarSplitMax)
        throw Error(Errc::invalid, what + ": " + path.string() + " is not a zstd frame",
                    layer_tar_fix(diff_id));
    std::string out(static_cast<std::size_t>(n), '\0');
    std::size_t got = ZSTD_decompress(out.data(), out.size(), z.data(), z.size());
    if (ZSTD_isError(got) || got != n)
        throw Error(Errc::invalid, what + ": " + path.string() + " is damaged",
                    layer_tar_fix(diff_id));
    return out;
}

// Opens NAME inside ROOT as the extractor resolved it (symbolic links of parent directories
// within the layer); Fd() with a reason when it is not a regular file of SIZE bytes.
Fd open_member(int root, const std::string& name, std::uint64_t size, std::string& why) {
    Fd fd(fs::openat_in_root(root, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY));
    struct stat st {};
    if (!fd) {
        why = name + " cannot be opened (" + std::string(std::strerror(errno)) + ")";
        return Fd();
    }
    if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
        why = name + " is no longer a regular file";
        return Fd();
    }
    if (static_cast<std::uint64_t>(st.st_size) != size) {
        why = name + " has " + std::to_string(st.st_size) + " bytes where the layer's tar has " +
              std::to_string(size);
        return Fd();
    }
    return fd;
}

class Reconstruction final : public layer::Reader {
  public:
    Reconstruction(std::vector<layer::tar_split::Entry> entries, Fd root, Digest diff_id,
                   std::string what, bool only_copy)
        : entries_(std::move(entries)), root_(std::move(root)), diff_id_(std::move(diff_id)),
          what_(std::move(what)), only_copy_(only_copy) {}

    std::size_t read(void* buf, std::size_t n) override {
        std::size_t got = next(static_cast<char*>(buf), n);
        if (got > 0) {
            hash_.update(buf, got);
            count_ += got;
        } else if (!checked_) {
            checked_ = true;
            std::string hex = hash_.hex_final();
            if (hex != diff_id_.hex())
                throw Error(
                    Errc::invalid,
                    what_ + ": the unpacked layer " + diff_id_.str() +
                        " no longer gives back its tar (it hashes to sha256:" + hex +
                        "): a file of its tree was changed behind gantry's back" +
                        (only_copy_ ? ", and the store keeps no other copy of this layer" : ""),
                    layer_tar_fix(diff_id_));
        }
        return got;
    }

  private:
    std::size_t next(char* buf, std::size_t n) {
        while (i_ < entries_.size()) {
            const auto& e = entries_[i_];
            if (!e.file) {
                if (at_ < e.payload.size()) {
                    std::size_t k = std::min(n, e.payload.size() - at_);
                    std::memcpy(buf, e.payload.data() + at_, k);
                    at_ += k;
                    return k;
                }
            } else if (e.size > 0) {
                if (!file_) {
                    std::string why;
                    file_ = open_member(root_.get(), e.name, e.size, why);
                    if (!file_) fail(why);
                    at_ = 0;
                }
                if (at_ < e.size) {
                    std::size_t want =
                        static_cast<std::size_t>(std::min<std::uint64_t>(n, e.size - at_));
                    ssize_t k = ::pread(file_.get(), buf, want, static_cast<off_t>(at_));
                    if (k < 0 && errno == EINTR) continue;
                    if (k < 0) fail(e.name + " cannot be read (" + std::strerror(errno) + ")");
                    if (k == 0) fail(e.name + " is shorter than the layer's tar says");
                    at_ += static_cast<std::uint64_t>(k);
                    return static_cast<std::size_t>(k);
                }
                file_.reset();
            }
            ++i_;
            at_ = 0;
        }
        return 0;
    }
    [[noreturn]] void fail(const std::string& why) {
        throw Error(Errc::invalid,
                    what_ + ": the unpacked layer " + diff_id_.str() +
                        " no longer gives back its tar: " + why +
                        (only_copy_ ? " (changed behind gantry's back; the store keeps no "
                                      "other copy of it)"
                                    : " (changed behind gantry's back)"),
                    layer_tar_fix(diff_id_));
    }

    std::vector<layer::tar_split::Entry> entries_;
    Fd root_;
    Digest diff_id_;
    std::string what_;
    bool only_copy_;
    std::size_t i_ = 0;
    std::uint64_t at_ = 0;
    Fd file_;
    Sha256 hash_;
    std::uint64_t count_ = 0;
    bool checked_ = false;
};

} // namespace

bool keep_compressed() {
    static std::mutex mu;
    static std::optional<bool> known;
    std::lock_guard hold(mu);
    if (!known) {
        std::string file;
        yaml::Node doc = config_file::load(file, kLayerTarExample);
        known = false;
        const yaml::Node* s = doc.is_map() ? doc.find("store") : nullptr;
        if (s && !s->is_null()) {
            if (!s->is_map())
                throw Error(Errc::invalid,
                            file + " line " + std::to_string(s->line) + ": store is not a mapping",
                            std::string("write it as\n") + kLayerTarExample);
            for (auto& [key, value] : s->entries) {
                if (key.value != "keep_compressed")
                    throw Error(Errc::invalid,
                                file + " line " + std::to_string(key.line) +
                                    ": unknown key \"store." + key.value + "\"",
                                "store has the key keep_compressed (true or false)");
                if (!value.is_scalar() || (value.value != "true" && value.value != "false"))
                    throw Error(Errc::invalid,
                                file + " line " + std::to_string(value.line) +
                                    ": store.keep_compressed is \"" + value.value.substr(0, 40) +
                                    "\", not true or false",
                                "write store.keep_compressed: true or false");
                known = value.value == "true";
            }
        }
    }
    return *known;
}

void write_tar_split(const stdfs::path& dir, std::string_view lines, fs::Sync sync) {
    std::string z(ZSTD_compressBound(lines.size()), '\0');
    std::size_t n = ZSTD_compress(z.data(), z.size(), lines.data(), lines.size(), 3);
    if (ZSTD_isError(n))
        throw Error(Errc::internal,
                    std::string("cannot compress a tar-split: ") + ZSTD_getErrorName(n));
    z.resize(n);
    fs::write_atomic(dir / kTarSplitFile, z, 0644, sync);
}

std::string check_tree(const stdfs::path& rootfs, std::string_view lines, const std::string& what,
                       std::unordered_set<std::string>* referenced) {
    return check_tree(rootfs, layer::tar_split::parse(lines, what, false), referenced);
}

std::string check_tree(const stdfs::path& rootfs, const std::vector<layer::tar_split::Entry>& lines,
                       std::unordered_set<std::string>* referenced) {
    Fd root = fs::open_dir(rootfs);
    for (const auto& e : lines) {
        if (e.file && referenced) referenced->insert(e.name);
        if (!e.file || e.size == 0) continue;
        std::string why;
        if (!open_member(root.get(), e.name, e.size, why)) return why;
    }
    return "";
}

std::unordered_set<std::string> referenced_files(const Store& store, const Digest& diff_id,
                                                 const std::string& what) {
    std::unordered_set<std::string> out;
    for (const auto& e : layer::tar_split::parse(read_split(store, diff_id, what), what, false))
        if (e.file) out.insert(e.name);
    return out;
}

bool has_tar_split(const Store& store, const Digest& diff_id) {
    struct stat st {};
    return store.has_layer(diff_id) &&
           ::stat((store.layer_dir(diff_id) / kTarSplitFile).c_str(), &st) == 0;
}

std::unique_ptr<layer::Reader> open_reconstruction(const Store& store, const Digest& diff_id,
                                                   const std::string& what, bool only_copy) {
    if (!has_tar_split(store, diff_id))
        throw Error(Errc::not_found,
                    what +
                        ": the store holds neither the layer's blob nor a tar-split of its "
                        "unpacked tree " +
                        diff_id.str(),
                    layer_tar_fix(diff_id));
    return rebuild_tar(store.layer_rootfs(diff_id), read_split(store, diff_id, what), diff_id, what,
                       only_copy);
}

std::unique_ptr<layer::Reader> rebuild_tar(const stdfs::path& rootfs, std::string_view lines,
                                           const Digest& diff_id, const std::string& what,
                                           bool only_copy) {
    auto entries = layer::tar_split::parse(lines, what, false);
    return std::make_unique<Reconstruction>(std::move(entries), fs::open_dir(rootfs), diff_id, what,
                                            only_copy);
}

LayerContent open_layer(const Store& store, const Digest& blob, const Digest& diff_id,
                        const std::string& what) {
    LayerContent c;
    c.fd.reset(::open(store.blob_path(blob).c_str(), O_RDONLY | O_CLOEXEC));
    if (c.fd) {
        c.reader = std::make_unique<layer::FdReader>(c.fd.get(), "blob " + blob.str());
        return c;
    }
    if (errno != ENOENT) throw_errno("cannot open blob " + blob.str());
    c.reader = open_reconstruction(store, diff_id, what);
    c.rebuilt = true;
    return c;
}

Recompressed::~Recompressed() {
    if (!file.empty()) ::unlink(file.c_str());
}

Recompressed recompress_layer(const Store& store, const Digest& diff_id, const std::string& what) {
    auto in = open_reconstruction(store, diff_id, what);
    Recompressed out;
    out.file = store.tmp_dir() / ("recompress-" + fs::unique_name());
    Fd fd(::open(out.file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    if (!fd) throw_errno("cannot create " + out.file.string());
    Sha256 hash;
    auto put = [&](const void* p, std::size_t n) {
        hash.update(p, n);
        fs::write_all(fd.get(), p, n, out.file.string());
        out.size += n;
    };
    static const std::uint8_t hdr[10] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3}; // as LayerWriter's
    put(hdr, sizeof hdr);
    isal_zstream zs{};
    std::vector<std::uint8_t> level_buf(ISAL_DEF_LVL3_DEFAULT), obuf(1 << 20), ibuf(1 << 20);
    const auto& api = layer::igzip::api();
    api.deflate_init(&zs);
    zs.level = 3;
    zs.level_buf = level_buf.data();
    zs.level_buf_size = static_cast<std::uint32_t>(level_buf.size());
    zs.gzip_flag = IGZIP_GZIP_NO_HDR;
    // fed in the layer writer's tar blocks (10240 bytes, libarchive's default that
    // store/layer_writer.cpp keeps): igzip's output depends on how its input is cut, so a layer
    // that writer made (build, slim, import) compresses again into its very blob, digest and all
    static_assert(kLayerWriterBlock <= 1 << 20);
    bool end = false;
    while (!end) {
        std::size_t n = 0;
        while (n < kLayerWriterBlock)
            if (std::size_t k = in->read(ibuf.data() + n, kLayerWriterBlock - n))
                n += k;
            else
                break;
        end = n == 0;
        zs.next_in = ibuf.data();
        zs.avail_in = static_cast<std::uint32_t>(n);
        zs.end_of_stream = end ? 1 : 0;
        zs.flush = NO_FLUSH;
        do {
            zs.next_out = obuf.data();
            zs.avail_out = static_cast<std::uint32_t>(obuf.size());
            if (api.deflate(&zs) != COMP_OK)
                throw Error(Errc::internal, what + ": igzip could not compress the layer");
            if (std::size_t got = obuf.size() - zs.avail_out) put(obuf.data(), got);
        } while (zs.avail_in > 0 || zs.avail_out == 0 ||
                 (end && zs.internal_state.state != ZSTATE_END));
    }
    out.digest = Digest::from_hex(hash.hex_final());
    return out;
}

Fd rebuilt_file(const Store& store, const Digest& diff_id, const std::string& what) {
    auto in = open_reconstruction(store, diff_id, what);
    auto path = store.tmp_dir() / ("rebuilt-" + fs::unique_name());
    Fd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    if (!fd) throw_errno("cannot create " + path.string());
    ::unlink(path.c_str());
    std::vector<char> buf(1 << 20);
    while (std::size_t n = in->read(buf.data(), buf.size()))
        fs::write_all(fd.get(), buf.data(), n, path.string());
    if (::lseek(fd.get(), 0, SEEK_SET) != 0) throw_errno("cannot rewind " + path.string());
    return fd;
}

bool has_layer_content(const Store& store, const Digest& blob, const Digest& diff_id) {
    return store.has_blob(blob) || has_tar_split(store, diff_id);
}

std::optional<DroppedBlob> dropped_blob(const Store& store, const Digest& diff_id) {
    std::string text;
    try {
        text = fs::read_file(store.layer_dir(diff_id) / "meta.json");
    } catch (const Error&) {
        return std::nullopt;
    }
    auto meta = oci::json::parse(text, nullptr, false);
    if (!meta.is_object() || meta.value("blob_kept", true)) return std::nullopt;
    try {
        DroppedBlob d{Digest::parse(meta.value("blob", "")), meta.value("blob_size", 0ull),
                      meta.value("media_type", "")};
        return d;
    } catch (const Error&) {
        return std::nullopt;
    }
}

} // namespace gantry::store
