// NVML through dlopen: the library comes from the driver root, never from the build machine, so
// the few entry points are declared here with the ABI of nvml.h.
#include "elf/dynamic.hpp"
#include "gpu_vendors/nvidia/discover_detail.hpp"

#include <cstdio>
#include <cstring>
#include <dlfcn.h>
#include <iterator>

namespace gantry::gpu_vendors::nvidia::detail {

namespace {

using nvmlReturn_t = int;
using nvmlDevice_t = struct nvmlDevice_st*;
constexpr nvmlReturn_t nvml_success = 0;
constexpr nvmlReturn_t nvml_not_found = 6;

// nvmlPciInfo_t (v2/v3): busIdLegacy[16], domain, bus, device, pciDeviceId, pciSubSystemId,
// busId[32]; v1 has busId[16] first and the same integers after it.
constexpr std::size_t pci_domain_off = 16, pci_bus_off = 20, pci_device_off = 24;
constexpr std::size_t pci_busid_off = 36, pci_busid_len = 32, pci_legacy_len = 16;

const char* const brand_names[] = {
    "Unknown",   "Quadro",      "Tesla",     "NVS",        "Grid",      "GeForce",
    "Titan",     "NvidiaVApps", "NvidiaVPC", "NvidiaVCS",  "NvidiaVWS", "NvidiaCloudGaming",
    "QuadroRTX", "NvidiaRTX",   "Nvidia",    "GeForceRTX", "TitanRTX",
};

class Nvml {
  public:
    explicit Nvml(void* h) : h_(h) {}
    Nvml(const Nvml&) = delete;
    Nvml& operator=(const Nvml&) = delete;
    ~Nvml() {
        if (initialised_) {
            if (auto f = sym<nvmlReturn_t (*)()>({"nvmlShutdown"})) f();
        }
        ::dlclose(h_);
    }

    // The first of the names the library exports (newest ABI first), or nullptr.
    template <typename F>
    F sym(std::initializer_list<const char*> names) const {
        for (const char* n : names) {
            if (void* p = ::dlsym(h_, n)) return reinterpret_cast<F>(p);
        }
        return nullptr;
    }

    std::string error(nvmlReturn_t rc) const {
        std::string s = "NVML error " + std::to_string(rc);
        if (auto f = sym<const char* (*)(nvmlReturn_t)>({"nvmlErrorString"})) {
            if (const char* m = f(rc)) s += " (" + std::string(m) + ")";
        }
        return s;
    }

    bool initialised_ = false;

