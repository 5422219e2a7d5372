// engine/pull_policy: when `gantry run` pulls its image, as docker's and podman's --pull: missing
// (the default: pull when neither the store, the squashfs cache nor a shared store has it),
// always (pull first; the store's blobs are reused), newer (pull first, and run the stored image
// with a warning when the registry cannot be reached), never (the store's image or an error), and
// gantry's lazy (lazy/image.hpp). A site sets the default for everyone with the config file's
// `pull_policy` (compute nodes where images come from a shared store: `never`); --pull wins.
#pragma once

#include <string>
#include <string_view>

namespace gantry::engine {

enum class PullPolicy { missing, always, newer, never, lazy };

// The policy named WORD; Error(usage) naming WHERE ("--pull", or the config file's line) for a word
// that is none.
PullPolicy parse_pull_policy(std::string_view word, const std::string& where);

// The policy of a run whose --pull is FLAG ("" when not given): FLAG, else the config file's
// pull_policy, else missing.
PullPolicy pull_policy(const std::string& flag);

const char* pull_policy_word(PullPolicy policy);

} // namespace gantry::engine
