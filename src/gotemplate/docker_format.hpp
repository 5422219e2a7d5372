// docker's `--format` as its CLI reads a flag's value (cli/command/formatter): the "table"
// prefix (column headers, cells aligned as Go's tabwriter aligns them), "json" (docker 23's
// shorthand for {{json .}}), and the escapes \t and \n written as two characters.
#pragma once

#include "gotemplate/template.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace gantry::gotemplate {

// What a command lists, for its --format.
struct Listing {
    Data data;                 // what one row is ("a container"), its methods (.Label)
    json headers;              // a field's column header: {"ID": "CONTAINER ID", ...}
    std::string default_table; // the columns of "table" alone: "{{.ID}}\t{{.Image}}..."
};

class Format {
  public:
    // FORMAT as the user gave it; Error(usage) naming the fault. A Listing without headers
    // (inspect, version, info) takes no "table".
    static Format parse(std::string_view format, const Listing& listing, Limits limits = {});
    // Each row rendered and ended with a newline; a table: the header line first, then the
    // lines aligned. Error(usage) naming an unknown field and the row's fields, or when the
    // whole exceeds the limits' max_output.
    std::string render(const std::vector<json>& rows) const;
    bool table() const { return table_; }

  private:
    Template tmpl_;
    Limits limits_;
    const Listing* listing_ = nullptr;
    bool table_ = false;
};

// Go's text/tabwriter with docker's settings (minwidth 10, tabwidth 1, padding 3, spaces):
// tab-terminated cells aligned in columns, a column's width its block's widest cell.
// Error(usage) when the aligned text would exceed MAX_OUTPUT bytes (padding grows it).
std::string tabwrite(std::string_view text, std::size_t max_output = 16 << 20,
                     std::size_t minwidth = 10, std::size_t padding = 3);

} // namespace gantry::gotemplate
