#include "deffile/deffile.hpp"
#include "util/error.hpp"
#include "util/text.hpp"

#include <algorithm>
#include <cctype>
#include <optional>

namespace gantry::deffile {
namespace {

constexpr std::string_view kSections[] = {
    "help",        "files",     "labels",  "environment", "post",       "runscript", "test",
    "startscript", "arguments", "setup",   "pre",         "appinstall", "applabels", "appfiles",
    "appenv",      "apptest",   "apphelp", "apprun",      "appstart"};
constexpr std::string_view kAgents[] = {"docker",         "docker-daemon", "oci",  "oci-archive",
                                        "docker-archive", "localimage",    "oras", "scratch"};
// what Apptainer's parser also accepts (validHeaders), refused here by name
constexpr std::string_view kApptainerHeaders[] = {
    "includecmd",  "mirrorurl", "updateurl",    "osversion", "include", "library",
    "registry",    "namespace", "product",      "user",      "regcode", "productpgp",
    "registerurl", "modules",   "fingerprints", "confurl",   "setopt",  "target",
    "frontend",    "filename",  "buildargs",    "otherurl"};

template <class List>
bool deffile_in(const List& list, std::string_view v) {
    return std::find(std::begin(list), std::end(list), v) != std::end(list);
}

// TEXT for a message: at most 80 bytes, control bytes shown as '?'.
std::string shown(std::string_view text) {
    std::string out;
    for (char c : text.substr(0, 80)) out += static_cast<unsigned char>(c) < 0x20 ? '?' : c;
    if (text.size() > 80) out += "...";
    return out;
}

[[noreturn]] void fail(Errc code, const std::string& file, int line, const std::string& what,
                       std::string hint) {
    throw Error(code, file + ":" + std::to_string(line) + ": " + what, std::move(hint));
}

bool deffile_space(char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

// The first word of LINE when it opens a section ("%post -c /bin/bash" -> "%post").
std::optional<std::string_view> section_word(std::string_view line) {
    std::size_t i = 0;
    while (i < line.size() && deffile_space(line[i])) ++i;
    if (i >= line.size() || line[i] != '%') return std::nullopt;
    std::size_t j = i;
    while (j < line.size() && !deffile_space(line[j])) ++j;
    return line.substr(i, j - i);
}

bool is_bootstrap_line(std::string_view line) {
    return line.size() >= 10 && text::lower(line.substr(0, 10)) == "bootstrap:";
}

std::string strip_comment(std::string_view s) {
    return std::string(text::trim(s.substr(0, s.find('#'))));
}

bool valid_stage_name(const std::string& n) {
    if (n.empty() || n.size() > 128 || !std::isalpha(static_cast<unsigned char>(n[0])))
        return false;
    return std::all_of(n.begin(), n.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
    });
}

class Parser {
  public:
    explicit Parser(const std::string& file) : file_(file) {}

    Definition run(std::string_view text) {
        if (text.size() > kMaxDefinition)
            throw Error(Errc::invalid,
                        file_ + ": the definition file is over " +
                            std::to_string(kMaxDefinition >> 20) + " MiB",
                        "a definition file is a recipe; keep data in files that %files copies");
        if (text.find('\0') != std::string_view::npos) {
            int line =
                1 + static_cast<int>(std::count(
                        text.begin(), text.begin() + static_cast<long>(text.find('\0')), '\n'));
            fail(Errc::invalid, file_, line, "a NUL byte: this is not a text file",
                 "give the definition file (text), not an image");
        }
        if (text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3);
        int n = 0;
        while (!text.empty()) {
            auto nl = text.find('\n');
            std::string_view line = text.substr(0, nl);
            text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
            if (line.ends_with('\r')) line.remove_suffix(1);
            one_line(line, ++n);
        }
        end_header();
        if (def_.stages.empty())
            throw Error(Errc::invalid, file_ + ": no Bootstrap: line",
                        "a definition file starts with `Bootstrap: docker` and `From: IMAGE`");
        std::vector<std::pair<std::string, int>> names;
        for (auto& s : def_.stages) {
            check_stage(s);
            merge_repeated(s);
            std::string name = text::lower(s.value("stage"));
            if (name.empty()) continue;
            for (const auto& [other, line] : names)
                if (other == name)
                    fail(Errc::invalid, file_, s.header.at("stage").line,
                         "stage " + shown(name) + " is named twice (first at line " +
                             std::to_string(line) + ")",
                         "give every Stage: its own name");
            names.emplace_back(name, s.header.at("stage").line);
        }
        return std::move(def_);
    }

