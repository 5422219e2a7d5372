#include "sqsh/facts.hpp"

#include "fuse/server.hpp"
#include "oci/image.hpp"
#include "sif/container.hpp"
#include "sqsh/confined.hpp"
#include "sqsh/image.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"
#include "util/fs.hpp"
#include "util/inherited_fds.hpp"

#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

namespace gantry::sqsh {

namespace {

constexpr std::size_t kMaxPasswd = 4u << 20;
constexpr std::size_t kMaxAnswer = kMaxHeader + kMaxPasswd + sif::kMaxLabels + 4096;

} // namespace

std::shared_ptr<Image> open_deferred(const std::string& path) {
    Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) throw_errno("cannot open " + path);
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) throw_errno("cannot stat " + path);
    if (!S_ISREG(st.st_mode))
        throw Error(Errc::invalid, path + " is not a regular file",
                    "give the path of a .sqsh file");
    char head[kSuperblockSize] = {}; // no more than a squashfs's superblock: the SIF magic is in it
    ssize_t got = ::pread(fd.get(), head, sizeof head, 0);
    if (got < 0) throw_errno("cannot read " + path);
    std::optional<sif::Container> container;
    // a .sif name is read as SIF whatever it holds: its defects are then said as a SIF's
    if (path.ends_with(".sif") ||
        sif::looks_like_sif(std::string_view(head, static_cast<std::size_t>(got))))
        container = sif::read(fd.get(), path);
    auto image = std::make_shared<Image>(std::move(fd), path, Image::Deferred{});
    const std::string host = oci::Platform::host().architecture;
    if (container && sif::is_oci_sif(*container)) {
        // an OCI-SIF: its one squashfs layer is the root, read in place
        auto img = sif::oci_image(*container, sif::pread_reader(image->fd(), path), host, path);
        image->set_window(img.layer.offset, img.layer.size);
        image->set_oci(std::move(img));
        image->set_sif(std::move(*container));
    } else if (container) {
        // the squashfs partition found by its descriptor, read in place (never copied)
        const auto& part = sif::system_partition(*container, host, path);
        image->set_window(part.offset, part.size);
        image->set_sif(std::move(*container));
    }
    return image;
}

Superblock read_superblock(Image& image, std::string* bytes) {
    const std::string& path = image.path();
    const std::uint64_t size = image.window_size();
    char head[kSuperblockSize] = {};
    ssize_t got = ::pread(image.fd(), head, std::min<std::uint64_t>(sizeof head, size),
                          static_cast<off_t>(image.window_offset()));
    if (got < 0) throw_errno("cannot read " + path);
    std::string_view read(head, static_cast<std::size_t>(got));
    if (bytes) bytes->assign(read);
    if (!image.windowed()) return check_superblock(read, size, path);
    try {
        return check_superblock(read, size, path);
    } catch (const Error& e) { // a SIF's partition: say where it is
        std::string at = std::to_string(image.window_offset());
        throw Error(e.code(), e.message() + " (the SIF's squashfs partition at byte " + at + ")",
                    "read the partition in place: `unsquashfs -o " + at + " -s " + path +
                        "`; or build the SIF again");
    }
}

Facts read_facts(Image& image, bool want_passwd, const std::function<void()>& confine) {
    Superblock super = read_superblock(image);
    return facts_from(super, ask_facts(image, want_passwd, confine), image);
}

