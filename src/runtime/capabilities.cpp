#include "runtime/capabilities.hpp"

#include "runtime/child_failure.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <sys/prctl.h>

namespace gantry::runtime::detail {

namespace {

// Whether this kernel knows capability C (PR_CAPBSET_READ answers EINVAL above its last one).
bool kernel_has_capability(cap_value_t c) {
    return ::prctl(PR_CAPBSET_READ, c, 0, 0, 0) >= 0 || errno != EINVAL;
}

// The number of NAME ("CAP_CHOWN"), or -1 when libcap or this kernel (whose last is LAST) does
// not know it.
cap_value_t capability_number(const std::string& name, cap_value_t last) {
    std::string lower = name;
    for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    cap_value_t v;
    if (cap_from_name(lower.c_str(), &v) != 0 || v < 0 || v > last) return -1;
    return v;
}

// "CAP_CHOWN" for its number.
std::string capability_name(cap_value_t c) {
    char* n = cap_to_name(c);
    std::string out = n ? n : std::to_string(c);
    cap_free(n);
    for (auto& ch : out) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    return out;
}

bool has_capability(const std::vector<cap_value_t>& set, cap_value_t c) {
    return std::find(set.begin(), set.end(), c) != set.end();
}

} // namespace

cap_value_t last_capability() {
    // a binary search over what a capability number can be (cap_value_t's sets are 64 bits):
    // six calls, where asking each number in turn took one per capability, in every set read
    cap_value_t known = -1, unknown = 64;
    while (unknown - known > 1) {
        cap_value_t mid = known + (unknown - known) / 2;
        (kernel_has_capability(mid) ? known : unknown) = mid;
    }
    return known;
}

std::vector<cap_value_t> capability_values(const std::vector<std::string>& names,
                                           cap_value_t last) {
    std::vector<cap_value_t> out;
    for (auto& n : names)
        if (cap_value_t v = capability_number(n, last); v >= 0) out.push_back(v);
    return out;
}

CapabilityValues capability_values(const oci::CapabilitySets& caps) {
    const cap_value_t last = last_capability();
    return {capability_values(caps.bounding, last),  capability_values(caps.effective, last),
            capability_values(caps.permitted, last), capability_values(caps.inheritable, last),
            capability_values(caps.ambient, last),   last};
}

std::vector<std::string> unavailable_capabilities(const oci::CapabilitySets& caps) {
    const cap_value_t last = last_capability();
    std::vector<std::string> out;
    for (auto* set :
         {&caps.bounding, &caps.effective, &caps.permitted, &caps.inheritable, &caps.ambient})
        for (auto& n : *set)
            if (capability_number(n, last) < 0 && std::find(out.begin(), out.end(), n) == out.end())
                out.push_back(n);
    std::sort(out.begin(), out.end());
    return out;
}

void drop_bounding(const std::vector<cap_value_t>& keep, cap_value_t last) {
    for (cap_value_t c = 0; c <= last; ++c)
        if (!has_capability(keep, c) && ::prctl(PR_CAPBSET_DROP, c, 0, 0, 0) != 0 &&
            errno != EINVAL)
            fail_errno("cannot drop capability " + capability_name(c) +
                       " from the bounding set (process.capabilities.bounding)");
}

void keep_capabilities(bool on) {
    if (::prctl(PR_SET_KEEPCAPS, on ? 1 : 0, 0, 0, 0) != 0)
        fail_errno("cannot set PR_SET_KEEPCAPS");
}

void apply_capabilities(const CapabilityValues& caps) {
    cap_t c = cap_init();
    auto set = [&](cap_flag_t flag, const std::vector<cap_value_t>& v) {
        if (!v.empty()) cap_set_flag(c, flag, static_cast<int>(v.size()), v.data(), CAP_SET);
    };
    set(CAP_EFFECTIVE, caps.effective);
    set(CAP_PERMITTED, caps.permitted);
    set(CAP_INHERITABLE, caps.inheritable);
    int rc = cap_set_proc(c);
    int err = errno;
    cap_free(c);
    if (rc != 0) {
        errno = err;
        fail_errno("cannot set the process's capabilities (process.capabilities effective, "
                   "permitted, inheritable)",
                   "an inheritable capability must be in the bounding set, and effective in "
                   "permitted");
    }
    // every other one lowered: all at once (Linux 4.3, as the ambient set itself), then each
    // that the spec lists raised
    if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL)
        fail_errno("cannot clear the ambient capabilities (process.capabilities.ambient)");
    for (cap_value_t v : caps.ambient)
        if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, v, 0, 0) != 0 && errno != EINVAL)
            fail_errno("cannot raise the ambient capability " + capability_name(v) +
                           " (process.capabilities.ambient)",
                       "an ambient capability must also be permitted and inheritable");
}

} // namespace gantry::runtime::detail
