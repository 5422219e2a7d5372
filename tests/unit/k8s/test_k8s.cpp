// k8s/: containerd config.toml edits for the gantry runtime class: an empty file, existing
// runtimes, the default runtime, idempotence, uninstall, refusals (version 1, malformed TOML,
// someone else's runtime, systemd cgroups), the file's atomic replacement with its backup.
#include "k8s/containerd_config.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

#include <filesystem>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

namespace k8s_test {

using namespace gantry;
using namespace gantry::k8s;

const char* kBin = "/usr/bin/gantry-oci";

InstallOptions k8s_opts(bool dflt = false, std::string name = "gantry") {
    return InstallOptions{std::move(name), kBin, dflt};
}

std::string k8s_error_of(const std::function<void()>& fn) {
    try {
        fn();
    } catch (const Error& e) {
        return e.message() + " | " + e.hint();
    }
    return "(no error)";
}

// containerd 1.6's `containerd config default`, cut down to what matters here
const char* kDefault1_6 = R"(version = 2
root = "/var/lib/containerd"

[plugins]
  [plugins."io.containerd.grpc.v1.cri"]
    sandbox_image = "registry.k8s.io/pause:3.6"
    [plugins."io.containerd.grpc.v1.cri".containerd]
      default_runtime_name = "runc"
      snapshotter = "overlayfs"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes]
        [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
          runtime_type = "io.containerd.runc.v2"
          [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
            SystemdCgroup = false
)";

TEST(K8sContainerdConfig, EmptyFileGetsVersion2AndTheHandler) {
    Edit e = install("", "/etc/containerd/config.toml", k8s_opts());
    ASSERT_TRUE(e.changed);
    EXPECT_NE(e.text.find("version = 2"), std::string::npos) << e.text;
    EXPECT_NE(e.text.find("[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.gantry]"),
              std::string::npos)
        << e.text;
    EXPECT_NE(e.text.find("runtime_type = \"io.containerd.runc.v2\""), std::string::npos);
    EXPECT_NE(e.text.find("BinaryName = \"/usr/bin/gantry-oci\""), std::string::npos);
    EXPECT_NE(e.text.find("container_annotations = [ \"cdi.k8s.io/*\", "
                          "\"io.gantry.kernel-cache\" ]"),
              std::string::npos)
        << e.text;
    // a pod's own annotation for its kernel cache, and nothing else of a pod's
    EXPECT_NE(e.text.find("pod_annotations = [ \"io.gantry.kernel-cache\" ]"), std::string::npos)
        << e.text;
    EXPECT_EQ(e.text.find("default_runtime_name"), std::string::npos) << e.text;
}

TEST(K8sContainerdConfig, KeepsTheOtherRuntimesAndSettings) {
    Edit e = install(kDefault1_6, "c.toml", k8s_opts());
    ASSERT_TRUE(e.changed);
    for (const char* kept :
         {"root = \"/var/lib/containerd\"", "sandbox_image = \"registry.k8s.io/pause:3.6\"",
          "snapshotter = \"overlayfs\"", "default_runtime_name = \"runc\"",
          "[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runc]",
          "SystemdCgroup = false"})
        EXPECT_NE(e.text.find(kept), std::string::npos) << kept << "\n" << e.text;
    EXPECT_NE(e.text.find("runtimes.gantry.options]"), std::string::npos) << e.text;
}

TEST(K8sContainerdConfig, SecondRunChangesNothing) {
    Edit first = install(kDefault1_6, "c.toml", k8s_opts(true));
    ASSERT_TRUE(first.changed);
    Edit second = install(first.text, "c.toml", k8s_opts(true));
    EXPECT_FALSE(second.changed) << second.text;
    EXPECT_EQ(second.text, first.text);
    EXPECT_NE(second.summary.find("nothing to change"), std::string::npos);
}

TEST(K8sContainerdConfig, SetAsDefaultReplacesRuncOnly) {
    Edit e = install(kDefault1_6, "c.toml", k8s_opts(true));
    EXPECT_NE(e.text.find("default_runtime_name = \"gantry\""), std::string::npos) << e.text;
    std::string other = std::string(kDefault1_6);
    other.replace(other.find("\"runc\"\n      snap"), 6, "\"kata\"");
    std::string err = k8s_error_of([&] { install(other, "c.toml", k8s_opts(true)); });
    EXPECT_NE(err.find("c.toml: plugins.\"io.containerd.grpc.v1.cri\".containerd."
                       "default_runtime_name is kata"),
              std::string::npos)
        << err;
    // without --set-as-default the other default stays
    EXPECT_NE(install(other, "c.toml", k8s_opts()).text.find("default_runtime_name = \"kata\""),
              std::string::npos);
}

TEST(K8sContainerdConfig, ExistingHandlerKeepsItsOtherKeysAndAnnotations) {
    std::string text =
        std::string(kDefault1_6) +
        "        [plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.gantry]\n"
        "          container_annotations = [\"example.com/x\"]\n"
        "          [plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes."
        "gantry.options]\n"
        "            Root = \"/run/g\"\n"
        "            BinaryName = \"/opt/old/gantry-oci\"\n";
    Edit e = install(text, "c.toml", k8s_opts());
    ASSERT_TRUE(e.changed);
    EXPECT_NE(e.text.find("Root = \"/run/g\""), std::string::npos) << e.text;
    EXPECT_NE(e.text.find("BinaryName = \"/usr/bin/gantry-oci\""), std::string::npos);
    EXPECT_EQ(e.text.find("/opt/old"), std::string::npos);
    EXPECT_NE(e.text.find("container_annotations = [ \"example.com/x\", \"cdi.k8s.io/*\", "
                          "\"io.gantry.kernel-cache\" ]"),
              std::string::npos)
        << e.text;
}

TEST(K8sContainerdConfig, RefusesAnotherRuntimeOfThatName) {
    std::string runsc =
        std::string(kDefault1_6) +
        "        [plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.gantry]\n"
        "          runtime_type = \"io.containerd.runsc.v1\"\n";
    EXPECT_NE(k8s_error_of([&] {
                  install(runsc, "c.toml", k8s_opts());
              }).find("runtimes.gantry is another runtime (runtime_type io.containerd.runsc.v1)"),
              std::string::npos);
    std::string crun = std::string(kDefault1_6) +
                       "        [plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.gantry."
                       "options]\n"
                       "          BinaryName = \"/usr/bin/crun\"\n";
    EXPECT_NE(k8s_error_of([&] {
                  install(crun, "c.toml", k8s_opts());
              }).find("runs /usr/bin/crun, not gantry-oci"),
              std::string::npos);
}

TEST(K8sContainerdConfig, RefusesVersion1MalformedAndSystemdCgroups) {
    std::string v1 = k8s_error_of(
        [] { install("[plugins.cri]\n  sandbox_image = \"x\"\n", "/etc/c.toml", k8s_opts()); });
    EXPECT_NE(v1.find("/etc/c.toml: a version 1 containerd config"), std::string::npos) << v1;
    EXPECT_NE(k8s_error_of([] {
                  install("version = 7\n", "c.toml", k8s_opts());
              }).find("version = 7 is not a containerd config version"),
              std::string::npos);
    std::string bad =
        k8s_error_of([] { install("version = 2\n[plugins\nx = 1\n", "/etc/c.toml", k8s_opts()); });
    EXPECT_NE(bad.find("/etc/c.toml:2: not valid TOML"), std::string::npos) << bad;
    std::string systemd = std::string(kDefault1_6);
    systemd.replace(systemd.find("SystemdCgroup = false"), 21, "SystemdCgroup = true");
    EXPECT_NE(k8s_error_of([&] {
                  install(systemd, "c.toml", k8s_opts());
              }).find("runtimes.runc.options.SystemdCgroup = true"),
              std::string::npos);
    EXPECT_NE(k8s_error_of([] {
                  install("", "c.toml", k8s_opts(false, "Gantry_1"));
              }).find("--runtime-class Gantry_1: not a DNS-1123 label"),
              std::string::npos);
    std::string plugins_str =
        k8s_error_of([] { install("version = 2\nplugins = \"x\"\n", "c.toml", k8s_opts()); });
    EXPECT_NE(plugins_str.find("c.toml: plugins is not a table"), std::string::npos) << plugins_str;
}

TEST(K8sContainerdConfig, Version3UsesTheCriRuntimePlugin) {
    Edit e = install("version = 3\n", "c.toml", k8s_opts());
    EXPECT_NE(e.text.find("[plugins.\"io.containerd.cri.v1.runtime\".containerd.runtimes.gantry]"),
              std::string::npos)
        << e.text;
    // containerd 2.x applies CDI itself (enable_cdi on by default): no pass-through
    EXPECT_EQ(e.text.find("cdi.k8s.io/*"), std::string::npos) << e.text;
}

TEST(K8sContainerdConfig, NoAnnotationPassThroughWhereContainerdAppliesCdi) {
    // 1.7's enable_cdi = true: containerd applies the annotations' devices; passing them on too
    // would apply them twice. Off (1.7's default, 2.x set off): passed through
    const std::string cri = "version = 2\n[plugins.\"io.containerd.grpc.v1.cri\"]\n";
    EXPECT_EQ(install(cri + "enable_cdi = true\n", "c.toml", k8s_opts()).text.find("cdi.k8s.io/*"),
              std::string::npos);
    EXPECT_NE(install(cri + "enable_cdi = false\n", "c.toml", k8s_opts())
                  .text.find("container_annotations = [ \"cdi.k8s.io/*\", "
                             "\"io.gantry.kernel-cache\" ]"),
              std::string::npos);
    EXPECT_NE(install("version = 3\n[plugins.\"io.containerd.cri.v1.runtime\"]\nenable_cdi = "
                      "false\n",
                      "c.toml", k8s_opts())
                  .text.find("cdi.k8s.io/*"),
              std::string::npos);
    // a handler whose options ask for systemd cgroups is refused, naming the fix
    std::string m = k8s_error_of([] {
        install("version = 2\n[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.gantry."
                "options]\nSystemdCgroup = true\n",
                "c.toml", k8s_opts());
    });
    EXPECT_NE(m.find("runtimes.gantry.options.SystemdCgroup = true"), std::string::npos) << m;
    EXPECT_NE(m.find("cgroupDriver: cgroupfs"), std::string::npos) << m;
}

TEST(K8sContainerdConfig, UninstallRemovesWhatInstallAdded) {
    Edit in = install(kDefault1_6, "c.toml", k8s_opts(true));
    Edit out = uninstall(in.text, "c.toml", "gantry");
    ASSERT_TRUE(out.changed);
    // the same document as before install (toml++ writes it in its own layout)
    Edit plain = install(kDefault1_6, "c.toml", k8s_opts());
    Edit plain_out = uninstall(plain.text, "c.toml", "gantry");
    EXPECT_EQ(out.text, plain_out.text);
    EXPECT_EQ(out.text.find("gantry"), std::string::npos) << out.text;
    EXPECT_NE(out.text.find("default_runtime_name = \"runc\""), std::string::npos);
    EXPECT_NE(out.text.find("runtimes.runc.options]"), std::string::npos);
    EXPECT_FALSE(uninstall(out.text, "c.toml", "gantry").changed); // idempotent
    // an empty file's install undone leaves only the version it gained
    EXPECT_EQ(uninstall(install("", "c.toml", k8s_opts()).text, "c.toml", "gantry").text,
              "version = 2\n");
    // a runtime of that name that is not gantry's stays
    EXPECT_NE(k8s_error_of([] {
                  uninstall(kDefault1_6, "c.toml", "runc");
              }).find("runtimes.runc runs runc, not gantry-oci: not gantry's to remove"),
              std::string::npos);
}

TEST(K8sContainerdConfig, RuntimeClassYaml) {
    EXPECT_EQ(runtime_class_yaml("gantry"), "apiVersion: node.k8s.io/v1\nkind: RuntimeClass\n"
                                            "metadata:\n  name: gantry\nhandler: gantry\n");
}

TEST(K8sContainerdConfig, FileReplacedAtomicallyWithBackupAndMode) {
    char tmpl[] = "/tmp/k8s-unit-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    std::string dir = tmpl, path = dir + "/config.toml";
    fs::write_atomic(path, kDefault1_6, 0600);
    auto edit = [&](const std::string& t) { return install(t, path, k8s_opts()); };
    FileEdit dry = apply_to_file(path, edit, true);
    EXPECT_TRUE(dry.edit.changed);
    EXPECT_EQ(fs::read_file(path), kDefault1_6); // a dry run writes nothing
    FileEdit r = apply_to_file(path, edit, false);
    EXPECT_EQ(r.backup, path + ".gantry-bak");
    EXPECT_EQ(fs::read_file(r.backup), kDefault1_6);
    EXPECT_EQ(fs::read_file(path), r.edit.text);
    struct stat st {};
    ASSERT_EQ(::stat(path.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0600u);
    ::unlink(r.backup.c_str());
    EXPECT_FALSE(apply_to_file(path, edit, false).edit.changed);
    EXPECT_FALSE(std::filesystem::exists(r.backup)); // nothing changed, nothing backed up
    // a file that does not exist yet is created, without a backup
    std::string fresh = dir + "/new.toml";
    FileEdit created = apply_to_file(
        fresh, [&](const std::string& t) { return install(t, fresh, k8s_opts()); }, false);
    EXPECT_TRUE(created.backup.empty());
    EXPECT_NE(fs::read_file(fresh).find("version = 2"), std::string::npos);
    std::string missing = dir + "/no/such/config.toml";
    EXPECT_NE(k8s_error_of([&] {
                  apply_to_file(
                      missing,
                      [&](const std::string& t) { return install(t, missing, k8s_opts()); }, false);
              }).find("its directory " + dir + "/no/such does not exist"),
              std::string::npos);
    std::filesystem::remove_all(dir);
}

} // namespace k8s_test

namespace k8s_test {

TEST(K8sContainerdConfig, RefusesWhenAnImportHoldsTheCriSection) {
    char tmpl[] = "/tmp/k8s-unit-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    std::string dir = tmpl, main = dir + "/config.toml";
    std::filesystem::create_directory(dir + "/conf.d");
    fs::write_atomic(dir + "/conf.d/10-other.toml", "version = 2\n[plugins.\"io.containerd.gc.v1."
                                                    "scheduler\"]\n  pause_threshold = 0.02\n");
    std::string text = "version = 2\nimports = [\"conf.d/*.toml\"]\n";
    refuse_cri_in_imports(text, main); // an import of another plugin: fine
    fs::write_atomic(dir + "/conf.d/20-cri.toml",
                     "version = 2\n[plugins.\"io.containerd.grpc.v1.cri\"]\n  sandbox_image = "
                     "\"p\"\n");
    std::string err = k8s_error_of([&] { refuse_cri_in_imports(text, main); });
    EXPECT_NE(err.find(main + ": imports " + dir +
                       "/conf.d/20-cri.toml, whose plugins."
                       "\"io.containerd.grpc.v1.cri\" section replaces"),
              std::string::npos)
        << err;
    EXPECT_NE(err.find("run gantry k8s install --containerd-config " + dir + "/conf.d/20-cri.toml"),
              std::string::npos);
    refuse_cri_in_imports("version = 3\nimports = [\"conf.d/*.toml\"]\n", main); // 2.x merges
    std::filesystem::remove_all(dir);
}

} // namespace k8s_test
