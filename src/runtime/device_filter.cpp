#include "runtime/device_filter.hpp"

#include "runtime/cgroup_writes.hpp"
#include "util/error.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fcntl.h>
#include <map>
#include <string>
#include <sys/syscall.h>
#include <tuple>
#include <unistd.h>

namespace gantry::runtime {

namespace {

// A rule's node: type and major and minor, -1 for a wildcard (runc's deviceMeta).
using Node = std::tuple<char, std::int64_t, std::int64_t>;

constexpr std::int64_t kAny = -1;

std::int64_t number(const std::optional<std::int64_t>& v) {
    return v && *v >= 0 ? *v : kAny;
}

// An access string as a set: bit 0 r, 1 w, 2 m.
unsigned access_bits(const std::string& access, const std::string& rule) {
    unsigned bits = 0;
    for (char c : access) {
        const char* at = std::strchr("rwm", c);
        if (c == 0 || !at)
            throw Error(Errc::invalid,
                        "linux.resources.devices: rule \"" + rule + "\" has the access \"" +
                            access + "\"",
                        "access is made of r (read), w (write) and m (mknod)");
        bits |= 1u << (at - "rwm");
    }
    return bits;
}

std::string access_text(unsigned bits) {
    std::string s;
    for (int i = 0; i < 3; ++i)
        if (bits & (1u << i)) s += "rwm"[i];
    return s;
}

// runc's devices emulator: the cgroup v1 state after each rule in turn.
struct Emulator {
    bool default_allow = false;
    std::map<Node, unsigned> exceptions;

    void add(const Node& n, unsigned bits) {
        if (bits) exceptions[n] |= bits;
    }

    // cgroup v1 ignores a removal that only a wildcard exception covers; runc refuses it
    void remove(const Node& n, unsigned bits, const std::string& rule) {
        auto [type, major, minor] = n;
        std::vector<Node> partial;
        if (major != kAny) partial.emplace_back(type, kAny, minor);
        if (minor != kAny) partial.emplace_back(type, major, kAny);
        for (const Node& p : partial) {
            auto it = exceptions.find(p);
            if (it != exceptions.end() && (it->second & bits)) {
                oci::DeviceRule w{!default_allow, std::get<0>(p), std::nullopt, std::nullopt,
                                  access_text(it->second)};
                if (std::get<1>(p) != kAny) w.major = std::get<1>(p);
                if (std::get<2>(p) != kAny) w.minor = std::get<2>(p);
                throw Error(Errc::invalid,
                            "linux.resources.devices: rule \"" + rule +
                                "\" punches a hole in the earlier wildcard rule \"" +
                                device_rule_text(w) +
                                "\", which the device cgroup cannot do (runc refuses it too)",
                            "list the devices one by one instead of the wildcard, or drop the "
                            "narrower rule");
            }
        }
        auto it = exceptions.find(n);
        if (it == exceptions.end()) return;
        it->second &= ~bits;
        if (!it->second) exceptions.erase(it);
    }

