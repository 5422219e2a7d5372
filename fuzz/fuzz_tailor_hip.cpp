// Fuzzes the in-place HIP rewrite (tailor/hip, tailor/ccob): an ELF file with a .hip_fatbin
// section (any other input is wrapped as the .hip_fatbin of a minimal ELF), tailored to a few
// kept sets. Properties: the size never changes; a refused or unchanged file keeps every byte; a
// dry run reports what the write does and changes nothing; a changed file re-reads cleanly with
// compat's reader, has no more code objects than before, and tailoring it again to the same set
// changes nothing more.
#include "fuzz_support.hpp"
#include "gpu_vendors/amd/hip_fatbin.hpp"
#include "gpu_vendors/amd/tailor_hip.hpp"

#include <cstring>

using namespace gantry;

namespace {

// The input as the .hip_fatbin section (at 0x1000) of an ELF64 whose other section is .shstrtab.
std::string wrap(std::string_view section) {
    const std::string names("\0.hip_fatbin\0.shstrtab\0", 23);
    std::string f(0x1000, '\0');
    auto put = [&f](std::size_t at, auto v) { std::memcpy(f.data() + at, &v, sizeof v); };
    std::memcpy(f.data(),
                "\x7f"
                "ELF\x02\x01\x01",
                7);
    put(0x10, std::uint16_t{1});
    put(0x12, std::uint16_t{62});
    f += section;
    std::uint64_t strtab = f.size();
    f += names;
    f.resize((f.size() + 7) / 8 * 8, '\0');
    std::uint64_t shoff = f.size();
    f.resize(shoff + 3 * 64, '\0');
    put(0x28, shoff);
    put(0x34, std::uint16_t{64});
    put(0x3a, std::uint16_t{64});
    put(0x3c, std::uint16_t{3});
    put(0x3e, std::uint16_t{2});
    put(shoff + 64, std::uint32_t{1});
    put(shoff + 68, std::uint32_t{1});
    put(shoff + 64 + 24, std::uint64_t{0x1000});
    put(shoff + 64 + 32, static_cast<std::uint64_t>(section.size()));
    put(shoff + 128, std::uint32_t{13});
    put(shoff + 132, std::uint32_t{3});
    put(shoff + 128 + 24, strtab);
    put(shoff + 128 + 32, static_cast<std::uint64_t>(names.size()));
    return f;
}

device_code::KeepSet keep(std::initializer_list<const char*> ids) {
    device_code::KeepSet k;
    for (auto id : ids) k.by_format["hip"].push_back(gpu_vendors::amd::parse_target_id(id)->str());
    return k;
}

} // namespace

GANTRY_FUZZ_TARGET(tailor_hip) {
    std::string_view in = fuzz::bytes(data, size);
    const std::string original = in.starts_with("\x7f"
                                                "ELF")
                                     ? std::string(in)
                                     : wrap(in);
    static const device_code::KeepSet sets[] = {keep({"gfx90a"}), keep({"gfx90a:xnack-"}),
                                                keep({"gfx1030", "gfx908"}),
                                                keep({"gfx940:sramecc+:xnack+"})};
    for (const auto& k : sets) {
        std::string dry = original;
        auto predicted = gpu_vendors::amd::tailor_hip(dry, k, "fuzzed", false);
        FUZZ_CHECK(dry == original);
        std::string elf = original;
        auto r = gpu_vendors::amd::tailor_hip(elf, k, "fuzzed");
        FUZZ_CHECK(elf.size() == original.size());
        FUZZ_CHECK(r.outcome == predicted.outcome && r.zeroed == predicted.zeroed &&
                   r.dropped == predicted.dropped && r.arch_after == predicted.arch_after);
        if (r.outcome != device_code::FileReport::Outcome::changed) {
            FUZZ_CHECK(elf == original);
            FUZZ_CHECK(r.outcome == device_code::FileReport::Outcome::unchanged ||
                       !r.refused.empty());
            continue;
        }
        FUZZ_CHECK(elf != original);
        FUZZ_CHECK(r.entries_after < r.entries_before);
        gpu_vendors::amd::read_hip_fatbin_bytes(elf,
                                                "rewritten"); // throws (a finding) if it cannot
        std::string again = elf;
        auto second = gpu_vendors::amd::tailor_hip(again, k, "fuzzed");
        FUZZ_CHECK(second.outcome == device_code::FileReport::Outcome::unchanged);
        FUZZ_CHECK(again == elf);
    }
    return 0;
}
