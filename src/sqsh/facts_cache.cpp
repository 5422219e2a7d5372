#include "sqsh/facts_cache.hpp"

#include "oci/digest.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/log.hpp"

#include <algorithm>
#include <cerrno>
#include <sys/stat.h>
#include <utility>
#include <vector>

namespace gantry::sqsh {

namespace {

// An answer is at most the header, passwd (4 MiB), a SIF's labels and the framing.
constexpr std::size_t kMaxEntry = kMaxHeader + (4u << 20) + sif::kMaxLabels + 4096 + 65;
constexpr std::size_t kMaxEntries = 1024;

// The entry's name for IMAGE as it is now (SUPER: its superblock's bytes).
std::string key_of(Image& image, const std::string& super, bool want_passwd) {
    struct stat st {};
    if (::fstat(image.fd(), &st) != 0) throw_errno("cannot stat " + image.path());
    std::string id = "gantry-sqsh-facts-3";
    for (auto n :
         {std::uint64_t(st.st_dev), std::uint64_t(st.st_ino), std::uint64_t(st.st_size),
          std::uint64_t(st.st_mtim.tv_sec), std::uint64_t(st.st_mtim.tv_nsec),
          std::uint64_t(st.st_ctim.tv_sec), std::uint64_t(st.st_ctim.tv_nsec),
          std::uint64_t(want_passwd), image.window_offset(), std::uint64_t(image.windowed())})
        id += " " + std::to_string(n);
    id += " ";
    id += super;
    return oci::Digest::of(id).hex();
}

// Keeps at most kMaxEntries in DIR, the most recently written: an entry whose file changed or
// went stays behind (its key is not found again), so a miss makes room. Entries of unrelated
// names (a temporary a killed run left) count too.
void trim(const std::filesystem::path& dir) {
    std::vector<std::pair<std::filesystem::file_time_type, std::filesystem::path>> all;
    std::error_code ec;
    for (auto& e : std::filesystem::directory_iterator(dir, ec)) {
        auto t = e.last_write_time(ec);
        if (!ec) all.emplace_back(t, e.path());
    }
    if (all.size() <= kMaxEntries) return;
    std::sort(all.begin(), all.end());
    for (std::size_t i = 0; i + kMaxEntries < all.size(); ++i)
        std::filesystem::remove(all[i].second, ec);
}

} // namespace

Facts read_facts_cached(Image& image, bool want_passwd, const std::function<void()>& confine,
                        const std::filesystem::path& dir) {
    std::string super_bytes;
    Superblock super = read_superblock(image, &super_bytes);
    auto entry = dir / key_of(image, super_bytes, want_passwd);
    std::error_code ec;
    if (std::filesystem::is_regular_file(entry, ec)) {
        try {
            std::string text = fs::read_file(entry, kMaxEntry);
            // its sha256, a newline, the answer: anything else is torn
            if (text.size() > 65 && text[64] == '\n' &&
                oci::Digest::of(std::string_view(text).substr(65)).hex() == text.substr(0, 64))
                return facts_from(super, std::string_view(text).substr(65), image);
        } catch (const Error& e) { // unreadable or damaged: read the file again, below
            log::debug("the cached facts of " + image.path() + " are not used: " + e.what());
        }
        std::filesystem::remove(entry, ec);
    }
    std::string answer = ask_facts(image, want_passwd, confine);
    Facts facts = facts_from(super, answer, image); // only a good answer is kept
    try {
        std::filesystem::create_directories(dir);
        fs::write_atomic(entry, oci::Digest::of(answer).hex() + "\n" + answer, 0600,
                         fs::Sync::volatile_only);
        trim(dir);
    } catch (const std::exception& e) {
        log::debug("the facts of " + image.path() + " are not cached: " + e.what());
    }
    return facts;
}

} // namespace gantry::sqsh