std::string ask_facts(Image& image, bool want_passwd, const std::function<void()>& confine) {
    // the answer: "header" and the header xattr's raw value (parse_header verifies it here),
    // or "ok" (a squashfs without one); then passwd
    return run_confined(
        image, confine,
        [want_passwd](Image& im) {
            std::string out;
            im.open_tables();
            auto h = im.root_xattr(kHeaderXattr, kMaxHeader);
            put_field(out, h ? "header" : "ok");
            if (h) put_field(out, *h);
            put_field(out, want_passwd ? im.read_file("etc/passwd", kMaxPasswd).value_or("") : "");
            if (im.sif()) { // what Apptainer keeps in the root (sif/metadata.hpp)
                auto labels = im.read_file(sif::kLabelsFile, sif::kMaxLabels);
                put_field(out, labels ? "labels" : "none");
                if (labels) put_field(out, *labels);
                std::string flags;
                if (im.mode_of(sif::kRunscript + 1)) flags += 'r';
                if (im.mode_of(sif::kStartscript + 1)) flags += 'S';
                // symlinks are not followed: /bin is one to usr/bin in a merged-/usr root
                if (im.mode_of("bin/sh") || im.mode_of("usr/bin/sh")) flags += 's';
                for (auto& n : im.list_dir(sif::kEnvDir))
                    if (n.ends_with(".sh")) {
                        flags += 'e';
                        break;
                    }
                put_field(out, flags);
            }
            return out;
        },
        kMaxAnswer);
}

namespace {

// The SIF part of the confined reader's answer (REST), and the labels of the SIF's JSON.Labels
// object, read here (bounded): labels.json's, the image's own, override the object's.
sif::Metadata sif_metadata(Image& image, std::string_view& rest) {
    const std::string& path = image.path();
    sif::Metadata md;
    if (auto* o = sif::labels_object(*image.sif())) {
        if (o->size > sif::kMaxLabels)
            damaged(path, "its JSON.Labels object is over " +
                              std::to_string(sif::kMaxLabels >> 20) + " MiB");
        std::string text(o->size, '\0');
        if (o->size && ::pread(image.fd(), text.data(), text.size(),
                               static_cast<off_t>(o->offset)) != static_cast<ssize_t>(text.size()))
            damaged(path, "its JSON.Labels object cannot be read");
        sif::add_labels(md.labels, text, path + "'s JSON.Labels object");
    }
    std::string kind, labels, flags;
    if (!take_field(rest, kind) || (kind != "labels" && kind != "none") ||
        (kind == "labels" && !take_field(rest, labels)) || !take_field(rest, flags) ||
        flags.find_first_not_of("rseS") != std::string::npos)
        damaged(path, "the confined reader's answer is malformed");
    if (kind == "labels") sif::add_labels(md.labels, labels, path + "'s /" + sif::kLabelsFile);
    md.runscript = flags.find('r') != std::string::npos;
    md.startscript = flags.find('S') != std::string::npos;
    md.shell = flags.find('s') != std::string::npos;
    md.env_scripts = flags.find('e') != std::string::npos;
    return md;
}

} // namespace

Facts facts_from(const Superblock& super, std::string_view answer, Image& image) {
    const std::string& path = image.path();
    Facts facts;
    facts.super = super;
    std::string_view rest(answer);
    std::string kind;
    if (!take_field(rest, kind)) damaged(path, "the confined reader's answer is cut short");
    std::string header, passwd;
    if ((kind != "ok" && kind != "header") || (kind == "header" && !take_field(rest, header)) ||
        !take_field(rest, passwd))
        damaged(path, "the confined reader's answer is malformed");
    if (image.sif()) {
        auto md = sif_metadata(image, rest);
        if (auto* oci = image.oci()) { // the OCI-SIF's config, as a gantry header would hold it
            facts.oci_sif = true;
            if (kind == "ok") {
                Header h;
                h.manifest = oci::Digest::parse(oci->manifest_digest);
                h.config_digest = oci::Digest::parse(oci->config_digest);
                h.config = oci->config;
                facts.header = std::move(h);
            }
        } else {
            facts.sif = std::move(md);
            facts.sif_arch =
                sif::system_partition(*image.sif(), oci::Platform::host().architecture, path).arch;
        }
    }
    if (!rest.empty()) damaged(path, "the confined reader's answer is malformed");
    if (kind == "header") facts.header = parse_header(header, path);
    if (passwd.size() > kMaxPasswd) damaged(path, "its etc/passwd is over 4 MiB");
    facts.passwd = std::move(passwd);
    return facts;
}

} // namespace gantry::sqsh
