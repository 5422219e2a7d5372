#include "dockerfile/instruction.hpp"

#include "dockerfile/text.hpp"
#include "dockerfile/words.hpp"
#include "util/json.hpp"
#include "util/text.hpp"

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

namespace gantry::dockerfile {

namespace {

struct FlagSpec {
    const char* name;
    bool boolean;
    bool repeat;
};

// Flags BuildKit accepts per instruction (docker/dockerfile:1 plus labs' RUN --device).
const std::map<std::string, std::vector<FlagSpec>>& flag_specs() {
    static const std::map<std::string, std::vector<FlagSpec>> m = {
        {"FROM", {{"platform", false, false}}},
        {"RUN",
         {{"mount", false, true},
          {"network", false, false},
          {"security", false, false},
          {"device", false, true}}},
        {"COPY",
         {{"from", false, false},
          {"chown", false, false},
          {"chmod", false, false},
          {"link", true, false},
          {"parents", true, false},
          {"exclude", false, true}}},
        {"ADD",
         {{"chown", false, false},
          {"chmod", false, false},
          {"link", true, false},
          {"keep-git-dir", true, false},
          {"checksum", false, false},
          {"exclude", false, true},
          {"unpack", true, false}}},
        {"HEALTHCHECK",
         {{"interval", false, false},
          {"timeout", false, false},
          {"start-period", false, false},
          {"start-interval", false, false},
          {"retries", false, false}}},
    };
    return m;
}

// Built on first use: a namespace-scope set would be built at every start of the binary.
const std::set<std::string>& instructions() {
    static const std::set<std::string> s = {
        "ADD",    "ARG",   "CMD",         "COPY",  "ENTRYPOINT", "ENV",
        "EXPOSE", "FROM",  "HEALTHCHECK", "LABEL", "MAINTAINER", "ONBUILD",
        "RUN",    "SHELL", "STOPSIGNAL",  "USER",  "VOLUME",     "WORKDIR"};
    return s;
}

// Leading "--name[=value]" words (BuildKit's extractBuilderFlags); "--" ends the flags.
std::vector<Flag> extract_flags(std::string& args, int line) {
    std::vector<Flag> flags;
    std::size_t i = 0;
    for (;;) {
        while (i < args.size() && is_space(args[i])) ++i;
        if (!std::string_view(args).substr(i).starts_with("--")) break;
        std::string word;
        char quote = 0;
        std::size_t j = i;
        for (; j < args.size(); ++j) {
            char c = args[j];
            if (quote) {
                if (c == quote)
                    quote = 0;
                else
                    word += c;
            } else if (c == '"' || c == '\'') {
                quote = c;
            } else if (is_space(c)) {
                break;
            } else {
                word += c;
            }
        }
        if (quote) throw parse_error(line, "unterminated quote in flag " + word);
        i = j;
        if (word == "--") break;
        Flag f;
        auto eq = word.find('=');
        f.name = word.substr(2, eq == std::string::npos ? std::string::npos : eq - 2);
        if (eq != std::string::npos) {
            f.value = word.substr(eq + 1);
            f.has_value = true;
        }
        if (f.name.empty()) throw parse_error(line, "empty flag name in \"" + word + "\"");
        flags.push_back(std::move(f));
    }
    args = std::string(text::trim_left(std::string_view(args).substr(i)));
    return flags;
}

void check_flags(const std::string& kw, const std::vector<Flag>& flags, int line) {
    auto it = flag_specs().find(kw);
    std::set<std::string> seen;
    for (auto& f : flags) {
        const FlagSpec* spec = nullptr;
        if (it != flag_specs().end())
            for (auto& s : it->second)
                if (f.name == s.name) spec = &s;
        if (!spec)
            throw parse_error(line, "unknown flag --" + f.name + " for " + kw,
                              it == flag_specs().end()
                                  ? kw + " takes no flags"
                                  : "remove it or use one of the flags " + kw + " accepts");
        if (!spec->repeat && !seen.insert(f.name).second)
            throw parse_error(line, "duplicate flag --" + f.name + " for " + kw);
        if (spec->boolean) {
            if (f.has_value && f.value != "true" && f.value != "false")
                throw parse_error(line, "flag --" + f.name + " expects true or false, not \"" +
                                            f.value + "\"");
        } else if (!f.has_value || f.value.empty()) {
            throw parse_error(line, "flag --" + f.name + " needs a value (--" + f.name + "=VALUE)");
        }
        if (f.name == "mount") try {
                parse_mount(f.value);
            } catch (const Error& e) {
                throw parse_error(line, e.message(), e.hint());
            }
    }
}

bool parse_json_args(std::string_view args, std::vector<std::string>& out) {
    auto t = text::trim(args);
    if (t.empty() || t.front() != '[' || t.back() != ']') return false;
    auto j = safe_json::parse_or_discarded(t); // bounded depth: a Dockerfile is untrusted
    if (j.is_discarded() || !j.is_array()) return false;
    std::vector<std::string> v;
    for (auto& e : j) {
        if (!e.is_string()) return false;
        v.push_back(e.get<std::string>());
    }
    out = std::move(v);
    return true;
}

bool valid_stage_name(std::string_view n) {
    if (n.empty() || !std::islower(static_cast<unsigned char>(n[0]))) return false;
    for (char c : n)
        if (!(std::islower(static_cast<unsigned char>(c)) ||
              std::isdigit(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.'))
            return false;
    return true;
}

void check_args(Instruction& in, char esc) {
    const auto& kw = in.keyword;
    static const std::set<std::string> worded = {"FROM", "COPY",  "ADD", "HEALTHCHECK",
                                                 "ENV",  "LABEL", "ARG"};
    // shell-form RUN/CMD/... go to a shell as they are: their quotes are not ours to check
    std::vector<std::string> words;
    if (worded.count(kw) && !in.json)
        words = split_words(in.args, esc);
    else if (!text::trim(in.args).empty())
        words = {in.args};
    auto need = [&](bool ok, const std::string& what) {
        if (!ok) throw parse_error(in.line, kw + " requires " + what);
    };
    if (kw == "FROM") {
        need(words.size() == 1 || words.size() == 3,
             "either one or three arguments (FROM image [AS name])");
        if (words.size() == 3) {
            if (text::lower(words[1]) != "as")
                throw parse_error(in.line, "FROM expects \"AS\" as its second word, not \"" +
                                               words[1] + "\"");
            if (!valid_stage_name(text::lower(words[2])))
                throw parse_error(in.line, "invalid stage name \"" + words[2] + "\"",
                                  "stage names start with a letter and contain only letters, "
                                  "digits, '-', '_' and '.'");
        }
    } else if (kw == "COPY" || kw == "ADD") {
        need(in.json ? in.json_args.size() >= 2 : words.size() >= 2,
             "at least two arguments (source... destination)");
    } else if (kw == "SHELL") {
        need(in.json && !in.json_args.empty(), "a JSON array (SHELL [\"executable\", ...])");
    } else if (kw == "HEALTHCHECK") {
        need(!words.empty() && (text::upper(words[0]) == "NONE" || text::upper(words[0]) == "CMD"),
             "NONE or CMD command");
        if (text::upper(words[0]) == "NONE")
            need(words.size() == 1 && in.flags.empty(), "no other argument after NONE");
        else
            need(words.size() >= 2, "a command after CMD");
    } else if (kw == "ENV" || kw == "LABEL") {
        need(!words.empty(), "at least one argument");
        if (words[0].find('=') == std::string::npos) {
            // the legacy "ENV KEY VALUE" / "LABEL KEY VALUE": BuildKit's parseNameVal takes
            // both (with a LegacyKeyValueFormat warning); the value is the rest of the line
            need(words.size() >= 2, "KEY=VALUE pairs (or the legacy " + kw + " KEY VALUE)");
        } else {
            for (auto& w : words)
                if (w.find('=') == std::string::npos || w[0] == '=')
                    throw parse_error(in.line, kw + ": \"" + w + "\" is not of the form KEY=VALUE");
        }
    } else if (kw == "ARG") {
        need(!words.empty(), "at least one argument");
        for (auto& w : words) {
            auto name = w.substr(0, w.find('='));
            if (!is_var_name(name))
                throw parse_error(in.line, "ARG: invalid name \"" + name + "\"");
        }
    } else if (kw == "CMD" || kw == "ENTRYPOINT") {
        // may be empty
    } else if (kw != "ONBUILD") {
        need(in.json ? !in.json_args.empty() : !words.empty(), "at least one argument");
    }
}

} // namespace

Instruction parse_instruction(std::string_view logical, int line, char esc) {
    Instruction in;
    in.line = in.end_line = line;
    in.original = std::string(logical);
    auto s = text::trim_left(logical);
    std::size_t k = 0;
    while (k < s.size() && !is_space(s[k])) ++k;
    in.keyword = text::upper(s.substr(0, k));
    if (!instructions().count(in.keyword))
        throw parse_error(line, "unknown instruction: " + std::string(s.substr(0, k)),
                          "instructions are FROM, RUN, COPY, ADD, ENV, ARG, ... (is a line "
                          "continuation missing on the line before?)");
    std::string args(text::trim_left(s.substr(k)));
    if (in.keyword == "ONBUILD") {
        if (text::trim(args).empty()) throw parse_error(line, "ONBUILD requires an instruction");
        auto sub = text::upper(args.substr(0, args.find_first_of(" \t")));
        if (sub == "ONBUILD" || sub == "FROM" || sub == "MAINTAINER")
            throw parse_error(line, "ONBUILD " + sub + " is not allowed");
        auto child = parse_instruction(args, line, esc);
        if (child.keyword == "ONBUILD" || child.keyword == "FROM" || child.keyword == "MAINTAINER")
            throw parse_error(line, "ONBUILD " + child.keyword + " is not allowed");
        in.child = std::make_shared<Instruction>(std::move(child));
        in.args = args;
        return in;
    }
    in.flags = extract_flags(args, line);
    check_flags(in.keyword, in.flags, line);
    in.args = std::string(text::trim_right(args));
    static const std::set<std::string> json_capable = {"RUN",  "CMD", "ENTRYPOINT", "SHELL",
                                                       "COPY", "ADD", "VOLUME"};
    if (json_capable.count(in.keyword)) in.json = parse_json_args(in.args, in.json_args);
    try {
        check_args(in, esc);
    } catch (const Error& e) {
        if (e.message().starts_with("line ")) throw;
        throw parse_error(line, in.keyword + ": " + e.message());
    }
    return in;
}

std::vector<const Flag*> Instruction::flags_named(std::string_view name) const {
    std::vector<const Flag*> r;
    for (auto& f : flags)
        if (f.name == name) r.push_back(&f);
    return r;
}

const Flag* Instruction::flag(std::string_view name) const {
    const Flag* r = nullptr;
    for (auto& f : flags)
        if (f.name == name) r = &f;
    return r;
}

Mount parse_mount(std::string_view value) {
    Mount m;
    bool has_type = false;
    std::size_t i = 0;
    while (i <= value.size()) {
        // one CSV field, double quotes allowed around it
        std::string field;
        bool quoted = false;
        for (; i < value.size(); ++i) {
            char c = value[i];
            if (c == '"') {
                quoted = !quoted;
                continue;
            }
            if (c == ',' && !quoted) break;
            field += c;
        }
        ++i;
        if (field.empty()) continue;
        auto eq = field.find('=');
        std::string key = text::lower(field.substr(0, eq));
        std::string val = eq == std::string::npos ? "" : field.substr(eq + 1);
        if (key == "type") {
            m.type = val;
            has_type = true;
        } else if (key == "target" || key == "dst" || key == "destination") {
            m.target = val;
        } else if (key == "source" || key == "src") {
            m.source = val;
        } else if (key == "from") {
            m.from = val;
        } else if (key == "id") {
            m.id = val;
        }
    }
    (void)has_type;
    static const std::set<std::string> types = {"bind", "cache", "tmpfs", "secret", "ssh"};
    if (!types.count(m.type))
        throw Error(Errc::invalid, "--mount: unknown type \"" + m.type + "\"",
                    "use type=bind, cache, tmpfs, secret or ssh");
    if ((m.type == "bind" || m.type == "cache" || m.type == "tmpfs") && m.target.empty())
        throw Error(Errc::invalid, "--mount type=" + m.type + " needs a target",
                    "add target=/path to the --mount flag");
    return m;
}

} // namespace gantry::dockerfile
