// tailor/keep: the kept set given on the command line, over every registered format's grammar.
#include "gpu_vendors/all/backends.hpp"
#include "tailor/tailor.hpp"
#include "util/error.hpp"

#include <algorithm>
#include <cctype>

namespace gantry::tailor {

namespace {

std::string keep_trim(std::string s) {
    auto sp = [](unsigned char c) { return std::isspace(c) != 0; };
    while (!s.empty() && sp(static_cast<unsigned char>(s.back()))) s.pop_back();
    std::size_t i = 0;
    while (i < s.size() && sp(static_cast<unsigned char>(s[i]))) ++i;
    return s.substr(i);
}

// "a, b nor c" of the grammars' nouns: what an unknown item is none of.
std::string keep_nouns(const std::vector<const KeepGrammar*>& g) {
    if (g.size() == 1) return std::string("not ") + g[0]->noun;
    std::string s = "neither ";
    for (std::size_t i = 0; i < g.size(); ++i)
        s += std::string(i == 0 ? "" : i + 1 == g.size() ? " nor " : ", ") + g[i]->noun;
    return s;
}

std::string keep_joined(const std::vector<const KeepGrammar*>& g, const char* KeepGrammar::*field,
                        const char* sep) {
    std::string s;
    for (const KeepGrammar* k : g) s += (s.empty() ? "" : sep) + std::string(k->*field);
    return s;
}

} // namespace

std::vector<const KeepGrammar*> keep_grammars() {
    std::vector<const KeepGrammar*> grammars;
    for (const device_code::Format* f : gpu_vendors::device_code_formats())
        grammars.push_back(&f->keep_grammar());
    return grammars;
}

std::vector<device_code::KeepOption> keep_options() {
    std::vector<device_code::KeepOption> out;
    for (const KeepGrammar* g : keep_grammars())
        for (const device_code::KeepOption& o : g->options) out.push_back(o);
    return out;
}

void refuse_keep_options_without_list(const std::vector<std::string>& options) {
    if (options.empty()) return;
    throw Error(Errc::usage,
                options.front() + " changes what --keep-arch keeps, and no --keep-arch "
                                  "was given",
                "add --keep-arch (a list of GPUs, or `host`), or drop " + options.front());
}

KeepSet parse_keep_list(const std::string& list, const std::vector<std::string>& options) {
    KeepSet k;
    k.grammars = keep_grammars();
    std::size_t start = 0;
    bool any = false;
    while (start <= list.size()) {
        std::size_t comma = list.find(',', start);
        std::string item = keep_trim(
            list.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
        start = comma == std::string::npos ? list.size() + 1 : comma + 1;
        if (item.empty()) continue;
        any = true;
        bool known = false;
        for (const KeepGrammar* g : k.grammars) {
            auto t = g->parse(item);
            if (!t) continue;
            auto& v = k.by_format[g->format];
            if (std::find(v.begin(), v.end(), *t) == v.end()) v.push_back(*t);
            known = true;
            break;
        }
        if (!known)
            throw Error(Errc::usage, "--keep-arch: \"" + item + "\" is " + keep_nouns(k.grammars),
                        "give " + keep_joined(k.grammars, &KeepGrammar::spelling, " and ") +
                            ", comma-separated, or `host` for the GPUs of this machine");
    }
    if (!any)
        throw Error(Errc::usage, "--keep-arch: the list is empty",
                    "name at least one GPU architecture (" +
                        keep_joined(k.grammars, &KeepGrammar::example, ", ") + ") or `host`");
    for (const KeepGrammar* g : k.grammars)
        if (auto it = k.by_format.find(g->format); it != k.by_format.end() && g->before)
            std::sort(it->second.begin(), it->second.end(), g->before);
    for (const std::string& option : options) {
        const KeepGrammar* owner = nullptr;
        for (const KeepGrammar* g : k.grammars)
            for (const device_code::KeepOption& o : g->options)
                if (option == o.flag) owner = g;
        if (!owner)
            throw Error(Errc::usage,
                        option + " is no --keep-arch option of a registered GPU format", "drop it");
        if (k.targets(owner->format).empty())
            throw Error(Errc::usage,
                        option + ": --keep-arch " + list +
                            " names none of the GPUs it applies to (" + owner->spelling + ")",
                        "drop " + option + ", or add one of them to --keep-arch (e.g. " +
                            owner->example + ")");
        k.options.insert(option);
    }
    return k;
}

} // namespace gantry::tailor
