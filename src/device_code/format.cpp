#include "device_code/format.hpp"

namespace gantry::device_code {

const std::vector<std::string>& KeepSet::targets(const std::string& format) const {
    static const std::vector<std::string> none;
    auto it = by_format.find(format);
    return it == by_format.end() ? none : it->second;
}

std::string KeepSet::str() const {
    std::string s, suffixes;
    auto add = [&](const std::vector<std::string>& targets) {
        for (const auto& t : targets) s += (s.empty() ? "" : ",") + t;
    };
    if (grammars.empty()) {
        for (const auto& [format, targets] : by_format) add(targets);
        return s;
    }
    for (const KeepGrammar* g : grammars) {
        const auto& t = targets(g->format);
        add(t);
        if (!t.empty() && g->suffix) suffixes += g->suffix(*this);
    }
    return s + suffixes;
}

const char* to_string(FileReport::Outcome o) {
    switch (o) {
    case FileReport::Outcome::changed:
        return "changed";
    case FileReport::Outcome::unchanged:
        return "unchanged";
    case FileReport::Outcome::refused:
        return "refused";
    }
    return "unchanged";
}

} // namespace gantry::device_code
