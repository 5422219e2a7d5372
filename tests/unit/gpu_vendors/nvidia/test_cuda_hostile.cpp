// tailor_cuda on hostile edits of a library nvcc builds here (libboth.so, uncompressed entries):
// each malformed file is refused and left byte-identical, with a reason naming the place; each
// near miss (a zero gap from an earlier tailoring, a wrapper aimed at another section) is not.
// Skipped when nvcc is not found.
#include "gpu_vendors/nvidia/fatbin.hpp"
#include "gpu_vendors/nvidia/tailor_cuda.hpp"
#include "nvcc_builds.hpp"

#include <cstring>
#include <gtest/gtest.h>

namespace tailor_cuda_hostile_test {

using namespace gantry;
using namespace gantry::device_code;
using namespace gantry::gpu_vendors::nvidia;

namespace {

template <typename T>
T get(const std::string& f, std::uint64_t off) {
    T v{};
    std::memcpy(&v, f.data() + off, sizeof v);
    return v;
}
template <typename T>
void put(std::string& f, std::uint64_t off, T v) {
    std::memcpy(f.data() + off, &v, sizeof v);
}

struct Sec {
    std::string name;
    std::uint64_t hdr, addr, off, size;
};

std::vector<Sec> sections(const std::string& f) {
    std::vector<Sec> out;
    auto shoff = get<std::uint64_t>(f, 0x28);
    auto shnum = get<std::uint16_t>(f, 0x3c), shstrndx = get<std::uint16_t>(f, 0x3e);
    auto stroff = get<std::uint64_t>(f, shoff + shstrndx * 64 + 24);
    for (std::uint64_t i = 0; i < shnum; ++i) {
        std::uint64_t h = shoff + i * 64;
        out.push_back({f.c_str() + stroff + get<std::uint32_t>(f, h), h,
                       get<std::uint64_t>(f, h + 16), get<std::uint64_t>(f, h + 24),
                       get<std::uint64_t>(f, h + 32)});
    }
    return out;
}

Sec section(const std::string& f, const std::string& name) {
    for (auto& s : sections(f))
        if (s.name == name) return s;
    ADD_FAILURE() << "no section " << name;
    return {};
}

KeepSet keep90() {
    KeepSet k;
    k.by_format["cuda"] = {"sm_90"};
    k.options.insert(kNoPtx);
    return k;
}

} // namespace

class TailorCudaHostile : public ::testing::Test {
  protected:
    void SetUp() override {
        if (tailor_test::find_nvcc().empty()) GTEST_SKIP() << "nvcc not found";
        auto& b = tailor_test::nvcc_builds();
        auto it = b.built.find("libboth.so");
        ASSERT_NE(it, b.built.end()) << b.log("libboth.so");
        lib_ = fs::read_file(it->second, 1u << 30);
        for (auto& c : gpu_vendors::nvidia::scan_fatbin_bytes(lib_, {}).containers)
            if (c.region == ".nv_fatbin") cs_.push_back(c);
        fb_ = gpu_vendors::nvidia::scan_fatbin_bytes(lib_, {});
        ASSERT_EQ(cs_.size(), 3u); // nvlink's stub, k.cu, k2.cu
        // The untouched library is rewritten: every refusal below comes from the edit.
        std::string copy = lib_;
        ASSERT_EQ(tailor_cuda(copy, keep90(), "libboth.so").outcome, FileReport::Outcome::changed);
    }

    // Tailors the edited bytes: refused, byte-identical, the reason containing `why`.
    static void refused(std::string bytes, const std::string& why) {
        const std::string edited = bytes;
        for (bool write : {false, true}) {
            auto r = tailor_cuda(bytes, keep90(), "hostile.so", write);
            EXPECT_EQ(r.outcome, FileReport::Outcome::refused) << why;
            EXPECT_NE(r.refused.find(why), std::string::npos) << r.refused;
            EXPECT_TRUE(bytes == edited);
            EXPECT_EQ(r.entries_after, 0u);
            EXPECT_TRUE(r.dropped.empty());
        }
    }

    // The kernel container of k2.cu (the last one) and its entries.
    const gpu_vendors::nvidia::FatbinContainer& last() const { return cs_.back(); }
    const gpu_vendors::nvidia::FatbinEntry& entry(std::size_t i) const {
        return fb_.entries[last().first_entry + i];
    }
    std::string hex(std::uint64_t v) const {
        char b[24];
        std::snprintf(b, sizeof b, "0x%llx", static_cast<unsigned long long>(v));
        return b;
    }

