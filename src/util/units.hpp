// Byte counts for people: "1.5 GB" out (decimal units, like docker), "512MiB"/"2G" in.
#pragma once

#include <cstdint>
#include <string>

namespace gantry::units {

std::string human_size(std::uint64_t bytes);

// "1024", "512k", "512KiB", "1.5G", "2GiB", "20 MB" (case-insensitive): SI k/m/g/t = 1000^n,
// IEC ki/mi/gi/ti (with or without "b") = 1024^n, as go-humanize's ParseBytes. Throws
// Error(usage) naming `what` (the flag or key) and the text.
std::uint64_t parse_size(const std::string& text, const std::string& what = "size");

} // namespace gantry::units
