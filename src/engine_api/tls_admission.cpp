// The pending TLS handshakes' bookkeeping (engine_api/tls_admission.hpp).
#include "engine_api/tls_admission.hpp"

#include <arpa/inet.h>
#include <cstring>
#include <netinet/in.h>
#include <tuple>

namespace gantry::engine_api {

std::string source_of(const sockaddr* peer, socklen_t len) {
    char text[INET6_ADDRSTRLEN] = {};
    if (peer->sa_family == AF_INET && len >= static_cast<socklen_t>(sizeof(sockaddr_in))) {
        const auto* a = reinterpret_cast<const sockaddr_in*>(peer);
        ::inet_ntop(AF_INET, &a->sin_addr, text, sizeof text);
        return text;
    }
    if (peer->sa_family == AF_INET6 && len >= static_cast<socklen_t>(sizeof(sockaddr_in6))) {
        in6_addr a = reinterpret_cast<const sockaddr_in6*>(peer)->sin6_addr;
        if (IN6_IS_ADDR_V4MAPPED(&a)) { // a dual-stack listener's IPv4 client
            ::inet_ntop(AF_INET, &a.s6_addr[12], text, sizeof text);
            return text;
        }
        std::memset(&a.s6_addr[8], 0, 8); // its /64
        ::inet_ntop(AF_INET6, &a, text, sizeof text);
        return std::string(text) + "/64";
    }
    return "";
}

bool PendingHandshakes::room_for(const std::string& source) const {
    return size() < limits_.pending && from(source) < limits_.per_source;
}

int PendingHandshakes::from(const std::string& source) const {
    auto it = per_source_.find(source);
    return it == per_source_.end() ? 0 : it->second;
}

std::optional<PendingHandshakes::Victim>
PendingHandshakes::victim_for(const std::string& source) const {
    if (room_for(source)) return std::nullopt;
    const bool own = from(source) >= limits_.per_source;
    const Entry* best = nullptr;
    // least heard first, then the most pending from its source; entries_ is oldest first, so
    // the first of equals is the oldest
    auto key = [this](const Entry& e) { return std::make_tuple(e.heard, -from(e.source)); };
    for (const auto& e : entries_) {
        if (e.dropped || (own && e.source != source)) continue;
        if (!best || key(e) < key(*best)) best = &e;
    }
    if (!best) return std::nullopt;
    return Victim{best->id, best->fd};
}

PendingHandshakes::Id PendingHandshakes::add(const std::string& source, int fd) {
    Id id = next_++;
    entries_.push_back(Entry{id, source, fd});
    ++per_source_[source];
    return id;
}

std::list<PendingHandshakes::Entry>::const_iterator PendingHandshakes::find(Id id) const {
    for (auto it = entries_.begin(); it != entries_.end(); ++it)
        if (it->id == id) return it;
    return entries_.end();
}

void PendingHandshakes::heard(Id id, Heard h) {
    for (auto& e : entries_)
        if (e.id == id) e.heard = h;
}

void PendingHandshakes::dropped(Id id) {
    for (auto& e : entries_)
        if (e.id == id) e.dropped = true;
}

bool PendingHandshakes::was_dropped(Id id) const {
    auto it = find(id);
    return it != entries_.end() && it->dropped;
}

void PendingHandshakes::remove(Id id) {
    auto it = find(id);
    if (it == entries_.end()) return;
    if (--per_source_[it->source] == 0) per_source_.erase(it->source);
    entries_.erase(it);
}

} // namespace gantry::engine_api
