// Flags shared by pull, push and login/logout (defined in cmd_pull.cpp).
#pragma once

#include "cli/cli11.hpp"
#include "registry/client.hpp"

#include <string>

namespace gantry::cli {

struct RegistryFlags {
    bool tls_verify = true;
    std::string cert_dir, creds, authfile;
    std::string signature_policy; // pull and build: --signature-policy FILE
    unsigned retries = 3;
    double retry_delay = 1.0;
    CLI::App* cmd = nullptr;
};
// transfer: also the flags of pull and push (retries), not only those of login.
void add_registry_flags(CLI::App* cmd, RegistryFlags& f, bool transfer);
// --signature-policy FILE: pull and build (the commands that pull)
void add_signature_policy_flag(CLI::App* cmd, RegistryFlags& f);
registry::ClientOptions client_options(const RegistryFlags& f);

} // namespace gantry::cli
