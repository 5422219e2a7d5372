#include "dockerfile/dockerfile.hpp"

#include "dockerfile/instruction.hpp"
#include "dockerfile/text.hpp"
#include "dockerfile/words.hpp"
#include "util/text.hpp"

#include <algorithm>
#include <cctype>
#include <set>

namespace gantry::dockerfile {

namespace {

// "# name = value" at the top of the file (BuildKit's reDirectives).
bool match_directive(std::string_view line, std::string& key, std::string& value) {
    if (line.empty() || line[0] != '#') return false;
    std::size_t i = 1;
    while (i < line.size() && is_space(line[i])) ++i;
    std::size_t k0 = i;
    if (i >= line.size() || !std::isalpha(static_cast<unsigned char>(line[i]))) return false;
    while (i < line.size() && std::isalnum(static_cast<unsigned char>(line[i]))) ++i;
    key = text::lower(line.substr(k0, i - k0));
    while (i < line.size() && is_space(line[i])) ++i;
    if (i >= line.size() || line[i] != '=') return false;
    value = std::string(text::trim(line.substr(i + 1)));
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

Dockerfile parse_dockerfile(std::string_view text) {
    if (text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3);
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
        std::string_view s = text::trim_left(lines[i]);
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
            comments.emplace_back(text::trim(s.substr(1)));
            ++i;
            continue;
        }
        std::string logical(s);
        bool cont = trim_continuation(logical, df.escape);
        ++i;
        while (cont && i < n) {
            std::string next = lines[i++];
            auto t = text::trim_left(next);
            if (t.empty() || t[0] == '#') continue; // comment or empty line in a continuation
            cont = trim_continuation(next, df.escape);
            logical += next;
        }
        Instruction in = parse_instruction(logical, lineno, df.escape);
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
                    if (h.chomp) term = text::trim_left(term, "\t");
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
            if (w.size() == 3 && !stages.insert(text::lower(w[2])).second)
                throw parse_error(in.line, "duplicate stage name \"" + w[2] + "\"",
                                  "give every stage its own name");
        } else if (!seen_from && in.keyword != "ARG") {
            throw parse_error(in.line, in.keyword + " before the first FROM",
                              "only ARG may come before the first FROM instruction");
        }
    }
    return df;
}

} // namespace gantry::dockerfile
