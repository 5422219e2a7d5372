// Byte counts for people: "1.5 GB" out (decimal units, like docker), "512MiB"/"2G" in.
#pragma once

#include <cstdint>
#include <string>

namespace gantry::units {

std::string human_size(std::uint64_t bytes);

// "1024", "512k", "512KiB", "1.5G", "2GiB" (case-insensitive; k/m/g decimal, KiB/MiB/GiB
// binary). Throws Error(usage) naming the text.
std::uint64_t parse_size(const std::string& text);

} // namespace gantry::units
