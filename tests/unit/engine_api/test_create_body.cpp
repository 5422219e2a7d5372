// POST /containers/create's body as a RunRequest (engine_api/create_body.hpp): what docker's CLI
// and docker-py send, translated field by field; a field gantry does not honour refused, named,
// unless it holds docker's default.
#include "engine_api/create_body.hpp"
#include "engine_api/request.hpp"

#include <gtest/gtest.h>

namespace engine_api_create_body_test {

using namespace gantry::engine_api;
using json = nlohmann::json;

// What docker 20.10's CLI sends for `docker run --rm -it -e A=1 -v /h:/c busybox sh`, trimmed
// of nothing: every HostConfig field at its zero value but the ones named.
json cli_body() {
    return json::parse(R"({
      "Hostname":"","Domainname":"","User":"","AttachStdin":true,"AttachStdout":true,
      "AttachStderr":true,"Tty":true,"OpenStdin":true,"StdinOnce":true,"Env":["A=1"],
      "Cmd":["sh"],"Image":"busybox","Volumes":{},"WorkingDir":"","Entrypoint":null,
      "OnBuild":null,"Labels":{"k":"v"},
      "HostConfig":{"Binds":["/h:/c"],"ContainerIDFile":"","LogConfig":{"Type":"","Config":{}},
        "NetworkMode":"default","PortBindings":{},"RestartPolicy":{"Name":"no",
        "MaximumRetryCount":0},"AutoRemove":true,"VolumeDriver":"","VolumesFrom":null,
        "CapAdd":null,"CapDrop":null,"CgroupnsMode":"","Dns":[],"DnsOptions":[],"DnsSearch":[],
        "ExtraHosts":null,"GroupAdd":null,"IpcMode":"","Cgroup":"","Links":null,"OomScoreAdj":0,
        "PidMode":"","Privileged":false,"PublishAllPorts":false,"ReadonlyRootfs":false,
        "SecurityOpt":null,"UTSMode":"","UsernsMode":"","ShmSize":0,"ConsoleSize":[0,0],
        "Isolation":"","CpuShares":0,"Memory":0,"NanoCpus":0,"CgroupParent":"",
        "BlkioWeight":0,"BlkioWeightDevice":[],"BlkioDeviceReadBps":null,"CpuPeriod":0,
        "CpuQuota":0,"CpusetCpus":"","Devices":[],"DeviceCgroupRules":null,
        "DeviceRequests":null,"KernelMemory":0,"MemoryReservation":0,"MemorySwap":0,
        "MemorySwappiness":-1,"OomKillDisable":false,"PidsLimit":null,"Ulimits":null,
        "MaskedPaths":null,"ReadonlyPaths":null,"Init":null},
      "NetworkingConfig":{"EndpointsConfig":{}}})");
}

std::string refusal(const json& body) {
    try {
        (void)create_request(body, "");
    } catch (const ApiError& e) {
        EXPECT_EQ(e.status(), 400);
        return e.what();
    }
    ADD_FAILURE() << "accepted " << body.dump();
    return "";
}

TEST(EngineApiCreateBody, TranslatesWhatDockersCliSends) {
    auto r = create_request(cli_body(), "web");
    EXPECT_EQ(r.image, "busybox");
    EXPECT_EQ(r.name, "web");
    EXPECT_EQ(r.command, std::vector<std::string>{"sh"});
    EXPECT_FALSE(r.entrypoint.has_value());
    EXPECT_EQ(r.env, std::vector<std::string>{"A=1"});
    EXPECT_EQ(r.labels, std::vector<std::string>{"k=v"});
    EXPECT_EQ(r.volumes, std::vector<std::string>{"/h:/c"});
    EXPECT_TRUE(r.tty);
    EXPECT_TRUE(r.interactive);
    EXPECT_TRUE(r.rm);
    EXPECT_EQ(r.network, "bridge"); // docker's default for its clients (docs/networks.md)
    EXPECT_FALSE(r.init);
    EXPECT_TRUE(r.memory.empty());
}

