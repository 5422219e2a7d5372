// apptainer/action and apptainer/delegate: Apptainer's flags and defaults as one run request
// (the binds, namespaces, identity, environment and directory of docs/apptainer.md's table),
// and its image commands as gantry's lines.
#include "apptainer/action.hpp"
#include "apptainer/delegate.hpp"
#include "apptainer/sandbox.hpp"
#include "sif/metadata.hpp"
#include "util/error.hpp"

#include <algorithm>
#include <filesystem>
#include <gtest/gtest.h>
#include <string>
#include <vector>

namespace apptainer_action_test {

namespace apptainer = gantry::apptainer;
using gantry::Errc;
using gantry::Error;

bool has(const std::vector<std::string>& v, const std::string& s) {
    return std::find(v.begin(), v.end(), s) != v.end();
}

Errc code_of(auto&& f) {
    try {
        f();
    } catch (const Error& e) {
        return e.code();
    }
    return Errc::internal;
}

struct Dirs {
    std::filesystem::path base =
        std::filesystem::temp_directory_path() / ("apptainer-unit-" + std::to_string(::getpid()));
    Dirs() { std::filesystem::create_directories(base / "home" / "proj"); }
    ~Dirs() { std::filesystem::remove_all(base); }
};

apptainer::Host host_of(const Dirs& d, const std::string& cwd) {
    apptainer::Host h;
    h.uid = 1000;
    h.gid = 1000;
    h.home = (d.base / "home").string();
    h.cwd = cwd;
    h.environ = {"HOME=" + h.home,     "PATH=/host/bin", "FOO=1",
                 "LD_LIBRARY_PATH=/x", "TERM=xterm",     "APPTAINER_BIND=/data",
                 "APPTAINERENV_BAR=2", "http_proxy=p"};
    return h;
}

TEST(ApptainerAction, BindsAreDockersVolumes) {
    EXPECT_EQ(apptainer::bind_volumes("/a"), std::vector<std::string>{"/a:/a"});
    EXPECT_EQ(apptainer::bind_volumes("/a:/b:ro,/c:/d:rw"),
              (std::vector<std::string>{"/a:/b:ro", "/c:/d"}));
    EXPECT_EQ(code_of([] { apptainer::bind_volumes("rel:/b"); }), Errc::usage);
    EXPECT_EQ(code_of([] { apptainer::bind_volumes("/a:/b:nosuid"); }), Errc::usage);
    EXPECT_EQ(code_of([] { apptainer::bind_volumes("/a:/b:ro:x"); }), Errc::usage);
    EXPECT_EQ(apptainer::env_pairs("A=1,B=x=y"), (std::vector<std::string>{"A=1", "B=x=y"}));
    EXPECT_EQ(code_of([] { apptainer::env_pairs("A"); }), Errc::usage);
}

TEST(ApptainerAction, TheHostEnvironmentAsApptainerPassesIt) {
    std::vector<std::string> env{"HOME=/h", "PATH=/p",           "LD_LIBRARY_PATH=/l",
                                 "FOO=1",   "APPTAINER_BIND=/x", "SINGULARITYENV_A=1",
                                 "TERM=t",  "https_proxy=p"};
    EXPECT_EQ(apptainer::passed_environment(env, false),
              (std::vector<std::string>{"FOO=1", "TERM=t", "https_proxy=p"}));
    EXPECT_EQ(apptainer::passed_environment(env, true),
              (std::vector<std::string>{"LANG=C", "TERM=t", "https_proxy=p"}));
}

TEST(ApptainerAction, DefaultsBindHomeTmpDevAndTheWorkingDirectory) {
    Dirs d;
    auto h = host_of(d, "/srv/project");
    auto r = apptainer::request(apptainer::Action::exec, {}, h, "app.sif", {"true"});
    EXPECT_EQ(r.apptainer_action, "exec");
    EXPECT_TRUE(has(r.volumes, "/dev:/dev"));
    EXPECT_TRUE(has(r.volumes, "/tmp:/tmp"));
    EXPECT_TRUE(has(r.volumes, h.home + ":" + h.home));
    EXPECT_TRUE(has(r.volumes, "/srv/project:/srv/project"));
    EXPECT_TRUE(has(r.volumes, "/data:/data")); // APPTAINER_BIND
    EXPECT_EQ(r.workdir, "/srv/project");
    EXPECT_EQ(r.userns, "keep-id");
    EXPECT_EQ((std::vector<std::string>{r.pid, r.ipc, r.uts, r.network}),
              (std::vector<std::string>{"host", "host", "host", "host"}));
    EXPECT_TRUE(r.read_only);
    EXPECT_TRUE(has(r.env, "HOME=" + h.home));
    EXPECT_TRUE(has(r.apptainer_host_env, "FOO=1"));
    EXPECT_FALSE(has(r.apptainer_host_env, "PATH=/host/bin"));
    EXPECT_EQ(r.apptainer_env, std::vector<std::string>{"BAR=2"});
    // a working directory under the home, or an operating system's directory: not bound again
    for (std::string cwd : {h.home + "/proj", std::string("/usr"), std::string("/")}) {
        auto again = apptainer::request(apptainer::Action::run, {}, host_of(d, cwd), "a.sif", {});
        EXPECT_FALSE(has(again.volumes, cwd + ":" + cwd)) << cwd;
        EXPECT_EQ(again.workdir, cwd);
    }
}

TEST(ApptainerAction, ContainallFakerootAndInstances) {
    Dirs d;
    apptainer::Flags f;
    f.containall = true;
    f.hostname = "box";
    f.writable_tmpfs = true;
    auto r = apptainer::request(apptainer::Action::exec, f, host_of(d, "/srv/p"), "a.sif", {});
    EXPECT_FALSE(has(r.volumes, "/dev:/dev"));
    EXPECT_FALSE(has(r.volumes, "/srv/p:/srv/p"));
    EXPECT_TRUE(has(r.tmpfs, "/tmp") && has(r.tmpfs, "/var/tmp"));
    EXPECT_EQ(r.workdir, (d.base / "home").string());
    EXPECT_EQ((std::vector<std::string>{r.pid, r.ipc, r.uts, r.hostname}),
              (std::vector<std::string>{"private", "private", "", "box"}));
    EXPECT_FALSE(r.read_only);
    EXPECT_EQ(r.writable_layer, "memory:64m");
    EXPECT_TRUE(has(r.apptainer_host_env, "LANG=C"));
    EXPECT_FALSE(has(r.apptainer_host_env, "FOO=1"));
    apptainer::Flags root;
    root.fakeroot = true;
    auto fr = apptainer::request(apptainer::Action::shell, root, host_of(d, "/"), "a.sif", {});
    EXPECT_EQ(fr.userns, "auto");
    EXPECT_TRUE(has(fr.env, "HOME=/root"));
    auto inst = apptainer::request(apptainer::Action::instance_start, {}, host_of(d, "/"), "a.sif",
                                   {"x"}, "web");
    EXPECT_TRUE(inst.detach && inst.rm);
    EXPECT_EQ(inst.name, "web");
    EXPECT_EQ(inst.pid, "private");
    EXPECT_EQ(inst.apptainer_action, "start");
    apptainer::Flags overlay; // --overlay: a missing path; an image file (a regular file)
    overlay.overlay = {"o.img"};
    EXPECT_EQ(code_of([&] {
                  apptainer::request(apptainer::Action::run, overlay, host_of(d, "/"), "a", {});
              }),
              Errc::not_found);
    overlay.overlay = {"/proc/self/status"};
    EXPECT_EQ(code_of([&] {
                  apptainer::request(apptainer::Action::run, overlay, host_of(d, "/"), "a", {});
              }),
              Errc::usage);
}

TEST(ApptainerAction, FlagsEnvironmentTwinsAndImageSchemes) {
    apptainer::Flags given;
    given.hostname = "from-line";
    auto f = apptainer::with_environment(
        given, {"APPTAINER_CONTAINALL=1", "SINGULARITY_CLEANENV=true", "APPTAINER_HOSTNAME=env",
                "SINGULARITY_PWD=/work", "APPTAINER_PID=0"});
    EXPECT_TRUE(f.containall && f.cleanenv);
    EXPECT_FALSE(f.pid);
    EXPECT_EQ(f.hostname, "from-line"); // the line wins
    EXPECT_EQ(f.pwd, "/work");
    EXPECT_EQ(code_of([] { apptainer::with_environment({}, {"APPTAINER_NV=maybe"}); }),
              Errc::usage);
    Dirs d;
    auto r = apptainer::request(apptainer::Action::exec, {}, host_of(d, "/"), "docker://alpine:3",
                                {"true"});
    EXPECT_EQ(r.image, "alpine:3");
    EXPECT_EQ(code_of([&] {
                  apptainer::request(apptainer::Action::exec, {}, host_of(d, "/"), "oras://r/x",
                                     {"true"});
              }),
              Errc::usage);
}

// --overlay: Apptainer's rules (prepare_linux.go, loadOverlayImages)
TEST(ApptainerAction, OverlayDirectoriesAsApptainerTakesThem) {
    Dirs d;
    const std::string a = (d.base / "home").string(), b = (d.base / "home" / "proj").string();
    EXPECT_EQ(apptainer::overlay_directories({"proj", a + ":ro"}, a, false, false),
              (std::vector<std::string>{b, a + ":ro"}));
    EXPECT_EQ(apptainer::overlay_directories({a + ":ro"}, "/", true, false), // read-only ones
              (std::vector<std::string>{a + ":ro"}));                        // with the tmpfs
    EXPECT_EQ(code_of([&] {
                  apptainer::overlay_directories({a, b}, "/", false, false);
              }),
              Errc::usage); // two writable ones
    EXPECT_EQ(code_of([&] { apptainer::overlay_directories({a}, "/", true, false); }),
              Errc::usage); // the writable one with --writable-tmpfs
    EXPECT_EQ(code_of([&] { apptainer::overlay_directories({a + ":ro"}, "/", false, true); }),
              Errc::usage); // with --writable
    EXPECT_EQ(code_of([&] { apptainer::overlay_directories({"/"}, "/", false, false); }),
              Errc::usage);
    EXPECT_EQ(code_of([&] { apptainer::overlay_directories({":ro"}, "/", false, false); }),
              Errc::usage);
}

// --app: APPNAME under both prefixes, as Apptainer's launcher sets it; its twins; refusals
TEST(ApptainerAction, AppNamesTheScifApp) {
    Dirs d;
    apptainer::Flags f;
    f.app = "foo";
    auto r = apptainer::request(apptainer::Action::run, f, host_of(d, "/"), "x.sif", {});
    EXPECT_TRUE(has(r.env, "SINGULARITY_APPNAME=foo"));
    EXPECT_TRUE(has(r.env, "APPTAINER_APPNAME=foo"));
    EXPECT_EQ(apptainer::with_environment({}, {"APPTAINER_APP=bar"}).app, "bar");
    for (const char* bad : {"../x", "a b", "."}) {
        f.app = bad;
        EXPECT_EQ(code_of([&] {
                      apptainer::request(apptainer::Action::run, f, host_of(d, "/"), "x.sif", {});
                  }),
                  Errc::usage)
            << bad;
    }
    f.app = "foo"; // instance start --app: the app's %appstart, through the same variables
    auto inst =
        apptainer::request(apptainer::Action::instance_start, f, host_of(d, "/"), "x.sif", {}, "i");
    EXPECT_TRUE(has(inst.env, "APPTAINER_APPNAME=foo"));
    auto start = gantry::sif::action_entrypoint("start")[2].get<std::string>();
    EXPECT_NE(start.find("/scif/apps/$SINGULARITY_APPNAME/scif/startscript"), std::string::npos);
    auto run = gantry::sif::action_entrypoint("run")[2].get<std::string>();
    EXPECT_NE(run.find("No Apptainer runscript for contained app"), std::string::npos);
    EXPECT_NE(run.find("Could not locate the container application"), std::string::npos);
}

TEST(ApptainerAction, RunAndShellAreApptainersActionScripts) {
    auto run = gantry::sif::action_entrypoint("run")[2].get<std::string>();
    EXPECT_NE(run.find("exec /.singularity.d/runscript \"$@\""), std::string::npos);
    EXPECT_NE(run.find("No Apptainer runscript found, executing /bin/sh"), std::string::npos);
    auto shell = gantry::sif::action_entrypoint("shell")[2].get<std::string>();
    EXPECT_NE(shell.find("exec /bin/bash --norc \"$@\""), std::string::npos);
    EXPECT_NE(shell.find("$SINGULARITY_SHELL"), std::string::npos);
}

TEST(ApptainerAction, DockerEnvScriptIsApptainersInsertEnv) {
    nlohmann::json env = {"PATH=/usr/bin:/bin", "A=x \"y\" $z `w` \\", "EMPTY", "1BAD=v"};
    EXPECT_EQ(gantry::sif::docker_env_script(env),
              "#!/bin/sh\nexport PATH=\"/usr/bin:/bin\"\n"
              "export A=\"${A:-\"x \\\"y\\\" \\$z \\`w\\` \\\\\"}\"\n"
              "export EMPTY=\"${EMPTY:-}\"\n");
}

TEST(ApptainerDelegate, ImageCommandsAreGantrys) {
    EXPECT_EQ(apptainer::pull_file_name("alpine"), "alpine_latest.sif");
    EXPECT_EQ(apptainer::pull_file_name("nvcr.io/nvidia/pytorch:24.01-py3"),
              "pytorch_24.01-py3.sif");
    EXPECT_EQ(apptainer::pull_file_name("localhost:5000/lab/x"), "x_latest.sif");
    // build OUT.sif SOURCE: the gantry command that writes it, without gantry's own words
    apptainer::SandboxSource def{"a.def", {"V=1"}, true, false, {"/g", "--root", "/r"}};
    EXPECT_EQ(apptainer::build_sif("/nonexistent/o.sif", def, false),
              (std::vector<std::string>{"build", "-f", "a.def", "-o", "/nonexistent/o.sif",
                                        "--build-arg", "V=1", "--notest"}));
    apptainer::SandboxSource ref{"docker://alpine:3", {}, false, false, {"/g"}};
    EXPECT_EQ(apptainer::build_sif("/nonexistent/o.sif", ref, false),
              (std::vector<std::string>{"pull", "alpine:3", "--format", "sif", "-o",
                                        "/nonexistent/o.sif"}));
    apptainer::SandboxSource image{"busybox:latest", {}, false, false, {"/g"}};
    EXPECT_EQ(apptainer::build_sif("/nonexistent/o.sif", image, false),
              (std::vector<std::string>{"save", "busybox:latest", "--format", "sif", "-o",
                                        "/nonexistent/o.sif"}));
    EXPECT_EQ(code_of([&] { apptainer::build_sif("/", image, false); }), Errc::conflict);
    EXPECT_EQ(code_of([] { apptainer::docker_ref("library://alpine", "pull"); }), Errc::usage);
    try {
        apptainer::docker_ref("library://alpine", "pull");
    } catch (const Error& e) {
        EXPECT_NE(e.hint().find("oras://"), std::string::npos);
    }
    EXPECT_EQ(code_of([] { apptainer::sign_line("a.sif", ""); }), Errc::usage);
}

// build --sandbox: each source written as a SIF by the gantry command that does it
TEST(ApptainerSandbox, SourcesBecomeSifsThroughGantrysCommands) {
    apptainer::SandboxSource src{"app.def", {"V=1"}, true, false, {"/g", "--root", "/r"}};
    EXPECT_EQ(apptainer::sif_line(src, "/t/x.sif"),
              (std::vector<std::string>{"/g", "--root", "/r", "build", "-f", "app.def", "-o",
                                        "/t/x.sif", "--build-arg", "V=1", "--notest"}));
    src = {"docker://alpine:3", {}, false, false, {"/g"}};
    EXPECT_EQ(
        apptainer::sif_line(src, "/t/x.sif"),
        (std::vector<std::string>{"/g", "pull", "alpine:3", "--format", "sif", "-o", "/t/x.sif"}));
    src = {"busybox:latest", {}, false, false, {"/g"}}; // no such file: a store image
    EXPECT_EQ(apptainer::sif_line(src, "/t/x.sif"),
              (std::vector<std::string>{"/g", "save", "busybox:latest", "--format", "sif", "-o",
                                        "/t/x.sif"}));
    src = {"busybox:latest", {"V=1"}, false, false, {"/g"}};
    EXPECT_EQ(code_of([&] { apptainer::sif_line(src, "/t/x.sif"); }), Errc::usage);
    src = {"library://alpine", {}, false, false, {"/g"}};
    EXPECT_EQ(code_of([&] { apptainer::sif_line(src, "/t/x.sif"); }), Errc::usage);
}

TEST(ApptainerSandbox, WritableIsTheDirectoryItself) {
    Dirs d;
    auto sb = d.base / "sb";
    std::filesystem::create_directories(sb / "dev");
    std::filesystem::create_directories(sb / "tmp");
    apptainer::Flags f;
    f.writable = true;
    auto r = apptainer::request(apptainer::Action::exec, f, host_of(d, "/"), sb.string(), {"true"});
    EXPECT_TRUE(r.apptainer_writable);
    EXPECT_FALSE(r.read_only);
    // the binds whose destination the sandbox lacks are left out ($HOME, /var/tmp, /data)
    EXPECT_TRUE(has(r.volumes, "/dev:/dev"));
    EXPECT_TRUE(has(r.volumes, "/tmp:/tmp"));
    for (const auto& v : r.volumes)
        EXPECT_TRUE(v.starts_with("/dev:") || v.starts_with("/tmp:")) << v;
    f.writable_tmpfs = true;
    EXPECT_EQ(code_of([&] {
                  apptainer::request(apptainer::Action::exec, f, host_of(d, "/"), sb.string(),
                                     {"true"});
              }),
              Errc::usage);
    EXPECT_TRUE(apptainer::with_environment({}, {"APPTAINER_WRITABLE=1"}).writable);
}

} // namespace apptainer_action_test
