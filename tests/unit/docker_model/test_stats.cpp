// docker's stats row from a StatsJSON, computed as docker's CLI computes it
// (cli/command/container/stats_helpers.go, formatter_stats.go; go-units' sizes).
#include "docker_model/stats.hpp"
#include "util/error.hpp"

#include <gtest/gtest.h>

namespace docker_stats_test {

using namespace gantry::docker_model;
using json = nlohmann::json;

json stats(std::uint64_t usage, json mem_stats, std::uint64_t limit) {
    return {{"id", "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"},
            {"name", "/web"},
            {"cpu_stats",
             {{"cpu_usage", {{"total_usage", 2000000000}}},
              {"system_cpu_usage", 20000000000ULL},
              {"online_cpus", 2}}},
            {"precpu_stats",
             {{"cpu_usage", {{"total_usage", 1000000000}}}, {"system_cpu_usage", 10000000000ULL}}},
            {"memory_stats", {{"usage", usage}, {"stats", mem_stats}, {"limit", limit}}},
            {"pids_stats", {{"current", 3}}},
            {"blkio_stats",
             {{"io_service_bytes_recursive",
               {{{"major", 254}, {"minor", 0}, {"op", "Read"}, {"value", 1500000}},
                {{"major", 254}, {"minor", 0}, {"op", "write"}, {"value", 999}},
                {{"major", 254}, {"minor", 0}, {"op", "Total"}, {"value", 1500999}}}}}}};
}

TEST(DockerStats, RowAsDockersCliComputesIt) {
    // v2: the usage less inactive_file; the CPU's share of the host's time times its CPUs
    json row = stats(10 << 20, {{"inactive_file", 2 << 20}}, 64 << 20);
    json r = stats_row(row, "web", false);
    EXPECT_EQ(r["Container"], "web");
    EXPECT_EQ(r["Name"], "web");
    EXPECT_EQ(r["ID"], "0123456789ab");
    EXPECT_EQ(r["CPUPerc"], "20.00%");
    EXPECT_EQ(r["MemUsage"], "8MiB / 64MiB");
    EXPECT_EQ(r["MemPerc"], "12.50%");
    EXPECT_EQ(r["NetIO"], "0B / 0B"); // no network of its own
    EXPECT_EQ(r["BlockIO"], "1.5MB / 999B");
    EXPECT_EQ(r["PIDs"], "3");
    EXPECT_EQ(stats_row(row, "web", true)["ID"], row["id"]);
}

TEST(DockerStats, MemoryAsDockerCountsIt) {
    // v1's total_inactive_file first; a figure above the usage is not taken off
    EXPECT_EQ(stats_row(stats(10 << 20, {{"total_inactive_file", 1 << 20}}, 64 << 20), "c",
                        false)["MemUsage"],
              "9MiB / 64MiB");
    EXPECT_EQ(stats_row(stats(1 << 20, {{"inactive_file", 2 << 20}}, 0), "c", false)["MemUsage"],
              "1MiB / 0B");
    EXPECT_EQ(stats_row(stats(1 << 20, {{"inactive_file", 2 << 20}}, 0), "c", false)["MemPerc"],
              "0.00%"); // no limit: no share
    // go-units' BytesSize: %.4g of the binary unit
    EXPECT_EQ(stats_row(stats(1572864, json::object(), 1 << 30), "c", false)["MemUsage"],
              "1.5MiB / 1GiB");
    EXPECT_EQ(stats_row(stats(1294538, json::object(), 1023), "c", false)["MemUsage"],
              "1.235MiB / 1023B");
}

TEST(DockerStats, NotRunningIsZeroAndGoneIsDashes) {
    json none = {{"id", "abc"}, {"name", "/idle"}, {"memory_stats", json::object()}};
    json r = stats_row(none, "idle", false);
    EXPECT_EQ(r["CPUPerc"], "0.00%");
    EXPECT_EQ(r["MemUsage"], "0B / 0B");
    EXPECT_EQ(r["PIDs"], "0");
    json g = stats_row(none, "idle", false, true);
    EXPECT_EQ(g["CPUPerc"], "--");
    EXPECT_EQ(g["MemUsage"], "-- / --");
    EXPECT_EQ(g["PIDs"], "--");
}

TEST(DockerStats, DefaultTableHasDockersColumns) {
    auto f = gantry::gotemplate::Format::parse("table", stats_listing());
    std::string out =
        f.render({stats_row(stats(10 << 20, json::object(), 64 << 20), "web", false)});
    std::string head = out.substr(0, out.find('\n'));
    for (const char* col : {"CONTAINER ID", "NAME", "CPU %", "MEM USAGE / LIMIT", "MEM %",
                            "NET I/O", "BLOCK I/O", "PIDS"})
        EXPECT_NE(head.find(col), std::string::npos) << col << " in " << head;
    EXPECT_EQ(head.rfind("CONTAINER ID", 0), 0u) << head;
    EXPECT_NE(out.find("0123456789ab   web"), std::string::npos) << out;
    // an unknown field is refused, naming it
    auto bad = gantry::gotemplate::Format::parse("{{.Cpu}}", stats_listing());
    EXPECT_THROW(bad.render({stats_row(stats(1, json::object(), 1), "web", false)}), gantry::Error);
}

} // namespace docker_stats_test
