// sif/container: Apptainer's Singularity Image Format (SIF) read as its reference implementation
// (github.com/sylabs/sif, v2, spec version 01) defines it: a 128-byte global header (launch
// script, "SIF_MAGIC", version, architecture, id, times, the descriptor table's count, offset and
// size, the data section's), a table of fixed-size (585-byte) object descriptors, and the data
// objects they point at (partitions, signatures, JSON labels, definition file, ...).
//
// A .sif file comes from a colleague, a shared library of images or a download, and is read as
// root: every count, offset and size is hostile until bounded against the file. Refused, each
// with a sentence naming the file and the defect (Error(invalid)): a file shorter than the
// header, no magic, another version, a descriptor table that is not count x 585 bytes or lies
// outside the file (a count of 2^31 asks for 1.2 TiB), an object outside the file or over the
// header, the table or another object. Nothing here reads a partition's content: sqsh/ reads the
// squashfs partition at its offset (fuzz/fuzz_sif_container.cpp fuzzes this parser).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gantry::sif {

inline constexpr std::size_t kHeaderSize = 128;
inline constexpr std::size_t kDescriptorSize = 585;
// More descriptors than any SIF writer makes (the reference's default capacity is 48).
inline constexpr std::int64_t kMaxDescriptors = 1 << 16;

// The data object types (the reference's DataType).
enum class DataType : std::int32_t {
    deffile = 0x4001,
    env_vars = 0x4002,
    labels = 0x4003,
    partition = 0x4004,
    signature = 0x4005,
    generic_json = 0x4006,
    generic = 0x4007,
    crypto_message = 0x4008,
    sbom = 0x4009,
    oci_root_index = 0x400a,
    oci_blob = 0x400b,
};
// The file system of a partition, and its role.
enum class FsType : std::int32_t { squashfs = 1, ext3 = 2, archive = 3, raw = 4, encrypted = 5 };
enum class PartType : std::int32_t { system = 1, primary = 2, data = 3, overlay = 4 };

// The reference's name of TYPE ("FS", "JSON.Labels", ...), "Unknown" for others.
std::string type_name(std::int32_t type);
std::string fs_name(std::int32_t fs);
std::string part_name(std::int32_t part);

// One used descriptor.
struct Object {
    std::int32_t type = 0;
    std::uint32_t id = 0, group = 0, linked = 0; // group without the reference's 0xf0000000 mask
    std::uint64_t offset = 0, size = 0;
    std::string name;
    // a partition's (type == partition): its file system, role and architecture (GOARCH names)
    std::int32_t fs = 0, part = 0;
    std::string arch;
    std::string digest; // an OCI.Blob's or OCI.RootIndex's (its extra field's text), unchecked
    std::uint64_t descriptor_at = 0; // where its 585-byte descriptor lies (sif/signature.hpp)
};

struct Container {
    std::string arch; // the header's primary architecture ("amd64", ...; "unknown")
    std::string id;   // the header's UUID, as text
    std::int64_t created = 0, modified = 0;
    std::int64_t descriptors_total = 0, descriptors_free = 0;
    std::vector<Object> objects; // the used descriptors, in table order
};

// Whether HEAD (a file's first bytes) carries the SIF magic at its place.
bool looks_like_sif(std::string_view head);

// The architecture (GOARCH name) of a SIF's 3-byte arch code ("02\0": "amd64"), "unknown" for
// codes the reference does not define.
std::string arch_name(std::string_view code);

// Reads bytes [OFFSET, OFFSET + SIZE) of the file into BUF, or throws. Used by parse().
using ReadAt = std::function<void(std::uint64_t offset, char* buf, std::size_t size)>;

// Reads and bounds the header and the descriptor table of a file of FILE_SIZE bytes named WHAT.
Container parse(const ReadAt& read, std::uint64_t file_size, const std::string& what);
// parse() of the whole file in BYTES (the fuzzer, the unit tests).
Container parse(std::string_view bytes, const std::string& what);
// Reads of FD by pread, refusing a short read (the file shrank) as a truncated SIF named WHAT.
ReadAt pread_reader(int fd, const std::string& what);
// parse() of the regular file open on FD (pread), named WHAT.
Container read(int fd, const std::string& what);

// The system partition a run uses: the primary one (PartPrimSys) when its architecture is HOST
// (or unknown), else a system partition (PartSystem) built for HOST, as a multi-arch SIF holds.
// Refused with a sentence naming WHAT: no system partition (an OCI-SIF: sif/oci_sif.hpp reads it),
// none for HOST (Errc::unsupported naming the architectures), a partition that is not squashfs
// (ext3, encrypted squashfs, raw, archive: Errc::unsupported naming the type), and an overlay
// partition beside it (Apptainer writes into it; gantry would silently not).
const Object& system_partition(const Container& c, const std::string& host,
                               const std::string& what);

// Refuses (Errc::unsupported) a SIF with an overlay partition: Apptainer writes into it, and
// gantry mounts SIFs read-only.
void refuse_overlay(const Container& c, const std::string& what);

// The JSON.Labels object, if the file has one.
const Object* labels_object(const Container& c);

} // namespace gantry::sif
