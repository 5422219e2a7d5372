// tailor/cuda_proof: proves a rewritten file before tailor_cuda returns it (cuda_detail.hpp):
// bytes outside the rewritten containers unchanged (SHA-256), and each rewritten container
// re-read by two readers, this module's exact one and compat/fatbin's, listing exactly the kept
// entries with their original bytes.
#include "gpu_vendors/nvidia/tailor_cuda_detail.hpp"
#include "util/hash.hpp"

#include <algorithm>
#include <cstring>
#include <map>

namespace gantry::gpu_vendors::nvidia::cuda_detail {

std::string outside_digest(std::string_view f, const std::vector<Container>& cs,
                           const std::vector<Plan>& plans) {
    std::vector<std::pair<std::uint64_t, std::uint64_t>> ranges;
    for (auto& p : plans) ranges.emplace_back(cs[p.container].off, cs[p.container].end());
    std::sort(ranges.begin(), ranges.end());
    Sha256 h;
    std::uint64_t at = 0;
    for (auto& [b, e] : ranges) {
        h.update(f.data() + at, b - at);
        at = e;
    }
    h.update(f.data() + at, f.size() - at);
    return h.hex_final();
}

std::string prove(std::string_view f, const elf::Section& nv, const std::vector<Container>& cs,
                  const std::vector<Plan>& plans, const std::vector<std::string>& originals,
                  const std::string& digest) {
    if (outside_digest(f, cs, plans) != digest)
        return "bytes outside the rewritten containers changed";

    // 1. The exact parser: the section still tiles, with the same container starts.
    std::vector<Container> again;
    if (auto why = parse_exact(f, nv.off, nv.size, nv.name, again); !why.empty())
        return "the result does not re-read exactly: " + why;
    std::map<std::uint64_t, const Container*> by_off;
    for (auto& c : again) by_off[c.off] = &c;
    if (again.size() != cs.size()) return "the result has a different number of containers";

    // 2. compat/fatbin's reader over the section's bytes (offsets relative to the section).
    nvidia::FatbinOptions o;
    o.cubin = nvidia::FatbinOptions::Cubin::none;
    auto scan = nvidia::scan_fatbin_bytes(f.substr(nv.off, nv.size), o);
    if (!scan.problems.empty()) return "compat/fatbin reads the result: " + scan.problems.front();
    std::map<std::uint64_t, const nvidia::FatbinContainer*> scanned;
    for (auto& c : scan.containers) scanned[nv.off + c.offset] = &c;

    for (std::size_t i = 0; i < plans.size(); ++i) {
        const Container& before = cs[plans[i].container];
        const std::string& orig = originals[i];
        const std::string where = "container at " + hex(before.off);
        auto it = by_off.find(before.off);
        if (it == by_off.end()) return where + " is gone";
        const Container& now = *it->second;
        if (now.fat != plans[i].new_fat)
            return where + ": fatSize " + std::to_string(now.fat) + ", expected " +
                   std::to_string(plans[i].new_fat);
        auto sc = scanned.find(before.off);
        if (sc == scanned.end()) return where + ": compat/fatbin does not find it";
        const nvidia::FatbinContainer& sc_c = *sc->second;
        if (!sc_c.error.empty()) return where + ": compat/fatbin: " + sc_c.error;
        // Expected: the kept entries, in order, from container+16.
        std::size_t k = 0;
        std::uint64_t at = before.off + kContainerHeader;
        for (std::size_t j = 0; j < before.entries.size(); ++j) {
            if (!plans[i].keep[j]) continue;
            const Entry& want = before.entries[j];
            if (k >= now.entries.size() || k >= sc_c.entry_count)
                return where + ": kept entry " + want.arch_name() + " is missing";
            const Entry& got = now.entries[k];
            const nvidia::FatbinEntry& se = scan.entries[sc_c.first_entry + k];
            if (got.off != at || got.size() != want.size() || nv.off + se.offset != at ||
                se.disk_size() != want.size() || se.arch_name() != want.arch_name())
                return where + ": entry " + std::to_string(k) + " is not the kept " +
                       want.arch_name() + " at " + hex(at);
            if (std::memcmp(f.data() + at, orig.data() + (want.off - before.off), want.size()))
                return where + ": kept entry " + want.arch_name() +
                       " differs from the original's bytes";
            at += want.size();
            ++k;
        }
        if (k != now.entries.size() || k != sc_c.entry_count)
            return where + ": " + std::to_string(now.entries.size()) + " entries, expected " +
                   std::to_string(k);
        const char* z = f.data() + at;
        if (!std::all_of(z, f.data() + before.end(), [](char c) { return c == 0; }))
            return where + ": the freed tail is not zero";
        if (std::memcmp(f.data() + before.off, orig.data(), 8) != 0)
            return where + ": header magic/version changed";
    }
    return {};
}

} // namespace gantry::gpu_vendors::nvidia::cuda_detail
