// Fuzzes layer extraction (layer/unpack + layer/extract): a layer blob (plain tar, gzip or zstd,
// sniffed) unpacked into a fresh scratch root, rootless and, for inputs whose size is odd (the
// fuzzer's choice), privileged (chown, device nodes, setuid bits, security.* xattrs). Whatever
// the entries say, nothing may land outside the root: after each run the root's parent must
// hold the root and the sentinel file beside it, untouched, and nothing else. And the tree digest
// that takes the files' content digests from the extraction is the one that reads the files.
#include "fuzz_support.hpp"
#include "layer/unpack.hpp"
#include "store/tree_digest.hpp"
#include "util/fd.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unordered_map>

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

// The regular files' sizes under dir, holes included (a tree digest reads that much).
std::uint64_t apparent_bytes(const stdfs::path& dir) {
    std::uint64_t n = 0;
    std::error_code ec;
    for (auto it = stdfs::recursive_directory_iterator(
             dir, stdfs::directory_options::skip_permission_denied, ec);
         !ec && it != stdfs::recursive_directory_iterator(); it.increment(ec))
        if (it->is_regular_file(ec) && !it->is_symlink(ec)) n += it->file_size(ec);
    return n;
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
        // the files' digests as extracted (the importer's tree digest takes them): the tree
        // digest with them must be the one that reads every file
        std::unordered_map<std::uint64_t, std::string> content;
        opt.content_sha256 = &content;
        bool unpacked = fuzz::expect_error([&] {
            auto r = layer::unpack_layer(in, -1, root_fd.get(), opt);
            FUZZ_CHECK(r.blob_size == size);
        });
        if (unpacked && apparent_bytes(root) <= (64u << 20)) { // a sparse giant: not read
            std::string by_reading, by_extraction;
            fuzz::expect_error([&] { by_reading = store::tree_digest(root).digest; });
            fuzz::expect_error([&] { by_extraction = store::tree_digest(root, &content).digest; });
            FUZZ_CHECK(by_reading == by_extraction);
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
