#include "gpu_vendors/amd/hip_fatbin.hpp"

#include "elf/headers.hpp"
#include "elf/sections.hpp"
#include "util/error.hpp"
#include "util/exact_decompress.hpp"
#include "util/fd.hpp"
#include "util/mapped_file.hpp"
#include "util/text.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <zstd.h>

namespace gantry::gpu_vendors::amd {

namespace {

using elf::Bytes;
using elf::is_elf64le;
using elf::Region;

constexpr std::string_view kBundleMagic = "__CLANG_OFFLOAD_BUNDLE__"; // 24 bytes
constexpr std::string_view kCcobMagic = "CCOB";
constexpr std::uint64_t kEntryFixedBytes = 24; // u64 offset, u64 size, u64 id length
constexpr std::uint16_t kEmAmdgpu = 224;
constexpr std::uint8_t kOsabiAmdgpuHsa = 64;
// e_flags feature fields. Code object v3 (EI_ABIVERSION 1): one bit each, set = on.
constexpr std::uint32_t kXnackV3 = 0x100, kSrameccV3 = 0x200;
// Code object v4 and later: two-bit fields (0 unsupported, 1 any, 2 off, 3 on).
constexpr std::uint32_t kXnackMaskV4 = 0x300, kSrameccMaskV4 = 0xc00;

// EF_AMDGPU_MACH values: LLVM 15's BinaryFormat/ELF.h (rocm.md §5); gfx940 = 0x040 observed.
// Newer processors (gfx942, gfx1100+) are reported as "mach_0x.." until verified.
const char* processor_for_mach(unsigned mach) {
    struct Mach {
        unsigned value;
        const char* name;
    };
    static constexpr Mach kMachs[] = {
        {0x020, "gfx600"},  {0x021, "gfx601"},  {0x022, "gfx700"},  {0x023, "gfx701"},
        {0x024, "gfx702"},  {0x025, "gfx703"},  {0x026, "gfx704"},  {0x028, "gfx801"},
        {0x029, "gfx802"},  {0x02a, "gfx803"},  {0x02b, "gfx810"},  {0x02c, "gfx900"},
        {0x02d, "gfx902"},  {0x02e, "gfx904"},  {0x02f, "gfx906"},  {0x030, "gfx908"},
        {0x031, "gfx909"},  {0x032, "gfx90c"},  {0x033, "gfx1010"}, {0x034, "gfx1011"},
        {0x035, "gfx1012"}, {0x036, "gfx1030"}, {0x037, "gfx1031"}, {0x038, "gfx1032"},
        {0x039, "gfx1033"}, {0x03a, "gfx602"},  {0x03b, "gfx705"},  {0x03c, "gfx805"},
        {0x03d, "gfx1035"}, {0x03e, "gfx1034"}, {0x03f, "gfx90a"},  {0x040, "gfx940"},
        {0x042, "gfx1013"},
    };
    for (const auto& m : kMachs)
        if (m.value == mach) return m.name;
    return nullptr;
}

TargetFeature v4_feature(std::uint32_t field) {
    switch (field) {
    case 1:
        return TargetFeature::any;
    case 2:
        return TargetFeature::off;
    case 3:
        return TargetFeature::on;
    default:
        return TargetFeature::unsupported;
    }
}

std::string_view as_view(Bytes b) {
    return {reinterpret_cast<const char*>(b.p), static_cast<std::size_t>(b.n)};
}

[[noreturn]] void fail(const std::string& name, const std::string& what) {
    throw Error(Errc::invalid, name + ": " + what);
}

// "<kind>-<triple>[-<target-id>]": the triple has 4 fields (the bundler writes an empty
// environment, hence "amdgcn-amd-amdhsa--gfx90a"); older bundles used 3 fields plus the
// processor. Generic target IDs contain '-' themselves ("gfx9-4-generic"), so the target ID is
// everything after the triple's fields.
void split_entry_id(HipBundleEntry& e) {
    auto dash = e.id.find('-');
    e.kind_name = e.id.substr(0, dash);
    if (e.kind_name == "host")
        e.kind = OffloadKind::host;
    else if (e.kind_name == "hip")
        e.kind = OffloadKind::hip;
    else if (e.kind_name == "hipv4")
        e.kind = OffloadKind::hipv4;
    else if (e.kind_name == "openmp")
        e.kind = OffloadKind::openmp;
    if (dash == std::string::npos) return;
    std::string rest = e.id.substr(dash + 1);
    // Only dashes before the features count: "xnack-" ends in one.
    std::vector<std::size_t> dashes;
    for (std::size_t i = 0; i < rest.size() && rest[i] != ':'; ++i)
        if (rest[i] == '-') dashes.push_back(i);
    std::size_t triple_end = std::string::npos;
    if (dashes.size() >= 4) {
        triple_end = dashes[3];
    } else if (dashes.size() == 3) {
        std::string_view fourth = std::string_view(rest).substr(dashes[2] + 1);
        if (fourth.starts_with("gfx")) triple_end = dashes[2]; // 3-field triple + processor
    }
    e.triple = rest.substr(0, triple_end);
    if (triple_end != std::string::npos) e.target_id = rest.substr(triple_end + 1);
}

struct Reader {
    const std::string& name;
    const HipFatbinOptions& opts;
    HipFatbin& out;

