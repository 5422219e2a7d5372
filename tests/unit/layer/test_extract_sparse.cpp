// layer/extract: zero runs are not written (holes): files read back byte-identical, and a file
// of zeros takes almost no disk, whatever the reader's chunking.
#include "extract_helpers.hpp"
#include "layer/extract.hpp"

#include <random>

namespace layer_extract_sparse_test {

using namespace extract_test;
using gantry::layer::extract_tar;
using gantry::layer::ExtractOptions;

namespace {

std::uint64_t allocated(const stdfs::path& p) {
    struct stat st {};
    if (::stat(p.c_str(), &st) != 0) throw std::runtime_error("stat " + p.string());
    return static_cast<std::uint64_t>(st.st_blocks) * 512;
}

std::string slurp_file(const stdfs::path& p) {
    std::ifstream f(p, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(f)), {});
}

gantry::layer::ExtractStats extract(const std::string& tar, int root_fd, std::size_t chunk) {
    StringReader r(tar, chunk);
    ExtractOptions opt;
    opt.what = "sparse test";
    return extract_tar(r, root_fd, opt);
}

// 4 KiB blocks of D holding a byte other than zero, as bytes.
std::uint64_t data_blocks(const std::string& d) {
    std::uint64_t n = 0;
    for (std::size_t b = 0; b < d.size(); b += 4096)
        if (std::string_view(d).substr(b, 4096).find_first_not_of('\0') != std::string::npos)
            n += 4096;
    return n;
}

// Whether this filesystem keeps holes (tmpfs, ext4, xfs, btrfs do).
bool holes_work(const stdfs::path& dir) {
    auto p = dir / "probe";
    Fd fd(::open(p.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
    if (!fd || ::ftruncate(fd.get(), 1 << 20) != 0) return false;
    fd.reset();
    bool ok = allocated(p) < (1 << 20);
    stdfs::remove(p);
    return ok;
}

} // namespace

TEST(ExtractSparse, ContentIdenticalAndZerosUnallocated) {
    std::mt19937 rng(7);
    auto noise = [&](std::size_t n) {
        std::string s(n, '\0');
        for (auto& c : s) c = static_cast<char>(rng() | 1); // never zero
        return s;
    };
    // a quarter of the sizes in the sanitizer build, where the byte loops at -O0 made this the
    // slowest unit suite (30-60 s): every file still spans many 64 KiB extents
#ifdef GANTRY_SANITIZE
    const std::size_t M = 1 << 18;
#else
    const std::size_t M = 1 << 20;
#endif
    std::map<std::string, std::string> files = {
        {"zeros", std::string(8 * M, '\0')},
        {"zeros-odd", std::string(8 * M + 123, '\0')},
        {"head", noise(5000) + std::string(4 * M, '\0')},
        {"tail", std::string(4 * M, '\0') + noise(1)},
        {"middle", noise(4096) + std::string(4 * M, '\0') + noise(4097)},
        {"speck", std::string(2 * M, '\0') + "x" + std::string(2 * M, '\0')},
        {"noise", noise(3 * M + 7)},
        {"small-zeros", std::string(100, '\0')},
        {"unaligned", noise(10) + std::string(9000, '\0') + noise(10) + std::string(8191, '\0')},
    };
    Tar t(64 << 20);
    for (auto& [n, d] : files) t.file(n, d);
    std::string tar = t.str();
    // Several chunkings: the zero detection must not depend on where the reader cuts.
    for (std::size_t chunk : {std::size_t(1) << 20, std::size_t(10240), std::size_t(4093)}) {
        Sandbox sb;
        auto st = extract(tar, sb.root_fd(), chunk);
        std::uint64_t want = 0, bytes = 0;
        for (auto& [n, d] : files) want += data_blocks(d), bytes += d.size();
        EXPECT_EQ(st.allocated, want) << chunk;
        EXPECT_EQ(st.bytes, bytes) << chunk;
        for (auto& [n, d] : files) {
            auto p = sb.root() / n;
            EXPECT_EQ(stdfs::file_size(p), d.size()) << n << " chunk " << chunk;
            EXPECT_TRUE(slurp_file(p) == d) << n << " differs, chunk " << chunk;
        }
        if (!holes_work(sb.top())) {
            std::cerr << "this filesystem keeps no holes: allocation not checked\n";
            continue;
        }
        EXPECT_LE(allocated(sb.root() / "zeros"), 64u * 1024) << chunk;
        EXPECT_LE(allocated(sb.root() / "zeros-odd"), 64u * 1024) << chunk;
        EXPECT_LE(allocated(sb.root() / "speck"), 64u * 1024) << chunk;
        EXPECT_LE(allocated(sb.root() / "head"), 64u * 1024) << chunk;
        EXPECT_LE(allocated(sb.root() / "middle"), 64u * 1024) << chunk;
        EXPECT_GE(allocated(sb.root() / "noise"), 3 * M) << chunk; // nothing to skip
        sb.expect_outside_untouched();
    }
}

} // namespace layer_extract_sparse_test