  private:
    void* h_;
};

std::string bounded(const char* buf, std::size_t n) {
    return std::string(buf, strnlen(buf, n));
}

std::string query_string(const Nvml& n, const char* fn, nvmlDevice_t d) {
    auto f = n.sym<nvmlReturn_t (*)(nvmlDevice_t, char*, unsigned)>({fn});
    char buf[256] = {};
    if (!f || f(d, buf, sizeof buf - 1) != nvml_success) return {};
    return bounded(buf, sizeof buf);
}

std::uint64_t query_memory(const Nvml& n, nvmlDevice_t d) {
    // nvmlMemory_t (v1): total, free, used — unsigned long long each.
    auto f = n.sym<nvmlReturn_t (*)(nvmlDevice_t, void*)>({"nvmlDeviceGetMemoryInfo"});
    unsigned long long mem[8] = {};
    if (!f || f(d, mem) != nvml_success) return 0;
    return mem[0];
}

std::string query_bus_id(const Nvml& n, nvmlDevice_t d) {
    auto f = n.sym<nvmlReturn_t (*)(nvmlDevice_t, void*)>(
        {"nvmlDeviceGetPciInfo_v3", "nvmlDeviceGetPciInfo_v2", "nvmlDeviceGetPciInfo"});
    alignas(8) char buf[512] = {};
    if (!f || f(d, buf) != nvml_success) return {};
    std::string id = normalize_pci_bus_id(bounded(buf + pci_busid_off, pci_busid_len));
    if (!id.empty()) return id;
    unsigned domain = 0, bus = 0, device = 0;
    std::memcpy(&domain, buf + pci_domain_off, 4);
    std::memcpy(&bus, buf + pci_bus_off, 4);
    std::memcpy(&device, buf + pci_device_off, 4);
    if (domain || bus || device) {
        char out[32];
        std::snprintf(out, sizeof out, "%08X:%02X:%02X.0", domain, bus & 0xff, device & 0x1f);
        return out;
    }
    return normalize_pci_bus_id(bounded(buf, pci_legacy_len));
}

void query_migs(const Nvml& n, nvmlDevice_t d, Device& dev, NvmlReport& out) {
    auto mode =
        n.sym<nvmlReturn_t (*)(nvmlDevice_t, unsigned*, unsigned*)>({"nvmlDeviceGetMigMode"});
    unsigned current = 0, pending = 0;
    if (!mode || mode(d, &current, &pending) != nvml_success || current != 1) return;
    dev.mig_enabled = true;
    auto max_count =
        n.sym<nvmlReturn_t (*)(nvmlDevice_t, unsigned*)>({"nvmlDeviceGetMaxMigDeviceCount"});
    auto by_index = n.sym<nvmlReturn_t (*)(nvmlDevice_t, unsigned, nvmlDevice_t*)>(
        {"nvmlDeviceGetMigDeviceHandleByIndex"});
    auto gi_id = n.sym<nvmlReturn_t (*)(nvmlDevice_t, unsigned*)>({"nvmlDeviceGetGpuInstanceId"});
    auto ci_id =
        n.sym<nvmlReturn_t (*)(nvmlDevice_t, unsigned*)>({"nvmlDeviceGetComputeInstanceId"});
    unsigned count = 0;
    if (!max_count || !by_index || !gi_id || !ci_id || max_count(d, &count) != nvml_success) {
        out.notes.push_back("GPU " + std::to_string(dev.index) +
                            ": MIG is enabled but NVML cannot list its MIG devices");
        return;
    }
    for (unsigned i = 0; i < count && i < 64; ++i) {
        nvmlDevice_t m = nullptr;
        nvmlReturn_t rc = by_index(d, i, &m);
        if (rc == nvml_not_found) continue;
        if (rc != nvml_success) {
            out.notes.push_back("GPU " + std::to_string(dev.index) + " MIG slot " +
                                std::to_string(i) + ": " + n.error(rc));
            continue;
        }
        MigDevice mig;
        mig.gpu_index = dev.index;
        unsigned gi = 0, ci = 0;
        if (gi_id(m, &gi) != nvml_success || ci_id(m, &ci) != nvml_success) {
            out.notes.push_back("GPU " + std::to_string(dev.index) + " MIG slot " +
                                std::to_string(i) + ": no GPU/compute instance id");
            continue;
        }
        mig.gi = static_cast<int>(gi);
        mig.ci = static_cast<int>(ci);
        mig.uuid = query_string(n, "nvmlDeviceGetUUID", m);
        mig.profile = mig_profile_from_name(query_string(n, "nvmlDeviceGetName", m));
        mig.memory = query_memory(n, m);
        dev.migs.push_back(std::move(mig));
    }
}

} // namespace

bool query_nvml(const std::string& path, NvmlReport& out) {
    // The dynamic loader trusts what it maps: a stand-in file or a library for another machine
    // can crash it, so only a well-formed object of this machine is loaded.
    try {
        elf::Info info = elf::read_file(path);
        if (info.bits != elf::native_bits() || info.machine != elf::native_machine() ||
            !info.has_symtab) {
            out.error = path + " is not a loadable shared object for this machine";
            return false;
        }
    } catch (const std::exception& e) {
        out.error = e.what();
        return false;
    }
    ::dlerror();
    void* h = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char* e = ::dlerror();
        out.error = "cannot load " + path + ": " + (e ? e : "unknown dlopen error");
        return false;
    }
    Nvml n(h);
    auto init = n.sym<nvmlReturn_t (*)()>({"nvmlInit_v2", "nvmlInit"});
    if (!init) {
        out.error = path + " exports no nvmlInit";
        return false;
    }
    if (nvmlReturn_t rc = init(); rc != nvml_success) {
        out.error = "nvmlInit failed: " + n.error(rc);
        return false;
    }
    n.initialised_ = true;

