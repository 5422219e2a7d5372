// Fuzzes layer extraction (layer/unpack + layer/extract): a layer blob (plain tar, gzip or zstd,
// sniffed) unpacked into a fresh scratch root, rootless and, for inputs whose size is odd (the
// fuzzer's choice), privileged (chown, device nodes, setuid bits, security.* xattrs). Whatever
// the entries say, nothing may land outside the root: after each run the root's parent must
// hold the root and the sentinel file beside it, untouched, and nothing else. And when the
// tar-split recorded beside it is usable and the tree has every file it names (what the importer
// checks before it keeps one copy), the tar rebuilt from the tree must be the input's exactly:
// the store drops the blob on that, and a v2 tree digest (`fsck --deep`) relies on it.
#include "fuzz_support.hpp"
#include "layer/unpack.hpp"
#include "oci/digest.hpp"
#include "store/layer_tar.hpp"
#include "util/fd.hpp"

#include <fcntl.h>
#include <sys/stat.h>

using namespace gantry;
namespace stdfs = std::filesystem;

namespace {

// The names in dir, sorted.
std::vector<std::string> listing(const stdfs::path& dir) {
    std::vector<std::string> out;
    for (auto& e : stdfs::directory_iterator(dir)) out.push_back(e.path().filename().string());
    std::sort(out.begin(), out.end());
    return out;
}

void remove_tree(const stdfs::path& p) {
    // extraction may leave directories without write or search permission (mode 0000 dirs)
    std::error_code ec;
    for (auto it = stdfs::recursive_directory_iterator(
             p, stdfs::directory_options::skip_permission_denied, ec);
         !ec && it != stdfs::recursive_directory_iterator(); it.increment(ec))
        if (it->is_directory(ec) && !it->is_symlink(ec)) ::chmod(it->path().c_str(), 0700);
    stdfs::remove_all(p, ec);
    FUZZ_CHECK(!ec);
}

} // namespace

GANTRY_FUZZ_TARGET(layer_tar) {
    const stdfs::path parent = fuzz::Scratch::dir() / "parent";
    const stdfs::path root = parent / "root";
    const stdfs::path sentinel = parent / "sentinel";
    static const std::vector<std::string> expected = {"root", "sentinel"};
    if (!stdfs::exists(sentinel)) {
        stdfs::create_directories(parent);
        fuzz::write_scratch_file("parent/sentinel", "untouched");
    }
    stdfs::create_directory(root);
    {
        Fd root_fd(::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        FUZZ_CHECK(root_fd.get() >= 0);
        fuzz::MemReader in(fuzz::bytes(data, size));
        layer::ExtractOptions opt{"fuzzed layer", size % 2 == 1};
        layer::UnpackResult r;
        bool unpacked = fuzz::expect_error([&] {
            r = layer::unpack_layer(in, -1, root_fd.get(), opt, true);
            FUZZ_CHECK(r.blob_size == size);
        });
        if (unpacked && r.not_reproducible.empty() &&
            store::check_tree(root, r.tar_split, "fuzzed layer").empty()) {
            auto tar = store::rebuild_tar(root, r.tar_split, oci::Digest::from_hex(r.diff_hex),
                                          "fuzzed layer");
            std::vector<char> chunk(1 << 16);
            std::uint64_t n = 0;
            while (std::size_t k = tar->read(chunk.data(), chunk.size())) n += k; // checks
            FUZZ_CHECK(n == r.diff_size);
        }
    }
    FUZZ_CHECK(listing(parent) == expected);
    struct stat st {};
    FUZZ_CHECK(::lstat(sentinel.c_str(), &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 9);
    FUZZ_CHECK(::lstat(root.c_str(), &st) == 0 && S_ISDIR(st.st_mode));
    // the scratch directory itself holds only the parent (and files other harnesses write)
    FUZZ_CHECK(listing(fuzz::Scratch::dir()) == std::vector<std::string>{"parent"});
    remove_tree(root);
    return 0;
}
