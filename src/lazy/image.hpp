// lazy/image: an eStargz or zstd:chunked image pulled lazily (`gantry pull --lazy`, `gantry run
// --pull lazy`): its record in the store and the tree a container runs on.
//
//   ROOT/lazy/refs/<sha256 of the reference>.json   the record (below), written atomically
//   ROOT/lazy/blobs/<hex>                           a layer blob's sparse local copy
//   ROOT/blobs/sha256/…                             manifest, config and the TOC JSONs, verified
//
// The manifest is verified by its digest (a pin, or the registry's Docker-Content-Digest), the
// config by the manifest, each TOC by the manifest's toc.digest annotation (eStargz) or
// zstd-chunked manifest-checksum (zstd:chunked, either generation; a current one's tar-split by
// the TOC's tarSplitDigest, and checked against the TOC), each chunk by its
// TOC: nothing served was not chained from the manifest. Lazy images are not in refs.json: a
// plain `gantry run IMAGE` does not see them (their layers are not in the store).
#pragma once

#include "lazy/squashfs_artifact.hpp"
#include "lazy/tree.hpp"
#include "oci/digest.hpp"
#include "registry/pull.hpp"
#include "store/store.hpp"

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace gantry::lazy {

struct Record {
    std::string ref;        // normalised logical name
    std::string domain;     // the registry that served it (a mirror's, a rewritten one)
    std::string repository; // there
    bool insecure = false;  // registries.conf said that location may be plain http
    oci::Digest manifest, config;
    struct Layer {
        oci::Digest digest;
        std::uint64_t size = 0;
        oci::Digest toc; // the TOC JSON's digest (a blob of the store)
        std::uint64_t toc_offset = 0;
        TocFormat format = TocFormat::estargz;
        std::optional<oci::Digest> tar_split; // zstd:chunked, current generation (a store blob)
        bool squashfs = false; // the one layer of gantry's squashfs artifact (no TOC)
        // its block-digest table (a store blob, verified by the manifest), when it has one
        std::optional<oci::Digest> block_digests;
    };
    std::vector<Layer> layers;
};

// Fetches REF's manifest, config and the TOC of every layer, verified, into the store and writes
// its record. Error(unsupported) naming the layer when one is neither eStargz (no toc.digest)
// nor zstd:chunked (no manifest-position of either generation). PARSED, when given, receives
// the layers' TOCs (for open(), which then parses none).
Record pull(store::Store& store, const std::string& ref, const registry::PullOptions& opt,
            std::vector<Toc>* parsed = nullptr);

// The record of REF, if it was pulled lazily.
std::optional<Record> find(const store::Store& store, const std::string& ref);

// ROOT/lazy/refs/<sha256 of REF>.json.
store::stdfs::path record_path(const store::Store& store, const std::string& ref);

// The client reading RECORD's chunks (the location that served its metadata; fewer, shorter
// retries than a pull's, so that a read of a registry gone fails in seconds).
std::shared_ptr<registry::Client> client_for(const Record& record,
                                             const registry::ClientOptions& opt);

// The merged tree of RECORD's layers, reading chunks from the registry with OPT (its TOCs read
// from the store; the local copies opened here, before the serving process starts).
// Its background prefetch runs unless GANTRY_LAZY_PREFETCH=0; when the container has ended,
// what it made local becomes store layers (lazy/store_layers.hpp), as root keeping owners
// when PRIVILEGED.
std::shared_ptr<Tree> open(store::Store& store, const Record& record,
                           const registry::ClientOptions& opt, bool privileged = false,
                           std::vector<Toc> parsed = {});

// Whether RECORD is gantry's squashfs artifact (push --format squashfs), and its tree: the
// squashfs image read from the sparse copy of its blob, block runs fetched as they are read.
bool is_squashfs(const Record& record);
// The blob is as untrusted as a .sqsh file (its blocks are served before its digest can be
// checked): gantry reads and checks its superblock; its tables and etc/passwd are read by a
// process forked for it that calls CONFINE first (sqsh/confined.hpp; it fetches the blocks it
// reads, and says which, so the server does not fetch them again), and the server parses the
// tables again after its own confinement. Errors as sqsh::read_facts's, and the fetch's.
struct OpenedSquashfs {
    std::shared_ptr<SquashfsTree> tree;
    std::string passwd; // etc/passwd, "" when absent (at most 4 MiB)
};
OpenedSquashfs open_squashfs(store::Store& store, const Record& record,
                             const registry::ClientOptions& opt,
                             const std::function<void()>& confine);

} // namespace gantry::lazy
