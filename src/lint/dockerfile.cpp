#include "lint/dockerfile.hpp"

#include "lint/words.hpp"
#include "util/error.hpp"

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>
#include <set>

namespace gantry::lint {

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

const std::set<std::string> kInstructions = {
    "ADD",    "ARG",   "CMD",         "COPY",  "ENTRYPOINT", "ENV",
    "EXPOSE", "FROM",  "HEALTHCHECK", "LABEL", "MAINTAINER", "ONBUILD",
    "RUN",    "SHELL", "STOPSIGNAL",  "USER",  "VOLUME",     "WORKDIR"};

Error parse_error(int line, const std::string& msg, std::string hint = {}) {
    if (hint.empty())
        hint = "fix the Dockerfile syntax (see "
               "https://docs.docker.com/reference/dockerfile/)";
    std::string m = msg.size() > 200 ? msg.substr(0, 200) + "..." : msg;
    return Error(Errc::invalid, "line " + std::to_string(line) + ": " + m, std::move(hint));
}

bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

std::string_view ltrim(std::string_view s) {
    while (!s.empty() && (is_space(s.front()) || s.front() == '\n')) s.remove_prefix(1);
    return s;
}
std::string_view rtrim(std::string_view s) {
    while (!s.empty() && (is_space(s.back()) || s.back() == '\n')) s.remove_suffix(1);
    return s;
}
std::string_view trim(std::string_view s) {
    return rtrim(ltrim(s));
}

std::string upper(std::string_view s) {
    std::string r(s);
    for (auto& c : r) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return r;
}
std::string lower(std::string_view s) {
    std::string r(s);
    for (auto& c : r) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return r;
}

// "# name = value" at the top of the file (BuildKit's reDirectives).
bool match_directive(std::string_view line, std::string& key, std::string& value) {
    if (line.empty() || line[0] != '#') return false;
    std::size_t i = 1;
    while (i < line.size() && is_space(line[i])) ++i;
    std::size_t k0 = i;
    if (i >= line.size() || !std::isalpha(static_cast<unsigned char>(line[i]))) return false;
    while (i < line.size() && std::isalnum(static_cast<unsigned char>(line[i]))) ++i;
    key = lower(line.substr(k0, i - k0));
    while (i < line.size() && is_space(line[i])) ++i;
    if (i >= line.size() || line[i] != '=') return false;
    value = std::string(trim(line.substr(i + 1)));
    return !value.empty();
}

// Removes a trailing continuation escape; returns false when the line does not continue.
// As BuildKit: the escape must be the last non-blank character and not itself escaped.
bool trim_continuation(std::string& line, char esc) {
    std::size_t end = line.size();
    while (end && (line[end - 1] == ' ' || line[end - 1] == '\t')) --end;
    if (!end || line[end - 1] != esc) return false;
    if (end >= 2 && line[end - 2] == esc) return false;
    line.resize(end - 1);
    return true;
}

// Leading "--name[=value]" words (BuildKit's extractBuilderFlags); "--" ends the flags.
std::vector<Flag> extract_flags(std::string& args, int line) {
    std::vector<Flag> flags;
    std::size_t i = 0;
    for (;;) {
        while (i < args.size() && is_space(args[i])) ++i;
        if (args.compare(i, 2, "--") != 0) break;
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
    args = std::string(ltrim(std::string_view(args).substr(i)));
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
    auto t = trim(args);
    if (t.empty() || t.front() != '[' || t.back() != ']') return false;
    auto j = nlohmann::json::parse(t, nullptr, false);
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
    else if (!trim(in.args).empty())
        words = {in.args};
    auto need = [&](bool ok, const std::string& what) {
        if (!ok) throw parse_error(in.line, kw + " requires " + what);
    };
    if (kw == "FROM") {
        need(words.size() == 1 || words.size() == 3,
             "either one or three arguments (FROM image [AS name])");
        if (words.size() == 3) {
            if (lower(words[1]) != "as")
                throw parse_error(in.line, "FROM expects \"AS\" as its second word, not \"" +
                                               words[1] + "\"");
            if (!valid_stage_name(lower(words[2])))
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
        need(!words.empty() && (upper(words[0]) == "NONE" || upper(words[0]) == "CMD"),
             "NONE or CMD command");
        if (upper(words[0]) == "NONE")
            need(words.size() == 1 && in.flags.empty(), "no other argument after NONE");
        else
            need(words.size() >= 2, "a command after CMD");
    } else if (kw == "ENV" || kw == "LABEL") {
        need(!words.empty(), "at least one argument");
        if (words[0].find('=') == std::string::npos) {
            need(kw == "ENV" && words.size() >= 2, "KEY=VALUE pairs (or the legacy ENV KEY VALUE)");
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

Instruction parse_instruction(std::string_view logical, int line, char esc, bool nested) {
    Instruction in;
    in.line = in.end_line = line;
    in.original = std::string(logical);
    auto s = ltrim(logical);
    std::size_t k = 0;
    while (k < s.size() && !is_space(s[k])) ++k;
    in.keyword = upper(s.substr(0, k));
    if (!kInstructions.count(in.keyword))
        throw parse_error(line, "unknown instruction: " + std::string(s.substr(0, k)),
                          "instructions are FROM, RUN, COPY, ADD, ENV, ARG, ... (is a line "
                          "continuation missing on the line before?)");
    std::string args(ltrim(s.substr(k)));
    if (in.keyword == "ONBUILD") {
        if (trim(args).empty()) throw parse_error(line, "ONBUILD requires an instruction");
        auto sub = upper(args.substr(0, args.find_first_of(" \t")));
        if (sub == "ONBUILD" || sub == "FROM" || sub == "MAINTAINER")
            throw parse_error(line, "ONBUILD " + sub + " is not allowed");
        auto child = parse_instruction(args, line, esc, true);
        if (child.keyword == "ONBUILD" || child.keyword == "FROM" || child.keyword == "MAINTAINER")
            throw parse_error(line, "ONBUILD " + child.keyword + " is not allowed");
        in.child = std::make_shared<Instruction>(std::move(child));
        in.args = args;
        return in;
    }
    (void)nested;
    in.flags = extract_flags(args, line);
    check_flags(in.keyword, in.flags, line);
    in.args = std::string(rtrim(args));
    static const std::set<std::string> json_capable = {"RUN",  "CMD", "ENTRYPOINT", "SHELL",
                                                       "COPY", "ADD", "VOLUME"};
    if (json_capable.count(in.keyword)) in.json = parse_json_args(in.args, in.json_args);
    try {
        check_args(in, esc);
    } catch (const Error& e) {
        if (e.message().rfind("line ", 0) == 0) throw;
        throw parse_error(line, in.keyword + ": " + e.message());
    }
    return in;
}

// Heredoc markers among the words of an instruction (BuildKit: ^(\d*)<<(-?)([^<]*)$).
std::vector<Heredoc> heredoc_markers(const std::string& args) {
    std::vector<Heredoc> docs;
    std::vector<std::string> words;
    try {
        words = split_words(args, '\\');
    } catch (const Error&) {
        return docs;
    }
    for (auto& w : words) {
        auto lt = w.find("<<");
        if (lt == std::string::npos) continue;
        bool digits = std::all_of(w.begin(), w.begin() + static_cast<long>(lt), [](char c) {
            return std::isdigit(static_cast<unsigned char>(c));
        });
        if (!digits) continue;
        std::size_t p = lt + 2;
        Heredoc h;
        if (p < w.size() && w[p] == '-') {
            h.chomp = true;
            ++p;
        }
        std::string rest = w.substr(p);
        if (rest.empty() || rest.find('<') != std::string::npos) continue;
        auto name = expand_word(rest, {}, '\\');
        if (name.value.empty()) continue;
        h.name = name.value;
        h.expand = rest.find('"') == std::string::npos && rest.find('\'') == std::string::npos;
        h.fd = lt ? std::stoi(w.substr(0, lt).substr(0, 9)) : 0;
        docs.push_back(std::move(h));
    }
    return docs;
}

} // namespace

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
        std::string key = lower(field.substr(0, eq));
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

Dockerfile parse_dockerfile(std::string_view text) {
    if (text.size() >= 3 && text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);
    if (text.find('\0') != std::string_view::npos)
        throw Error(Errc::invalid, "not a text file (it contains NUL bytes)",
                    "pass the path of a Dockerfile");
    std::vector<std::string> lines;
    for (std::size_t pos = 0; pos < text.size();) {
        auto nl = text.find('\n', pos);
        auto end = nl == std::string_view::npos ? text.size() : nl;
        std::string l(text.substr(pos, end - pos));
        if (!l.empty() && l.back() == '\r') l.pop_back();
        lines.push_back(std::move(l));
        pos = end + 1;
    }

    Dockerfile df;
    bool directives_done = false;
    std::vector<std::string> comments;
    const int n = static_cast<int>(lines.size());
    for (int i = 0; i < n;) {
        const int lineno = i + 1;
        std::string_view s = ltrim(lines[i]);
        if (!directives_done) {
            std::string key, value;
            if (match_directive(s, key, value) &&
                (key == "syntax" || key == "escape" || key == "check")) {
                if (df.directives.count(key))
                    throw parse_error(lineno, "only one " + key + " parser directive can be used");
                if (key == "escape") {
                    if (value != "\\" && value != "`")
                        throw parse_error(lineno, "invalid escape character '" + value + "'",
                                          "use # escape=\\ or # escape=`");
                    df.escape = value[0];
                }
                df.directives[key] = value;
                ++i;
                continue;
            }
            directives_done = true;
        }
        if (s.empty()) {
            ++i;
            continue;
        }
        if (s[0] == '#') {
            comments.emplace_back(trim(s.substr(1)));
            ++i;
            continue;
        }
        std::string logical(s);
        bool cont = trim_continuation(logical, df.escape);
        ++i;
        while (cont && i < n) {
            std::string next = lines[i++];
            auto t = ltrim(next);
            if (t.empty() || t[0] == '#') continue; // comment or empty line in a continuation
            cont = trim_continuation(next, df.escape);
            logical += next;
        }
        Instruction in = parse_instruction(logical, lineno, df.escape, false);
        in.comments = std::move(comments);
        comments.clear();
        Instruction* target = in.child ? in.child.get() : &in;
        if (!target->json &&
            (target->keyword == "RUN" || target->keyword == "COPY" || target->keyword == "ADD")) {
            for (auto& h : heredoc_markers(target->args)) {
                h.line = i + 1;
                bool done = false;
                while (i < n) {
                    std::string body = lines[i++];
                    std::string_view term = body;
                    if (h.chomp)
                        while (!term.empty() && term.front() == '\t') term.remove_prefix(1);
                    if (term == h.name) {
                        done = true;
                        break;
                    }
                    h.content += std::string(h.chomp ? term : std::string_view(body)) + "\n";
                }
                if (!done)
                    throw parse_error(lineno,
                                      "unterminated heredoc <<" + h.name +
                                          " (no line with just \"" + h.name + "\")",
                                      "end the heredoc with a line holding only " + h.name);
                target->heredocs.push_back(std::move(h));
            }
        }
        in.end_line = i;
        if (in.child) in.child->end_line = i;
        df.instructions.push_back(std::move(in));
    }
    if (df.instructions.empty())
        throw Error(Errc::invalid, "file with no instructions",
                    "a Dockerfile needs at least a FROM instruction");

    // Structure: only ARG before the first FROM; unique stage names.
    std::set<std::string> stages;
    bool seen_from = false;
    for (auto& in : df.instructions) {
        if (in.keyword == "FROM") {
            seen_from = true;
            auto w = split_words(in.args, df.escape);
            if (w.size() == 3 && !stages.insert(lower(w[2])).second)
                throw parse_error(in.line, "duplicate stage name \"" + w[2] + "\"",
                                  "give every stage its own name");
        } else if (!seen_from && in.keyword != "ARG") {
            throw parse_error(in.line, in.keyword + " before the first FROM",
                              "only ARG may come before the first FROM instruction");
        }
    }
    return df;
}

} // namespace gantry::lint