  private:
    void one_line(std::string_view line, int n) {
        // at the start of a line, as Apptainer splits stages; the first may be indented (its
        // header lines are trimmed)
        if (is_bootstrap_line(line) ||
            (def_.stages.empty() && is_bootstrap_line(text::trim_left(line)))) {
            end_header();
            def_.stages.emplace_back();
            def_.stages.back().line = n;
            in_header_ = true;
            header_line(line, n);
            return;
        }
        auto word = section_word(line);
        if (def_.stages.empty()) {
            auto t = text::trim(line);
            if (t.empty() || t.starts_with('#')) return;
            fail(Errc::invalid, file_, n,
                 word ? "section " + shown(*word) + " before the first Bootstrap: line"
                      : "`" + shown(t) + "` before the first Bootstrap: line",
                 "a definition file starts with `Bootstrap: docker` and `From: IMAGE`");
        }
        Stage& st = def_.stages.back();
        if (word) {
            end_header();
            in_header_ = false;
            Section s;
            s.name = text::lower(text::trim_left(*word, "%"));
            s.args = std::string(text::trim(line.substr(line.find(*word) + word->size())));
            s.line = n;
            st.sections.push_back(std::move(s));
            return;
        }
        if (in_header_) return header_line(line, n);
        st.sections.back().body.append(line).push_back('\n');
    }

    void header_line(std::string_view raw, int n) {
        auto line = text::trim(raw);
        if (line.empty() || line.starts_with('#')) {
            end_header(); // a blank or comment line ends a continued value, as Apptainer's
            return;
        }
        std::string part = strip_comment(line);
        std::string key, value;
        int first = n;
        if (cont_) {
            key = cont_key_;
            value = cont_value_ + part;
            first = cont_line_;
            cont_ = false;
        } else {
            auto colon = part.find(':');
            if (colon == std::string::npos)
                fail(Errc::invalid, file_, n, "header line `" + shown(part) + "` has no `:`",
                     "write header lines as `Key: value` (Bootstrap:, From:, Stage:), and open "
                     "sections with %post, %files, ...");
            key = text::lower(text::trim(std::string_view(part).substr(0, colon)));
            value = std::string(text::trim(std::string_view(part).substr(colon + 1)));
        }
        if (value.ends_with('\\')) {
            value.pop_back();
            cont_ = true;
            cont_key_ = key;
            cont_value_ = value;
            cont_line_ = first;
            return;
        }
        put_header(key, value, first);
    }

    void end_header() {
        if (!cont_) return;
        cont_ = false;
        put_header(cont_key_, cont_value_, cont_line_);
    }

    void put_header(const std::string& key, const std::string& value, int n) {
        Stage& st = def_.stages.back();
        if (key != "bootstrap" && key != "from" && key != "stage") {
            std::string base = key;
            while (!base.empty() && std::isdigit(static_cast<unsigned char>(base.back())))
                base.pop_back();
            if (deffile_in(kApptainerHeaders, key) || deffile_in(kApptainerHeaders, base))
                fail(Errc::unsupported, file_, n,
                     "the header keyword " + shown(key) + " is not supported by gantry",
                     "gantry reads Bootstrap:, From: and Stage:; the other keywords serve "
                     "bootstrap agents gantry does not have (docs/apptainer.md)");
            fail(Errc::invalid, file_, n, "unknown header keyword " + shown(key),
                 "the header holds Bootstrap:, From: and Stage: (docs/apptainer.md)");
        }
        if (auto it = st.header.find(key); it != st.header.end())
            fail(Errc::invalid, file_, n,
                 "the header keyword " + key + " is given twice (first at line " +
                     std::to_string(it->second.line) + ")",
                 "keep one");
        st.header[key] = HeaderValue{value, n};
    }