// compose 1.29's named volume: Binds plus the same path (here with a trailing slash) under
// Volumes, which is then no anonymous volume; the other paths of Volumes are (-v DST)
TEST(EngineApiCreateBody, VolumesAreAnonymousUnlessABindHasThePath) {
    auto body = json::parse(R"({"Image":"i","Volumes":{"/data/":{},"/scratch":{},"/t":{},
      "/run":{}},"HostConfig":{"Binds":["proj_data:/data:rw"],"VolumesFrom":["other:ro"],
      "Mounts":[{"Type":"volume","Source":"vol","Target":"/t"}],"Tmpfs":{"/run":""}}})");
    auto r = create_request(body, "");
    EXPECT_EQ(r.volumes, (std::vector<std::string>{"proj_data:/data:rw", "/scratch"}));
    EXPECT_EQ(r.volumes_from, (std::vector<std::string>{"other:ro"}));
}

TEST(EngineApiCreateBody, RestartPolicyAsRunsRestartFlag) {
    auto policy = [](json p) {
        return create_request({{"Image", "i"}, {"HostConfig", {{"RestartPolicy", p}}}}, "").restart;
    };
    EXPECT_EQ(policy({{"Name", ""}, {"MaximumRetryCount", 0}}), "no");
    EXPECT_EQ(policy({{"Name", "on-failure"}, {"MaximumRetryCount", 3}}), "on-failure:3");
    EXPECT_EQ(policy({{"Name", "unless-stopped"}}), "unless-stopped");
}

TEST(EngineApiCreateBody, HealthcheckAsRunsHealthFlags) {
    auto r = create_request(json::parse(R"({"Image":"i","Healthcheck":{
      "Test":["CMD-SHELL","pg_isready"],"Interval":200000000,"Timeout":0,"Retries":5,
      "StartPeriod":3000000000}})"),
                            "");
    EXPECT_EQ(r.health_test, (std::vector<std::string>{"CMD-SHELL", "pg_isready"}));
    EXPECT_EQ(r.health_interval, "200000000ns");
    EXPECT_EQ(r.health_timeout, ""); // 0: docker's default
    EXPECT_EQ(r.health_start_period, "3000000000ns");
    EXPECT_EQ(r.health_retries, 5);
}