    void apply(const oci::DeviceRule& r) {
        const std::string text = std::string(r.allow ? "allow " : "deny ") + device_rule_text(r);
        if (r.type != 'a' && r.type != 'b' && r.type != 'c')
            throw Error(Errc::invalid,
                        "linux.resources.devices: rule \"" + text + "\" has the type '" +
                            std::string(1, r.type) + "'",
                        "a device rule's type is a (all), b (block) or c (character)");
        for (const auto& v : {r.major, r.minor})
            if (v && *v > static_cast<std::int64_t>(UINT32_MAX))
                throw Error(Errc::invalid,
                            "linux.resources.devices: rule \"" + text +
                                "\" has a device number above 2^32-1",
                            "give the node's major and minor numbers (ls -l /dev)");
        const unsigned bits = access_bits(r.access, text);
        if (r.type == 'a') { // "a" resets, whatever its numbers and access (cgroup v1)
            default_allow = r.allow;
            exceptions.clear();
            return;
        }
        const Node n{r.type, number(r.major), number(r.minor)};
        if (r.allow == default_allow)
            remove(n, bits, text);
        else
            add(n, bits);
    }
};

// eBPF instructions (linux/bpf.h, linux/bpf_common.h).
bpf_insn insn(std::uint8_t code, std::uint8_t dst, std::uint8_t src, std::int16_t off,
              std::int32_t imm) {
    bpf_insn i{};
    i.code = code;
    i.dst_reg = dst & 0xf;
    i.src_reg = src & 0xf;
    i.off = off;
    i.imm = imm;
    return i;
}

} // namespace

DeviceRuleSet fold_device_rules(const std::vector<oci::DeviceRule>& rules) {
    Emulator e;
    for (const auto& r : rules) e.apply(r);
    DeviceRuleSet out;
    out.default_allow = e.default_allow;
    for (const auto& [n, bits] : e.exceptions) { // std::map: sorted by type, major, minor
        oci::DeviceRule r{!e.default_allow, std::get<0>(n), std::nullopt, std::nullopt,
                          access_text(bits)};
        if (std::get<1>(n) != kAny) r.major = std::get<1>(n);
        if (std::get<2>(n) != kAny) r.minor = std::get<2>(n);
        out.exceptions.push_back(r);
    }
    return out;
}

std::vector<bpf_insn> device_filter_program(const DeviceRuleSet& set) {
    enum : std::uint8_t { R0, R1, R2, R3, R4, R5 };
    const std::uint8_t ldx_w = BPF_LDX | BPF_MEM | BPF_W;
    const std::uint8_t jne_k = BPF_JMP | BPF_JNE | BPF_K, jne_x = BPF_JMP | BPF_JNE | BPF_X;
    std::vector<bpf_insn> p = {
        insn(ldx_w, R2, R1, 0, 0),                         // R2 <- access_type
        insn(BPF_ALU | BPF_AND | BPF_K, R2, 0, 0, 0xffff), // R2 <- its low 16 bits: the type
        insn(ldx_w, R3, R1, 0, 0),                         // R3 <- access_type
        insn(BPF_ALU | BPF_RSH | BPF_K, R3, 0, 0, 16),     // R3 <- its high 16 bits: the access
        insn(ldx_w, R4, R1, 4, 0),                         // R4 <- major
        insn(ldx_w, R5, R1, 8, 0),                         // R5 <- minor
    };
    const unsigned all = BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE | BPF_DEVCG_ACC_MKNOD;
    for (const auto& r : set.exceptions) {
        // one block; each test jumps to the next block (its offset is set at the end)
        std::vector<std::size_t> to_next;
        auto test = [&](bpf_insn i) {
            to_next.push_back(p.size());
            p.push_back(i);
        };
        test(insn(jne_k, R2, 0, 0, r.type == 'b' ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR));
        unsigned acc = 0;
        for (char c : r.access)
            acc |= c == 'r'   ? BPF_DEVCG_ACC_READ
                   : c == 'w' ? BPF_DEVCG_ACC_WRITE
                              : BPF_DEVCG_ACC_MKNOD;
        if (acc != all) { // the access asked for must be a subset of the rule's
            p.push_back(insn(BPF_ALU | BPF_MOV | BPF_X, R1, R3, 0, 0));
            p.push_back(insn(BPF_ALU | BPF_AND | BPF_K, R1, 0, 0, static_cast<std::int32_t>(acc)));
            test(insn(jne_x, R1, R3, 0, 0));
        }
        if (r.major) test(insn(jne_k, R4, 0, 0, static_cast<std::int32_t>(*r.major)));
        if (r.minor) test(insn(jne_k, R5, 0, 0, static_cast<std::int32_t>(*r.minor)));
        p.push_back(insn(BPF_ALU | BPF_MOV | BPF_K, R0, 0, 0, r.allow ? 1 : 0));
        p.push_back(insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0));
        for (std::size_t at : to_next) p[at].off = static_cast<std::int16_t>(p.size() - at - 1);
    }
    p.push_back(insn(BPF_ALU | BPF_MOV | BPF_K, R0, 0, 0, set.default_allow ? 1 : 0));
    p.push_back(insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0));
    return p;
}

void attach_device_filter(const std::vector<bpf_insn>& program, const std::string& cgroup_dir) {
    auto bpf = [](int cmd, bpf_attr& attr) {
        return static_cast<int>(::syscall(SYS_bpf, cmd, &attr, sizeof attr));
    };
    static const char license[] = "Apache";
    std::string log(64 * 1024, '\0');
    bpf_attr load{};
    load.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
    load.insn_cnt = static_cast<std::uint32_t>(program.size());
    load.insns = reinterpret_cast<std::uintptr_t>(program.data());
    load.license = reinterpret_cast<std::uintptr_t>(license);
    Fd prog(bpf(BPF_PROG_LOAD, load));
    if (!prog) { // again, for the verifier's reasons
        int err = errno;
        load.log_level = 1;
        load.log_size = static_cast<std::uint32_t>(log.size());
        load.log_buf = reinterpret_cast<std::uintptr_t>(log.data());
        bpf(BPF_PROG_LOAD, load);
        log.resize(std::strlen(log.c_str()));
        throw Error(Errc::run_failed,
                    "cannot load the device rules' eBPF program for " + cgroup_dir + ": " +
                        std::strerror(err) + (log.empty() ? "" : "\n" + log),
                    err == EPERM ? "loading an eBPF program needs root (CAP_BPF and "
                                   "CAP_SYS_ADMIN)"
                                 : "");
    }
    Fd dir(::open(cgroup_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!dir) throw_errno("cannot open the cgroup " + cgroup_dir);
    bpf_attr attach{};
    attach.target_fd = static_cast<std::uint32_t>(dir.get());
    attach.attach_bpf_fd = static_cast<std::uint32_t>(prog.get());
    attach.attach_type = BPF_CGROUP_DEVICE;
    attach.attach_flags = BPF_F_ALLOW_MULTI;
    if (bpf(BPF_PROG_ATTACH, attach) != 0)
        throw_errno("cannot attach the device rules' eBPF program to " + cgroup_dir);
}

} // namespace gantry::runtime
