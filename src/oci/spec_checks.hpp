// What a runtime spec must satisfy before a container is made from it, checked as runc 1.1's
// validator checks a bundle: capability names, linux.sysctl keys against the namespaces the
// spec creates, hostname and domainname against the UTS namespace, the working directory.
// Every refusal is an Error(invalid) naming the field and the fix; nothing is dropped quietly.
// Also the /proc/sys path of a sysctl key (both of sysctl(8)'s spellings).
#pragma once

#include "oci/runtime_spec.hpp"

#include <string>

namespace gantry::oci {

// Throws Error(invalid) for the first field of SPEC gantry cannot honour as runc does: a
// capability name that is not one of all_capabilities() (runc 1.1 warns and drops it; gantry
// refuses), a sysctl outside the namespaces the spec creates (runc's rules: kernel.msg*, sem,
// shm* and fs.mqueue.* need "ipc", net.* needs "network", kernel.domainname "uts";
// kernel.hostname conflicts with the hostname field; anything else is not namespaced),
// hostname or domainname without "uts", a cwd that is not absolute.
void check_runtime_spec(const RuntimeSpec& spec);

// runc's reading of a sysctl key: "net/ipv4/conf/eth0.100/rp_filter" (slashes first) is
// "net.ipv4.conf.eth0/100.rp_filter"; a key whose first separator is a dot is as written.
std::string sysctl_dotted(const std::string& key);
// The file under /proc/sys that KEY names, relative: "net.ipv4.ip_forward" ->
// "net/ipv4/ip_forward", "net.ipv4.conf.eth0/100.rp_filter" -> "net/ipv4/conf/eth0.100/rp_filter".
std::string sysctl_path(const std::string& key);

} // namespace gantry::oci