TEST(EngineApiCreateBody, TranslatesHostConfigsHonouredFields) {
    auto body = json::parse(R"({"Image":"i","Entrypoint":["/bin/sh","-c"],"Cmd":"echo hi",
      "User":"1000:1000","WorkingDir":"/w","StopSignal":"SIGINT","StopTimeout":3,
      "HostConfig":{"NetworkMode":"none","Init":true,"CapAdd":["NET_ADMIN"],"CapDrop":["ALL"],
        "ReadonlyRootfs":true,"ShmSize":67108864,"Memory":1073741824,"NanoCpus":1500000000,
        "PidsLimit":64,"IpcMode":"host","PidMode":"host","SecurityOpt":["no-new-privileges"],
        "Mounts":[{"Type":"bind","Source":"/s","Target":"/t","ReadOnly":true},
                  {"Type":"tmpfs","Target":"/scratch"}],
        "Tmpfs":{"/run":"size=1m"},
        "Devices":[{"PathOnHost":"/dev/fuse","PathInContainer":"/dev/fuse",
                    "CgroupPermissions":"rwm"},
                   {"PathOnHost":"nvidia.com/gpu=0","PathInContainer":"","CgroupPermissions":""}],
        "Ulimits":[{"Name":"nofile","Soft":1024,"Hard":2048}],
        "DeviceRequests":[{"Driver":"","Count":-1,"DeviceIDs":null,
                           "Capabilities":[["gpu"]],"Options":{}}]}})");
    auto r = create_request(body, "");
    EXPECT_EQ(r.entrypoint, "/bin/sh");
    EXPECT_EQ(r.command, (std::vector<std::string>{"-c", "echo hi"}));
    EXPECT_EQ(r.user, "1000:1000");
    EXPECT_EQ(r.workdir, "/w");
    EXPECT_EQ(r.stop_signal, "SIGINT");
    EXPECT_EQ(r.stop_timeout, 3);
    EXPECT_EQ(r.network, "none");
    EXPECT_TRUE(r.init);
    EXPECT_EQ(r.cap_add, std::vector<std::string>{"NET_ADMIN"});
    EXPECT_EQ(r.cap_drop, std::vector<std::string>{"ALL"});
    EXPECT_TRUE(r.read_only);
    EXPECT_EQ(r.shm_size, "67108864");
    EXPECT_EQ(r.memory, "1073741824");
    EXPECT_EQ(r.cpus, "1.500000000");
    EXPECT_EQ(r.pids_limit, "64");
    EXPECT_EQ(r.ipc, "host");
    EXPECT_EQ(r.pid, "host");
    EXPECT_EQ(r.security_opt, std::vector<std::string>{"no-new-privileges"});
    EXPECT_EQ(r.mounts, std::vector<std::string>{"type=bind,source=/s,target=/t,readonly"});
    EXPECT_EQ(r.tmpfs, (std::vector<std::string>{"/scratch", "/run:size=1m"}));
    EXPECT_EQ(r.devices, (std::vector<std::string>{"/dev/fuse", "nvidia.com/gpu=0"}));
    EXPECT_EQ(r.ulimits, std::vector<std::string>{"nofile=1024:2048"});
    EXPECT_EQ(r.gpus, "all");
    // -p 8080:8080: exposed (nothing to do on the host's network) and published (run's rules)
    auto ports = json::parse(R"({"Image":"i","ExposedPorts":{"8080/tcp":{}},"HostConfig":{
      "PortBindings":{"8080/tcp":[{"HostIp":"","HostPort":"8080"}]}}})");
    EXPECT_EQ(create_request(ports, "").publish, std::vector<std::string>{"8080:8080/tcp"});
    auto ids = json::parse(R"({"Image":"i","HostConfig":{"DeviceRequests":[{"Driver":"nvidia",
      "DeviceIDs":["0","1"]}]}})");
    r = create_request(ids, "");
    EXPECT_EQ(r.gpus, "device=0,1");
    EXPECT_EQ(r.gpu_vendor, "nvidia");
    // docker 25+'s --device vendor.com/class=name: a request of the driver cdi, beside --gpus
    auto cdi = json::parse(R"({"Image":"i","HostConfig":{"DeviceRequests":[
      {"Driver":"","Count":1,"Capabilities":[["gpu"]]},
      {"Driver":"cdi","DeviceIDs":["nvidia.com/gpu=0","amd.com/gpu=all"]}]}})");
    r = create_request(cdi, "");
    EXPECT_EQ(r.devices, (std::vector<std::string>{"nvidia.com/gpu=0", "amd.com/gpu=all"}));
    EXPECT_EQ(r.gpus, "1");
    EXPECT_THROW(create_request(json::parse(R"({"Image":"i","HostConfig":{"DeviceRequests":[
      {"Driver":"cdi","Count":-1}]}})"),
                                ""),
                 ApiError);
    // ConsoleSize: the terminal's first size, for the attached start
    ConsoleSize console;
    (void)create_request(json::parse(R"({"Image":"i","HostConfig":{"ConsoleSize":[30,100]}})"), "",
                         "", &console);
    EXPECT_EQ(console.rows, 30u);
    EXPECT_EQ(console.cols, 100u);
    // [""]: the image's entrypoint cleared, as `--entrypoint ""`
    r = create_request(json::parse(R"({"Image":"i","Entrypoint":[""]})"), "");
    EXPECT_EQ(r.entrypoint, "");
    // docker's further cgroup limits (docker-py's cpu_shares=, cpuset_cpus=, memswap_limit=...)
    r = create_request(json::parse(R"({"Image":"i","HostConfig":{"Memory":67108864,
      "MemorySwap":-1,"MemoryReservation":33554432,"MemorySwappiness":10,"CpuShares":512,
      "CpusetCpus":"0","CpusetMems":"0","CpuRealtimePeriod":1000,"CpuRealtimeRuntime":500}})"),
                       "");
    EXPECT_EQ(r.cpu_rt_period, "1000");
    EXPECT_EQ(r.cpu_rt_runtime, "500");
    EXPECT_EQ(r.memory_swap, "-1");
    EXPECT_EQ(r.memory_reservation, "33554432");
    EXPECT_EQ(r.memory_swappiness, "10");
    EXPECT_EQ(r.cpu_shares, "512");
    EXPECT_EQ(r.cpuset_cpus, "0");
    EXPECT_EQ(r.cpuset_mems, "0");
    // docker-py's create_host_config(cpu_rt_period=, cpu_rt_runtime=) spells them CPU...
    r = create_request(json::parse(R"({"Image":"i","HostConfig":{"CPURealtimePeriod":2000,
      "CPURealtimeRuntime":700}})"),
                       "");
    EXPECT_EQ(r.cpu_rt_period, "2000");
    EXPECT_EQ(r.cpu_rt_runtime, "700");
    // docker-py's uts_mode='host'; anything else but docker's "" is refused naming the field
    EXPECT_EQ(
        create_request(json::parse(R"({"Image":"i","HostConfig":{"UTSMode":"host"}})"), "").uts,
        "host");
    EXPECT_THROW(
        create_request(json::parse(R"({"Image":"i","HostConfig":{"UTSMode":"container:x"}})"), ""),
        ApiError);
    // docker's defaults leave them unset: MemorySwap 0, MemorySwappiness -1 or null, CpuShares 0
    r = create_request(json::parse(R"({"Image":"i","HostConfig":{"MemorySwap":0,
      "MemorySwappiness":null,"CpuShares":0,"CpusetCpus":"","CpuRealtimePeriod":0,
      "CpuRealtimeRuntime":0}})"),
                       "");
    EXPECT_TRUE(r.memory_swap.empty() && r.memory_swappiness.empty() && r.cpu_shares.empty() &&
                r.cpuset_cpus.empty() && r.cpu_rt_period.empty() && r.cpu_rt_runtime.empty());
}

