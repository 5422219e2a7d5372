#include "deffile/deffile.hpp"
#include "util/error.hpp"
#include "util/text.hpp"

namespace gantry::deffile {
namespace {

[[noreturn]] void section_fail(const std::string& file, int line, const std::string& what,
                               std::string hint) {
    throw Error(Errc::invalid, file + ":" + std::to_string(line) + ": " + what, std::move(hint));
}

// The words of LINE: white space separates them; "..." or '...' keeps spaces in one.
std::vector<std::string> quoted_words(std::string_view line, const std::string& file, int n) {
    std::vector<std::string> out;
    std::size_t i = 0;
    while (i < line.size()) {
        while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
        if (i >= line.size()) break;
        std::string w;
        while (i < line.size() && line[i] != ' ' && line[i] != '\t') {
            char q = line[i];
            if (q == '"' || q == '\'') {
                auto end = line.find(q, i + 1);
                if (end == std::string_view::npos)
                    section_fail(file, n, "an unterminated " + std::string(1, q) + " quote",
                                 "close the quote");
                w.append(line.substr(i + 1, end - i - 1));
                i = end + 1;
            } else {
                w.push_back(q);
                ++i;
            }
        }
        out.push_back(std::move(w));
    }
    return out;
}

} // namespace

std::vector<FileCopy> file_copies(const Section& s, const std::string& file) {
    std::vector<FileCopy> out;
    int n = s.line;
    for (auto line : text::lines(s.body)) {
        ++n;
        line = text::trim(line);
        if (line.empty() || line.starts_with('#')) continue;
        auto w = quoted_words(line, file, n);
        if (w.size() > 2)
            section_fail(file, n,
                         "a %files line takes SOURCE [DESTINATION], not " +
                             std::to_string(w.size()) + " words",
                         "quote a path that holds spaces (\"my file\")");
        if (w.empty() || w[0].empty())
            section_fail(file, n, "a %files line with an empty source", "name the file to copy");
        out.push_back(FileCopy{w[0], w.size() == 2 ? w[1] : "", n});
    }
    return out;
}

std::vector<std::pair<std::string, std::string>> labels(const Section& s, const std::string& file) {
    std::vector<std::pair<std::string, std::string>> out;
    int n = s.line;
    for (auto line : text::lines(s.body)) {
        ++n;
        line = text::trim(line);
        if (line.empty() || line.starts_with('#')) continue;
        auto sp = line.find_first_of(" \t");
        std::string key(line.substr(0, sp));
        std::string value(sp == std::string_view::npos ? "" : text::trim(line.substr(sp)));
        for (char c : key)
            if (static_cast<unsigned char>(c) < 0x20 || c == '=')
                section_fail(file, n, "the label name `" + key.substr(0, 80) + "` is not valid",
                             "write %labels lines as NAME VALUE");
        out.emplace_back(std::move(key), std::move(value));
    }
    return out;
}

} // namespace gantry::deffile
