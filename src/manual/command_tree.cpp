#include "manual/command_tree.hpp"

#include "util/text.hpp"

namespace gantry::manual {

OperandKind operand_kind(std::string_view operand_name) {
    std::string n = text::lower(operand_name);
    if (n == "image") return OperandKind::image;
    if (n == "container") return OperandKind::container;
    if (n == "file" || n == "path" || n == "dir" || n == "context" || n == "dockerfile")
        return OperandKind::file;
    return OperandKind::none;
}

std::string_view operand_kind_word(OperandKind kind) {
    switch (kind) {
    case OperandKind::image:
        return "image";
    case OperandKind::container:
        return "container";
    case OperandKind::file:
        return "file";
    case OperandKind::none:
        break;
    }
    return "";
}

namespace {
void walk_into(const Command& c, std::vector<std::string>& path, std::vector<Entry>& out) {
    path.push_back(c.name);
    out.push_back({path, &c});
    for (const auto& s : c.subcommands) walk_into(s, path, out);
    path.pop_back();
}
} // namespace

std::vector<Entry> walk(const Command& root) {
    std::vector<Entry> out;
    std::vector<std::string> path;
    walk_into(root, path, out);
    return out;
}

std::string joined(const std::vector<std::string>& path, char sep) {
    std::string out;
    for (const auto& p : path) {
        if (!out.empty()) out += sep;
        out += p;
    }
    return out;
}

} // namespace gantry::manual
