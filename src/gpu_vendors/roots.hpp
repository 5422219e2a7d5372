// Where a GPU host is (gpu_vendors::Roots) and the flags that point gantry at another one
// (gpu_vendors::RootFlag). Each vendor declares the host-root flags it reads (Backend::root_flags);
// the CLI declares their union once for every command (cli/host_root_flags.hpp).
#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>

namespace gantry::gpu_vendors {

struct RootFlag;

// Where the host's driver, device nodes and sysfs are, like nvidia-ctk's --driver-root and
// --dev-root: "/" on a real host, a simulated host's directories in tests.
struct Roots {
    std::string driver_root = "/"; // NVIDIA: the driver's user-space installation
    std::string dev_root = "/";    // holds dev/ (device nodes)
    std::string sys_root = "/";    // holds sys/ (AMD: the KFD topology, amdgpu's version)
    // The roots of flags a vendor declares beyond these three, by flag name ("--x-root")
    std::map<std::string, std::string, std::less<>> more{};

    // The value FLAG sets: its field, or its entry in MORE (made "/" when new).
    std::string& of(const RootFlag& flag);
    // The root of a vendor's own flag NAME ("--x-root"): "/" when not given.
    std::string more_root(std::string_view name) const;
};

// A host-root flag: its name (CLI11's "--driver-root"), the Roots field it sets (null: an entry
// of Roots::more), what it points at whatever the vendor ("Root holding dev/ (GPU device
// nodes)"), and what this vendor reads there, naming the vendor ("Intel: the DRM cards"; empty
// when the first says it all). --help shows the first with every vendor's part
// (gpu_vendors::root_flag_help), so that no flag several vendors read describes one of them.
struct RootFlag {
    std::string_view name;
    std::string Roots::*field = nullptr;
    std::string_view help;
    std::string_view vendor_help = {};
};

inline std::string& Roots::of(const RootFlag& flag) {
    if (flag.field) return this->*flag.field;
    return more.try_emplace(std::string(flag.name), "/").first->second;
}

inline std::string Roots::more_root(std::string_view name) const {
    auto it = more.find(name);
    return it == more.end() ? std::string("/") : it->second;
}

} // namespace gantry::gpu_vendors
