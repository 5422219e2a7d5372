#include "oci/linux_resources.hpp"

#include "util/error.hpp"

#include <limits>

namespace gantry::oci {

using json = nlohmann::json;

namespace {

[[noreturn]] void bad(const std::string& field, const std::string& why, std::string hint = {}) {
    throw Error(Errc::invalid, field + " " + why, std::move(hint));
}

// An object's keys, each of which must be one of KNOWN; a key in REFUSED gets its own reason.
void check_keys(const json& j, const std::string& where, std::initializer_list<const char*> known,
                const std::map<std::string, std::string>& refused = {}) {
    if (!j.is_object()) bad(where, "is not an object");
    for (auto& [key, value] : j.items()) {
        if (value.is_null()) continue; // Go's nil: not set
        if (auto r = refused.find(key); r != refused.end())
            bad(where + "." + key, "is not supported by gantry: " + r->second,
                "remove " + where + "." + key + " from the configuration");
        bool ok = false;
        for (const char* k : known) ok = ok || key == k;
        if (!ok)
            bad(where + "." + key, "is not a field gantry knows",
                "remove it, or check its spelling against the runtime spec");
    }
}

bool has(const json& j, const char* key) {
    return j.contains(key) && !j[key].is_null();
}

std::int64_t int_of(const json& v, const std::string& field, std::int64_t lo, std::int64_t hi) {
    if (v.is_number_unsigned()) {
        auto u = v.get<std::uint64_t>();
        if (u > static_cast<std::uint64_t>(hi))
            bad(field,
                "is out of range: " + std::to_string(u) + " (at most " + std::to_string(hi) + ")");
        return static_cast<std::int64_t>(u);
    }
    if (!v.is_number_integer()) bad(field, "is not an integer: " + v.dump());
    auto i = v.get<std::int64_t>();
    if (i < lo || i > hi)
        bad(field, "is out of range: " + std::to_string(i) + " (from " + std::to_string(lo) +
                       " to " + std::to_string(hi) + ")");
    return i;
}

constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();

std::optional<std::int64_t> opt_int(const json& j, const char* key, const std::string& where,
                                    std::int64_t lo = -1, std::int64_t hi = kMax) {
    if (!has(j, key)) return std::nullopt;
    return int_of(j[key], where + "." + key, lo, hi);
}

std::optional<std::uint64_t> opt_uint(const json& j, const char* key, const std::string& where) {
    if (!has(j, key)) return std::nullopt;
    const json& v = j[key];
    if (!v.is_number_unsigned() && !(v.is_number_integer() && v.get<std::int64_t>() >= 0))
        bad(where + "." + key, "is not an unsigned integer: " + v.dump());
    return v.get<std::uint64_t>();
}

std::optional<std::uint16_t> opt_u16(const json& j, const char* key, const std::string& where) {
    auto v = opt_int(j, key, where, 0, 65535);
    if (!v) return std::nullopt;
    return static_cast<std::uint16_t>(*v);
}

std::string opt_string(const json& j, const char* key, const std::string& where) {
    if (!has(j, key)) return {};
    if (!j[key].is_string()) bad(where + "." + key, "is not a string: " + j[key].dump());
    return j[key].get<std::string>();
}

const json& array_of(const json& j, const char* key, const std::string& where) {
    static const json none = json::array();
    if (!has(j, key)) return none;
    if (!j[key].is_array()) bad(where + "." + key, "is not an array");
    return j[key];
}

std::string at(const std::string& where, const char* key, size_t i) {
    return where + "." + key + "[" + std::to_string(i) + "]";
}

void read_memory(const json& m, const std::string& w, LinuxResources::Memory& out) {
    check_keys(m, w,
               {"limit", "reservation", "swap", "kernelTCP", "swappiness", "disableOOMKiller"},
               {{"kernel", "kernel memory limits are deprecated by the kernel and runc 1.1 does "
                           "not apply them either"},
                {"useHierarchy", "runc 1.1 does not apply it"},
                {"checkBeforeUpdate", "runc 1.1 does not apply it"}});
    out.limit = opt_int(m, "limit", w);
    out.reservation = opt_int(m, "reservation", w);
    out.swap = opt_int(m, "swap", w);
    out.kernel_tcp = opt_int(m, "kernelTCP", w);
    out.swappiness = opt_uint(m, "swappiness", w);
    if (out.swappiness && *out.swappiness > 100)
        bad(w + ".swappiness", "is out of range: " + std::to_string(*out.swappiness),
            "the kernel takes 0 to 100");
    if (has(m, "disableOOMKiller")) {
        if (!m["disableOOMKiller"].is_boolean()) bad(w + ".disableOOMKiller", "is not a boolean");
        out.disable_oom_killer = m["disableOOMKiller"].get<bool>();
    }
}

void read_cpu(const json& c, const std::string& w, LinuxResources::Cpu& out) {
    check_keys(c, w,
               {"shares", "quota", "period", "realtimeRuntime", "realtimePeriod", "cpus", "mems"},
               {{"idle", "SCHED_IDLE cgroups (cpu.idle) are not implemented"},
                {"burst", "runc 1.1 does not apply it"}});
    out.shares = opt_uint(c, "shares", w);
    out.quota = opt_int(c, "quota", w, std::numeric_limits<std::int64_t>::min());
    out.period = opt_uint(c, "period", w);
    out.realtime_runtime = opt_int(c, "realtimeRuntime", w, -1);
    out.realtime_period = opt_uint(c, "realtimePeriod", w);
    out.cpus = opt_string(c, "cpus", w);
    out.mems = opt_string(c, "mems", w);
    for (const std::string* s : {&out.cpus, &out.mems})
        for (char ch : *s)
            if (!std::isdigit(static_cast<unsigned char>(ch)) && ch != ',' && ch != '-')
                bad(w + (s == &out.cpus ? ".cpus" : ".mems"),
                    "is not a list such as 0-3,5: \"" + *s + "\"");
}

void read_block_io(const json& b, const std::string& w, LinuxResources::BlockIo& out) {
    check_keys(b, w,
               {"weight", "leafWeight", "weightDevice", "throttleReadBpsDevice",
                "throttleWriteBpsDevice", "throttleReadIOPSDevice", "throttleWriteIOPSDevice"});
    out.weight = opt_u16(b, "weight", w);
    out.leaf_weight = opt_u16(b, "leafWeight", w);
    const json& wd = array_of(b, "weightDevice", w);
    for (size_t i = 0; i < wd.size(); ++i) {
        std::string f = at(w, "weightDevice", i);
        check_keys(wd[i], f, {"major", "minor", "weight", "leafWeight"});
        if (!has(wd[i], "major") || !has(wd[i], "minor")) bad(f, "needs major and minor");
        out.weight_device.push_back({*opt_int(wd[i], "major", f, 0), *opt_int(wd[i], "minor", f, 0),
                                     opt_u16(wd[i], "weight", f), opt_u16(wd[i], "leafWeight", f)});
    }
    auto rates = [&](const char* key, std::vector<BlockDeviceRate>& list) {
        const json& a = array_of(b, key, w);
        for (size_t i = 0; i < a.size(); ++i) {
            std::string f = at(w, key, i);
            check_keys(a[i], f, {"major", "minor", "rate"});
            if (!has(a[i], "major") || !has(a[i], "minor") || !has(a[i], "rate"))
                bad(f, "needs major, minor and rate");
            list.push_back({*opt_int(a[i], "major", f, 0), *opt_int(a[i], "minor", f, 0),
                            *opt_uint(a[i], "rate", f)});
        }
    };
    rates("throttleReadBpsDevice", out.read_bps);
    rates("throttleWriteBpsDevice", out.write_bps);
    rates("throttleReadIOPSDevice", out.read_iops);
    rates("throttleWriteIOPSDevice", out.write_iops);
}

DeviceRule read_device_rule(const json& d, const std::string& f) {
    check_keys(d, f, {"allow", "type", "major", "minor", "access"});
    if (!has(d, "allow") || !d["allow"].is_boolean()) bad(f + ".allow", "must be true or false");
    DeviceRule r;
    r.allow = d["allow"].get<bool>();
    std::string type = has(d, "type") ? opt_string(d, "type", f) : "a";
    if (type != "a" && type != "c" && type != "b")
        bad(f + ".type", "is not a, c or b: \"" + type + "\"");
    r.type = type[0];
    r.major = opt_int(d, "major", f, -1);
    r.minor = opt_int(d, "minor", f, -1);
    if (r.major && *r.major < 0) r.major.reset(); // -1 is "*", as in runc
    if (r.minor && *r.minor < 0) r.minor.reset();
    if (has(d, "access")) {
        r.access = opt_string(d, "access", f);
        if (r.access.empty() || r.access.find_first_not_of("rwm") != std::string::npos)
            bad(f + ".access", "is not made of r, w and m: \"" + r.access + "\"");
    }
    return r;
}

} // namespace

bool LinuxResources::BlockIo::empty() const {
    return !weight && !leaf_weight && weight_device.empty() && read_bps.empty() &&
           write_bps.empty() && read_iops.empty() && write_iops.empty();
}

LinuxResources LinuxResources::from_json(const json& j, const std::string& w) {
    LinuxResources r;
    if (j.is_null()) return r;
    check_keys(j, w, {"memory", "cpu", "pids", "blockIO", "hugepageLimits", "devices", "unified"},
               {{"network", "the net_cls and net_prio controllers are not managed"},
                {"rdma", "the rdma controller is not managed"}});
    if (has(j, "memory")) read_memory(j["memory"], w + ".memory", r.memory);
    if (has(j, "cpu")) read_cpu(j["cpu"], w + ".cpu", r.cpu);
    if (has(j, "pids")) {
        check_keys(j["pids"], w + ".pids", {"limit"});
        r.pids_limit =
            opt_int(j["pids"], "limit", w + ".pids", std::numeric_limits<std::int64_t>::min());
    }
    if (has(j, "blockIO")) read_block_io(j["blockIO"], w + ".blockIO", r.block_io);
    const json& huge = array_of(j, "hugepageLimits", w);
    for (size_t i = 0; i < huge.size(); ++i) {
        std::string f = at(w, "hugepageLimits", i);
        check_keys(huge[i], f, {"pageSize", "limit"});
        std::string size = opt_string(huge[i], "pageSize", f);
        if (size.empty() || size.find_first_of("/.") != std::string::npos)
            bad(f + ".pageSize", "is not a page size such as 2MB: \"" + size + "\"");
        auto limit = opt_uint(huge[i], "limit", f);
        if (!limit) bad(f + ".limit", "is missing");
        r.hugepage_limits.emplace_back(size, *limit);
    }
    const json& devices = array_of(j, "devices", w);
    for (size_t i = 0; i < devices.size(); ++i)
        r.devices.push_back(read_device_rule(devices[i], at(w, "devices", i)));
    if (has(j, "unified")) {
        if (!j["unified"].is_object()) bad(w + ".unified", "is not an object");
        for (auto& [key, value] : j["unified"].items()) {
            if (key.empty() || key.find('/') != std::string::npos || key == "." || key == "..")
                bad(w + ".unified", "has a key that is no cgroup file name: \"" + key + "\"");
            if (!value.is_string()) bad(w + ".unified." + key, "is not a string: " + value.dump());
            r.unified[key] = value.get<std::string>();
        }
    }
    return r;
}

void LinuxResources::merge(const LinuxResources& o) {
    auto take = [](auto& mine, const auto& theirs) {
        if (theirs) mine = theirs;
    };
    take(memory.limit, o.memory.limit);
    take(memory.reservation, o.memory.reservation);
    take(memory.swap, o.memory.swap);
    take(memory.kernel_tcp, o.memory.kernel_tcp);
    take(memory.swappiness, o.memory.swappiness);
    take(memory.disable_oom_killer, o.memory.disable_oom_killer);
    take(cpu.shares, o.cpu.shares);
    take(cpu.quota, o.cpu.quota);
    take(cpu.period, o.cpu.period);
    take(cpu.realtime_runtime, o.cpu.realtime_runtime);
    take(cpu.realtime_period, o.cpu.realtime_period);
    if (!o.cpu.cpus.empty()) cpu.cpus = o.cpu.cpus;
    if (!o.cpu.mems.empty()) cpu.mems = o.cpu.mems;
    take(pids_limit, o.pids_limit);
    take(block_io.weight, o.block_io.weight);
    take(block_io.leaf_weight, o.block_io.leaf_weight);
    if (!o.block_io.weight_device.empty()) block_io.weight_device = o.block_io.weight_device;
    if (!o.block_io.read_bps.empty()) block_io.read_bps = o.block_io.read_bps;
    if (!o.block_io.write_bps.empty()) block_io.write_bps = o.block_io.write_bps;
    if (!o.block_io.read_iops.empty()) block_io.read_iops = o.block_io.read_iops;
    if (!o.block_io.write_iops.empty()) block_io.write_iops = o.block_io.write_iops;
    if (!o.hugepage_limits.empty()) hugepage_limits = o.hugepage_limits;
    if (!o.devices.empty()) devices = o.devices;
    for (auto& [k, v] : o.unified) unified[k] = v;
}

json LinuxResources::to_json() const {
    json j = json::object();
    auto put = [](json& o, const char* key, const auto& v) {
        if (v) o[key] = *v;
    };
    json m = json::object();
    put(m, "limit", memory.limit);
    put(m, "reservation", memory.reservation);
    put(m, "swap", memory.swap);
    put(m, "kernelTCP", memory.kernel_tcp);
    put(m, "swappiness", memory.swappiness);
    put(m, "disableOOMKiller", memory.disable_oom_killer);
    if (!m.empty()) j["memory"] = m;
    json c = json::object();
    put(c, "shares", cpu.shares);
    put(c, "quota", cpu.quota);
    put(c, "period", cpu.period);
    put(c, "realtimeRuntime", cpu.realtime_runtime);
    put(c, "realtimePeriod", cpu.realtime_period);
    if (!cpu.cpus.empty()) c["cpus"] = cpu.cpus;
    if (!cpu.mems.empty()) c["mems"] = cpu.mems;
    if (!c.empty()) j["cpu"] = c;
    if (pids_limit) j["pids"] = {{"limit", *pids_limit}};
    if (!block_io.empty()) {
        json b = json::object();
        put(b, "weight", block_io.weight);
        put(b, "leafWeight", block_io.leaf_weight);
        if (!block_io.weight_device.empty()) {
            json a = json::array();
            for (const auto& d : block_io.weight_device) {
                json e = {{"major", d.major}, {"minor", d.minor}};
                put(e, "weight", d.weight);
                put(e, "leafWeight", d.leaf_weight);
                a.push_back(e);
            }
            b["weightDevice"] = a;
        }
        auto rates = [&](const char* key, const std::vector<BlockDeviceRate>& list) {
            if (list.empty()) return;
            json a = json::array();
            for (const auto& d : list)
                a.push_back({{"major", d.major}, {"minor", d.minor}, {"rate", d.rate}});
            b[key] = a;
        };
        rates("throttleReadBpsDevice", block_io.read_bps);
        rates("throttleWriteBpsDevice", block_io.write_bps);
        rates("throttleReadIOPSDevice", block_io.read_iops);
        rates("throttleWriteIOPSDevice", block_io.write_iops);
        j["blockIO"] = b;
    }
    if (!hugepage_limits.empty()) {
        json a = json::array();
        for (const auto& [size, limit] : hugepage_limits)
            a.push_back({{"pageSize", size}, {"limit", limit}});
        j["hugepageLimits"] = a;
    }
    if (!devices.empty()) {
        json a = json::array();
        for (const auto& r : devices) {
            json rule = {
                {"allow", r.allow}, {"type", std::string(1, r.type)}, {"access", r.access}};
            if (r.major) rule["major"] = *r.major;
            if (r.minor) rule["minor"] = *r.minor;
            a.push_back(rule);
        }
        j["devices"] = a;
    }
    if (!unified.empty()) j["unified"] = unified;
    return j;
}

bool LinuxResources::limits_anything() const {
    const Memory& m = memory;
    const Cpu& c = cpu;
    return m.limit || m.reservation || m.swap || m.kernel_tcp || m.swappiness ||
           m.disable_oom_killer || c.shares || c.quota || c.period || c.realtime_runtime ||
           c.realtime_period || !c.cpus.empty() || !c.mems.empty() || pids_limit ||
           !block_io.empty() || !hugepage_limits.empty() || !unified.empty();
}

} // namespace gantry::oci
