#include "lazy/prefetch.hpp"

#include "util/error.hpp"
#include "util/log.hpp"

#include <map>
#include <thread>
#include <unistd.h>

namespace gantry::lazy {

std::vector<Piece> plan(const std::vector<PrefetchLayer>& layers,
                        const std::vector<ChunkRef>& working_set, std::uint64_t piece_bytes) {
    std::vector<Piece> out;
    // the working set: each chunk a piece (only offsets a TOC names as a chunk's start)
    std::vector<std::map<std::uint64_t, std::uint64_t>> ends(layers.size());
    if (!working_set.empty())
        for (std::size_t l = 0; l < layers.size(); ++l)
            for (const Node& n : layers[l].toc->nodes)
                for (const Chunk& c : n.chunks) {
                    auto& e = ends[l][c.offset];
                    e = std::max(e, c.end);
                }
    for (const ChunkRef& r : working_set) {
        if (r.layer >= layers.size()) continue;
        auto it = ends[r.layer].find(r.offset);
        if (it == ends[r.layer].end()) continue;
        // one request for chunks read one after the other and close in the blob (a gap of up
        // to kWorkingSetGap is fetched with them: the rest of the layer follows anyway)
        if (!out.empty()) {
            Piece& last = out.back();
            if (last.layer == r.layer && r.offset >= last.begin &&
                r.offset <= last.end + kWorkingSetGap &&
                std::max(last.end, it->second) - last.begin <= piece_bytes) {
                last.end = std::max(last.end, it->second);
                continue;
            }
        }
        out.push_back({r.layer, r.offset, it->second, true});
    }
    // the prioritised files, then everything
    for (std::uint32_t l = 0; l < layers.size(); ++l)
        if (std::uint64_t mark = layers[l].toc->prefetch_landmark)
            for (auto [b, e] : layers[l].map->pieces(0, mark, piece_bytes))
                out.push_back({l, b, e});
    for (std::uint32_t l = 0; l < layers.size(); ++l)
        for (auto [b, e] : layers[l].map->pieces(0, layers[l].map->blob_size(), piece_bytes))
            out.push_back({l, b, e});
    return out;
}

Prefetch::Prefetch(std::vector<PrefetchLayer> layers, std::vector<Piece> pieces,
                   std::shared_ptr<ReadPriority> priority)
    : layers_(std::move(layers)), pieces_(std::move(pieces)), priority_(std::move(priority)) {}

void Prefetch::start(unsigned threads) {
    for (unsigned i = 0; i < threads; ++i) std::thread([this] { work(); }).detach();
}

void Prefetch::work() {
    try {
        for (;;) {
            std::size_t i = next_.fetch_add(1);
            if (i >= pieces_.size()) return;
            const Piece& p = pieces_[i];
            const PrefetchLayer& l = layers_[p.layer];
            for (auto [b, e] : l.map->missing(p.begin, p.end)) {
                if (!p.working_set) priority_->wait_idle();
                l.map->fetching(b, e);
                log::debug(l.blob->what() + ": prefetch of bytes " + std::to_string(b) + "+" +
                           std::to_string(e - b) + (p.working_set ? " (working set)" : ""));
                try {
                    std::string bytes = l.blob->fetch_range(b, static_cast<std::size_t>(e - b));
                    if (::pwrite(l.blob->cache_fd(), bytes.data(), bytes.size(),
                                 static_cast<off_t>(b)) != static_cast<ssize_t>(bytes.size()))
                        throw_errno("cannot write the local copy of " + l.blob->what());
                } catch (...) {
                    l.map->abandon(b, e);
                    throw;
                }
                l.map->mark(b, e);
            }
        }
    } catch (const std::exception& e) {
        std::string msg = std::string("gantry: the background prefetch stopped: ") + e.what() +
                          " (reads still fetch what they need)\n";
        [[maybe_unused]] auto n = ::write(2, msg.data(), msg.size());
    }
}

} // namespace gantry::lazy
