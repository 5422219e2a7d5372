// A small fork-join loop: the layer pipelines (load, pull, analyze) process several layers at once.
#pragma once

#include <cstddef>
#include <functional>

namespace gantry {

// Runs fn(i) for every i in [0, n) on up to `jobs` threads (0: one per CPU), the caller being
// one of them. After the first exception no new index starts; once every thread has stopped,
// that first exception is rethrown.
void parallel_for(std::size_t n, unsigned jobs, const std::function<void(std::size_t)>& fn);

} // namespace gantry
