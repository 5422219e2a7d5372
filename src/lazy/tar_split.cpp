#include "lazy/tar_split.hpp"

#include "util/error.hpp"

#include <sys/stat.h>

namespace gantry::lazy::tar_split {

namespace {

[[noreturn]] void refuse_check(const std::string& what, const std::string& why) {
    throw Error(Errc::invalid, what + ": the tar-split " + why,
                "the image was damaged or altered; pull it without --lazy, or push it again "
                "with gantry push --compression zstd:chunked");
}

} // namespace

void check(const std::vector<Entry>& entries, const Toc& toc, const std::string& what) {
    for (const Entry& e : entries) {
        if (!e.file || e.size == 0) continue;
        std::uint32_t at = 0;
        for (const std::string& c : components(e.name, what)) {
            const Node& dir = toc.nodes[at];
            auto it = dir.children.find(c);
            if (it == dir.children.end()) {
                at = 0;
                break;
            }
            at = it->second;
        }
        const Node* n = at == 0 ? nullptr : &toc.nodes[at];
        if (!n || !S_ISREG(n->mode))
            refuse_check(what,
                         "names " + e.name.substr(0, 256) + " with " + std::to_string(e.size) +
                             " bytes of content, but it is not a regular file of the table of "
                             "contents");
        if (n->size != e.size)
            refuse_check(what, "says " + e.name.substr(0, 256) + " has " + std::to_string(e.size) +
                                   " bytes; the table of contents says " + std::to_string(n->size));
    }
}

} // namespace gantry::lazy::tar_split