TEST(EngineApiCreateBody, RefusesFieldsGantryDoesNotHonourNamingThem) {
    auto with_host = [](const char* key, json v) {
        json b = cli_body();
        b["HostConfig"][key] = std::move(v);
        return b;
    };
    EXPECT_NE(refusal(with_host("BlkioWeight", 300)).find("HostConfig.BlkioWeight (300)"),
              std::string::npos);
    EXPECT_NE(refusal(with_host("Privileged", true)).find("HostConfig.Privileged"),
              std::string::npos);
    EXPECT_NE(refusal(with_host("RestartPolicy", {{"Name", "sometimes"}})).find("RestartPolicy"),
              std::string::npos);
    EXPECT_NE(refusal(with_host("RestartPolicy", {{"Name", "always"}, {"MaximumRetryCount", 2}}))
                  .find("MaximumRetryCount"),
              std::string::npos);
    EXPECT_NE(refusal(with_host("LogConfig", {{"Type", "syslog"}})).find("LogConfig.Type"),
              std::string::npos);
    EXPECT_NE(
        refusal(with_host("LogConfig", {{"Type", "json-file"}, {"Config", {{"max-size", "1m"}}}}))
            .find("LogConfig.Config"),
        std::string::npos);
    EXPECT_EQ(create_request(with_host("LogConfig", {{"Type", "none"}}), "").log_driver, "none");
    EXPECT_EQ(create_request(with_host("LogConfig", {{"Type", "local"}}), "").log_driver, "local");
    EXPECT_NE(refusal(with_host("Dns", {"1.1.1.1"})).find("HostConfig.Dns"), std::string::npos);
    EXPECT_NE(refusal(with_host("MemorySwappiness", "ten")).find("MemorySwappiness"),
              std::string::npos);
    EXPECT_NE(refusal(with_host("SomethingNew", "x")).find("HostConfig.SomethingNew"),
              std::string::npos);
    json b = cli_body();
    b["Volumes"] = {{"data", json::object()}};
    EXPECT_NE(refusal(b).find("absolute path"), std::string::npos);
    b = cli_body();
    b["Healthcheck"] = {{"Test", {"RUN", "true"}}};
    EXPECT_NE(refusal(b).find("Healthcheck.Test"), std::string::npos);
    b["Healthcheck"] = {{"Test", {"CMD", "true"}}, {"StartInterval", 1000000000}};
    EXPECT_NE(refusal(b).find("Healthcheck.StartInterval"), std::string::npos);
    b["Healthcheck"] = {{"Test", {"CMD", "true"}}, {"Interval", 5}};
    EXPECT_NE(refusal(b).find("1ms"), std::string::npos);
    b = cli_body();
    // an endpoint on another network than HostConfig.NetworkMode's (bridge here)
    b["NetworkingConfig"]["EndpointsConfig"]["mynet"] = {{"Aliases", {"a"}}};
    EXPECT_NE(refusal(b).find("EndpointsConfig.mynet"), std::string::npos);
    b = cli_body();
    b["HostConfig"]["NetworkMode"] = "mynet";
    // a static address is served (its checks are the engine's); a link-local one is not
    b["NetworkingConfig"]["EndpointsConfig"]["mynet"] = {
        {"IPAMConfig", {{"IPv4Address", "10.89.0.7"}, {"LinkLocalIPs", {"169.254.0.7"}}}}};
    EXPECT_NE(refusal(b).find("EndpointsConfig.mynet.IPAMConfig.LinkLocalIPs"), std::string::npos);
    b = cli_body();
    b["HostConfig"]["Mounts"] = {{{"Type", "bind"},
                                  {"Source", "/a"},
                                  {"Target", "/b"},
                                  {"BindOptions", {{"Propagation", "rshared"}}}}};
    EXPECT_NE(refusal(b).find("Mounts[].BindOptions"), std::string::npos);
}

