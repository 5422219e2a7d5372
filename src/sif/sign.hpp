// sif/sign: signatures added to a SIF as sylabs/sif's integrity.Signer adds them (`apptainer
// sign`): one per object group, linked to the group, holding the group's image metadata
// (sif/signature.hpp) clear-signed with OpenPGP or in a DSSE envelope (sif/dsse.hpp); each
// appended as sif's AddObject appends an object: its data at the end of the data section
// (unaligned), the first unused descriptor (ID = its index + 1, no group, linked to the group,
// the hash and the signer's fingerprint in its extra bytes), the header's free count, data size
// and modification time updated.
//
// Crash-safe by working on a copy: Editor copies the file beside itself (a reflink where the file
// system has them, else copy_file_range), the metadata is computed from the copy, the signatures
// are written into it, and commit() syncs it and renames it over the original (then syncs the
// directory). A crash or an error leaves the original untouched; the cost, without reflinks, is
// one copy of the file (its size again on disk, briefly).
#pragma once

#include "sif/container.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace gantry::sif {

// The hash codes a signature descriptor names (sif's hashType).
inline constexpr std::uint32_t kHashSha256 = 1;

// The object groups of C that hold objects, ascending.
std::vector<std::uint32_t> object_groups(const Container& c);

// The image metadata of GROUP's objects (ascending IDs, relative to the least) as sif's signer
// marshals it: {"version":1,"header":{"digest":"sha256:HEX"},"objects":[{"relativeId":N,
// "descriptorDigest":"sha256:HEX","objectDigest":"sha256:HEX"},...]}.
std::string group_metadata(const Container& c, const ReadAt& read, std::uint32_t group);

class Editor {
  public:
    // Copies PATH (a regular SIF file) to a temporary file beside it and reads the copy.
    explicit Editor(const std::string& path);
    ~Editor(); // removes the copy unless committed
    Editor(const Editor&) = delete;
    Editor& operator=(const Editor&) = delete;

    const Container& container() const { return c_; }
    ReadAt reader() const;

    // Appends a signature object: DATA linked to GROUP, hash HASH, FINGERPRINT (20 raw bytes, or
    // empty for DSSE), at time NOW. Returns its ID. Throws Error(invalid) when no descriptor is
    // free.
    std::uint32_t add_signature(std::uint32_t group, const std::string& data, std::uint32_t hash,
                                const std::string& fingerprint, std::int64_t now);

    // Syncs the copy and renames it over the original.
    void commit();

  private:
    std::string path_, tmp_;
    int fd_ = -1;
    Container c_;
    bool done_ = false;
};

} // namespace gantry::sif
