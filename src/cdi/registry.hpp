// The CDI registry: every spec in the spec directories, qualified device names resolved to their
// spec, and the edits of chosen devices applied to an OCI runtime spec (CDI pkg/cdi cache.go,
// container-edits.go; reference nvidia-driver.md §2.4).
//
// Device nodes for gantry's launcher: rootless gantry cannot mknod, so every node lands in
// RuntimeSpec::devices with host_path set, and the launcher bind-mounts host_path onto path
// (runtime/launcher.cpp). type/major/minor/fileMode are still filled (from a live lstat of the
// host node when the spec leaves them out) so that `gantry bundle` can hand runc/crun a
// config.json whose devices they can create.
//
// Hooks are not executed here and, by default, not put into the runtime spec: they are returned
// for gantry to run itself with exactly their declared env, cwd "/", their absolute path, their
// timeout and no inherited fds. No idmap/ridmap mount options are added (gantry is rootless).
#pragma once

#include "cdi/spec_model.hpp"
#include "oci/runtime_spec.hpp"
#include "util/error.hpp"

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace gantry::cdi {

// {"/etc/cdi", "/var/run/cdi"}: later directories win over earlier ones.
const std::vector<std::string>& default_spec_dirs();

struct LoadedSpec {
    Spec spec;
    std::string path; // the file it came from
    int priority = 0; // index of its directory in the registry's list
};

struct ApplyOptions {
    // Also append the hooks to RuntimeSpec::hooks (for bundles that runc/crun run). gantry's own
    // launcher leaves this off and runs ApplyResult::hooks itself.
    bool hooks_into_spec = false;
    // Accept a regular file where a device node is expected (stand-in nodes of a simulated GPU
    // host in tests); it gets type "c" and major/minor 0 unless the spec says otherwise.
    bool allow_stand_in_nodes = false;
    // Sort the spec's mounts by path depth afterwards, as the CDI library does. gantry's own
    // launcher turns it off for a vendor's GPUs: the spec's mounts keep the order the user gave.
    bool sort_mounts = true;
    // A device node or mount the spec already has at a path stays as it is (the user's --device
    // or -v wins over a vendor's description: gantry run's rule); CDI replaces it.
    bool keep_existing = false;
};

struct ApplyResult {
    std::vector<std::string> devices;   // qualified names applied, in request order
    std::vector<Hook> hooks;            // every hook, in spec order (hook_name says when to run)
    std::optional<IntelRdt> intel_rdt;  // the last one given; gantry does not apply it
    std::vector<NetDevice> net_devices; // gantry does not move interfaces; the caller decides
    std::vector<std::string> warnings;  // e.g. a spec's major differs from the live host node
};

// One device chosen for a container, with where it came from (for messages).
struct Selected {
    const Spec* spec = nullptr;
    const Device* device = nullptr;
    std::string origin; // file name, or a label such as "generated"
};

// Applies the selected devices' edits to `spec` with CDI semantics: each spec's spec-level edits
// once (before its first device), then each device's edits, in order. An env entry replaces the
// variable of its name (runtime-tools' AddProcessEnv, what the CDI library calls), else is
// appended; device
// nodes default hostPath to path, take missing type/major/minor/fileMode from lstat(hostPath)
// and replace a node at the same path, and each b/c node gets a linux.resources.devices allow
// rule with its permissions (default "rwm"; "none": no rule), as runc denies the rest; uid/gid
// default to the process user when it is not root; mounts replace a mount at the same container
// path, then all mounts are stably sorted by path depth (unless !sort_mounts); additionalGids are
// added once each, 0 skipped; hooks are collected. All or nothing: on an Error, `spec` is
// unchanged.
ApplyResult apply(oci::RuntimeSpec& spec, const std::vector<Selected>& devices,
                  const ApplyOptions& opt = {});

class Registry {
  public:
    // Loads every *.json and *.yaml file (no recursion) of each directory; missing directories
    // are skipped. Invalid files are skipped and recorded in errors().
    explicit Registry(std::vector<std::string> dirs = default_spec_dirs());

    void refresh(); // reloads from the directories

    const std::vector<std::string>& dirs() const { return dirs_; }
    const std::vector<LoadedSpec>& specs() const { return specs_; }
    // One line per problem: "<file>: <field>: <what>", and for a device defined by two files of
    // the same directory "conflicting device K=N in <file1> and <file2>" (the device is dropped).
    const std::vector<std::string>& errors() const { return errors_; }

    // Every resolvable qualified name, in directory, file and device order.
    std::vector<std::string> device_names() const;
    // nullopt when the name is malformed, unknown or conflicting.
    std::optional<Selected> resolve(const std::string& qualified_name) const;

    // Resolves `names` (each "vendor/class=name") and applies them (see apply above).
    // Error(invalid) for a malformed name; Error(not_found) listing every unresolvable name and
    // the directories searched.
    ApplyResult apply(oci::RuntimeSpec& spec, const std::vector<std::string>& names,
                      const ApplyOptions& opt = {}) const;

  private:
    std::vector<std::string> dirs_;
    std::vector<LoadedSpec> specs_;
    std::vector<std::string> errors_;
    std::map<std::string, std::pair<size_t, size_t>> index_; // name -> (spec, device)
};

// Where device names came from, for the error a malformed one gets: "--device" (run, create,
// build) or "annotation cdi.k8s.io/..." (gantry oci), the exit code of that door's kind of
// mistake (usage for a flag, invalid for a spec), and the fix it names.
struct NameSource {
    std::string what;
    Errc code;
    std::string hint;
};

// The one way CDI device names reach a runtime spec, whichever door they came through: each
// checked as "vendor/class=name" (Error(SOURCE.code) naming it), resolved in the default spec
// directories and then EXTRA_DIRS, and applied with OPT (Registry::apply).
ApplyResult apply_device_names(oci::RuntimeSpec& spec, const std::vector<std::string>& names,
                               const std::vector<std::string>& extra_dirs, const ApplyOptions& opt,
                               const NameSource& source);

} // namespace gantry::cdi
