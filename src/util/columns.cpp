#include "util/columns.hpp"

#include "util/printable.hpp"

#include <algorithm>

namespace gantry::text {

std::string columns(const std::vector<std::vector<std::string>>& cells) {
    // every cell through the one rule: a value can add no line or column
    std::vector<std::vector<std::string>> rows;
    rows.reserve(cells.size());
    for (const auto& r : cells) {
        auto& row = rows.emplace_back();
        row.reserve(r.size());
        for (const auto& c : r) row.push_back(printable(c));
    }
    std::vector<std::size_t> width;
    for (const auto& r : rows)
        for (std::size_t i = 0; i < r.size(); ++i) {
            if (width.size() <= i) width.push_back(0);
            width[i] = std::max(width[i], r[i].size());
        }
    std::string out;
    for (const auto& r : rows) {
        for (std::size_t i = 0; i < r.size(); ++i) {
            out += r[i];
            if (i + 1 < r.size()) out.append(width[i] - r[i].size() + 3, ' ');
        }
        out += '\n';
    }
    return out;
}

} // namespace gantry::text
