// engine_api/tls_admission.hpp: the bounds on pending TLS handshakes, per source and in all, and
// which pending connection gives its place to a new one.
#include "engine_api/tls_admission.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>

namespace engine_api_tls_admission_test {

using gantry::engine_api::Heard;
using gantry::engine_api::PendingHandshakes;
using gantry::engine_api::PendingLimits;
using gantry::engine_api::source_of;

std::string v4(const char* a) {
    sockaddr_in s{};
    s.sin_family = AF_INET;
    s.sin_port = htons(4242);
    ::inet_pton(AF_INET, a, &s.sin_addr);
    return source_of(reinterpret_cast<const sockaddr*>(&s), sizeof s);
}

std::string v6(const char* a) {
    sockaddr_in6 s{};
    s.sin6_family = AF_INET6;
    ::inet_pton(AF_INET6, a, &s.sin6_addr);
    return source_of(reinterpret_cast<const sockaddr*>(&s), sizeof s);
}

TEST(TlsAdmission, SourcesAreIpv4AddressesAndIpv6Slash64s) {
    EXPECT_EQ(v4("127.0.0.2"), "127.0.0.2");
    EXPECT_EQ(v6("::ffff:10.1.2.3"), "10.1.2.3"); // a dual-stack listener's IPv4 client
    EXPECT_EQ(v6("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
    EXPECT_EQ(v6("2001:db8:1:2:bbbb::9"), v6("2001:db8:1:2::1"));
    EXPECT_NE(v6("2001:db8:1:3::1"), v6("2001:db8:1:2::1"));
}

TEST(TlsAdmission, ASourceAtItsBoundGivesUpItsOwnOldestSilentOne) {
    PendingHandshakes p(PendingLimits{64, 3});
    auto a1 = p.add("a", 10), a2 = p.add("a", 11), a3 = p.add("a", 12);
    p.add("b", 20);
    EXPECT_FALSE(p.room_for("a"));
    EXPECT_TRUE(p.room_for("b"));
    EXPECT_FALSE(p.victim_for("b")); // room: nobody is dropped
    p.heard(a1, Heard::hello);
    auto v = p.victim_for("a");
    ASSERT_TRUE(v);
    EXPECT_EQ(v->id, a2); // a1 said more; a2 is the oldest of the silent ones
    EXPECT_EQ(v->fd, 11);
    p.dropped(a2);
    EXPECT_TRUE(p.was_dropped(a2));
    EXPECT_EQ(p.victim_for("a")->id, a3); // a2 is on its way out: not chosen twice
    p.remove(a2);
    EXPECT_FALSE(p.was_dropped(a2));
    EXPECT_TRUE(p.room_for("a"));
    EXPECT_EQ(p.from("a"), 2);
    EXPECT_EQ(p.size(), 3);
}

TEST(TlsAdmission, AtTheBoundSilentBeforePartBeforeHelloThenTheHeaviestSourceThenTheOldest) {
    PendingHandshakes p(PendingLimits{6, 4});
    auto a1 = p.add("a", 1), a2 = p.add("a", 2), a3 = p.add("a", 3);
    auto b1 = p.add("b", 4), b2 = p.add("b", 5), c1 = p.add("c", 6);
    EXPECT_FALSE(p.room_for("d"));
    // all silent: the source holding most, its oldest
    EXPECT_EQ(p.victim_for("d")->id, a1);
    // a part of a ClientHello is more than nothing; a whole one more than a part
    for (auto id : {a1, a2, a3}) p.heard(id, Heard::part);
    EXPECT_EQ(p.victim_for("d")->id, b1);
    for (auto id : {b1, b2, c1}) p.heard(id, Heard::hello);
    EXPECT_EQ(p.victim_for("d")->id, a1);
    p.heard(a1, Heard::hello);
    p.heard(a2, Heard::hello);
    p.heard(a3, Heard::hello);
    EXPECT_EQ(p.victim_for("d")->id, a1); // all equal: the heaviest source's oldest
    p.remove(a1);
    p.remove(a2);
    auto d1 = p.add("d", 7);
    p.add("d", 8);
    // a: 1, b: 2, c: 1, d: 2, all whole but d's: d's silent ones go first, its oldest
    EXPECT_EQ(p.victim_for("e")->id, d1);
}

TEST(TlsAdmission, NoVictimWhenEveryCandidateIsAlreadyLeaving) {
    PendingHandshakes p(PendingLimits{2, 2});
    auto a = p.add("x", 1), b = p.add("y", 2);
    p.dropped(a);
    EXPECT_EQ(p.victim_for("z")->id, b);
    p.dropped(b);
    EXPECT_FALSE(p.victim_for("z"));
    EXPECT_FALSE(p.room_for("z")); // their places are theirs until their threads leave
    p.remove(a);
    EXPECT_TRUE(p.room_for("z"));
}

} // namespace engine_api_tls_admission_test
