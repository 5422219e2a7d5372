#include "lazy/local_map.hpp"

#include "util/error.hpp"

#include <algorithm>
#include <unistd.h>

namespace gantry::lazy {

std::vector<std::uint64_t> LocalMap::boundaries(const Toc& toc, std::uint64_t blob_size) {
    std::vector<std::uint64_t> b = {0, blob_size};
    if (toc.toc_offset < blob_size) b.push_back(toc.toc_offset);
    for (const Node& n : toc.nodes)
        for (const Chunk& c : n.chunks) {
            if (c.offset < blob_size) b.push_back(c.offset);
            if (c.end < blob_size) b.push_back(c.end);
        }
    std::sort(b.begin(), b.end());
    b.erase(std::unique(b.begin(), b.end()), b.end());
    return b;
}

std::filesystem::path LocalMap::path_for(const std::filesystem::path& copy) {
    return copy.string() + ".map";
}

LocalMap::LocalMap(std::vector<std::uint64_t> bounds, Fd map)
    : bounds_(std::move(bounds)), fd_(std::move(map)) {
    if (bounds_.size() < 2) bounds_ = {0, 0};
    have_.assign(bounds_.size() - 1, 0);
    if (fd_) {
        // a map of another shape (a damaged one) is all absent from here on
        off_t len = ::lseek(fd_.get(), 0, SEEK_END);
        ssize_t n = ::pread(fd_.get(), have_.data(), have_.size(), 0);
        if (len != static_cast<off_t>(have_.size()) || n != static_cast<ssize_t>(have_.size()))
            have_.assign(have_.size(), 0);
        for (auto& h : have_) h = h == 1 ? 1 : 0;
        if (::ftruncate(fd_.get(), static_cast<off_t>(have_.size())) != 0 ||
            ::pwrite(fd_.get(), have_.data(), have_.size(), 0) !=
                static_cast<ssize_t>(have_.size()))
            throw_errno("cannot write the map of a lazily pulled layer's local copy");
    }
}

std::size_t LocalMap::first_segment(std::uint64_t offset) const {
    auto it = std::upper_bound(bounds_.begin(), bounds_.end(), offset);
    std::size_t i = static_cast<std::size_t>(it - bounds_.begin());
    return i == 0 ? 0 : i - 1;
}

std::vector<std::pair<std::uint64_t, std::uint64_t>> LocalMap::missing(std::uint64_t begin,
                                                                       std::uint64_t end) const {
    std::vector<std::pair<std::uint64_t, std::uint64_t>> out;
    std::lock_guard hold(mu_);
    end = std::min(end, blob_size());
    for (std::size_t i = first_segment(begin); i < have_.size() && bounds_[i] < end; ++i) {
        if (have_[i] != 0) continue; // local, or being fetched
        if (!out.empty() && out.back().second == bounds_[i])
            out.back().second = bounds_[i + 1];
        else
            out.emplace_back(bounds_[i], bounds_[i + 1]);
    }
    return out;
}

void LocalMap::mark(std::uint64_t begin, std::uint64_t end) {
    {
        std::lock_guard hold(mu_);
        end = std::min(end, blob_size());
        std::size_t from = first_segment(begin), to = from;
        while (to < have_.size() && bounds_[to] < end) have_[to++] = 1;
        // a failed write only costs a later fetch (the map is a hint)
        if (fd_ && to > from) {
            [[maybe_unused]] ssize_t n =
                ::pwrite(fd_.get(), have_.data() + from, to - from, static_cast<off_t>(from));
        }
    }
    fetched_.notify_all();
}

void LocalMap::fetching(std::uint64_t begin, std::uint64_t end) {
    std::lock_guard hold(mu_);
    for (std::size_t i = first_segment(begin); i < have_.size() && bounds_[i] < end; ++i)
        if (have_[i] == 0) have_[i] = 2;
}

std::vector<std::pair<std::uint64_t, std::uint64_t>> LocalMap::claim(std::uint64_t begin,
                                                                     std::uint64_t end) {
    std::vector<std::pair<std::uint64_t, std::uint64_t>> out;
    std::lock_guard hold(mu_);
    end = std::min(end, blob_size());
    for (std::size_t i = first_segment(begin); i < have_.size() && bounds_[i] < end; ++i) {
        if (have_[i] != 0) continue;
        have_[i] = 2;
        if (!out.empty() && out.back().second == bounds_[i])
            out.back().second = bounds_[i + 1];
        else
            out.emplace_back(bounds_[i], bounds_[i + 1]);
    }
    return out;
}

std::uint64_t LocalMap::mark_whole(std::uint64_t begin, std::uint64_t end) {
    std::uint64_t upto = begin;
    {
        std::lock_guard hold(mu_);
        end = std::min(end, blob_size());
        std::size_t i = first_segment(begin), from = i;
        if (i < have_.size() && bounds_[i] < begin) from = ++i; // starts before BEGIN
        for (; i < have_.size() && bounds_[i + 1] <= end; ++i) have_[i] = 1;
        if (i == from) return begin;
        upto = bounds_[i];
        // a failed write only costs a later fetch (the map is a hint)
        if (fd_) [[maybe_unused]]
            ssize_t n =
                ::pwrite(fd_.get(), have_.data() + from, i - from, static_cast<off_t>(from));
    }
    fetched_.notify_all();
    return upto;
}

void LocalMap::abandon(std::uint64_t begin, std::uint64_t end) {
    {
        std::lock_guard hold(mu_);
        for (std::size_t i = first_segment(begin); i < have_.size() && bounds_[i] < end; ++i)
            if (have_[i] == 2) have_[i] = 0;
    }
    fetched_.notify_all();
}

void LocalMap::wait_fetching(std::uint64_t begin, std::uint64_t end,
                             std::chrono::milliseconds timeout) {
    std::unique_lock hold(mu_);
    fetched_.wait_for(hold, timeout, [&] {
        for (std::size_t i = first_segment(begin); i < have_.size() && bounds_[i] < end; ++i)
            if (have_[i] == 2) return false;
        return true;
    });
}

std::uint64_t LocalMap::local_bytes() const {
    std::lock_guard hold(mu_);
    std::uint64_t n = 0;
    for (std::size_t i = 0; i < have_.size(); ++i)
        if (have_[i] == 1) n += bounds_[i + 1] - bounds_[i];
    return n;
}

void LocalMap::clear() {
    std::lock_guard hold(mu_);
    have_.assign(have_.size(), 0);
    if (fd_) [[maybe_unused]]
        ssize_t n = ::pwrite(fd_.get(), have_.data(), have_.size(), 0);
}

std::vector<std::pair<std::uint64_t, std::uint64_t>>
LocalMap::pieces(std::uint64_t begin, std::uint64_t end, std::uint64_t max) const {
    std::vector<std::pair<std::uint64_t, std::uint64_t>> out;
    end = std::min(end, blob_size());
    std::uint64_t at = begin;
    for (std::size_t i = first_segment(begin); i < have_.size() && bounds_[i] < end; ++i) {
        std::uint64_t seg_end = std::min(bounds_[i + 1], end);
        if (seg_end - at > max && bounds_[i] > at) { // close the piece before this segment
            out.emplace_back(at, bounds_[i]);
            at = bounds_[i];
        }
        if (seg_end - at >= max || seg_end == end) {
            out.emplace_back(at, seg_end);
            at = seg_end;
        }
    }
    return out;
}

} // namespace gantry::lazy
