#include "gpu_vendors/amd/tailor_hip.hpp"

#include "gpu_vendors/amd/ccob.hpp"
#include "gpu_vendors/amd/hip_fatbin.hpp"
#include "util/error.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string_view>

namespace gantry::gpu_vendors::amd {

namespace {

constexpr std::uint32_t kShtNull = 0, kShtProgbits = 1, kShtNobits = 8;

std::string hex(std::uint64_t v) {
    char buf[24];
    std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
    return buf;
}

[[noreturn]] void fail(const std::string& what) {
    throw Error(Errc::invalid, ".hip_fatbin: " + what);
}

bool fits(std::uint64_t off, std::uint64_t len, std::uint64_t n) {
    return off <= n && len <= n - off;
}

template <typename T>
T rd(std::string_view f, std::uint64_t at) {
    if (!fits(at, sizeof(T), f.size())) fail("an ELF header field at " + hex(at) + " is past EOF");
    T v{};
    std::memcpy(&v, f.data() + at, sizeof(T));
    return v;
}

struct Range {
    std::uint64_t off = 0, len = 0;
    bool overlaps(const Range& o) const {
        return len > 0 && o.len > 0 && off < o.off + o.len && o.off < off + len;
    }
};

// The .hip_fatbin section of an ELF64 little-endian file: exactly one, PROGBITS, inside the file,
// and clear of the ELF header, the program and section header tables and every other section
// with contents (what the proof keeps byte-identical). nullopt: not ELF64 LE, or no such section.
std::optional<Range> locate_section(std::string_view f) {
    if (f.size() < 64 ||
        !f.starts_with("\x7f"
                       "ELF") ||
        f[4] != 2 || f[5] != 1)
        return std::nullopt;
    auto phoff = rd<std::uint64_t>(f, 0x20), shoff = rd<std::uint64_t>(f, 0x28);
    auto phentsize = rd<std::uint16_t>(f, 0x36), phnum = rd<std::uint16_t>(f, 0x38);
    auto shentsize = rd<std::uint16_t>(f, 0x3a), shnum = rd<std::uint16_t>(f, 0x3c);
    auto shstrndx = rd<std::uint16_t>(f, 0x3e);
    if (shoff == 0 || shnum == 0) return std::nullopt;
    if (shentsize != 64 || !fits(shoff, std::uint64_t{shnum} * 64, f.size()) || shstrndx >= shnum)
        fail("the ELF section header table is malformed; refusing to rewrite");
    std::uint64_t strtab = rd<std::uint64_t>(f, shoff + shstrndx * 64ull + 24);
    std::uint64_t strtab_len = rd<std::uint64_t>(f, shoff + shstrndx * 64ull + 32);
    if (!fits(strtab, strtab_len, f.size())) fail("the section name table lies past EOF");
    std::string_view names = f.substr(strtab, strtab_len);
    std::vector<Range> others{{0, 64}, {shoff, std::uint64_t{shnum} * 64}};
    if (phnum > 0) others.push_back({phoff, std::uint64_t{phnum} * phentsize});
    std::optional<Range> hip;
    for (std::uint64_t i = 0; i < shnum; ++i) {
        std::uint64_t h = shoff + i * 64;
        auto name_at = rd<std::uint32_t>(f, h);
        auto type = rd<std::uint32_t>(f, h + 4);
        Range r{rd<std::uint64_t>(f, h + 24), rd<std::uint64_t>(f, h + 32)};
        std::string_view name;
        if (name_at < names.size()) {
            name = names.substr(name_at);
            name = name.substr(0, name.find('\0'));
        }
        if (name == ".hip_fatbin") {
            if (hip) fail("the file has two .hip_fatbin sections; refusing to rewrite");
            if (type != kShtProgbits) fail("the section is not PROGBITS; refusing to rewrite");
            if (!fits(r.off, r.len, f.size()))
                fail("the section (offset " + hex(r.off) + ", size " + hex(r.len) +
                     ") runs past the end of the file");
            hip = r;
        } else if (type != kShtNull && type != kShtNobits && r.off < f.size()) {
            r.len = std::min(r.len, f.size() - r.off);
            others.push_back(r);
        }
    }
    if (!hip) return std::nullopt;
    for (const auto& o : others)
        if (hip->overlaps(o))
            fail("the section overlaps the ELF headers or another section (bytes " + hex(o.off) +
                 "-" + hex(o.off + o.len) + "); refusing to rewrite");
    return hip;
}

// Does a code object for `co` run on a GPU that the kept target `k` names? A feature `k`
// leaves out stands for either value (the user did not say which mode the GPU runs in).
bool kept_by(const amd::TargetId& co, const amd::TargetId& k) {
    using F = amd::TargetFeature;
    auto values = [](F f) {
        return f == F::any ? std::vector<F>{F::on, F::off} : std::vector<F>{f};
    };
    for (F sramecc : values(k.sramecc))
        for (F xnack : values(k.xnack)) {
            amd::TargetId device = k;
            device.sramecc = sramecc;
            device.xnack = xnack;
            if (amd::code_object_runs_on(co, device)) return true;
        }
    return false;
}

struct EntryPlan {
    std::uint64_t at = 0, span = 0; // in the section
    bool compressed = false;
    unsigned version = 0, method = 0;
    ccob::Bundle parsed;
    std::string data; // a CCOB's uncompressed bundle
    std::vector<std::size_t> keep;
    std::vector<std::string> device_keys; // target ID per entry ("" = not device code)
    std::size_t device = 0, device_kept = 0;
    bool rewrite = false;
    std::uint64_t new_span = 0; // a rewritten CCOB's bytes
};

std::string where(const EntryPlan& p) {
    std::string what = "offload bundle";
    if (p.compressed && p.version == 0) what = "compressed bundle (CCOB)";
    if (p.compressed && p.version > 0)
        what = "compressed bundle (CCOB v" + std::to_string(p.version) +
               (p.method == 0 ? ", zlib)" : ", zstd)");
    return what + " at offset " + hex(p.at);
}

// Every bundle in the section, parsed strictly (the walk is compat's: bundles follow each other,
// separated by zero padding).
std::vector<EntryPlan> parse_section(std::string_view sec) {
    std::vector<EntryPlan> plans;
    std::uint64_t pos = 0;
    const std::uint64_t max = amd::HipFatbinOptions{}.max_decompressed;
    while (pos < sec.size()) {
        if (sec[pos] == 0) {
            ++pos;
            continue;
        }
        EntryPlan p;
        p.at = pos;
        std::string_view rest = sec.substr(pos);
        try {
            if (rest.starts_with(ccob::kBundleMagic)) {
                p.parsed = ccob::parse_bundle(rest);
                p.span = p.parsed.span;
            } else if (rest.starts_with(ccob::kCcobMagic)) {
                p.compressed = true;
                auto c = ccob::decode(rest, max);
                p.version = c.version;
                p.method = c.method;
                p.span = c.span;
                p.data = std::move(c.data);
                p.parsed = ccob::parse_bundle(p.data);
            } else {
                fail("unrecognised bytes at offset " + hex(pos) +
                     " (no offload bundle or CCOB magic)");
            }
        } catch (const Error& e) {
            if (e.message().starts_with(".hip_fatbin: ")) throw;
            fail(where(p) + ": " + e.message() + "; refusing to rewrite");
        }
        pos += p.span;
        plans.push_back(std::move(p));
    }
    return plans;
}

std::string tailor_join(const std::vector<std::string>& v) {
    std::string s;
    for (const auto& t : v) s += (s.empty() ? "" : ", ") + t;
    return s;
}

// Decides, per entry, what stays (see hip.hpp), from compat's reading of the same bundles.
void classify(std::vector<EntryPlan>& plans, const amd::HipFatbin& listing,
              const device_code::KeepSet& keep, device_code::FileReport& r) {
    std::vector<amd::TargetId> kept_ids;
    for (const auto& t : keep.targets("hip"))
        if (auto id = amd::parse_target_id(t)) kept_ids.push_back(*id);
    if (listing.bundles.size() != plans.size())
        fail("the HIP fatbin reader finds " + std::to_string(listing.bundles.size()) +
             " bundles, the rewriter " + std::to_string(plans.size()) + "; refusing to rewrite");
    for (std::size_t b = 0; b < plans.size(); ++b) {
        EntryPlan& p = plans[b];
        const auto& lb = listing.bundles[b];
        if (lb.offset != p.at || lb.entry_count != p.parsed.entries.size())
            fail(where(p) + ": the HIP fatbin reader and the rewriter disagree on it");
        std::vector<std::string> untouched, targets;
        for (std::size_t i = 0; i < p.parsed.entries.size(); ++i) {
            const auto& e = listing.entries[lb.first_entry + i];
            if (e.id != p.parsed.entries[i].id) fail(where(p) + ": entry IDs disagree");
            bool device = (e.kind == amd::OffloadKind::hip || e.kind == amd::OffloadKind::hipv4) &&
                          e.size > 0 && e.triple.starts_with("amdgcn-amd-amdhsa");
            std::string key;
            bool kept = true;
            if (device) {
                if (!e.target_id.empty() && !amd::parse_target_id(e.target_id))
                    fail(where(p) + ": entry " + e.id + " names no valid AMD GPU target ID");
                if (e.target_id.empty() && !e.header.is_amdgpu)
                    fail(where(p) + ": entry " + e.id +
                         " has no target ID and no AMD GPU code object header (" + e.header.error +
                         ")");
                key = e.target_id.empty() ? e.target.str() : e.target_id;
                targets.push_back(key);
                ++p.device;
                r.arch_before[key] += e.size;
                if (e.target.processor.find("generic") != std::string::npos)
                    untouched.push_back(e.id + " (a generic target: kept)");
                else
                    kept = std::any_of(kept_ids.begin(), kept_ids.end(),
                                       [&](const auto& k) { return kept_by(e.target, k); });
                if (kept) ++p.device_kept;
            } else if (e.kind != amd::OffloadKind::host && e.size > 0) {
                untouched.push_back(e.id);
            }
            p.device_keys.push_back(key);
            if (kept) p.keep.push_back(i);
        }
        if (!untouched.empty())
            r.left_alone.push_back(
                where(p) + ": entries that are not HIP code objects for a " +
                "kept target's processor family kept untouched: " + tailor_join(untouched));
        if (p.device > 0 && p.device_kept == 0)
            r.left_alone.push_back(where(p) + ": no code object for the kept targets (" +
                                   keep.str() + "; it has " + tailor_join(targets) +
                                   "); left as it was");
        p.rewrite = p.device_kept > 0 && p.device_kept < p.device;
        if (!p.rewrite) p.keep.clear();
        for (std::size_t i = 0; i < p.parsed.entries.size(); ++i) {
            const auto& key = p.device_keys[i];
            bool stays = !p.rewrite || std::find(p.keep.begin(), p.keep.end(), i) != p.keep.end();
            if (key.empty() || !stays) continue;
            r.arch_after[key] += p.parsed.entries[i].size;
            ++r.entries_after;
        }
        r.entries_before += p.device;
    }
}

void zero(std::string& s, std::uint64_t off, std::uint64_t len) {
    std::memset(s.data() + off, 0, len);
}

// Rewrites the bundles planned for it in `work` (a copy of the file); base = section offset.
void rewrite(std::string& work, std::uint64_t base, std::vector<EntryPlan>& plans,
             device_code::FileReport& r) {
    for (auto& p : plans) {
        if (!p.rewrite) continue;
        std::uint64_t at = base + p.at;
        if (!p.compressed) {
            std::vector<ccob::Entry> kept;
            for (auto i : p.keep) kept.push_back(p.parsed.entries[i]);
            std::string table = ccob::table_bytes(kept);
            std::memcpy(work.data() + at, table.data(), table.size());
            zero(work, at + table.size(), p.parsed.table_end - table.size());
            r.zeroed += p.parsed.table_end - table.size();
            for (std::size_t i = 0; i < p.parsed.entries.size(); ++i) {
                const auto& e = p.parsed.entries[i];
                if (e.size == 0 || std::find(p.keep.begin(), p.keep.end(), i) != p.keep.end())
                    continue;
                zero(work, at + e.offset, e.size);
                r.zeroed += e.size;
                r.dropped.emplace_back(at + e.offset, e.size);
            }
            continue;
        }
        std::string pruned = ccob::rebuild_bundle(p.data, p.parsed, p.keep);
        std::string packed = ccob::encode(p.version, p.method, pruned, p.span);
        if (packed.empty()) {
            r.left_alone.push_back(where(p) + ": the pruned bundle does not fit in its " +
                                   std::to_string(p.span) +
                                   " compressed bytes once recompressed; left as it was");
            p.rewrite = false;
            for (std::size_t i = 0; i < p.parsed.entries.size(); ++i) {
                const auto& key = p.device_keys[i];
                bool was_kept = std::find(p.keep.begin(), p.keep.end(), i) != p.keep.end();
                if (key.empty() || was_kept) continue;
                r.arch_after[key] += p.parsed.entries[i].size; // stays after all
                ++r.entries_after;
            }
            continue;
        }
        std::memcpy(work.data() + at, packed.data(), packed.size());
        zero(work, at + packed.size(), p.span - packed.size());
        p.new_span = packed.size();
        r.zeroed += p.span - packed.size();
        if (p.span > packed.size())
            r.dropped.emplace_back(at + packed.size(), p.span - packed.size());
    }
    std::sort(r.dropped.begin(), r.dropped.end());
}

// The proof: compat's reader lists exactly the kept entries at the same bundle starts, each kept
// code object is byte-identical to the original's, a rebuilt CCOB decodes with a matching hash
// and is followed by zeros, untouched bundles and every byte outside the section are unchanged.
void prove(std::string_view orig, std::string_view work, Range sec,
           const std::vector<EntryPlan>& plans, const std::string& path) {
    if (std::memcmp(orig.data(), work.data(), sec.off) != 0 ||
        std::memcmp(orig.data() + sec.off + sec.len, work.data() + sec.off + sec.len,
                    orig.size() - sec.off - sec.len) != 0)
        fail("proof failed: bytes outside the section changed");
    auto listing = amd::read_hip_fatbin_bytes(work, path);
    if (listing.bundles.size() != plans.size())
        fail("proof failed: the rewritten section holds " + std::to_string(listing.bundles.size()) +
             " bundles, not " + std::to_string(plans.size()));
    for (std::size_t b = 0; b < plans.size(); ++b) {
        const EntryPlan& p = plans[b];
        const auto& lb = listing.bundles[b];
        std::uint64_t at = sec.off + p.at;
        std::string bad = "proof failed: " + where(p) + ": ";
        if (lb.offset != p.at) fail(bad + "the bundle moved");
        if (!p.rewrite) {
            if (orig.substr(at, p.span) != work.substr(at, p.span)) fail(bad + "it changed");
            if (lb.entry_count != p.parsed.entries.size()) fail(bad + "entries changed");
            continue;
        }
        if (lb.entry_count != p.keep.size()) fail(bad + "it lists other entries than the kept");
        std::optional<ccob::Compressed> c;
        ccob::Bundle again;
        if (p.compressed) {
            c = ccob::decode(work.substr(at, p.new_span), amd::HipFatbinOptions{}.max_decompressed);
            again = ccob::parse_bundle(c->data);
            if (c->span != p.new_span || c->version != p.version || c->method != p.method)
                fail(bad + "the rebuilt CCOB does not read back as written");
            if (work.substr(at + p.new_span, p.span - p.new_span).find_first_not_of('\0') !=
                std::string_view::npos)
                fail(bad + "the bytes after the rebuilt CCOB are not zero");
        } else {
            again = ccob::parse_bundle(work.substr(at, sec.len - p.at));
        }
        if (again.entries.size() != p.keep.size()) fail(bad + "entry count differs");
        for (std::size_t k = 0; k < p.keep.size(); ++k) {
            const auto& want = p.parsed.entries[p.keep[k]];
            const auto& got = again.entries[k];
            const auto& listed = listing.entries[lb.first_entry + k];
            if (got.id != want.id || got.size != want.size || listed.id != want.id ||
                listed.size != want.size)
                fail(bad + "entry " + std::to_string(k) + " is not " + want.id);
            std::string_view before = p.compressed
                                          ? std::string_view(p.data).substr(want.offset, want.size)
                                          : orig.substr(at + want.offset, want.size);
            std::string_view after = p.compressed
                                         ? std::string_view(c->data).substr(got.offset, got.size)
                                         : work.substr(at + got.offset, got.size);
            if (!p.compressed && got.offset != want.offset) fail(bad + want.id + " moved");
            if (before != after) fail(bad + "the code object " + want.id + " changed");
        }
    }
}

std::optional<std::string> parse_hip_target(const std::string& item) {
    std::string lower = item;
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (!lower.starts_with("gfx") && !lower.starts_with("amdgcn-")) return std::nullopt;
    auto id = amd::parse_target_id(item);
    return id ? std::optional<std::string>(id->str()) : std::nullopt;
}

} // namespace

device_code::KeepGrammar hip_keep_grammar() {
    return {"hip",    "an AMD target",  "AMD GPUs as target IDs (gfx90a, gfx90a:xnack-)",
            "gfx942", parse_hip_target, nullptr,
            nullptr};
}

device_code::FileReport tailor_hip(std::string& elf, const device_code::KeepSet& keep,
                                   const std::string& path, bool write) {
    device_code::FileReport r{.path = path, .vendor = "hip", .file_size = elf.size()};
    if (keep.targets("hip").empty()) return r;
    try {
        std::string_view view(elf);
        auto sec = locate_section(view);
        if (!sec) return r;
        auto plans = parse_section(view.substr(sec->off, sec->len));
        auto listing = amd::read_hip_fatbin_bytes(view, ".hip_fatbin");
        classify(plans, listing, keep, r);
        if (std::none_of(plans.begin(), plans.end(), [](const EntryPlan& p) { return p.rewrite; }))
            return r;
        std::string work = elf;
        rewrite(work, sec->off, plans, r);
        if (std::none_of(plans.begin(), plans.end(),
                         [](const EntryPlan& p) { return p.rewrite; })) {
            r.zeroed = 0;
            r.dropped.clear();
            return r;
        }
        prove(view, work, *sec, plans, ".hip_fatbin");
        if (write) std::memcpy(elf.data() + sec->off, work.data() + sec->off, sec->len);
        r.outcome = device_code::FileReport::Outcome::changed;
    } catch (const std::exception& e) {
        device_code::FileReport refused;
        refused.path = path;
        refused.vendor = "hip";
        refused.file_size = elf.size();
        refused.outcome = device_code::FileReport::Outcome::refused;
        refused.refused = e.what();
        return refused;
    }
    return r;
}

} // namespace gantry::gpu_vendors::amd
