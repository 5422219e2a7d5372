// The cgroup v2 device rules (runtime/device_filter.hpp): the rules folded as cgroup v1 (runc's
// devices emulator), the eBPF program's instructions, its decisions for a table of accesses (run
// by a small interpreter of the instructions it uses), and the kernel enforcing it: the program
// attached to a cgroup of this host's cgroup2 mount, a child moved in opening device nodes.
#include "oci/linux_resources.hpp"
#include "runtime/device_filter.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"

#include <cerrno>
#include <cstdint>
#include <fcntl.h>
#include <fstream>
#include <gtest/gtest.h>
#include <sstream>
#include <string>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

namespace device_filter_test {

using gantry::Error;
using gantry::oci::DeviceRule;
using gantry::runtime::device_filter_program;
using gantry::runtime::DeviceRuleSet;
using gantry::runtime::fold_device_rules;

namespace {

DeviceRule rule(bool allow, char type, std::optional<std::int64_t> major,
                std::optional<std::int64_t> minor, std::string access) {
    return {allow, type, major, minor, access};
}

const DeviceRule kDenyAll = rule(false, 'a', {}, {}, "rwm");
const DeviceRule kAllowAll = rule(true, 'a', {}, {}, "rwm");

// Runs PROGRAM for one access: the instructions device_filter_program emits, nothing else.
int decide(const std::vector<bpf_insn>& program, char type, std::uint32_t major,
           std::uint32_t minor, const std::string& access) {
    std::uint32_t acc = 0;
    for (char c : access)
        acc |= c == 'r' ? BPF_DEVCG_ACC_READ : c == 'w' ? BPF_DEVCG_ACC_WRITE : BPF_DEVCG_ACC_MKNOD;
    const std::uint32_t ctx[3] = {
        (type == 'b' ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR) | (acc << 16), major, minor};
    std::uint64_t reg[11] = {};
    for (std::size_t pc = 0; pc < program.size(); ++pc) {
        const bpf_insn& i = program[pc];
        std::uint64_t& d = reg[i.dst_reg];
        const std::uint64_t imm = static_cast<std::uint64_t>(static_cast<std::int64_t>(i.imm));
        switch (i.code) {
        case BPF_LDX | BPF_MEM | BPF_W:
            EXPECT_EQ(i.src_reg, 1);
            d = ctx[i.off / 4];
            break;
        case BPF_ALU | BPF_AND | BPF_K:
            d = static_cast<std::uint32_t>(d & imm);
            break;
        case BPF_ALU | BPF_RSH | BPF_K:
            d = static_cast<std::uint32_t>(d) >> i.imm;
            break;
        case BPF_ALU | BPF_MOV | BPF_X:
            d = static_cast<std::uint32_t>(reg[i.src_reg]);
            break;
        case BPF_ALU | BPF_MOV | BPF_K:
            d = static_cast<std::uint32_t>(i.imm);
            break;
        case BPF_JMP | BPF_JNE | BPF_K:
            if (d != imm) pc += i.off;
            break;
        case BPF_JMP | BPF_JNE | BPF_X:
            if (d != reg[i.src_reg]) pc += i.off;
            break;
        case BPF_JMP | BPF_EXIT:
            return static_cast<int>(reg[0]);
        default:
            ADD_FAILURE() << "unexpected opcode " << int(i.code);
            return -1;
        }
    }
    ADD_FAILURE() << "the program ran off its end";
    return -1;
}

int decide(const std::vector<DeviceRule>& rules, char type, std::uint32_t major,
           std::uint32_t minor, const std::string& access) {
    return decide(device_filter_program(fold_device_rules(rules)), type, major, minor, access);
}

std::string refusal(const std::vector<DeviceRule>& rules) {
    try {
        fold_device_rules(rules);
    } catch (const Error& e) {
        return e.message();
    }
    return "";
}

} // namespace

TEST(DeviceFilter, FoldsAsCgroupV1) {
    // no rule: deny everything (runc's emulator starts in allow-list mode)
    DeviceRuleSet none = fold_device_rules({});
    EXPECT_FALSE(none.default_allow);
    EXPECT_TRUE(none.exceptions.empty());
    // deny all, then allows; the same node twice is one exception with both accesses
    DeviceRuleSet s = fold_device_rules({kDenyAll, rule(true, 'c', 1, 3, "r"),
                                         rule(true, 'c', 1, 3, "w"), rule(true, 'b', {}, {}, "m")});
    EXPECT_FALSE(s.default_allow);
    ASSERT_EQ(s.exceptions.size(), 2u);
    EXPECT_EQ(s.exceptions[0], rule(true, 'b', {}, {}, "m")); // sorted: b before c
    EXPECT_EQ(s.exceptions[1], rule(true, 'c', 1, 3, "rw"));
    // a deny after an allow takes the access away again; an "a" rule resets everything
    s = fold_device_rules({kDenyAll, rule(true, 'c', 1, 3, "rwm"), rule(false, 'c', 1, 3, "w")});
    ASSERT_EQ(s.exceptions.size(), 1u);
    EXPECT_EQ(s.exceptions[0].access, "rm");
    s = fold_device_rules(
        {kDenyAll, rule(true, 'c', 1, 3, "rwm"), kAllowAll, rule(false, 'c', 1, 5, "rwm")});
    EXPECT_TRUE(s.default_allow);
    ASSERT_EQ(s.exceptions.size(), 1u);
    EXPECT_EQ(s.exceptions[0], rule(false, 'c', 1, 5, "rwm"));
}

TEST(DeviceFilter, RefusesWhatCgroupV1WouldIgnore) {
    EXPECT_NE(refusal({kDenyAll, rule(true, 'c', 1, {}, "rwm"), rule(false, 'c', 1, 3, "r")})
                  .find("punches a hole in the earlier wildcard rule \"c 1:* rwm\""),
              std::string::npos);
    EXPECT_NE(refusal({rule(true, 'p', 1, 3, "rwm")}).find("has the type 'p'"), std::string::npos);
    EXPECT_NE(refusal({rule(true, 'c', 1, 3, "rx")}).find("has the access \"rx\""),
              std::string::npos);
    EXPECT_NE(refusal({rule(true, 'c', 1LL << 33, 3, "r")}).find("above 2^32-1"),
              std::string::npos);
    EXPECT_EQ(refusal({kDenyAll, rule(true, 'c', 1, {}, "r"), rule(false, 'c', 1, 3, "w")}), "");
}

// runc's devicefilter_test.go (TestDeviceFilter_Nil): no exception, deny-all; one rule's block.
TEST(DeviceFilter, InstructionsAsRuncEmitsThem) {
    auto p = device_filter_program(fold_device_rules({}));
    ASSERT_EQ(p.size(), 8u); // 6 loads of the context, mov r0 0, exit
    EXPECT_EQ(p[0].code, BPF_LDX | BPF_MEM | BPF_W);
    EXPECT_EQ(p[1].code, BPF_ALU | BPF_AND | BPF_K);
    EXPECT_EQ(p[1].imm, 0xffff);
    EXPECT_EQ(p[3].code, BPF_ALU | BPF_RSH | BPF_K);
    EXPECT_EQ(p[3].imm, 16);
    EXPECT_EQ(p[4].off, 4); // major
    EXPECT_EQ(p[5].off, 8); // minor
    EXPECT_EQ(p[6].code, BPF_ALU | BPF_MOV | BPF_K);
    EXPECT_EQ(p[6].imm, 0);
    EXPECT_EQ(p[7].code, BPF_JMP | BPF_EXIT);

    // c 1:3 r: type, access subset (mov, and, jne), major, minor, then allow
    p = device_filter_program(fold_device_rules({kDenyAll, rule(true, 'c', 1, 3, "r")}));
    ASSERT_EQ(p.size(), 6u + 8u + 2u);
    EXPECT_EQ(p[6].code, BPF_JMP | BPF_JNE | BPF_K);
    EXPECT_EQ(p[6].imm, BPF_DEVCG_DEV_CHAR);
    EXPECT_EQ(p[6].off, 7); // to the default block
    EXPECT_EQ(p[8].imm, BPF_DEVCG_ACC_READ);
    EXPECT_EQ(p[9].code, BPF_JMP | BPF_JNE | BPF_X);
    EXPECT_EQ(p[10].imm, 1);
    EXPECT_EQ(p[11].imm, 3);
    EXPECT_EQ(p[12].imm, 1); // allow
    EXPECT_EQ(p[14].imm, 0); // the default: deny
    // rwm and wildcards: no access test, no number tests
    p = device_filter_program(fold_device_rules({kDenyAll, rule(true, 'b', {}, {}, "rwm")}));
    EXPECT_EQ(p.size(), 6u + 3u + 2u);
}

TEST(DeviceFilter, DecisionsForATableOfAccesses) {
    const std::vector<DeviceRule> engine = {
        kDenyAll, rule(true, 'c', {}, {}, "m"), rule(true, 'c', 1, 3, "rwm"),
        rule(true, 'c', 136, {}, "rw"), rule(true, 'b', 8, {}, "r")};
    struct Case {
        char type;
        std::uint32_t major, minor;
        const char* access;
        int want;
    } cases[] = {
        {'c', 1, 3, "rw", 1},  {'c', 1, 3, "m", 1},    {'c', 1, 5, "r", 0},    {'c', 1, 5, "m", 1},
        {'c', 136, 7, "w", 1}, {'c', 136, 7, "rw", 1}, {'b', 136, 7, "r", 0},  {'b', 8, 0, "r", 1},
        {'b', 8, 0, "w", 0},   {'b', 8, 0, "m", 0},    {'c', 10, 200, "r", 0}, {'c', 3, 1, "r", 0},
    };
    for (const auto& c : cases)
        EXPECT_EQ(decide(engine, c.type, c.major, c.minor, c.access), c.want)
            << c.type << " " << c.major << ":" << c.minor << " " << c.access;
    // default allow with one deny
    const std::vector<DeviceRule> deny_zero = {kAllowAll, rule(false, 'c', 1, 5, "rw")};
    EXPECT_EQ(decide(deny_zero, 'c', 1, 5, "r"), 0);
    EXPECT_EQ(decide(deny_zero, 'c', 1, 5, "m"), 1);
    EXPECT_EQ(decide(deny_zero, 'c', 1, 3, "rw"), 1);
    EXPECT_EQ(decide(deny_zero, 'b', 1, 5, "r"), 1);
}

// ---- the kernel ----

namespace {

// The cgroup2 mount of this host (/sys/fs/cgroup, or a hybrid host's /sys/fs/cgroup/unified).
std::string cgroup2_mount() {
    std::ifstream in("/proc/self/mountinfo");
    std::string line;
    while (std::getline(in, line)) {
        std::istringstream f(line);
        std::string id, parent, dev, root, mp, word;
        f >> id >> parent >> dev >> root >> mp;
        while (f >> word && word != "-") {
        }
        if (f >> word && word == "cgroup2") return mp;
    }
    return "";
}

// A child in a new cgroup under MOUNT with RULES' program attached opens /dev/null and
// /dev/zero for reading and writing: 0, or the errno of each.
std::pair<int, int> opens_in_cgroup(const std::string& mount, const std::vector<DeviceRule>& rules,
                                    int n) {
    const std::string dir =
        mount + "/gantry-devtest-" + std::to_string(::getpid()) + "-" + std::to_string(n);
    EXPECT_EQ(::mkdir(dir.c_str(), 0755), 0) << dir << ": " << std::strerror(errno);
    gantry::runtime::attach_device_filter(device_filter_program(fold_device_rules(rules)), dir);
    int go[2], out[2];
    EXPECT_EQ(::pipe(go), 0);
    EXPECT_EQ(::pipe(out), 0);
    pid_t pid = ::fork();
    if (pid == 0) {
        char b;
        if (::read(go[0], &b, 1) != 1) ::_exit(1);
        int errs[2];
        const char* nodes[] = {"/dev/null", "/dev/zero"};
        for (int i = 0; i < 2; ++i) {
            int fd = ::open(nodes[i], O_RDWR);
            errs[i] = fd < 0 ? errno : 0;
        }
        ::_exit(::write(out[1], errs, sizeof errs) == sizeof errs ? 0 : 1);
    }
    std::ofstream(dir + "/cgroup.procs") << pid << std::flush;
    ::close(go[0]);
    EXPECT_EQ(::write(go[1], "g", 1), 1);
    int errs[2] = {-1, -1};
    EXPECT_EQ(::read(out[0], errs, sizeof errs), static_cast<ssize_t>(sizeof errs));
    int st = 0;
    ::waitpid(pid, &st, 0);
    for (int fd : {go[1], out[0], out[1]}) ::close(fd);
    ::rmdir(dir.c_str());
    return {errs[0], errs[1]};
}

} // namespace

TEST(DeviceFilter, TheKernelEnforcesTheProgram) {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to load an eBPF program";
    const std::string mount = cgroup2_mount();
    if (mount.empty()) GTEST_SKIP() << "no cgroup2 mount on this host";
    using P = std::pair<int, int>;
    // the engines' shape: deny all, allow /dev/null
    EXPECT_EQ(opens_in_cgroup(mount, {kDenyAll, rule(true, 'c', 1, 3, "rwm")}, 1), P(0, EPERM));
    // wildcards: every char device of major 1
    EXPECT_EQ(opens_in_cgroup(mount, {kDenyAll, rule(true, 'c', 1, {}, "rwm")}, 2), P(0, 0));
    // an access subset: read only is not enough for O_RDWR
    EXPECT_EQ(opens_in_cgroup(
                  mount, {kDenyAll, rule(true, 'c', 1, 3, "rwm"), rule(true, 'c', 1, 5, "r")}, 3),
              P(0, EPERM));
    // default allow with one deny
    EXPECT_EQ(opens_in_cgroup(mount, {kAllowAll, rule(false, 'c', 1, 5, "rw")}, 4), P(0, EPERM));
    // a rule holds for an access it covers whole (cgroup v1's match_exception, runc's filter):
    // denying writes alone does not deny an open for reading and writing
    EXPECT_EQ(opens_in_cgroup(mount, {kAllowAll, rule(false, 'c', 1, 5, "w")}, 5), P(0, 0));
}

} // namespace device_filter_test