    // One uncompressed bundle at the start of b. Returns the bytes it spans (header, IDs and
    // code objects), so that a following bundle can be found.
    std::uint64_t parse_bundle(Bytes b, std::uint64_t at, bool compressed) {
        std::string where = "offload bundle at offset " + text::hex(at);
        if (!b.has(0, kBundleMagic.size() + 8) ||
            as_view(b.sub(0, kBundleMagic.size())) != kBundleMagic)
            fail(name, where + " is truncated or lacks the __CLANG_OFFLOAD_BUNDLE__ magic");
        std::uint64_t count = b.get<std::uint64_t>(kBundleMagic.size());
        std::uint64_t pos = kBundleMagic.size() + 8;
        if (count > (b.n - pos) / kEntryFixedBytes)
            fail(name, where + " declares " + std::to_string(count) + " entries, more than its " +
                           std::to_string(b.n) + " bytes can hold");
        HipBundle bundle;
        bundle.offset = at;
        bundle.first_entry = out.entries.size();
        bundle.entry_count = count;
        std::uint64_t end = 0;
        for (std::uint64_t i = 0; i < count; ++i) {
            std::string which = where + ", entry " + std::to_string(i);
            if (!b.has(pos, kEntryFixedBytes)) fail(name, which + ": header is truncated");
            HipBundleEntry e;
            e.offset = b.get<std::uint64_t>(pos);
            e.size = b.get<std::uint64_t>(pos + 8);
            std::uint64_t id_len = b.get<std::uint64_t>(pos + 16);
            pos += kEntryFixedBytes;
            if (!b.has(pos, id_len))
                fail(name, which + ": ID length " + std::to_string(id_len) +
                               " runs past the end of the bundle");
            e.id.assign(reinterpret_cast<const char*>(b.p + pos), id_len);
            pos += id_len;
            if (!b.has(e.offset, e.size))
                fail(name, which + " (" + e.id + "): code object at " + text::hex(e.offset) +
                               " size " + text::hex(e.size) + " lies outside the bundle (" +
                               text::hex(b.n) + " bytes)");
            end = std::max(end, e.offset + e.size);
            split_entry_id(e);
            e.bundle = out.bundles.size();
            e.compressed = compressed;
            if (e.size > 0) e.header = decode_amdgpu_header(as_view(b.sub(e.offset, e.size)));
            if (auto t = parse_target_id(e.target_id); t && !e.target_id.empty())
                e.target = *t;
            else if (e.header.is_amdgpu)
                e.target = e.header.target;
            out.entries.push_back(std::move(e));
        }
        bundle.size = std::max(end, pos);
        bundle.uncompressed_size = bundle.size;
        out.bundles.push_back(bundle);
        return bundle.size;
    }

    // A compressed bundle's payload, exactly `expected` bytes (util/exact_decompress.hpp);
    // consumed: the compressed bytes it used. Errors name the file.
    std::string inflate_zlib(Bytes in, std::uint64_t expected, const std::string& where,
                             std::uint64_t& consumed) {
        try {
            return decompress::zlib_exact(as_view(in), expected, consumed, where, "its");
        } catch (const Error& e) {
            fail(name, e.message());
        }
    }

