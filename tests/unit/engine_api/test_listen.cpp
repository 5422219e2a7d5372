// engine_api/listen.hpp: tcp:// URIs and the TLS files' all-or-none rule.
#include "engine_api/listen.hpp"
#include "util/error.hpp"

#include <gtest/gtest.h>

namespace engine_api_listen_test {

using gantry::Error;
using gantry::engine_api::read_tls;
using gantry::engine_api::tcp_endpoint;

TEST(EngineApiListen, TcpUrisNameAHostAndAPort) {
    EXPECT_FALSE(tcp_endpoint("unix:///run/x.sock"));
    auto e = tcp_endpoint("tcp://127.0.0.1:2376");
    ASSERT_TRUE(e);
    EXPECT_EQ(e->host, "127.0.0.1");
    EXPECT_EQ(e->port, "2376");
    e = tcp_endpoint("tcp://[::1]:2375/");
    ASSERT_TRUE(e);
    EXPECT_EQ(e->host, "::1");
    EXPECT_EQ(e->port, "2375");
    EXPECT_EQ(tcp_endpoint("tcp://:2375")->host, "0.0.0.0");
    EXPECT_THROW(tcp_endpoint("tcp://127.0.0.1"), Error);
    EXPECT_THROW(tcp_endpoint("tcp://127.0.0.1:23x"), Error);
    EXPECT_THROW(tcp_endpoint("tcp://127.0.0.1:2375/path"), Error);
    EXPECT_THROW(tcp_endpoint("tcp://[::1"), Error);
}

TEST(EngineApiListen, TlsNeedsItsThreeFilesOrNone) {
    EXPECT_FALSE(read_tls("", "", ""));
    try {
        read_tls("c.pem", "", "ca.pem");
        FAIL() << "a missing key was accepted";
    } catch (const Error& e) {
        EXPECT_NE(e.message().find("--tlskey is missing"), std::string::npos) << e.message();
    }
    EXPECT_THROW(read_tls("/no/such/c.pem", "/no/k.pem", "/no/ca.pem"), Error);
}

} // namespace engine_api_listen_test
