// The run flags docker scripts pass (engine/docker_flags.hpp): -a's streams, signals by name,
// --cidfile and --health-* checks.
#include "engine/docker_flags.hpp"
#include "util/error.hpp"

#include <csignal>
#include <cstdio>
#include <filesystem>
#include <gtest/gtest.h>
#include <string>
#include <unistd.h>

namespace engine_docker_flags_test {

namespace engine = gantry::engine;
using gantry::Errc;
using gantry::Error;

Errc code_of(const engine::RunRequest& r) {
    try {
        engine::check_docker_flags(r);
    } catch (const Error& e) {
        return e.code();
    }
    return Errc::internal; // "accepted"
}

TEST(DockerFlags, AttachNamesTheStreams) {
    engine::RunRequest r;
    auto all = engine::attached_streams(r);
    EXPECT_TRUE(all.in && all.out && all.err);
    r.attach = {"STDOUT", "stderr"}; // the Dev Containers CLI's, any case as docker
    auto a = engine::attached_streams(r);
    EXPECT_FALSE(a.in);
    EXPECT_TRUE(a.out && a.err);
    r.attach = {"stdout"};
    EXPECT_EQ(code_of(r), Errc::run_failed); // gantry's messages share stderr
    r.attach = {"stdio"};
    EXPECT_EQ(code_of(r), Errc::usage);
    r.attach = {"STDERR"};
    r.detach = true;
    EXPECT_EQ(code_of(r), Errc::usage); // docker's "conflicting options"
}

TEST(DockerFlags, SignalsByNameOrNumber) {
    EXPECT_EQ(engine::signal_number("SIGTERM", "--stop-signal"), SIGTERM);
    EXPECT_EQ(engine::signal_number("int", "--stop-signal"), SIGINT);
    EXPECT_EQ(engine::signal_number("9", "--stop-signal"), SIGKILL);
    engine::RunRequest r;
    r.stop_signal = "SIGNOPE";
    EXPECT_EQ(code_of(r), Errc::usage);
    r.stop_signal = "0";
    EXPECT_EQ(code_of(r), Errc::usage);
    r.stop_signal = "USR1";
    r.stop_timeout = 3;
    EXPECT_EQ(code_of(r), Errc::internal);
    r.stop_timeout = -2;
    EXPECT_EQ(code_of(r), Errc::usage);
}

TEST(DockerFlags, HealthChecksNeedARecordedContainer) {
    engine::RunRequest r;
    r.no_healthcheck = true;
    EXPECT_EQ(code_of(r), Errc::internal); // accepted
    r = {};
    r.health_interval = "ten";
    EXPECT_EQ(code_of(r), Errc::usage);
    r.health_interval = "10s";
    EXPECT_EQ(code_of(r), Errc::internal); // over the image's check, if any
    r.health_cmd = "true";
    EXPECT_EQ(code_of(r), Errc::usage); // an anonymous foreground run: nothing could see it
    r.name = "checked";
    EXPECT_EQ(code_of(r), Errc::internal);
    r.no_healthcheck = true;
    EXPECT_EQ(code_of(r), Errc::usage);
}

TEST(DockerFlags, CidfileIsWrittenOnceAndAnExistingOneRefused) {
    auto path = std::filesystem::temp_directory_path() /
                ("gantry-cidfile-test-" + std::to_string(::getpid()));
    std::filesystem::remove(path);
    engine::RunRequest r;
    r.cidfile = path.string();
    EXPECT_EQ(code_of(r), Errc::internal);
    engine::write_cidfile(r.cidfile, "0123456789ab");
    std::FILE* f = std::fopen(r.cidfile.c_str(), "r");
    ASSERT_NE(f, nullptr);
    char buf[32] = {};
    auto n = std::fread(buf, 1, sizeof buf - 1, f);
    std::fclose(f);
    EXPECT_EQ(std::string(buf, n), "0123456789ab");
    EXPECT_EQ(code_of(r), Errc::conflict);
    EXPECT_THROW(engine::write_cidfile(r.cidfile, "x"), Error);
    std::filesystem::remove(path);
}

} // namespace engine_docker_flags_test
