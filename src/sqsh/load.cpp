#include "sqsh/load.hpp"

#include "layer/single_layer_manifest.hpp"
#include "layer/stream.hpp"
#include "layer/tar_reader.hpp"
#include "oci/image.hpp"
#include "oci/reference.hpp"
#include "sqsh/facts.hpp"
#include "sqsh/image.hpp"
#include "store/importer.hpp"
#include "store/layer_writer.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"
#include "util/fs.hpp"
#include "util/spawn.hpp"

#include <cctype>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

namespace gantry::sqsh {

namespace {

// sqfs2tar FILE, its tar on a pipe, its messages kept for the error.
struct Unpacker {
    Fd out;
    std::unique_ptr<Spawned> proc;

    explicit Unpacker(const std::string& file) {
        auto exe = fs::find_program("sqfs2tar");
        if (exe.empty())
            throw Error(Errc::unsupported, "loading a squashfs image needs sqfs2tar (not on PATH)",
                        "install squashfs-tools-ng (apt-get install squashfs-tools-ng)");
        int p[2];
        if (::pipe2(p, O_CLOEXEC) != 0) throw_errno("pipe failed");
        out.reset(p[0]);
        Fd w(p[1]);
        proc = std::make_unique<Spawned>(std::vector<std::string>{exe, "--no-skip", file},
                                         std::vector<std::pair<int, int>>{{w.get(), 1}},
                                         std::vector<int>{2});
    }
    // Waits for it; Error(invalid) naming FILE with sqfs2tar's message when it failed.
    void check(const std::string& file) {
        if (!Spawned::ok(proc->wait()))
            throw Error(Errc::invalid, file + ": sqfs2tar cannot read it: " + proc->messages(),
                        "the file is damaged: fetch or save it again");
    }
    // After gantry stopped reading for its own reason: sqfs2tar's error when it had one of its
    // own (a message before the pipe closed), else nothing (its broken pipe is gantry's doing,
    // and the caller's error is the reason).
    void check_after_own_error(const std::string& file) {
        int st = proc->wait();
        if (Spawned::ok(st) || (WIFSIGNALED(st) && WTERMSIG(st) == SIGPIPE)) return;
        auto m = proc->messages();
        if (m.empty() || m.find("Broken pipe") != std::string::npos) return;
        throw Error(Errc::invalid, file + ": sqfs2tar cannot read it: " + m,
                    "the file is damaged: fetch or save it again");
    }
};

// "dir/My App.sqsh" -> "my-app:latest"
std::string name_of(const std::string& file) {
    auto stem = fs::stdfs::path(file).stem().string();
    std::string out;
    for (char c : stem) {
        unsigned char u = static_cast<unsigned char>(c);
        out += std::isalnum(u) ? static_cast<char>(std::tolower(u)) : (out.empty() ? '\0' : '-');
        if (out.back() == '\0') out.pop_back();
    }
    while (!out.empty() && out.back() == '-') out.pop_back();
    if (out.empty())
        throw Error(Errc::usage, "no image name can be made of the file name " + file,
                    "name it: gantry load --name NAME[:TAG] " + file);
    return out + ":latest";
}

// sqfs2tar's output: a pipe (layer::FdReader reads files, with pread).
class PipeReader final : public layer::Reader {
  public:
    explicit PipeReader(int fd) : fd_(fd) {}
    std::size_t read(void* buf, std::size_t n) override {
        for (;;) {
            ssize_t r = ::read(fd_, buf, n);
            if (r >= 0) return static_cast<std::size_t>(r);
            if (errno != EINTR) throw_errno("cannot read sqfs2tar's output");
        }
    }

  private:
    int fd_;
};

// The tar's entries copied into a new gzip layer of the store; returns {blob, diffID}.
std::pair<oci::Digest, oci::Digest> copy_layer(int tar, const std::string& file,
                                               store::LayerWriter& out, std::uint64_t& entries) {
    PipeReader in(tar);
    layer::TarReader t(in, file + " (read by sqfs2tar)");
    static const std::vector<char> zeros(1 << 16, 0);
    while (archive_entry* e = t.next()) {
        ++entries;
        out.header(e);
        if (archive_entry_filetype(e) != AE_IFREG || archive_entry_hardlink(e)) {
            t.skip();
            continue;
        }
        const void* p;
        std::size_t n;
        std::int64_t off, pos = 0;
        while (t.block(p, n, off)) {
            while (pos < off) { // a hole, as zeros
                auto z = static_cast<std::size_t>(
                    std::min<std::int64_t>(off - pos, static_cast<std::int64_t>(zeros.size())));
                out.data(zeros.data(), z);
                pos += static_cast<std::int64_t>(z);
            }
            out.data(p, n);
            pos += static_cast<std::int64_t>(n);
        }
        auto size = archive_entry_size(e);
        while (pos < size) {
            auto z = static_cast<std::size_t>(
                std::min<std::int64_t>(size - pos, static_cast<std::int64_t>(zeros.size())));
            out.data(zeros.data(), z);
            pos += static_cast<std::int64_t>(z);
        }
    }
    return out.finish();
}

} // namespace

bool is_squashfs_file(const std::string& path) {
    Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) return false;
    char magic[4];
    return ::pread(fd.get(), magic, 4, 0) == 4 && std::memcmp(magic, "hsqs", 4) == 0;
}

LoadedSqsh load(store::Store& store, const std::string& file, const std::string& ref,
                bool privileged, const std::function<void()>& confine) {
    // the superblock checked here, the header read by a confined process (sqsh/facts.hpp),
    // both before sqfs2tar reads anything
    auto img = open_deferred(file);
    auto header = read_facts(*img, false, confine).header;
    LoadedSqsh res;
    res.had_header = header.has_value();
    res.ref = oci::Reference::parse(ref.empty() ? name_of(file) : ref).str();

    store::LayerWriter out(store);
    std::pair<oci::Digest, oci::Digest> digests;
    {
        Unpacker un(file);
        try {
            digests = copy_layer(un.out.get(), file, out, res.entries);
        } catch (const Error&) {
            un.out.reset();
            un.check_after_own_error(file); // sqfs2tar's own error first: it says what is wrong
            throw;
        }
        un.check(file);
    }
    auto [blob, diff] = digests;
    store::Importer importer(store, store::ImportOptions{privileged, 1});
    store::LayerJob job{blob, diff, "the layer of " + file, []() -> std::unique_ptr<layer::Reader> {
                            throw Error(Errc::internal, "the new layer blob vanished");
                        }};
    importer.layers({job});

    nlohmann::json cfg;
    if (header) {
        cfg = oci::parse_json(header->config, file + "'s config");
    } else {
        auto host = oci::Platform::host();
        cfg = {{"architecture", host.architecture},
               {"os", host.os},
               {"config", nlohmann::json::object()}};
    }
    cfg["rootfs"] = {{"type", "layers"}, {"diff_ids", {diff.str()}}};
    nlohmann::json hist = oci::history_as_empty_layers(cfg);
    hist.push_back({{"created_by", "gantry load " + fs::stdfs::path(file).filename().string()},
                    {"comment", header ? "flattened from a gantry squashfs image"
                                       : "from a squashfs file without a gantry header"}});
    cfg["history"] = hist;
    std::string cfg_text = cfg.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    oci::Manifest m = layer::single_layer_manifest(cfg_text, blob, out.blob_size(), false);
    store.put_blob(cfg_text, m.config.digest);
    res.config = m.config.digest;
    res.manifest = store.put_blob(m.to_json().dump());
    importer.tag({res.ref}, res.manifest);
    return res;
}

} // namespace gantry::sqsh
