// sqsh/facts: what gantry needs from a squashfs file before it mounts or describes it (the
// superblock, the verified gantry header, etc/passwd), read by a confined process.
//
// The superblock is gantry's own fixed-size, bounded parse (sqsh/format.hpp), done here. Every
// table past it is read by libsquashfs in a process forked for it that first calls CONFINE
// (sandbox/thread_confinement.hpp: nobody when root, no capabilities, no_new_privs, the
// seccomp allow-list of fuse::Server::syscalls()), with its memory bounded (1 GiB of address
// space) and its time (60 s): a hostile file that gets past the reader's own bounds gets a
// process that can only read the image and write to a pipe. What it sends back is parsed as
// untrusted too: the header is verified again (parse_header), passwd is bounded.
#pragma once

#include "sif/metadata.hpp"
#include "sqsh/format.hpp"
#include "sqsh/image.hpp"

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace gantry::sqsh {

struct Facts {
    Superblock super;
    std::optional<Header> header; // nullopt: a squashfs gantry did not write
    std::string passwd;           // etc/passwd, "" when absent (at most 4 MiB)
    // a SIF's: Apptainer's metadata (labels, runscript, environment scripts) and its system
    // partition's architecture ("unknown" when it records none)
    std::optional<sif::Metadata> sif;
    std::string sif_arch;
    bool oci_sif = false; // an OCI-SIF: header holds its manifest and config digests and config
};

// Reads the facts of IMAGE (opened with Image::Deferred: this process parses nothing of it but
// the superblock; the same descriptor is what a server later serves), passwd only when
// WANT_PASSWD. Errors as sqsh::Image's: invalid (naming the file; also when the reading process
// dies or runs past its bounds), unsupported; run_failed when it cannot be confined.
Facts read_facts(Image& image, bool want_passwd, const std::function<void()>& confine);

// read_facts in its parts (sqsh/facts_cache.hpp keeps the answer): the superblock, checked (its
// bytes into BYTES when given); the confined reader's answer, as it came; the facts that answer
// gives, checked as untrusted (Error(invalid) naming PATH when it is cut short or malformed).
Superblock read_superblock(Image& image, std::string* bytes = nullptr);
std::string ask_facts(Image& image, bool want_passwd, const std::function<void()>& confine);
Facts facts_from(const Superblock& super, std::string_view answer, Image& image);

// Opens PATH for read_facts and a server: Image::Deferred over a descriptor of PATH, checked to
// be a regular file. Error(not_found) when it is missing. A SIF file (sif/container.hpp) is read
// to its system partition, the image's window (Image::set_window): its header and descriptors
// are checked here, refused with sif::system_partition's sentences.
std::shared_ptr<Image> open_deferred(const std::string& path);

} // namespace gantry::sqsh
