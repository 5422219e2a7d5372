// The Slurm plugin's option parsing (src/spank/options.c): it runs in slurmstepd, as root, on
// values the job's user wrote (--container-mounts, --container-name, ... and their
// PYXIS_CONTAINER_* variables), so it is fuzzed like any parser of untrusted input. The input's
// first byte picks an option, the rest is its value; each option may be given again (Slurm
// delivers environment values first, then the line's). Also plugstack.conf's arguments.
// Slurm's symbols the plugin takes from its host process are stubbed here.
#include "fuzz_support.hpp"

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

extern "C" {
#include "spank/options.h"
}

namespace {
std::vector<spank_option> registered;
}

extern "C" {
spank_err_t spank_option_register(spank_t, struct spank_option* opt) {
    registered.push_back(*opt);
    return static_cast<spank_err_t>(ESPANK_SUCCESS);
}
int spank_remote(spank_t) {
    return 1;
}
spank_err_t spank_getenv(spank_t, const char*, char*, int) {
    return static_cast<spank_err_t>(ESPANK_ENV_NOEXIST);
}
void slurm_error(const char*, ...) {}
}

GANTRY_FUZZ_TARGET(spank_options) {
    if (registered.empty()) gs_register_options(nullptr);
    size_t at = 0;
    // options: [selector][value NUL] ... until the input ends
    while (at < size) {
        const spank_option& o = registered[data[at++] % registered.size()];
        const uint8_t* end = static_cast<const uint8_t*>(std::memchr(data + at, 0, size - at));
        size_t n = end ? static_cast<size_t>(end - (data + at)) : size - at;
        std::string value(reinterpret_cast<const char*>(data + at), n);
        at += n + 1;
        o.cb(o.val, o.has_arg ? value.c_str() : nullptr, 1);
    }
    // the same bytes as plugstack.conf arguments
    std::string text(reinterpret_cast<const char*>(data), size);
    std::vector<std::string> words;
    for (size_t i = 0, j; i <= text.size(); i = j + 1) {
        j = text.find(' ', i);
        if (j == std::string::npos) j = text.size();
        words.push_back(text.substr(i, j - i));
    }
    std::vector<char*> av;
    for (auto& w : words) av.push_back(w.data());
    gs_parse_config(static_cast<int>(av.size()), av.data());
    return 0;
}
