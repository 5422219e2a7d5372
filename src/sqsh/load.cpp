#include "sqsh/load.hpp"

#include "layer/stream.hpp"
#include "layer/tar_reader.hpp"
#include "oci/image.hpp"
#include "oci/reference.hpp"
#include "sqsh/confined.hpp"
#include "sqsh/facts.hpp"
#include "sqsh/image.hpp"
#include "sqsh/image_tar.hpp"
#include "store/layer_writer.hpp"
#include "store/single_layer_image.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"
#include "util/fs.hpp"

#include <cctype>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>

namespace gantry::sqsh {

namespace {

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

// The tar the confined reader streams (sqsh/image_tar.hpp), as a layer::Reader.
class StreamReader final : public layer::Reader {
  public:
    explicit StreamReader(ConfinedStream& in) : in_(in) {}
    std::size_t read(void* buf, std::size_t n) override { return in_.read(buf, n); }

  private:
    ConfinedStream& in_;
};

// The tar's entries copied into a new gzip layer of the store; returns {blob, diffID}.
std::pair<oci::Digest, oci::Digest> copy_layer(ConfinedStream& tar, const std::string& file,
                                               store::LayerWriter& out, std::uint64_t& entries) {
    StreamReader in(tar);
    layer::TarReader t(in, file + " (its tar, from the confined reader)");
    entries += out.copy_entries(t);
    return out.finish();
}

} // namespace

bool is_squashfs_file(const std::string& path) {
    Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) return false;
    char head[kSuperblockSize]; // as open_deferred: the SIF magic lies in it
    ssize_t n = ::pread(fd.get(), head, sizeof head, 0);
    if (n >= 4 && std::memcmp(head, "hsqs", 4) == 0) return true;
    if (path.ends_with(".sif")) return true; // refused as a SIF when it is not one
    return n > 0 && sif::looks_like_sif(std::string_view(head, static_cast<std::size_t>(n)));
}

LoadedSqsh load(store::Store& store, const std::string& file, const std::string& ref,
                bool privileged, const std::function<void()>& confine) {
    // the superblock checked here; the header, then the whole image as a tar, read by confined
    // processes (sqsh/facts.hpp, sqsh/image_tar.hpp): gantry parses nothing past the superblock
    auto img = open_deferred(file);
    auto facts = read_facts(*img, false, confine);
    auto& header = facts.header;
    LoadedSqsh res;
    res.had_header = header.has_value();
    res.sif = facts.sif.has_value();
    res.ref = oci::Reference::parse(ref.empty() ? name_of(file) : ref).str();

    store::LayerWriter out(store);
    std::pair<oci::Digest, oci::Digest> digests;
    stream_confined(
        *img, confine, [](Image& im, int fd) { write_tar(im, fd); },
        [&](ConfinedStream& tar) { digests = copy_layer(tar, file, out, res.entries); });
    nlohmann::json cfg;
    if (header) {
        cfg = oci::parse_json(header->config, file + "'s config");
    } else if (facts.sif) { // Apptainer's labels, runscript and environment (sif/metadata.hpp)
        cfg = sif::image_config(*facts.sif, facts.sif_arch);
        if (!cfg.contains("architecture")) cfg["architecture"] = oci::Platform::host().architecture;
    } else {
        auto host = oci::Platform::host();
        cfg = {{"architecture", host.architecture},
               {"os", host.os},
               {"config", nlohmann::json::object()}};
    }
    nlohmann::json hist = oci::history_as_empty_layers(cfg);
    hist.push_back({{"created_by", "gantry load " + fs::stdfs::path(file).filename().string()},
                    {"comment", header      ? "flattened from a gantry squashfs image"
                                : facts.sif ? "from an Apptainer SIF file's squashfs partition"
                                            : "from a squashfs file without a gantry header"}});
    cfg["history"] = hist;
    auto image = store::commit_single_layer_image(store, out, digests, std::move(cfg),
                                                  "the layer of " + file, res.ref, privileged);
    res.config = image.config;
    res.manifest = image.manifest;
    return res;
}

} // namespace gantry::sqsh