TEST(EngineApiCreateBody, RefusesMalformedBodies) {
    EXPECT_NE(refusal(json::array()).find("JSON object"), std::string::npos);
    EXPECT_NE(refusal(json::object()).find("Image"), std::string::npos);
    EXPECT_NE(refusal(json{{"Image", 3}}).find("Image"), std::string::npos);
    EXPECT_NE(refusal(json{{"Image", "i"}, {"Env", {"NOVALUE"}}}).find("NOVALUE"),
              std::string::npos);
    EXPECT_NE(refusal(json{{"Image", "i"}, {"Cmd", {1}}}).find("Cmd"), std::string::npos);
    try {
        (void)parse_body("{not json");
        ADD_FAILURE();
    } catch (const ApiError& e) {
        EXPECT_EQ(e.status(), 400);
    }
    EXPECT_TRUE(parse_body("").is_object());
    EXPECT_TRUE(is_zero_value(json::parse(R"({"a":[0,""],"b":null,"c":false})")));
    EXPECT_FALSE(is_zero_value(json::parse(R"({"a":[0,"x"]})")));
}

// issue 73: a NUL byte in a string that becomes an argument, an environment entry, a path or a
// name is refused, naming the member, instead of reaching the process cut at the NUL
TEST(EngineApiCreateBody, RefusesANulByteNamingTheField) {
    using namespace std::string_literals;
    auto nul = "a\0b"s;
    EXPECT_NE(refusal(json{{"Image", "i"}, {"Cmd", {"echo", nul}}}).find("Cmd[1]"),
              std::string::npos);
    EXPECT_NE(refusal(json{{"Image", "i"}, {"Entrypoint", {nul}}}).find("Entrypoint[0]"),
              std::string::npos);
    EXPECT_NE(refusal(json{{"Image", "i"}, {"Env", {"A=" + nul}}}).find("Env[0]"),
              std::string::npos);
    EXPECT_NE(refusal(json{{"Image", "i"}, {"WorkingDir", "/w" + nul}}).find("WorkingDir"),
              std::string::npos);
    EXPECT_NE(refusal(json{{"Image", "i"}, {"User", nul}}).find("User"), std::string::npos);
    EXPECT_NE(refusal(json{{"Image", "i" + nul}}).find("Image"), std::string::npos);
    EXPECT_NE(refusal(json{{"Image", "i"}, {"Labels", {{"k", nul}}}}).find("Labels.k"),
              std::string::npos);
    EXPECT_NE(refusal(json{{"Image", "i"}, {"Labels", {{nul, "v"}}}}).find("Labels"),
              std::string::npos);
    json b = {{"Image", "i"}, {"HostConfig", {{"Binds", {"/h" + nul + ":/c"}}}}};
    EXPECT_NE(refusal(b).find("HostConfig.Binds[0]"), std::string::npos);
    // parse_body refuses it for every endpoint's JSON body (exec's Cmd included)
    try {
        (void)parse_body(R"({"Cmd":["echo","a\u0000b"]})");
        ADD_FAILURE();
    } catch (const ApiError& e) {
        EXPECT_EQ(e.status(), 400);
        EXPECT_NE(std::string(e.what()).find("Cmd[1]"), std::string::npos) << e.what();
    }
}

