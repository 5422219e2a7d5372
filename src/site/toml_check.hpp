// site/toml_check: what toml++'s internal assertions become in every file that compiles toml++
// (site's registries.conf reader, k8s's containerd config editor). toml++ 3.3 asserts on some
// malformed input ("[[\n[[r", found by fuzz_site_policy), and with NDEBUG its assertions are
// __builtin_assume: undefined behaviour. Those files define TOML_ASSERT and TOML_UNREACHABLE as
// a call of toml_check_failed() before they include toml++, whatever NDEBUG says, and refuse the
// input as malformed when TomlCheckFailed is thrown.
#pragma once

namespace gantry::site {

struct TomlCheckFailed {};

// Throws TomlCheckFailed (registries_conf.cpp).
[[noreturn]] void toml_check_failed();

} // namespace gantry::site
