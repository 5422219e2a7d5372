#include "runtime/cgroup_writes.hpp"

#include "util/error.hpp"
#include "util/text.hpp"

#include <algorithm>
#include <string_view>

namespace gantry::runtime {

namespace {

constexpr const char* kRes = "linux.resources."; // no std::string: built at every start

[[noreturn]] void refuse_on(CgroupVersion v, const std::string& field, const std::string& why) {
    throw Error(Errc::invalid,
                std::string(kRes) + field + " cannot be applied on cgroup " +
                    (v == CgroupVersion::v1 ? "v1" : "v2") + ": " + why,
                "remove " + std::string(kRes) + field + " from the configuration");
}

std::string num(std::int64_t v) {
    return std::to_string(v);
}

std::string dev(std::int64_t major, std::int64_t minor) {
    return num(major) + ":" + num(minor);
}

struct Writes {
    CgroupVersion v;
    std::vector<CgroupWrite> out;
    void add(const std::string& controller, const std::string& file, const std::string& value,
             const std::string& field) {
        out.push_back({controller, file, value, std::string(kRes) + field, "", "", false});
    }
};

void memory(Writes& w, const oci::LinuxResources::Memory& m) {
    if (w.v == CgroupVersion::v1) {
        std::optional<std::int64_t> swap = m.swap;
        if (m.limit && *m.limit == -1 && !swap) swap = -1; // runc: unlimited memory, unlimited swap
        if (m.limit && *m.limit != 0)
            w.add("memory", "memory.limit_in_bytes", num(*m.limit), "memory.limit");
        if (swap && *swap != 0)
            w.add("memory", "memory.memsw.limit_in_bytes", num(*swap), "memory.swap");
        if (m.reservation && *m.reservation != 0)
            w.add("memory", "memory.soft_limit_in_bytes", num(*m.reservation),
                  "memory.reservation");
        if (m.kernel_tcp && *m.kernel_tcp != 0)
            w.add("memory", "memory.kmem.tcp.limit_in_bytes", num(*m.kernel_tcp),
                  "memory.kernelTCP");
        if (m.swappiness)
            w.add("memory", "memory.swappiness", std::to_string(*m.swappiness),
                  "memory.swappiness");
        if (m.disable_oom_killer && *m.disable_oom_killer)
            w.add("memory", "memory.oom_control", "1", "memory.disableOOMKiller");
        return;
    }
    if (m.swappiness) refuse_on(w.v, "memory.swappiness", "cgroup v2 has no memory.swappiness");
    if (m.disable_oom_killer && *m.disable_oom_killer)
        refuse_on(w.v, "memory.disableOOMKiller", "cgroup v2 cannot disable the OOM killer");
    if (m.kernel_tcp && *m.kernel_tcp != 0)
        refuse_on(w.v, "memory.kernelTCP", "cgroup v2 has no separate TCP memory limit");
    if (m.limit && *m.limit != 0)
        w.add("memory", "memory.max", *m.limit < 0 ? "max" : num(*m.limit), "memory.limit");
    // runc's ConvertMemorySwapToCgroupV2Value: the spec's swap is memory+swap
    if (m.swap && *m.swap != 0) {
        std::string value;
        if (*m.swap == -1)
            value = "max";
        else if (!m.limit || *m.limit <= 0)
            refuse_on(w.v, "memory.swap",
                      "a memory+swap limit needs a memory limit on cgroup v2 (memory.limit)");
        else if (*m.swap < *m.limit)
            throw Error(Errc::invalid,
                        std::string(kRes) + "memory.swap (" + num(*m.swap) + ") is below " +
                            std::string(kRes) + "memory.limit (" + num(*m.limit) + ")",
                        "swap is memory+swap: at least the memory limit, or -1 for unlimited");
        else
            value = num(*m.swap - *m.limit);
        w.add("memory", "memory.swap.max", value, "memory.swap");
    }
    if (m.reservation && *m.reservation != 0)
        w.add("memory", "memory.low", *m.reservation < 0 ? "max" : num(*m.reservation),
              "memory.reservation");
}

void cpu(Writes& w, const oci::LinuxResources::Cpu& c) {
    if (w.v == CgroupVersion::v1) {
        if (c.shares && *c.shares != 0)
            w.add("cpu", "cpu.shares", std::to_string(*c.shares), "cpu.shares");
        if (c.period && *c.period != 0)
            w.add("cpu", "cpu.cfs_period_us", std::to_string(*c.period), "cpu.period");
        if (c.quota && *c.quota != 0) w.add("cpu", "cpu.cfs_quota_us", num(*c.quota), "cpu.quota");
        if (c.realtime_period && *c.realtime_period != 0)
            w.add("cpu", "cpu.rt_period_us", std::to_string(*c.realtime_period),
                  "cpu.realtimePeriod");
        if (c.realtime_runtime && *c.realtime_runtime != 0)
            w.add("cpu", "cpu.rt_runtime_us", num(*c.realtime_runtime), "cpu.realtimeRuntime");
    } else {
        if ((c.realtime_period && *c.realtime_period != 0) ||
            (c.realtime_runtime && *c.realtime_runtime != 0))
            refuse_on(w.v, c.realtime_period ? "cpu.realtimePeriod" : "cpu.realtimeRuntime",
                      "cgroup v2 has no realtime cpu budget");
        if (c.shares && *c.shares != 0)
            w.add("cpu", "cpu.weight", std::to_string(cpu_weight_of_shares(*c.shares)),
                  "cpu.shares");
        const bool quota = c.quota && *c.quota != 0, period = c.period && *c.period != 0;
        if (quota || period) {
            std::string v = quota && *c.quota > 0 ? num(*c.quota) : "max";
            if (period) v += " " + std::to_string(*c.period);
            w.add("cpu", "cpu.max", v, quota ? "cpu.quota" : "cpu.period");
        }
    }
    if (!c.cpus.empty()) w.add("cpuset", "cpuset.cpus", c.cpus, "cpu.cpus");
    if (!c.mems.empty()) w.add("cpuset", "cpuset.mems", c.mems, "cpu.mems");
}

void block_io(Writes& w, const oci::LinuxResources::BlockIo& b) {
    const bool v1 = w.v == CgroupVersion::v1;
    const std::string ctl = v1 ? "blkio" : "io";
    if (b.weight && *b.weight != 0) {
        CgroupWrite x{ctl,
                      v1 ? "blkio.bfq.weight" : "io.bfq.weight",
                      std::to_string(*b.weight),
                      std::string(kRes) + "blockIO.weight",
                      v1 ? "blkio.weight" : "io.weight",
                      std::to_string(v1 ? *b.weight : io_weight_of_blkio(*b.weight)),
                      false};
        w.out.push_back(x);
    }
    if (b.leaf_weight && *b.leaf_weight != 0) {
        if (!v1) refuse_on(w.v, "blockIO.leafWeight", "cgroup v2 has no leaf weight");
        w.add(ctl, "blkio.leaf_weight", std::to_string(*b.leaf_weight), "blockIO.leafWeight");
    }
    for (size_t i = 0; i < b.weight_device.size(); ++i) {
        const auto& d = b.weight_device[i];
        std::string field = "blockIO.weightDevice[" + std::to_string(i) + "]";
        if (!v1) refuse_on(w.v, field, "per-device weights are not implemented on cgroup v2");
        if (d.weight && *d.weight != 0)
            w.out.push_back({ctl, "blkio.bfq.weight_device",
                             dev(d.major, d.minor) + " " + std::to_string(*d.weight),
                             std::string(kRes) + field, "blkio.weight_device",
                             dev(d.major, d.minor) + " " + std::to_string(*d.weight), false});
        if (d.leaf_weight && *d.leaf_weight != 0)
            w.add(ctl, "blkio.leaf_weight_device",
                  dev(d.major, d.minor) + " " + std::to_string(*d.leaf_weight), field);
    }
    auto rates = [&](const std::vector<oci::BlockDeviceRate>& list, const char* v1_file,
                     const char* v2_key, const char* field) {
        for (size_t i = 0; i < list.size(); ++i) {
            const auto& d = list[i];
            std::string f = std::string("blockIO.") + field + "[" + std::to_string(i) + "]";
            if (v1)
                w.add(ctl, v1_file, dev(d.major, d.minor) + " " + std::to_string(d.rate), f);
            else
                w.add(ctl, "io.max",
                      dev(d.major, d.minor) + " " + v2_key + "=" +
                          (d.rate == 0 ? "max" : std::to_string(d.rate)),
                      f);
        }
    };
    rates(b.read_bps, "blkio.throttle.read_bps_device", "rbps", "throttleReadBpsDevice");
    rates(b.write_bps, "blkio.throttle.write_bps_device", "wbps", "throttleWriteBpsDevice");
    rates(b.read_iops, "blkio.throttle.read_iops_device", "riops", "throttleReadIOPSDevice");
    rates(b.write_iops, "blkio.throttle.write_iops_device", "wiops", "throttleWriteIOPSDevice");
}

void devices(Writes& w, const std::vector<oci::DeviceRule>& rules) {
    if (w.v == CgroupVersion::v1) {
        for (size_t i = 0; i < rules.size(); ++i)
            w.add("devices", rules[i].allow ? "devices.allow" : "devices.deny",
                  device_rule_text(rules[i]), "devices[" + std::to_string(i) + "]");
        return;
    }
    // cgroup v2 has no device files: the rules are an eBPF program (device_filter.hpp), which
    // ContainerCgroup::create attaches
}

} // namespace

std::uint64_t cpu_weight_of_shares(std::uint64_t shares) {
    if (shares == 0) return 0;
    if (shares < 2) shares = 2;
    if (shares > 262144) shares = 262144;
    return 1 + ((shares - 2) * 9999) / 262142;
}

std::uint64_t io_weight_of_blkio(std::uint16_t weight) {
    if (weight == 0) return 0;
    std::uint64_t w = weight < 10 ? 10 : weight > 1000 ? 1000 : weight;
    return 1 + (w - 10) * 9999 / 990;
}

std::string device_rule_text(const oci::DeviceRule& r) {
    if (r.type == 'a' && !r.major && !r.minor) return "a";
    auto part = [](const std::optional<std::int64_t>& v) { return v ? num(*v) : "*"; };
    return std::string(1, r.type) + " " + part(r.major) + ":" + part(r.minor) + " " + r.access;
}

std::vector<oci::DeviceRule> container_device_rules(const std::vector<oci::DeviceRule>& spec_rules,
                                                    const std::vector<oci::DeviceNode>& devices) {
    std::vector<oci::DeviceRule> out = spec_rules;
    for (const auto& d : oci::default_devices()) {
        bool taken =
            !d.path.empty() && std::any_of(devices.begin(), devices.end(),
                                           [&](const auto& n) { return n.path == d.path; });
        if (!taken) out.push_back(d.rule);
    }
    return out;
}

std::vector<CgroupWrite> cgroup_writes(const oci::LinuxResources& r, CgroupVersion v) {
    Writes w{v, {}};
    // cpuset first: a v1 cpuset cgroup needs cpus and mems before it takes a process
    cpu(w, r.cpu);
    memory(w, r.memory);
    if (r.pids_limit && *r.pids_limit != 0)
        w.add("pids", "pids.max", *r.pids_limit > 0 ? num(*r.pids_limit) : "max", "pids.limit");
    block_io(w, r.block_io);
    for (size_t i = 0; i < r.hugepage_limits.size(); ++i) {
        const auto& [size, limit] = r.hugepage_limits[i];
        std::string field = "hugepageLimits[" + std::to_string(i) + "]";
        std::string base =
            "hugetlb." + size + (v == CgroupVersion::v1 ? ".limit_in_bytes" : ".max");
        w.add("hugetlb", base, std::to_string(limit), field);
        // runc 1.1 also sets the reservation limit where the kernel has one
        std::string rsvd =
            "hugetlb." + size + (v == CgroupVersion::v1 ? ".rsvd.limit_in_bytes" : ".rsvd.max");
        w.out.push_back(
            {"hugetlb", rsvd, std::to_string(limit), std::string(kRes) + field, "", "", true});
    }
    devices(w, r.devices);
    if (!r.unified.empty()) {
        if (v == CgroupVersion::v1)
            refuse_on(v, "unified",
                      "it names cgroup v2 files, and this host's controllers are on "
                      "cgroup v1 (runc refuses it there too)");
        for (const auto& [file, value] : r.unified) {
            // dmem's limits: one region a write (a kernel may take no more: dri-devel 2026)
            if (file.starts_with("dmem.") && value.find('\n') != std::string::npos) {
                for (std::string_view line : text::split(value, '\n'))
                    if (!line.empty()) w.add("dmem", file, std::string(line), "unified." + file);
                continue;
            }
            w.add(file.substr(0, file.find('.')), file, value, "unified." + file);
        }
    }
    return w.out;
}

} // namespace gantry::runtime
