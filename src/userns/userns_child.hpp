// A job run as root of a new user namespace with the caller's subordinate-ID maps: what the
// user alone may not do to files a rootless container (or a rootless store's unpacked layer)
// gave to one of the user's subordinate ids: chown to them, read a 0700 directory they own,
// delete what their directories hold. podman's `podman unshare` does the same.
#pragma once

#include "oci/runtime_spec.hpp"

#include <functional>
#include <string>
#include <vector>

namespace gantry::userns {

// The maps `run --userns auto` gives an unprivileged caller ([0 -> uid] and [1.. -> the
// /etc/subuid range], userns::unprivileged_maps): false (maps left empty) for real root, and
// for a caller with no subordinate range (or no newuidmap/newgidmap), whose namespace would
// add no id the caller lacks.
bool subid_maps(std::vector<oci::IdMapping>& uids, std::vector<oci::IdMapping>& gids);

// Runs JOB in a forked child that unshares a user namespace, has UIDS/GIDS written by this
// process (newuidmap/newgidmap: write_id_maps) and becomes its root (uid and gid 0). Returns
// what JOB returns; an Error JOB throws is thrown here with its code and message. WHAT names
// the job in the errors of the namespace itself ("removing STORE/tmp/x").
std::string run_in_userns(const std::vector<oci::IdMapping>& uids,
                          const std::vector<oci::IdMapping>& gids, const std::string& what,
                          const std::function<std::string()>& job);

} // namespace gantry::userns