    void check_stage(const Stage& st) {
        std::string agent = st.bootstrap();
        int bl = st.header.count("bootstrap") ? st.header.at("bootstrap").line : st.line;
        if (agent.empty())
            fail(Errc::invalid, file_, bl, "Bootstrap: names no agent",
                 "write `Bootstrap: docker` (or docker-daemon, oci, localimage, oras, scratch)");
        if (!deffile_in(kAgents, agent))
            fail(Errc::unsupported, file_, bl,
                 "the bootstrap agent " + shown(agent) + " is not supported by gantry",
                 "use Bootstrap: docker (a registry image), docker-daemon (a store image), "
                 "localimage (a .sif or .sqsh file), oras (a SIF in a registry), oci, "
                 "oci-archive, docker-archive (a "
                 "layout or archive) or scratch");
        bool has_from = !st.value("from").empty();
        if (agent == "scratch" && st.header.count("from"))
            fail(Errc::invalid, file_, st.header.at("from").line,
                 "Bootstrap: scratch takes no From:", "remove the From: line");
        if (agent != "scratch" && !has_from)
            fail(Errc::invalid, file_, bl, "Bootstrap: " + agent + " needs a From: line",
                 "name the base image, e.g. `From: debian:12`");
        if (st.header.count("stage") && !valid_stage_name(st.value("stage")))
            fail(Errc::invalid, file_, st.header.at("stage").line,
                 "invalid stage name " + shown(st.value("stage")),
                 "a stage name starts with a letter and holds letters, digits, '_', '-', '.'");
        for (const auto& s : st.sections) check_section(s);
    }

    // Apptainer's parser (pkg/build/types/parser/deffile.go, parseTokenSection): a section
    // written again is appended to the first of its name (HPC Container Maker writes four
    // %post), the later arguments winning where given; %files sections stay apart
    static void merge_repeated(Stage& st) {
        std::vector<Section> merged;
        for (auto& s : st.sections) {
            // a SCIF app's section is named by its app too ("%apprun foo")
            auto first = std::find_if(merged.begin(), merged.end(), [&](const Section& m) {
                return m.name == s.name && (!s.name.starts_with("app") ||
                                            strip_comment(m.args) == strip_comment(s.args));
            });
            if (s.name == "files" || first == merged.end()) {
                merged.push_back(std::move(s));
                continue;
            }
            first->body += s.body;
            if (!s.args.empty()) first->args = s.args;
        }
        st.sections = std::move(merged);
    }

    void check_section(const Section& s) {
        const std::string name = "%" + shown(s.name);
        if (!deffile_in(kSections, s.name))
            fail(Errc::invalid, file_, s.line, "unknown section " + name,
                 "Apptainer's sections are %arguments, %files, %post, %environment, "
                 "%runscript, %startscript, %test, %labels and %help");
        std::string args = strip_comment(s.args);
        if (s.name.starts_with("app")) { // SCIF: %appNAME APP, APP a directory's name
            bool ok = !args.empty() && args != "." && args != ".." &&
                      std::all_of(args.begin(), args.end(), [](char c) {
                          return std::isalnum(static_cast<unsigned char>(c)) || c == '_' ||
                                 c == '-' || c == '.';
                      });
            if (!ok)
                fail(Errc::invalid, file_, s.line,
                     name + " needs the app's name, not `" + shown(args) + "`",
                     "write " + name + " NAME, NAME of letters, digits, '_', '-' and '.'");
            return;
        }
        if (args.empty()) return;
        if (s.name == "files") {
            auto rest =
                text::trim(std::string_view(args).substr(std::min<std::size_t>(4, args.size())));
            if (args.starts_with("from") && args.size() > 4 && deffile_space(args[4]) &&
                !rest.empty() && std::none_of(rest.begin(), rest.end(), deffile_space))
                return;
            fail(Errc::invalid, file_, s.line,
                 "%files takes `from STAGE` or nothing, not `" + shown(args) + "`",
                 "write %files from NAME, NAME a Stage: of this file");
        }
        if (s.name == "post" && args.starts_with("-c ")) return;
        fail(Errc::unsupported, file_, s.line,
             name + " " + shown(args) + ": gantry does not take these section arguments",
             s.name == "post" ? "use `%post -c SHELL` (e.g. -c /bin/bash) or no arguments"
                              : "remove them");
    }

    const std::string& file_;
    Definition def_;
    bool in_header_ = false;
    bool cont_ = false;
    std::string cont_key_, cont_value_;
    int cont_line_ = 0;
};

} // namespace

std::string Stage::bootstrap() const {
    return text::lower(value("bootstrap"));
}

std::string Stage::value(const std::string& key) const {
    auto it = header.find(key);
    return it == header.end() ? "" : it->second.value;
}

const Section* Stage::section(std::string_view name) const {
    for (const auto& s : sections)
        if (s.name == name) return &s;
    return nullptr;
}

Definition parse(std::string_view text, const std::string& file) {
    return Parser(file).run(text);
}

bool looks_like_definition(std::string_view text) {
    if (text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3);
    while (!text.empty()) {
        auto nl = text.find('\n');
        auto line = text::trim(text.substr(0, nl));
        text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
        if (line.empty() || line.starts_with('#')) continue;
        return is_bootstrap_line(line);
    }
    return false;
}

} // namespace gantry::deffile