    if (auto f = n.sym<nvmlReturn_t (*)(char*, unsigned)>({"nvmlSystemGetDriverVersion"})) {
        char buf[96] = {};
        if (f(buf, sizeof buf - 1) == nvml_success) out.driver_version = bounded(buf, sizeof buf);
    }
    if (auto f = n.sym<nvmlReturn_t (*)(int*)>(
            {"nvmlSystemGetCudaDriverVersion_v2", "nvmlSystemGetCudaDriverVersion"})) {
        int v = 0;
        if (f(&v) == nvml_success && v > 0) out.cuda_version = v;
    }
    auto count_fn =
        n.sym<nvmlReturn_t (*)(unsigned*)>({"nvmlDeviceGetCount_v2", "nvmlDeviceGetCount"});
    auto handle_fn = n.sym<nvmlReturn_t (*)(unsigned, nvmlDevice_t*)>(
        {"nvmlDeviceGetHandleByIndex_v2", "nvmlDeviceGetHandleByIndex"});
    unsigned count = 0;
    if (!count_fn || !handle_fn) {
        out.error = path + " lacks nvmlDeviceGetCount/nvmlDeviceGetHandleByIndex";
        return false;
    }
    if (nvmlReturn_t rc = count_fn(&count); rc != nvml_success) {
        out.error = "nvmlDeviceGetCount failed: " + n.error(rc);
        return false;
    }
    auto minor_fn = n.sym<nvmlReturn_t (*)(nvmlDevice_t, unsigned*)>({"nvmlDeviceGetMinorNumber"});
    auto cc_fn =
        n.sym<nvmlReturn_t (*)(nvmlDevice_t, int*, int*)>({"nvmlDeviceGetCudaComputeCapability"});
    auto brand_fn = n.sym<nvmlReturn_t (*)(nvmlDevice_t, int*)>({"nvmlDeviceGetBrand"});
    auto persist_fn = n.sym<nvmlReturn_t (*)(nvmlDevice_t, int*)>({"nvmlDeviceGetPersistenceMode"});
    for (unsigned i = 0; i < count && i < 1024; ++i) {
        nvmlDevice_t d = nullptr;
        if (nvmlReturn_t rc = handle_fn(i, &d); rc != nvml_success) {
            out.notes.push_back("GPU " + std::to_string(i) + " skipped: " + n.error(rc));
            continue;
        }
        Device dev;
        dev.index = static_cast<int>(i);
        unsigned minor = 0;
        if (!minor_fn || minor_fn(d, &minor) != nvml_success) {
            out.notes.push_back("GPU " + std::to_string(i) + " skipped: no device minor");
            continue;
        }
        dev.minor = static_cast<int>(minor);
        dev.uuid = query_string(n, "nvmlDeviceGetUUID", d);
        dev.name = query_string(n, "nvmlDeviceGetName", d);
        dev.pci_bus_id = query_bus_id(n, d);
        if (cc_fn && cc_fn(d, &dev.cc_major, &dev.cc_minor) != nvml_success)
            dev.cc_major = dev.cc_minor = 0;
        dev.memory = query_memory(n, d);
        int brand = 0;
        if (brand_fn && brand_fn(d, &brand) == nvml_success && brand >= 0 &&
            brand < static_cast<int>(std::size(brand_names)))
            dev.brand = brand_names[brand];
        if (persist_fn) {
            int mode = 0; // nvmlEnableState_t
            if (persist_fn(d, &mode) == nvml_success) dev.persistence = mode ? 1 : 0;
        }
        query_migs(n, d, dev, out);
        out.devices.push_back(std::move(dev));
    }
    return true;
}

} // namespace gantry::gpu_vendors::nvidia::detail
