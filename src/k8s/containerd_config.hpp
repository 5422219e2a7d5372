// k8s/: containerd's config.toml edited for a gantry runtime class (what `gantry k8s install`
// and `uninstall` do, as NVIDIA's `nvidia-ctk runtime configure --runtime=containerd` does for
// its runtime): the CRI plugin's runtime handler NAME (runtime_type io.containerd.runc.v2,
// options.BinaryName = gantry-oci, the containers' CDI annotations passed through; not the pod's:
// anyone who creates a pod writes those, the device plugins write the containers'), optionally
// containerd's default runtime, and the RuntimeClass object that names the handler. Pure text
// transforms (the TOML read and written by toml++) and the file's atomic replacement with a backup.
#pragma once

#include <functional>
#include <string>

namespace gantry::k8s {

struct InstallOptions {
    std::string runtime_class = "gantry"; // the handler's name, and the RuntimeClass's
    std::string binary;                   // options.BinaryName: the gantry-oci to run
    bool set_as_default = false;          // default_runtime_name = runtime_class
};

struct Edit {
    std::string text;     // the config to write (the input unchanged when !changed)
    bool changed = false; // false: the file already says what was asked
    std::string summary;  // one line: what changed, or why nothing did
};

// The CRI plugin's table name in containerd's config VERSION: 2 (containerd 1.x)
// "io.containerd.grpc.v1.cri", 3 (containerd 2.x) "io.containerd.cri.v1.runtime".
// Throws Error(invalid) naming FILE for a version 1 (or unversioned, non-empty) file.
std::string cri_plugin_of(long long version, const std::string& file);

// TEXT (config.toml from FILE, for messages; "" when the file does not exist) with the runtime
// handler added or brought up to date. Keys of an existing runtimes.NAME table that install does
// not own are kept. Throws Error(invalid) for malformed TOML (with the line), a version 1 file,
// a runtimes.NAME that is not gantry's (another runtime_type or binary), a runc runtime with
// SystemdCgroup = true (gantry-oci refuses --systemd-cgroup), or --set-as-default over a default
// other than runc.
Edit install(const std::string& text, const std::string& file, const InstallOptions& opts);

// containerd 1.x (config version 2) reads the files TEXT's `imports` name (globs, relative to
// FILE's directory) after FILE, and an imported file's plugin section replaces FILE's whole
// section of that plugin: a handler install adds to FILE would be dropped. Throws Error(invalid)
// naming the imported file that has the CRI plugin's section (install is to edit that one).
// Nothing for version 3 (containerd 2.x merges imported plugin sections key by key).
void refuse_cri_in_imports(const std::string& text, const std::string& file);

// TEXT with what install adds removed: runtimes.NAME when its BinaryName is a gantry-oci, and
// default_runtime_name = NAME set back to "runc". Unchanged (changed = false) when absent.
Edit uninstall(const std::string& text, const std::string& file, const std::string& runtime_class);

// The RuntimeClass object (node.k8s.io/v1) whose handler is NAME, as YAML.
std::string runtime_class_yaml(const std::string& name);

// A runtime class name kubelet and containerd accept: a DNS-1123 label. Throws Error(usage).
void check_runtime_class_name(const std::string& name);

// Reads PATH (absent: ""), applies EDIT_FN, and when it changed: keeps the old content as
// PATH.gantry-bak (when there was one) and replaces PATH atomically (temp file, fsync, rename),
// keeping its mode (0644 for a new file). DRY_RUN writes nothing. Returns the edit.
struct FileEdit {
    Edit edit;
    std::string backup; // the backup written, "" when none
};
FileEdit apply_to_file(const std::string& path,
                       const std::function<Edit(const std::string& text)>& edit_fn, bool dry_run);

} // namespace gantry::k8s
