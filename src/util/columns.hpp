// Text tables: rows of cells aligned in columns, as `gantry images` and analyze's reports print
// them.
#pragma once

#include <string>
#include <vector>

namespace gantry::text {

// ROWS as aligned columns, one line each ending in '\n': every cell but a row's last is padded to
// its column's widest cell plus three spaces. {{"ID","NAME"},{"1","a"}} -> "ID   NAME\n1    a\n".
// Each cell is printed printable (util/printable.hpp): a newline or tab in it is escaped.
std::string columns(const std::vector<std::vector<std::string>>& rows);

} // namespace gantry::text
