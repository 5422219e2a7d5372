// Random identifiers from the kernel (getrandom(2)): container and exec IDs. std::random_device
// is not used: it probes the CPU's RDRAND first, an instruction a VM may trap.
#pragma once

#include <cstddef>
#include <string>

namespace gantry::random {

// BYTES random bytes as 2*BYTES lowercase hex digits. Throws Error(io) when the kernel gives none.
std::string hex_id(std::size_t bytes);

} // namespace gantry::random
