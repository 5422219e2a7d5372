// Which TLS connections the listener keeps before their handshake is done (tls_front.hpp): the
// bookkeeping of the pending handshakes, apart from the served (authenticated, relayed)
// connections, with no socket of its own. A client that says nothing, or drips its ClientHello,
// holds one pending place until it is dropped: at most `pending` at once, at most `per_source`
// from one source (an IPv4 address, an IPv6 /64), and when a connection arrives with no place
// left the pending one that has shown least is dropped for it (nothing heard before part of a
// ClientHello before a whole one; then the source with the most pending; then the oldest), so a
// silent crowd never keeps out a fresh client that speaks.
#pragma once

#include <cstdint>
#include <list>
#include <map>
#include <optional>
#include <string>
#include <sys/socket.h>

namespace gantry::engine_api {

struct PendingLimits {
    int pending = 64;   // handshakes at once, from everywhere
    int per_source = 8; // handshakes at once from one source
};

// How far a pending connection has come: what the listener has seen of its first TLS record.
enum class Heard { nothing, part, hello };

// The source a connection counts against: its IPv4 address (an IPv4-mapped IPv6 one too), or
// the /64 of an IPv6 one (one host commonly holds a whole /64); "" for another family.
std::string source_of(const sockaddr* peer, socklen_t len);

class PendingHandshakes {
  public:
    using Id = std::uint64_t;
    explicit PendingHandshakes(PendingLimits limits) : limits_(limits) {}

    // Whether a connection from SOURCE may be added now.
    bool room_for(const std::string& source) const;
    // The pending connection to drop so that one from SOURCE gets a place: of SOURCE's own when
    // it holds per_source, else of all; none when there is room, or when every candidate was
    // dropped already (its thread not yet gone). The one that has shown least, then from the
    // source with the most pending, then the oldest.
    struct Victim {
        Id id;
        int fd;
    };
    std::optional<Victim> victim_for(const std::string& source) const;

    Id add(const std::string& source, int fd);
    void heard(Id id, Heard h);
    void dropped(Id id);           // it is being dropped: it is no victim again
    bool was_dropped(Id id) const; // false for an id no longer held
    void remove(Id id);            // its handshake ended, one way or the other
    int size() const { return static_cast<int>(entries_.size()); }
    int from(const std::string& source) const;

  private:
    struct Entry {
        Id id;
        std::string source;
        int fd;
        Heard heard = Heard::nothing;
        bool dropped = false;
    };
    std::list<Entry>::const_iterator find(Id id) const;

    PendingLimits limits_;
    std::list<Entry> entries_; // oldest first
    std::map<std::string, int> per_source_;
    Id next_ = 1;
};

} // namespace gantry::engine_api
