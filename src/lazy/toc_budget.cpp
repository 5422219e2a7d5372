#include "lazy/toc_budget.hpp"

#include "util/error.hpp"
#include "util/units.hpp"

#include <cstdlib>

namespace gantry::lazy {

std::uint64_t TocBudget::configured() {
    const char* v = std::getenv("GANTRY_LAZY_TOC_MEMORY");
    if (!v || !*v) return kDefaultTocMemory;
    std::uint64_t n = units::parse_size(v, "GANTRY_LAZY_TOC_MEMORY");
    if (n < (16u << 20))
        throw Error(Errc::usage,
                    std::string("GANTRY_LAZY_TOC_MEMORY=") + v +
                        " is below 16 MiB, less than a small image's tables of contents need",
                    "set a size such as 2g (the default is 512m), or unset it");
    return n;
}

void TocBudget::refuse(const std::string& what) const {
    auto mib = [](std::uint64_t b) { return std::to_string((b + (1u << 20) - 1) >> 20); };
    throw Error(Errc::invalid,
                "the tables of contents of " + image_ + " need more than the " + mib(limit_) +
                    " MiB of memory gantry allows an image's: " + what + " went over it, at " +
                    std::to_string(entries_.load()) + " entries and " +
                    std::to_string(chunks_.load()) + " chunks in all its layers so far",
                "a real image rarely needs more than a few hundred MiB (a crafted or broken "
                "image?); if this one is real, raise the budget with GANTRY_LAZY_TOC_MEMORY=SIZE "
                "(e.g. 2g; docs/lazy-pull.md), or pull the image without --lazy");
}

} // namespace gantry::lazy
