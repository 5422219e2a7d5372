// EXPOSE's port specifications read as BuildKit reads them (image_build/ports.hpp): the forms it
// accepts, the keys they become, and every out-of-range or malformed port refused with a message
// naming it (issue 36: EXPOSE 99999999999999999999/tcp built).
#include "image_build/ports.hpp"
#include "util/error.hpp"

#include <gtest/gtest.h>
#include <random>
#include <string>
#include <vector>

namespace build_ports_test {

using gantry::Errc;
using gantry::Error;
using gantry::image_build::exposed_ports;
using V = std::vector<std::string>;

TEST(BuildPorts, FormsBuildKitAccepts) {
    EXPECT_EQ(exposed_ports("80"), V({"80/tcp"}));
    EXPECT_EQ(exposed_ports("53/udp"), V({"53/udp"}));
    EXPECT_EQ(exposed_ports("53/UDP"), V({"53/udp"}));
    EXPECT_EQ(exposed_ports("9/sctp"), V({"9/sctp"}));
    EXPECT_EQ(exposed_ports("0"), V({"0/tcp"}));
    EXPECT_EQ(exposed_ports("65535"), V({"65535/tcp"}));
    EXPECT_EQ(exposed_ports("8000-8002"), V({"8000/tcp", "8001/tcp", "8002/tcp"}));
    EXPECT_EQ(exposed_ports("7-7/udp"), V({"7/udp"}));
    EXPECT_EQ(exposed_ports("8080:80"), V({"80/tcp"}));
    EXPECT_EQ(exposed_ports("127.0.0.1:8080:80/udp"), V({"80/udp"}));
    EXPECT_EQ(exposed_ports("[::1]:8080:80"), V({"80/tcp"}));
}

void refused(const std::string& word, const std::string& needle) {
    try {
        exposed_ports(word);
        ADD_FAILURE() << word << " was accepted";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::invalid) << word;
        EXPECT_NE(e.message().find("\"" + word + "\""), std::string::npos) << e.message();
        EXPECT_NE(e.message().find(needle), std::string::npos) << e.message();
        EXPECT_FALSE(e.hint().empty()) << word;
    }
}

TEST(BuildPorts, MalformedPortsAreRefusedNamingThem) {
    refused("99999999999999999999/tcp", "out of range");
    refused("65536", "out of range");
    refused("80/icmp", "icmp");
    refused("/tcp", "no port");
    refused("http", "not a number");
    refused("90-80", "ends before");
    refused("-80", "no port number");
    refused("1.2.3:80:80", "not an IP address");
    refused("8080-8081:80-82", "differ in size");
}

TEST(BuildPorts, EveryNumberIsCheckedAgainstTheRange) {
    std::mt19937_64 rng(36);
    for (int i = 0; i < 2000; ++i) {
        std::string digits = std::to_string(rng() % 10 + 1);
        int len = static_cast<int>(rng() % 25);
        for (int k = 0; k < len; ++k) digits += static_cast<char>('0' + rng() % 10);
        bool fits = digits.size() <= 5 && std::stol(digits) <= 65535;
        if (fits) {
            EXPECT_EQ(exposed_ports(digits + "/udp"),
                      V({std::to_string(std::stol(digits)) + "/udp"}));
        } else {
            EXPECT_THROW(exposed_ports(digits + "/udp"), Error) << digits;
        }
    }
}

} // namespace build_ports_test
