// network/attachment_files: what network/holder.cpp and network/live_endpoints.cpp share about
// a holder's directory (network/holder.hpp describes its files): the running holder, each
// attachment read with whether its supervisor still holds it, and an address free on a network.
// Internal to the network module.
#pragma once

#include "network/netavark.hpp"
#include "network/user_network.hpp"

#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <sys/types.h>
#include <vector>

namespace gantry::network::detail {

// The holder that runs in DIR (its inner pid, and the maps it was made with), or none: its file
// missing, or not locked (a holder killed outright).
struct RunningHolder {
    pid_t inner = -1;
    std::string uid_maps, gid_maps;
};
std::optional<RunningHolder> running_holder(const std::filesystem::path& dir);

// The address ATTACHMENT (an attachment file's body) has on NETWORK ("" for none); V6: its
// IPv6 address.
std::string ip_on(const nlohmann::json& attachment, const std::string& network, bool v6 = false);

// Each attachment's file in DIRFD (attachments/) read, with whether its supervisor still holds
// its lock.
struct Found {
    std::string id;
    nlohmann::json body;
    bool live = false;
};
std::vector<Found> read_attachments(int dirfd);

// E's addresses on N (and its IPv6 one where N has IPv6): a static one E asks for (set when
// given: network/addresses.hpp checked it) if no attachment of FOUND holds it (else
// Error(conflict), docker's "Address already in use"), else the lowest of the subnet neither
// its gateway's nor one of FOUND's (Error(conflict) when none is left).
void give_addresses(Endpoint& e, const UserNetwork& n, const std::vector<Found>& found);
// The attachment file's record of E: {"network", "ip"[, "ip6"]}.
nlohmann::json endpoint_record(const Endpoint& e);

} // namespace gantry::network::detail
