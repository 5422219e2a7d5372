// What the CDI unit tests share: catching a gantry::Error as a value, the reference specs
// (nvidia-driver.md §2.6) and a small valid spec to break, a temporary directory, and a runtime
// spec to apply edits to.
#pragma once

#include "cdi/spec.hpp"
#include "oci/runtime_spec.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

#include <filesystem>
#include <gtest/gtest.h>
#include <optional>
#include <stdlib.h>
#include <string>

namespace cdi_test {

using gantry::Errc;
using gantry::Error;
namespace cdi = gantry::cdi;
namespace stdfs = std::filesystem;

struct Failure {
    Errc code;
    std::string message;
};

template <typename F>
std::optional<Failure> failure_of(F&& f) {
    try {
        f();
    } catch (const Error& e) {
        return Failure{e.code(), e.message()};
    }
    return std::nullopt;
}

inline bool contains(const std::string& s, const std::string& part) {
    return s.find(part) != std::string::npos;
}

inline std::string replace_all(std::string s, const std::string& from, const std::string& to) {
    for (size_t p = s.find(from); p != std::string::npos; p = s.find(from, p + to.size()))
        s.replace(p, from.size(), to);
    return s;
}

// Reference nvidia-driver.md §2.6 (b): NCT v1.20.0's TestGenerateSpec "default", verbatim.
inline const std::string kNctSpec = R"(---
cdiVersion: 0.5.0
kind: example.com/device
devices:
    - name: "0"
      containerEdits:
        deviceNodes:
            - path: /dev/nvidia0
              hostPath: {{ .driverRoot }}/dev/nvidia0
    - name: all
      containerEdits:
        deviceNodes:
            - path: /dev/nvidia0
              hostPath: {{ .driverRoot }}/dev/nvidia0
containerEdits:
    env:
        - NVIDIA_CTK_LIBCUDA_DIR=/lib/x86_64-linux-gnu
        - NVIDIA_VISIBLE_DEVICES=void
    deviceNodes:
        - path: /dev/nvidiactl
          hostPath: {{ .driverRoot }}/dev/nvidiactl
    hooks:
        - hookName: createContainer
          path: /usr/bin/nvidia-cdi-hook
          args:
            - nvidia-cdi-hook
            - create-symlinks
            - --link
            - libcuda.so.1::/lib/x86_64-linux-gnu/libcuda.so
          env:
            - NVIDIA_CTK_DEBUG=false
        - hookName: createContainer
          path: /usr/bin/nvidia-cdi-hook
          args:
            - nvidia-cdi-hook
            - enable-cuda-compat
            - --host-driver-version=999.88.77
          env:
            - NVIDIA_CTK_DEBUG=false
        - hookName: createContainer
          path: /usr/bin/nvidia-cdi-hook
          args:
            - nvidia-cdi-hook
            - update-ldcache
            - --folder
            - /lib/x86_64-linux-gnu
            - --folder
            - /lib/x86_64-linux-gnu/vdpau
          env:
            - NVIDIA_CTK_DEBUG=false
        - hookName: createContainer
          path: /usr/bin/nvidia-cdi-hook
          args:
            - nvidia-cdi-hook
            - disable-device-node-modification
          env:
            - NVIDIA_CTK_DEBUG=false
        - hookName: createContainer
          path: /usr/bin/nvidia-cdi-hook
          args:
            - nvidia-cdi-hook
            - update-application-profile
          env:
            - NVIDIA_CTK_DEBUG=false
    mounts:
        - hostPath: {{ .driverRoot }}/lib/x86_64-linux-gnu/libcuda.so.999.88.77
          containerPath: /lib/x86_64-linux-gnu/libcuda.so.999.88.77
          options:
            - ro
            - nosuid
            - nodev
            - rbind
            - rprivate
        - hostPath: {{ .driverRoot }}/lib/x86_64-linux-gnu/vdpau/libvdpau_nvidia.so.999.88.77
          containerPath: /lib/x86_64-linux-gnu/vdpau/libvdpau_nvidia.so.999.88.77
          options:
            - ro
            - nosuid
            - nodev
            - rbind
            - rprivate
)";

// Reference §2.6 (c), the 1.12.0-rc.2 shape (flow lists as in the reference; a device added,
// since the excerpt leaves the device list out).
inline const std::string kHistoricalSpec = R"(cdiVersion: 0.4.0
kind: nvidia.com/gpu
devices:
- name: gpu0
  containerEdits:
    deviceNodes:
    - path: /dev/nvidia0
containerEdits:
  deviceNodes:
  - path: /dev/nvidia-modeset
  - path: /dev/nvidia-uvm-tools
  - path: /dev/nvidia-uvm
  - path: /dev/nvidiactl
  hooks:
  - args: [nvidia-ctk, hook, update-ldcache, --folder, /usr/lib64]
    hookName: createContainer
    path: /bin/nvidia-ctk
  - args: [nvidia-ctk, hook, chmod, --mode, "755", --path, /dev/dri]
    hookName: createContainer
    path: /bin/nvidia-ctk
  mounts:
  - containerPath: /usr/lib64/libnvoptix.so.520.61.05
    hostPath: /usr/lib64/libnvoptix.so.520.61.05
    options: [ro, nosuid, nodev, bind]
    type: bind
  # ... libnvidia-wayland-client, libnvidia-vulkan-producer, libnvidia-tls, libnvidia-rtcore, ...
)";

// A small valid spec to break in one place at a time.
inline const std::string kSmall = R"(cdiVersion: 0.6.0
kind: vendor.com/dev
devices:
- name: a
  containerEdits:
    env: [A=1]
- name: b
  containerEdits:
    env: [B=1]
- name: c
  containerEdits:
    mounts:
    - hostPath: /x
      containerPath: /y
)";

inline Failure parse_failure(const std::string& text, cdi::Format f = cdi::Format::yaml) {
    auto fl = failure_of([&] { cdi::parse(text, f, "t.yaml"); });
    EXPECT_TRUE(fl.has_value()) << "parsed but should not:\n" << text;
    return fl.value_or(Failure{Errc::internal, ""});
}

class TempDir {
  public:
    TempDir() {
        std::string tmpl = (stdfs::temp_directory_path() / "gantry-cdi-XXXXXX").string();
        path_ = ::mkdtemp(tmpl.data());
    }
    ~TempDir() { gantry::fs::remove_tree(path_); }
    const stdfs::path& path() const { return path_; }
    std::string str() const { return path_.string(); }
    void write(const std::string& rel, const std::string& text) const {
        stdfs::create_directories((path_ / rel).parent_path());
        gantry::fs::write_atomic(path_ / rel, text);
    }

  private:
    stdfs::path path_;
};

// A runtime spec with the mounts and env a CDI edit meets.
inline gantry::oci::RuntimeSpec base_runtime_spec() {
    gantry::oci::RuntimeSpec rs;
    rs.env = {"PATH=/usr/bin:/bin", "A=0"};
    rs.mounts = {{"/proc", "proc", "proc", {}},
                 {"/dev", "tmpfs", "tmpfs", {"nosuid"}},
                 {"/dev/pts", "devpts", "devpts", {}},
                 {"/data", "bind", "/old", {"rbind"}},
                 {"/sys", "sysfs", "sysfs", {}}};
    rs.additional_gids = {7};
    return rs;
}

} // namespace cdi_test