// issue 73: docker's name rule ^/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$; a NUL is no longer a cut
TEST(EngineApiCreateBody, RefusesANameDockerRefuses) {
    using namespace std::string_literals;
    json b = {{"Image", "i"}};
    for (auto bad : {"a\0b"s, "a"s, "-web"s, "we b"s, "a/b"s, "/"s}) {
        try {
            (void)create_request(b, bad);
            ADD_FAILURE() << bad;
        } catch (const ApiError& e) {
            EXPECT_EQ(e.status(), 400);
            EXPECT_EQ(std::string(e.what()).rfind("Invalid container name (", 0), 0u) << e.what();
        }
    }
    EXPECT_EQ(create_request(b, "/web").name, "web"); // docker's leading / dropped
    EXPECT_EQ(create_request(b, "w.e_b-1").name, "w.e_b-1");
    EXPECT_EQ(create_request(b, "").name, "");
}

// issue 73: a bind's source is an absolute path or a volume's name, never a path relative to
// the service's working directory (docker: a relative source is a volume name, refused)
TEST(EngineApiCreateBody, RefusesARelativeBindSource) {
    auto binds = [](const std::string& b) {
        return json{{"Image", "i"}, {"HostConfig", {{"Binds", {b}}}}};
    };
    for (const char* bad : {"../../etc:/m", "./x:/m", "a/b:/m", ".:/m", "~/x:/m"}) {
        auto m = refusal(binds(bad));
        EXPECT_NE(m.find("HostConfig.Binds"), std::string::npos) << m;
        EXPECT_NE(m.find("use absolute path"), std::string::npos) << m;
    }
    EXPECT_EQ(create_request(binds("/h:/c:ro"), "").volumes, std::vector<std::string>{"/h:/c:ro"});
    EXPECT_EQ(create_request(binds("data:/c"), "").volumes, std::vector<std::string>{"data:/c"});
    auto mount = [](const std::string& type, const std::string& src) {
        return json{
            {"Image", "i"},
            {"HostConfig", {{"Mounts", {{{"Type", type}, {"Source", src}, {"Target", "/m"}}}}}}};
    };
    for (const char* bad : {"../x", "x", "./x", ""}) {
        auto m = refusal(mount("bind", bad));
        EXPECT_NE(m.find("must be absolute"), std::string::npos) << m;
    }
    EXPECT_NE(refusal(mount("volume", "../x")).find("volume name"), std::string::npos);
    EXPECT_EQ(create_request(mount("bind", "/h"), "").mounts.size(), 1u);
    EXPECT_EQ(create_request(mount("volume", "data"), "").mounts.size(), 1u);
}

// issue 73: a number out of its setting's range is refused, never cut or dropped
TEST(EngineApiCreateBody, RefusesNumbersOutOfTheirRange) {
    auto host = [](const char* k, json v) {
        return json{{"Image", "i"}, {"HostConfig", {{k, v}}}};
    };
    EXPECT_NE(refusal(host("Memory", -1)).find("HostConfig.Memory"), std::string::npos);
    EXPECT_NE(refusal(host("NanoCpus", -5)).find("HostConfig.NanoCpus"), std::string::npos);
    EXPECT_NE(refusal(host("ShmSize", -1)).find("HostConfig.ShmSize"), std::string::npos);
    EXPECT_NE(refusal(host("Memory", 18446744073709551615ull)).find("HostConfig.Memory"),
              std::string::npos);
    EXPECT_NE(refusal(json{{"Image", "i"}, {"StopTimeout", 4294967306ll}}).find("StopTimeout"),
              std::string::npos);
    EXPECT_EQ(create_request(json{{"Image", "i"}, {"StopTimeout", 10}}, "").stop_timeout, 10);
    EXPECT_NE(refusal(host("ConsoleSize", json{70000, 80})).find("ConsoleSize"), std::string::npos);
}

} // namespace engine_api_create_body_test

namespace engine_api_create_body_test {

// docker's `create --platform P` sends ?platform=P: the run's --platform (engine/prepare.cpp
// pulls that platform or runs it under its binfmt_misc emulator); a malformed one is a 400.
TEST(EngineApiCreateBody, ThePlatformQueryIsTheRunsPlatform) {
    EXPECT_EQ(create_request(cli_body(), "", "linux/arm64").platform, "linux/arm64");
    EXPECT_EQ(create_request(cli_body(), "").platform, "");
    try {
        (void)create_request(cli_body(), "", "linux//arm64");
        ADD_FAILURE() << "accepted linux//arm64";
    } catch (const ApiError& e) {
        EXPECT_EQ(e.status(), 400);
        EXPECT_NE(std::string(e.what()).find("the platform query"), std::string::npos) << e.what();
    }
}

} // namespace engine_api_create_body_test
