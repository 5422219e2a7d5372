// network/holder: the namespace a store's user networks live in, and each running container's
// place on them. gantry's daemonless form of podman's "rootless network namespace": one network
// namespace per store and user (with a user namespace of its own: rootless, mapping the ids a
// container gets, which the containers on user networks join; as root, every id to itself, so
// that pasta may join it), held by a process that exists
// only while a container is attached. Its bridges, firewall rules and aardvark-dns are
// netavark's (network/netavark.hpp); pasta joins it to the outside, as bridge containers are.
//
// Its directory, RUNTIME/networks/KEY/ (KEY: the store's root hashed): `lock` (every change to
// what follows, under it), `holder` (the holder's pids, flock'ed by it while it lives),
// `attachments/ID.json` (a container's addresses and netavark's input for it: the networks it
// is on now, which `network connect`/`disconnect` of a running container change) with
// `attachments/ID.lock` (flock'ed by the container's supervisor while it runs), `netavark/`
// (aardvark-dns' files). The holder watches attachments/ (inotify): a lock released without its
// attachment removed (a supervisor killed) has its netavark teardown run by the holder; when
// none is left the holder removes `holder`, attachments/ and netavark/ and ends, and with it
// (the init of a PID namespace)
// pasta and aardvark-dns. A gantry killed mid-setup leaves an attachment whose lock is free,
// which the holder (or the next start) cleans.
#pragma once

#include "network/netavark.hpp"
#include "network/user_network.hpp"
#include "oci/runtime_spec.hpp"
#include "util/fd.hpp"
#include "util/lock.hpp"

#include <filesystem>
#include <string>
#include <sys/types.h>
#include <vector>

namespace gantry::network {

// RUNTIME/networks/KEY for the store at STORE_ROOT.
std::filesystem::path holder_dir(const std::filesystem::path& runtime_dir,
                                 const std::string& store_root);

// One container's place on user networks while it runs: made before its process starts,
// connected once it exists, detached when it has ended (or by the holder, when its supervisor
// was killed).
class Attachment {
  public:
    // Under DIR's lock: the holder found, or started with UIDS/GIDS as its user namespace's
    // maps (rootless; unused as root), an address given to each of ENDPOINTS on its network in
    // NETWORKS, and the attachment recorded. Error(conflict) when a running holder maps other
    // ids (a container of another --userns on the same store's networks).
    Attachment(const std::filesystem::path& dir, const std::string& id, const std::string& name,
               std::vector<Endpoint> endpoints, std::vector<UserNetwork> networks,
               const std::vector<oci::IdMapping>& uids, const std::vector<oci::IdMapping>& gids);
    ~Attachment(); // detach()
    Attachment(const Attachment&) = delete;
    Attachment& operator=(const Attachment&) = delete;

    // The holder's process: rootless, the container joins /proc/PID/ns/user.
    pid_t holder() const { return holder_; }
    const std::vector<Endpoint>& endpoints() const { return endpoints_; }
    const std::vector<UserNetwork>& networks() const { return networks_; }

    // netavark's setup of the container process PID's network namespace (held open until the
    // teardown); returns the MAC address of each endpoint, in order. Error(run_failed).
    std::vector<std::string> connect(pid_t pid);
    // The networks it is on now, as `network connect`/`disconnect` of the running container left
    // its file: {id, name} each (those it was started on where the file cannot be read).
    std::vector<std::pair<std::string, std::string>> networks_now() const;
    // Whether connect() made its endpoints (and no detach() took them yet).
    bool connected() const { return netns_.get() >= 0; }
    // netavark's teardown (when connected) and the attachment removed; idempotent.
    void detach() noexcept;

  private:
    std::filesystem::path dir_;
    std::string id_;
    std::vector<Endpoint> endpoints_;
    std::vector<UserNetwork> networks_;
    nlohmann::json options_;
    pid_t holder_ = -1;
    FileLock held_; // attachments/ID.lock
    Fd netns_;      // the container's network namespace, for the teardown
};

// docker's network connect of a running container: E (its network N, its aliases) added to
// the attachment of container ID (named NAME, its process PID) in DIR, under DIR's lock: an
// address of N given, the next free ethN its interface, netavark's setup of N alone in PID's
// network namespace, and the attachment's file (what its supervisor's teardown, or the
// holder's, reads) updated. Returns E as made; MAC: netavark's. Error(conflict) when ID has no
// attachment (it was not started on a user network, or has ended).
Endpoint connect_running(const std::filesystem::path& dir, const std::string& id,
                         const std::string& name, pid_t pid, Endpoint e, const UserNetwork& n,
                         std::string& mac);
// docker's network disconnect of a running container: its endpoint on NETWORK torn down
// (netavark's teardown of that network alone, in PID's namespace) and taken out of the
// attachment; false when it has none there.
bool disconnect_running(const std::filesystem::path& dir, const std::string& id, pid_t pid,
                        const std::string& network);

// The holder process itself (`gantry __network-holder`): starts the namespaces, writes their id
// maps (UID_MAPS and GID_MAPS as "C:H:S,..."), joins them to the outside with pasta, says
// "ok" (or why not) on READY_FD, and serves until no attachment is left. Returns its exit code.
int serve_holder(const std::filesystem::path& dir, const std::string& uid_maps,
                 const std::string& gid_maps, int ready_fd);

} // namespace gantry::network
