// tailor/keep: the kept set given on the command line, and the names the report uses.
#include "tailor/cuda.hpp"
#include "tailor/hip.hpp"
#include "tailor/tailor.hpp"
#include "util/error.hpp"

#include <algorithm>
#include <cctype>

namespace gantry::tailor {

namespace {

std::string trim(std::string s) {
    auto sp = [](unsigned char c) { return std::isspace(c) != 0; };
    while (!s.empty() && sp(static_cast<unsigned char>(s.back()))) s.pop_back();
    std::size_t i = 0;
    while (i < s.size() && sp(static_cast<unsigned char>(s[i]))) ++i;
    return s.substr(i);
}

// "a, b nor c" of the grammars' nouns: what an unknown item is none of.
std::string nouns() {
    const auto& g = keep_grammars();
    if (g.size() == 1) return std::string("not ") + g[0].noun;
    std::string s = "neither ";
    for (std::size_t i = 0; i < g.size(); ++i)
        s += std::string(i == 0 ? "" : i + 1 == g.size() ? " nor " : ", ") + g[i].noun;
    return s;
}

std::string joined(const char* KeepGrammar::*field, const char* sep) {
    std::string s;
    for (const auto& g : keep_grammars()) s += (s.empty() ? "" : sep) + std::string(g.*field);
    return s;
}

} // namespace

const std::vector<KeepGrammar>& keep_grammars() {
    static const std::vector<KeepGrammar> grammars{cuda_keep_grammar(), hip_keep_grammar()};
    return grammars;
}

const std::vector<std::string>& KeepSet::targets(const std::string& format) const {
    static const std::vector<std::string> none;
    auto it = by_format.find(format);
    return it == by_format.end() ? none : it->second;
}

KeepSet parse_keep_list(const std::string& list) {
    KeepSet k;
    std::size_t start = 0;
    bool any = false;
    while (start <= list.size()) {
        std::size_t comma = list.find(',', start);
        std::string item = trim(
            list.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
        start = comma == std::string::npos ? list.size() + 1 : comma + 1;
        if (item.empty()) continue;
        any = true;
        bool known = false;
        for (const auto& g : keep_grammars()) {
            auto t = g.parse(item);
            if (!t) continue;
            auto& v = k.by_format[g.format];
            if (std::find(v.begin(), v.end(), *t) == v.end()) v.push_back(*t);
            known = true;
            break;
        }
        if (!known)
            throw Error(Errc::usage, "--keep-arch: \"" + item + "\" is " + nouns(),
                        "give " + joined(&KeepGrammar::spelling, " and ") +
                            ", comma-separated, or `host` for the GPUs of this machine");
    }
    if (!any)
        throw Error(Errc::usage, "--keep-arch: the list is empty",
                    "name at least one GPU architecture (" + joined(&KeepGrammar::example, ", ") +
                        ") or `host`");
    for (const auto& g : keep_grammars())
        if (auto it = k.by_format.find(g.format); it != k.by_format.end() && g.before)
            std::sort(it->second.begin(), it->second.end(), g.before);
    return k;
}

std::string KeepSet::str() const {
    std::string s;
    for (const auto& g : keep_grammars())
        for (const auto& t : targets(g.format)) s += (s.empty() ? "" : ",") + t;
    if (!targets("cuda").empty()) s += ptx ? " (+newest PTX)" : " (no PTX)";
    return s;
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

} // namespace gantry::tailor