    std::string inflate_zstd(Bytes in, std::uint64_t expected, const std::string& where) {
        std::uint64_t consumed = 0;
        try {
            return decompress::zstd_exact(as_view(in), expected, consumed,
                                          where + ": its zstd frame");
        } catch (const Error& e) {
            fail(name, e.message());
        }
    }

    // A CCOB at the start of b. Returns the bytes it spans in b.
    std::uint64_t parse_ccob(Bytes b, std::uint64_t at) {
        std::string where = "compressed bundle (CCOB) at offset " + text::hex(at);
        if (!b.has(0, 8)) fail(name, where + " is truncated");
        auto version = b.get<std::uint16_t>(4);
        auto method = b.get<std::uint16_t>(6);
        std::uint64_t header = 0, total = 0, uncompressed = 0;
        // v1: magic, u16 version, u16 method, u32 uncompressed size, u64 hash (no total size).
        // v2: ... u32 total size, u32 uncompressed size, u64 hash. v3: u64 total, u64 uncompressed.
        switch (version) {
        case 1:
            header = 20;
            uncompressed = b.get<std::uint32_t>(8);
            break;
        case 2:
            header = 24;
            total = b.get<std::uint32_t>(8);
            uncompressed = b.get<std::uint32_t>(12);
            break;
        case 3:
            header = 32;
            total = b.get<std::uint64_t>(8);
            uncompressed = b.get<std::uint64_t>(16);
            break;
        default:
            fail(name, where + " has unknown version " + std::to_string(version));
        }
        if (!b.has(0, header)) fail(name, where + ": header is truncated");
        std::uint64_t span = b.n;
        if (version >= 2) {
            if (total < header || total > b.n)
                fail(name, where + " declares a total size of " + std::to_string(total) +
                               " bytes, but " + std::to_string(b.n) + " remain");
            span = total;
        }
        if (uncompressed > opts.max_decompressed)
            fail(name, where + " declares " + std::to_string(uncompressed) +
                           " uncompressed bytes, over the limit of " +
                           std::to_string(opts.max_decompressed) + "; refused");
        Bytes payload = b.sub(header, span - header);
        BundleCompression compression = BundleCompression::none;
        std::string data;
        if (method == 0) {
            compression = BundleCompression::zlib;
            std::uint64_t consumed = 0;
            data = inflate_zlib(payload, uncompressed, where, consumed);
            // v1 has no total size: the bundle ends where its zlib stream does.
            if (version == 1) span = header + consumed;
        } else if (method == 1) {
            compression = BundleCompression::zstd;
            data = inflate_zstd(payload, uncompressed, where);
            // v1 has no total size: the bundle ends where its zstd frame does.
            if (version == 1) span = header + ZSTD_findFrameCompressedSize(payload.p, payload.n);
        } else {
            fail(name, where + " uses unknown compression method " + std::to_string(method));
        }
        Bytes inner{reinterpret_cast<const unsigned char*>(data.data()), data.size()};
        parse_bundle(inner, at, true);
        HipBundle& bundle = out.bundles.back();
        bundle.size = span;
        bundle.compression = compression;
        bundle.ccob_version = version;
        bundle.uncompressed_size = uncompressed;
        return span;
    }

