// The headers most of gantry's translation units include, precompiled once per configuration in
// the sanitizer build (clang at -O0, CMakeLists.txt), where parsing them was about a quarter of
// each unity batch's compile time. Only standard and third-party headers: what a file includes
// of gantry's own is its own business. The release build (GCC) does not use it: GCC loading the
// ~100 MB precompiled header was slower than parsing the headers.
#pragma once

#include "json_extern.hpp" // nlohmann::json instantiated once, in gantry_util

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>