    std::string lib_;
    gpu_vendors::nvidia::FatbinFile fb_;
    std::vector<gpu_vendors::nvidia::FatbinContainer> cs_;
};

TEST_F(TailorCudaHostile, OverlappingEntries) {
    std::string b = lib_;
    // Entry 0 claims 8 bytes of entry 1's header; the last entry gives them back, so the sum
    // still matches fatSize.
    put<std::uint64_t>(b, entry(0).offset + 8, entry(0).size + 8);
    auto n = last().entry_count - 1;
    put<std::uint64_t>(b, entry(n).offset + 8, entry(n).size - 8);
    refused(b, "container at " + hex(last().offset) + " in .nv_fatbin");
}

TEST_F(TailorCudaHostile, EntryPastTheSection) {
    std::string b = lib_;
    put<std::uint64_t>(b, entry(last().entry_count - 1).offset + 8, std::uint64_t{1} << 40);
    refused(b, "runs past the container");
}

TEST_F(TailorCudaHostile, ContainerSpanningTwoSections) {
    std::string b = lib_;
    // .nv_fatbin loses its last 16 bytes to the next section (__nv_module_id follows it).
    auto nv = section(b, ".nv_fatbin");
    auto secs = sections(b);
    put<std::uint64_t>(b, nv.hdr + 32, nv.size - 16);
    for (auto& s : secs)
        if (s.off == nv.off + nv.size && s.size > 0) {
            put<std::uint64_t>(b, s.hdr + 16, s.addr - 16);
            put<std::uint64_t>(b, s.hdr + 24, s.off - 16);
            put<std::uint64_t>(b, s.hdr + 32, s.size + 16);
        }
    refused(b, "runs past the end of .nv_fatbin");
}

TEST_F(TailorCudaHostile, FatSizeDoesNotAddUp) {
    std::string b = lib_;
    put<std::uint64_t>(b, last().offset + 8, last().declared - 16 - 8);
    refused(b, "entries sum to");
    b = lib_;
    put<std::uint64_t>(b, cs_[1].offset + 8, cs_[1].declared - 16 + 8); // eats the next header
    refused(b, "container at " + hex(cs_[1].offset));
}

TEST_F(TailorCudaHostile, UnknownKindAndVersion) {
    std::string b = lib_;
    put<std::uint16_t>(b, entry(1).offset, 3);
    refused(b, "unknown entry kind 3");
    b = lib_;
    put<std::uint16_t>(b, last().offset + 4, 2);
    refused(b, "unknown container version 2");
}

TEST_F(TailorCudaHostile, WrapperIntoTheMiddleOfAContainer) {
    std::string b = lib_;
    auto nv = section(b, ".nv_fatbin");
    auto seg = section(b, ".nvFatBinSegment");
    auto rela = section(b, ".rela.dyn");
    const std::uint64_t target = nv.addr + (last().offset - nv.off);
    bool found = false;
    for (std::uint64_t at = rela.off; at < rela.off + rela.size; at += 24) {
        auto where = get<std::uint64_t>(b, at);
        if (where < seg.addr || where >= seg.addr + seg.size ||
            get<std::uint64_t>(b, at + 16) != target)
            continue;
        put<std::uint64_t>(b, at + 16, target + 16);                      // the addend
        put<std::uint64_t>(b, seg.off + (where - seg.addr), target + 16); // the stored value
        found = true;
    }
    ASSERT_TRUE(found);
    refused(b, "inside .nv_fatbin, not at a container start");
}

TEST_F(TailorCudaHostile, RelocationPatchingTheFatbin) {
    std::string b = lib_;
    auto nv = section(b, ".nv_fatbin");
    auto rela = section(b, ".rela.dyn");
    put<std::uint64_t>(b, rela.off, nv.addr + 64); // the first relocation now patches a container
    refused(b, "inside .nv_fatbin");
}

TEST_F(TailorCudaHostile, BadWrapperMagic) {
    std::string b = lib_;
    put<std::uint32_t>(b, section(b, ".nvFatBinSegment").off + 24, 0x12345678);
    refused(b, "wrapper #1");
}

// Near miss: a wrapper aimed at another section leaves its container alone, nothing refused.
TEST_F(TailorCudaHostile, WrapperIntoAnotherSectionIsLeftAlone) {
    std::string b = lib_;
    auto nv = section(b, ".nv_fatbin");
    auto seg = section(b, ".nvFatBinSegment");
    auto rela = section(b, ".rela.dyn");
    auto rodata = section(b, ".rodata");
    const std::uint64_t target = nv.addr + (last().offset - nv.off);
    for (std::uint64_t at = rela.off; at < rela.off + rela.size; at += 24) {
        auto where = get<std::uint64_t>(b, at);
        if (where < seg.addr || where >= seg.addr + seg.size ||
            get<std::uint64_t>(b, at + 16) != target)
            continue;
        put<std::uint64_t>(b, at + 16, rodata.addr);
        put<std::uint64_t>(b, seg.off + (where - seg.addr), rodata.addr);
    }
    const std::string edited = b;
    auto r = tailor_cuda(b, keep90(), "near-miss.so");
    EXPECT_EQ(r.outcome, FileReport::Outcome::changed) << r.refused;
    EXPECT_EQ(b.substr(last().offset, last().declared),
              edited.substr(last().offset, last().declared));
    bool unreferenced = false, pointed = false;
    for (auto& l : r.left_alone) {
        unreferenced = unreferenced || l == "container at " + hex(last().offset) +
                                                " in .nv_fatbin: no wrapper references it";
        pointed = pointed || l.starts_with(".rodata: ");
    }
    EXPECT_TRUE(unreferenced && pointed);
}

// Near miss: zero gaps left by an earlier tailoring tile; the result tailors again.
TEST_F(TailorCudaHostile, ZeroGapsFromAnEarlierTailoring) {
    std::string b = lib_;
    KeepSet k8090;
    k8090.by_format["cuda"] = {"sm_80", "sm_90"};
    k8090.options.insert(kNoPtx);
    ASSERT_EQ(tailor_cuda(b, k8090, "x").outcome, FileReport::Outcome::changed);
    auto r = tailor_cuda(b, keep90(), "x");
    EXPECT_EQ(r.outcome, FileReport::Outcome::changed) << r.refused;
    // Non-zero bytes in a gap are not a gap.
    b[last().offset + last().declared - 1] = 1;
    refused(b, "non-zero bytes at");
}

} // namespace tailor_cuda_hostile_test
