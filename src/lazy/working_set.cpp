#include "lazy/working_set.hpp"

#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/log.hpp"

#include <cstdlib>
#include <fcntl.h>
#include <unistd.h>

namespace gantry::lazy {

namespace {

constexpr std::uint64_t kMaxBytes = 64u << 20;

store::stdfs::path dir_of(const store::Store& store) {
    return store.root() / "lazy" / "working-sets";
}

// the working set in the file PATH, empty when there is none or it is damaged
std::vector<ChunkRef> load_file(const std::string& path) {
    std::vector<ChunkRef> out;
    std::string text;
    try {
        text = fs::read_file(path, kMaxBytes);
    } catch (const Error&) {
        return out;
    }
    std::size_t at = 0;
    while (at < text.size()) {
        std::size_t nl = text.find('\n', at);
        if (nl == std::string::npos) break; // a torn last line is not used
        std::string line = text.substr(at, nl - at);
        at = nl + 1;
        char* end = nullptr;
        unsigned long layer = std::strtoul(line.c_str(), &end, 10);
        if (!end || *end != ' ') return {}; // damaged: no order rather than a wrong one
        unsigned long long off = std::strtoull(end + 1, &end, 10);
        if (!end || *end != '\0' || layer > 1u << 16) return {};
        out.push_back({static_cast<std::uint32_t>(layer), off});
    }
    return out;
}

} // namespace

std::string WorkingSet::shared_dir() {
    const char* v = std::getenv("GANTRY_LAZY_WORKING_SETS");
    if (!v || !*v) return "";
    std::error_code ec;
    if (v[0] != '/' || !fs::stdfs::is_directory(v, ec))
        throw Error(Errc::usage,
                    std::string("GANTRY_LAZY_WORKING_SETS=") + v +
                        " is not the absolute path of a directory",
                    "name a directory the nodes share (made beforehand), or unset it");
    return v;
}

std::vector<ChunkRef> WorkingSet::load(const store::Store& store, const std::string& hex) {
    auto out = load_file((dir_of(store) / hex).string());
    std::string shared = shared_dir();
    if (out.empty() && !shared.empty()) out = load_file(shared + "/" + hex);
    return out;
}

WorkingSet::WorkingSet(const store::Store& store, const std::string& hex) {
    auto dir = dir_of(store);
    final_ = (dir / hex).string();
    std::string shared = shared_dir();
    if (!shared.empty()) shared_ = shared + "/" + hex;
    if (::access(final_.c_str(), F_OK) == 0) { // recorded by an earlier run
        try { // the nodes' shared copy, where it is missing or damaged
            if (!shared_.empty() && load_file(shared_).empty() && !load_file(final_).empty())
                fs::write_atomic(shared_, fs::read_file(final_, kMaxBytes), 0600);
        } catch (const Error& e) {
            log::warn("the working set of a lazily pulled image was not shared: " + e.message());
        }
        return;
    }
    fs::stdfs::create_directories(dir);
    recording_ = final_ + ".rec-" + std::to_string(::getpid());
    fd_ = Fd(::open(recording_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600));
    if (!fd_)
        throw_errno("cannot record the working set of a lazily pulled image in " + dir.string());
}

void WorkingSet::read(ChunkRef c) {
    if (!fd_) return;
    std::lock_guard hold(mu_);
    if (!seen_.insert(c).second) return;
    std::string line = std::to_string(c.layer) + " " + std::to_string(c.offset) + "\n";
    // one write per line (O_APPEND): a record cut short loses its last line, never mixes two;
    // a failed write only costs the next run its order
    [[maybe_unused]] ssize_t n = ::write(fd_.get(), line.data(), line.size());
}

void WorkingSet::publish() {
    if (!fd_) return;
    fd_.reset();
    try {
        std::string text = fs::read_file(recording_, kMaxBytes);
        if (!text.empty() && ::access(final_.c_str(), F_OK) != 0)
            fs::write_atomic(final_, text, 0600);
        // the nodes' shared copy: renamed into place whole, so a reader sees all or nothing
        if (!text.empty() && !shared_.empty() && load_file(shared_).empty())
            fs::write_atomic(shared_, text, 0600);
    } catch (const Error& e) {
        log::warn("the working set of a lazily pulled image was not kept: " + e.message());
    }
    ::unlink(recording_.c_str());
}

} // namespace gantry::lazy
