// The values of `gantry build`'s flags that have a grammar: --build-arg K[=V] (K alone takes V
// from the caller's environment, and is left unset when that has none, as docker does),
// --secret id=ID,src=PATH (also source=, and env=NAME; id defaults to the file's base name),
// --label K=V, --progress auto|plain|tty and --network host|none. Malformed values are
// Error(usage) naming the flag and the expected form.
#pragma once

#include <initializer_list>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace gantry::image_build {

struct Secret {
    std::string id;
    std::string src; // a file path, or "" when env is set
    std::string env; // an environment variable name
};

// Adds one --build-arg value to args; environment is the caller's (for a bare NAME).
void add_build_arg(std::map<std::string, std::string>& args, std::string_view value,
                   const std::map<std::string, std::string>& environment);

Secret parse_secret(std::string_view value);

std::pair<std::string, std::string> parse_label(std::string_view value);

// Checks a --progress or --network value; returns it.
std::string check_choice(std::string_view flag, std::string_view value,
                         std::initializer_list<std::string_view> allowed);

// What a build writes into the image's config, history and its cache records is JSON, which holds
// UTF-8 only, and docker would write U+FFFD where the bytes were (an ENV value the image then
// holds changed). Error(invalid) naming FILE:LINE:COLUMN for TEXT's first byte that is not UTF-8
// (a Dockerfile or definition file saved as Latin-1), or the --build-arg or --label.
void require_utf8(std::string_view text, const std::string& file,
                  const std::map<std::string, std::string>& build_args,
                  const std::map<std::string, std::string>& labels);

} // namespace gantry::image_build
