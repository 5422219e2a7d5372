#include "deffile/arguments.hpp"

#include "util/error.hpp"
#include "util/text.hpp"

#include <cctype>
#include <optional>

namespace gantry::deffile {
namespace {

bool arg_word_char(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
}

// A reference at S[i] ("{{ NAME }}"): its name and length, or nullopt.
std::optional<std::pair<std::string, std::size_t>> reference_at(std::string_view s, std::size_t i) {
    if (s.substr(i, 2) != "{{") return std::nullopt;
    std::size_t j = i + 2;
    auto blank = [&](std::size_t k) { return k < s.size() && (s[k] == ' ' || s[k] == '\t'); };
    while (blank(j)) ++j;
    std::size_t k = j;
    while (k < s.size() && arg_word_char(s[k])) ++k;
    if (k == j) return std::nullopt;
    std::size_t e = k;
    while (blank(e)) ++e;
    if (s.substr(e, 2) != "}}") return std::nullopt;
    return std::make_pair(std::string(s.substr(j, k - j)), e + 2 - i);
}

// Apptainer's commentLineRegexp: `#` then a character other than `!` before the reference.
bool commented(std::string_view before) {
    for (std::size_t i = 0; i + 1 < before.size(); ++i)
        if (before[i] == '#' && before[i + 1] != '!') return true;
    return false;
}

class Substitution {
  public:
    Substitution(const std::map<std::string, std::string>& build_args, const std::string& file,
                 std::set<std::string>& used, std::size_t& total)
        : args_(build_args), file_(file), used_(used), total_(total) {}

    void defaults(const Section& s) {
        int n = s.line;
        for (auto line : text::lines(s.body)) {
            ++n;
            line = text::trim(line);
            if (line.empty() || line.starts_with('#')) continue;
            auto eq = line.find('=');
            std::string key(eq == std::string_view::npos ? "" : text::trim(line.substr(0, eq)));
            bool ok = !key.empty();
            for (char c : key) ok = ok && arg_word_char(c);
            if (!ok)
                throw Error(Errc::invalid,
                            file_ + ":" + std::to_string(n) + ": `" +
                                std::string(line.substr(0, 80)) +
                                "` in %arguments is not NAME=VALUE",
                            "write one NAME=VALUE a line, NAME of letters, digits and '_'");
            defaults_[key] = std::string(text::trim(line.substr(eq + 1)));
        }
    }

    // TEXT with its references replaced; LINE is the line TEXT starts on.
    std::string apply(std::string_view text, int line) {
        std::string out;
        std::size_t line_start = 0;
        for (std::size_t i = 0; i < text.size();) {
            if (text[i] == '\n') {
                ++line;
                line_start = i + 1;
            }
            auto ref = reference_at(text, i);
            if (!ref || commented(text.substr(line_start, i - line_start))) {
                out.push_back(text[i++]);
                continue;
            }
            out += value(ref->first, line, true);
            i += ref->second;
            if (total_ + out.size() > kMaxSubstituted)
                throw Error(Errc::invalid,
                            file_ + ":" + std::to_string(line) + ": {{ " + ref->first +
                                " }} makes the text over " + std::to_string(kMaxSubstituted >> 20) +
                                " MiB",
                            "use shorter build variables");
        }
        total_ += out.size();
        return out;
    }

  private:
    std::string value(const std::string& name, int line, bool nest) {
        std::string v;
        if (auto it = args_.find(name); it != args_.end()) {
            used_.insert(name);
            v = it->second;
        } else if (auto d = defaults_.find(name); d != defaults_.end()) {
            v = d->second;
        } else {
            throw Error(Errc::invalid,
                        file_ + ":" + std::to_string(line) + ": the build variable " + name +
                            " is not defined",
                        "give it a default in %arguments (" + name +
                            "=VALUE) or a value with --build-arg " + name + "=VALUE");
        }
        if (!nest) return v;
        // a default naming another variable: replaced once, an unknown one left as written
        std::string out;
        for (std::size_t i = 0; i < v.size() && out.size() <= kMaxSubstituted;) {
            auto ref = reference_at(v, i);
            if (ref && (args_.count(ref->first) || defaults_.count(ref->first))) {
                out += value(ref->first, line, false);
                i += ref->second;
            } else {
                out.push_back(v[i++]);
            }
        }
        return out;
    }

    const std::map<std::string, std::string>& args_;
    const std::string& file_;
    std::set<std::string>& used_;
    std::size_t& total_; // the bytes the whole definition has become so far
    std::map<std::string, std::string> defaults_;
};

} // namespace

std::set<std::string> substitute(Definition& def,
                                 const std::map<std::string, std::string>& build_args,
                                 const std::string& file) {
    std::set<std::string> used;
    std::size_t total = 0;
    for (auto& st : def.stages) {
        Substitution sub(build_args, file, used, total);
        if (const auto* a = st.section("arguments")) sub.defaults(*a);
        for (auto& [key, hv] : st.header) hv.value = sub.apply(hv.value, hv.line);
        for (auto& s : st.sections) {
            if (s.name == "arguments") continue;
            s.args = sub.apply(s.args, s.line);
            s.body = sub.apply(s.body, s.line + 1);
        }
    }
    return used;
}

} // namespace gantry::deffile
