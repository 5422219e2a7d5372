// The descriptors a forked child inherits: closing all but those it is given.
#pragma once

#include <span>

namespace gantry {

// Closes every descriptor but those in KEEP (which it sorts), with close_range(2): for a forked
// child that must hold nothing of its parent's but what it was given. No allocation.
void close_fds_except(std::span<int> keep);

} // namespace gantry