    // Every bundle in the section: they follow each other, separated by zero padding (each
    // linked object's section is 4096-aligned; clang ends the data with a NUL).
    void parse_section(Bytes s, std::uint64_t base) {
        std::uint64_t pos = 0;
        while (pos < s.n) {
            if (s.p[pos] == 0) {
                ++pos;
                continue;
            }
            Bytes rest = s.sub(pos, s.n - pos);
            std::string_view view = as_view(rest);
            std::uint64_t used = 0;
            if (view.starts_with(kBundleMagic))
                used = parse_bundle(rest, base + pos, false);
            else if (view.starts_with(kCcobMagic))
                used = parse_ccob(rest, base + pos);
            else
                fail(name, "unrecognised bytes at offset " + text::hex(base + pos) +
                               " of .hip_fatbin (no offload bundle or CCOB magic)");
            pos += std::max<std::uint64_t>(used, 1);
        }
    }
};

// The .hip_fatbin section of an ELF file, if any.
std::optional<Region> find_hip_section(Bytes f, const std::string& name) {
    std::vector<std::string> problems;
    for (auto& r : elf::regions(f, problems))
        if (r.name == ".hip_fatbin") {
            for (const auto& p : problems)
                if (p.starts_with(".hip_fatbin")) fail(name, p);
            return r;
        }
    for (const auto& p : problems)
        if (p.starts_with(".hip_fatbin")) fail(name, p);
    return std::nullopt;
}

} // namespace

const char* to_string(TargetFeature f) {
    switch (f) {
    case TargetFeature::any:
        return "any";
    case TargetFeature::off:
        return "off";
    case TargetFeature::on:
        return "on";
    case TargetFeature::unsupported:
        return "unsupported";
    }
    return "any";
}

const char* to_string(OffloadKind k) {
    switch (k) {
    case OffloadKind::host:
        return "host";
    case OffloadKind::hip:
        return "hip";
    case OffloadKind::hipv4:
        return "hipv4";
    case OffloadKind::openmp:
        return "openmp";
    case OffloadKind::unknown:
        return "unknown";
    }
    return "unknown";
}

const char* to_string(BundleCompression c) {
    switch (c) {
    case BundleCompression::none:
        return "none";
    case BundleCompression::zlib:
        return "zlib";
    case BundleCompression::zstd:
        return "zstd";
    }
    return "none";
}

std::string TargetId::str() const {
    std::string s = processor;
    auto add = [&s](const char* feature, TargetFeature f) {
        if (f == TargetFeature::on) s += std::string(":") + feature + "+";
        if (f == TargetFeature::off) s += std::string(":") + feature + "-";
    };
    add("sramecc", sramecc);
    add("xnack", xnack);
    return s;
}

std::optional<TargetId> parse_target_id(std::string_view text) {
    if (auto prefix = text.find("--"); prefix != std::string_view::npos)
        text = text.substr(prefix + 2);
    TargetId t;
    auto colon = text.find(':');
    t.processor = std::string(text.substr(0, colon));
    // LLVM processor names: "gfx90a", "gfx1030", "gfx9-4-generic". Anything else (control
    // characters, blanks, a second "--") would reach messages and never match a device (found
    // by fuzz/fuzz_hip_bundle: "x--y--gfx90a" printed as "y--gfx90a", which reads back as gfx90a).
    if (t.processor.empty() || t.processor.find("--") != std::string::npos ||
        !std::all_of(t.processor.begin(), t.processor.end(),
                     [](unsigned char c) { return std::isalnum(c) || c == '-' || c == '_'; }))
        return std::nullopt;
    bool seen_xnack = false, seen_sramecc = false;
    while (colon != std::string_view::npos) {
        text = text.substr(colon + 1);
        colon = text.find(':');
        std::string_view feature = text.substr(0, colon);
        if (feature.size() < 2) return std::nullopt;
        char sign = feature.back();
        if (sign != '+' && sign != '-') return std::nullopt;
        TargetFeature value = sign == '+' ? TargetFeature::on : TargetFeature::off;
        feature.remove_suffix(1);
        if (feature == "xnack" && !seen_xnack) {
            t.xnack = value;
            seen_xnack = true;
        } else if (feature == "sramecc" && !seen_sramecc) {
            t.sramecc = value;
            seen_sramecc = true;
        } else {
            return std::nullopt;
        }
    }
    return t;
}

bool code_object_runs_on(const TargetId& code_object, const TargetId& device) {
    if (code_object.processor != device.processor) return false;
    auto feature_ok = [](TargetFeature co, TargetFeature dev) {
        return co == TargetFeature::any || co == TargetFeature::unsupported || co == dev;
    };
    return feature_ok(code_object.sramecc, device.sramecc) &&
           feature_ok(code_object.xnack, device.xnack);
}

AmdgpuCodeObjectHeader decode_amdgpu_header(std::string_view code_object) {
    AmdgpuCodeObjectHeader h;
    Bytes c{reinterpret_cast<const unsigned char*>(code_object.data()), code_object.size()};
    if (!is_elf64le(c)) {
        h.error = "code object is not an ELF64 little-endian file";
        return h;
    }
    const elf::Header eh = elf::header(c);
    h.machine = eh.machine;
    h.osabi = eh.osabi;
    h.abi_version = eh.abi_version;
    h.code_object_version = h.abi_version + 2u;
    h.e_flags = eh.flags;
    h.mach = h.e_flags & 0xff;
    if (h.machine != kEmAmdgpu) {
        h.error = "e_machine is " + std::to_string(h.machine) + ", not EM_AMDGPU (224)";
        return h;
    }
    if (h.osabi != kOsabiAmdgpuHsa) {
        h.error = "EI_OSABI is " + std::to_string(h.osabi) + ", not AMDGPU_HSA (64)";
        return h;
    }
    h.is_amdgpu = true;
    const char* processor = processor_for_mach(h.mach);
    h.target.processor = processor ? processor : "mach_" + text::hex(h.mach);
    if (h.abi_version >= 2) { // v4+
        h.target.xnack = v4_feature((h.e_flags & kXnackMaskV4) >> 8);
        h.target.sramecc = v4_feature((h.e_flags & kSrameccMaskV4) >> 10);
    } else if (h.abi_version == 1) { // v3: a set bit means on, clear means any
        h.target.xnack = (h.e_flags & kXnackV3) ? TargetFeature::on : TargetFeature::any;
        h.target.sramecc = (h.e_flags & kSrameccV3) ? TargetFeature::on : TargetFeature::any;
    }
    return h;
}

std::vector<std::string> HipFatbin::targets() const {
    std::vector<std::string> out;
    for (const auto& e : entries) {
        if (!e.is_device_code()) continue;
        std::string t = e.target_id.empty() ? e.target.str() : e.target_id;
        if (std::find(out.begin(), out.end(), t) == out.end()) out.push_back(t);
    }
    return out;
}

HipFatbin read_hip_fatbin_bytes(std::string_view data, const std::string& name,
                                const HipFatbinOptions& opts) {
    HipFatbin out;
    out.name = name;
    Bytes f{reinterpret_cast<const unsigned char*>(data.data()), data.size()};
    Bytes section;
    if (is_elf64le(f)) {
        auto region = find_hip_section(f, name);
        if (!region) return out;
        out.section_offset = region->off;
        out.section_size = region->len;
        section = f.sub(region->off, region->len);
    } else if (data.starts_with(kBundleMagic) || data.starts_with(kCcobMagic)) {
        out.section_size = f.n;
        section = f;
    } else {
        return out;
    }
    out.found = true;
    Reader{name, opts, out}.parse_section(section, 0);
    return out;
}

HipFatbin read_hip_fatbin_file(const std::string& path, const HipFatbinOptions& opts) {
    MappedFile file(path);
    return read_hip_fatbin_bytes(file.bytes(), path, opts);
}

HipDeviceMatch match_hip_device(const HipFatbin& fatbin, std::string_view agent_target_id) {
    auto device = parse_target_id(agent_target_id);
    if (!device)
        throw Error(Errc::usage,
                    "'" + std::string(agent_target_id) + "' is not an AMD GPU target ID",
                    "give it as rocminfo prints the agent's ISA, e.g. "
                    "amdgcn-amd-amdhsa--gfx90a:sramecc+:xnack-");
    HipDeviceMatch match;
    std::vector<std::string> runnable;
    for (std::size_t i = 0; i < fatbin.entries.size(); ++i) {
        const auto& e = fatbin.entries[i];
        if (!e.is_device_code() || !e.triple.starts_with("amdgcn-amd-amdhsa")) continue;
        if (!code_object_runs_on(e.target, *device)) continue;
        match.runnable.push_back(i);
        runnable.push_back(e.target_id.empty() ? e.target.str() : e.target_id);
    }
    auto join = [](const std::vector<std::string>& v) {
        std::string s;
        for (const auto& t : v) s += (s.empty() ? "" : ", ") + t;
        return s;
    };
    if (!match.none()) {
        match.summary = join(runnable) + " in " + fatbin.name + " runs on " + device->str();
    } else {
        auto targets = fatbin.targets();
        match.summary = "none of the code objects in " + fatbin.name + " runs on " + device->str() +
                        " (it has code for: " + (targets.empty() ? "no GPU" : join(targets)) + ")";
    }
    return match;
}

} // namespace gantry::gpu_vendors::amd
