// compat/hip_fatbin: reads the AMD GPU code objects a HIP program carries, without executing or
// linking anything, and decides which of them a device can run. HIP device code sits in the ELF
// section .hip_fatbin as one or more clang offload bundles ("__CLANG_OFFLOAD_BUNDLE__", u64 entry
// count, per entry u64 offset/size/id-length + id, then the code objects), each possibly
// compressed ("CCOB" v1/v2/v3, zlib or zstd). Layout: reference rocm.md §5. The matching rule is
// the HIP runtime's (ROCm/clr isCodeObjectCompatibleWithDevice): the same processor, and every
// feature the code object names (xnack+/-, sramecc+/-) equal to the device's.
//
// The bytes are hostile: every offset, size and count is bounds-checked, decompression is capped,
// and malformed input throws gantry::Error(invalid) naming the file and what is wrong.
// Groundwork for issue 22 (AMD GPUs); doctor/analyze do not call it yet.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gantry::gpu_vendors::amd {

// A target-ID feature as a code object or a device states it. Omitted in a target ID = any.
enum class TargetFeature { any, off, on, unsupported };
const char* to_string(TargetFeature f); // "any", "off", "on", "unsupported"

// An AMD GPU target ID: processor plus the xnack and sramecc features ("gfx90a:xnack-").
struct TargetId {
    std::string processor; // "gfx90a"
    TargetFeature sramecc = TargetFeature::any, xnack = TargetFeature::any;

    // Canonical text: processor, then the features that are set, in LLVM's order (sramecc
    // before xnack): "gfx90a:sramecc+:xnack-". Unsupported features are left out.
    std::string str() const;
    bool operator==(const TargetId&) const = default;
};

// Parses "gfx90a", "gfx90a:xnack-", "gfx90a:sramecc+:xnack-", also with the agent ISA prefix
// ("amdgcn-amd-amdhsa--gfx90a:xnack-"). nullopt for an empty processor or one with characters
// other than letters, digits, '-' and '_' (or a second "--"), a feature other than
// xnack/sramecc, one without +/-, or a feature given twice.
std::optional<TargetId> parse_target_id(std::string_view text);

// The HIP runtime's rule: same processor required; a feature the code object specifies (+/-)
// must equal the device's; a feature the code object omits matches either. A device that omits
// a feature the code object specifies does not match (the runtime compares the values as given).
bool code_object_runs_on(const TargetId& code_object, const TargetId& device);

// Offload kind of a bundle entry: the part of its ID before the first '-'.
enum class OffloadKind { host, hip, hipv4, openmp, unknown };
const char* to_string(OffloadKind k); // "host", "hip", "hipv4", "openmp", "unknown"

enum class BundleCompression { none, zlib, zstd }; // CCOB method 0 (zlib), 1 (zstd)
const char* to_string(BundleCompression c);        // "none", "zlib", "zstd"

// The ELF header of an AMD GPU code object, decoded.
struct AmdgpuCodeObjectHeader {
    bool is_amdgpu = false;       // ELF64 LE, e_machine EM_AMDGPU (224), EI_OSABI AMDGPU_HSA (64)
    std::uint16_t machine = 0;    // e_machine
    std::uint8_t osabi = 0;       // EI_OSABI
    std::uint8_t abi_version = 0; // EI_ABIVERSION
    unsigned code_object_version = 0; // EI_ABIVERSION + 2 (2 = v4, Debian hipcc 5.2's default)
    std::uint32_t e_flags = 0;
    unsigned mach = 0; // e_flags & 0xff (EF_AMDGPU_MACH)
    TargetId target;   // processor name ("gfx90a", or "mach_0x4c" when not known here)
    std::string error; // why it is not an AMD GPU code object (empty when it is)
};

// Decodes an AMD GPU code object's ELF header (no throw: problems land in error).
AmdgpuCodeObjectHeader decode_amdgpu_header(std::string_view code_object);

struct HipBundleEntry {
    std::string id; // "hipv4-amdgcn-amd-amdhsa--gfx90a:xnack-"
    OffloadKind kind = OffloadKind::unknown;
    std::string kind_name; // as written ("hipv4"), also when unknown
    std::string
        triple; // "amdgcn-amd-amdhsa-" (4 fields, empty environment), "x86_64-unknown-linux"
    std::string target_id;    // "gfx90a:xnack-" as written; empty when the ID has none (host)
    TargetId target;          // parsed target_id, else the code object's header (old "hip" entries)
    std::uint64_t offset = 0; // of the code object, from the start of its (decompressed) bundle
    std::uint64_t size = 0;   // code object bytes (0 for the host entry)
    std::size_t bundle = 0;   // index into HipFatbin::bundles
    bool compressed = false;  // the bundle was a CCOB
    AmdgpuCodeObjectHeader header; // decoded when size > 0

    bool is_device_code() const {
        return (kind == OffloadKind::hip || kind == OffloadKind::hipv4) && size > 0;
    }
};

struct HipBundle {
    std::uint64_t offset = 0; // from the start of .hip_fatbin (or of the raw bytes)
    std::uint64_t size = 0;   // bytes it occupies there (compressed size for a CCOB)
    BundleCompression compression = BundleCompression::none;
    unsigned ccob_version = 0;           // 1, 2 or 3 when compressed
    std::uint64_t uncompressed_size = 0; // the bundle's bytes once decompressed (== size if none)
    std::size_t first_entry = 0, entry_count = 0; // into HipFatbin::entries
};

struct HipFatbin {
    std::string name;   // the file (or the name given for bytes in memory)
    bool found = false; // a .hip_fatbin section (or raw bundle bytes) was there
    std::uint64_t section_offset = 0, section_size = 0; // in the file
    std::vector<HipBundle> bundles;
    std::vector<HipBundleEntry> entries;      // every entry, in order, host entries included
    std::vector<std::string> targets() const; // device code objects' target IDs, in order, unique
};

struct HipFatbinOptions {
    // The most one compressed bundle may declare or inflate to; beyond it reading is refused.
    std::uint64_t max_decompressed = 256u << 20;
};

// Reads HIP device code from bytes in memory: an ELF file (its .hip_fatbin section; found=false
// when it has none), or the raw section contents (a bundle or CCOB at the start). Bytes that are
// neither give found=false. Throws Error(invalid) "NAME: what is wrong" for damaged bundles.
HipFatbin read_hip_fatbin_bytes(std::string_view data, const std::string& name,
                                const HipFatbinOptions& opts = {});

// The same for a file (mapped read-only). Throws Error(not_found/io) when it cannot be read.
HipFatbin read_hip_fatbin_file(const std::string& path, const HipFatbinOptions& opts = {});

// Which entries of a file a device runs, by the rule of code_object_runs_on.
struct HipDeviceMatch {
    std::vector<std::size_t> runnable; // indexes into HipFatbin::entries
    std::string
        summary; // "gfx90a:xnack- runs on gfx90a:sramecc+:xnack-" or "none of ... (targets)"
    bool none() const { return runnable.empty(); }
};

// agent_target_id as rocminfo prints the agent's ISA ("amdgcn-amd-amdhsa--gfx90a:sramecc+:xnack-")
// or a bare target ID. Throws Error(usage) when it cannot be parsed.
HipDeviceMatch match_hip_device(const HipFatbin& fatbin, std::string_view agent_target_id);

} // namespace gantry::gpu_vendors::amd
