#include "lint/shell.hpp"

#include "dockerfile/words.hpp"
#include "util/text.hpp"

#include <set>

namespace gantry::lint {

namespace {

bool is_blank(char c) {
    return c == ' ' || c == '\t' || c == '\r';
}

bool is_assignment(const std::string& w) {
    auto eq = w.find('=');
    return eq != std::string::npos && eq > 0 &&
           dockerfile::is_var_name(std::string_view(w).substr(0, eq));
}

std::string basename_of(const std::string& p) {
    auto s = p.find_last_of('/');
    return s == std::string::npos ? p : p.substr(s + 1);
}

void normalize(std::vector<std::string> words, std::vector<Command>& out, int depth);

class Lexer {
  public:
    Lexer(std::string_view s, std::vector<Command>& out, int depth)
        : s_(s), out_(out), depth_(depth) {}

    void run() {
        while (i_ < s_.size()) {
            char c = s_[i_];
            if (c == '\\') {
                if (i_ + 1 < s_.size() && s_[i_ + 1] == '\n') {
                    i_ += 2;
                    continue;
                }
                if (i_ + 1 < s_.size()) word_ += s_[i_ + 1];
                in_word_ = true;
                i_ += 2;
            } else if (c == '\'') {
                auto close = s_.find('\'', i_ + 1);
                if (close == std::string_view::npos) close = s_.size();
                word_.append(s_.substr(i_ + 1, close - i_ - 1));
                in_word_ = true;
                i_ = close + 1;
            } else if (c == '"') {
                double_quoted();
            } else if (c == '`') {
                auto close = s_.find('`', i_ + 1);
                if (close == std::string_view::npos) close = s_.size();
                word_.append(s_.substr(i_, close + 1 - i_));
                in_word_ = true;
                i_ = close + 1;
            } else if (c == '$' && i_ + 1 < s_.size() && (s_[i_ + 1] == '(' || s_[i_ + 1] == '{')) {
                balanced(s_[i_ + 1], s_[i_ + 1] == '(' ? ')' : '}');
            } else if (c == '#' && !in_word_) {
                while (i_ < s_.size() && s_[i_] != '\n') ++i_;
            } else if (is_blank(c)) {
                end_word();
                ++i_;
            } else if (c == '\n') {
                end_word();
                end_command();
                ++i_;
                skip_heredoc_bodies();
            } else if ((c == '<' || c == '>') && (!in_word_ || text::all_digits(word_))) {
                word_.clear();
                in_word_ = false;
                redirect();
            } else if (c == '&' && i_ + 1 < s_.size() && s_[i_ + 1] == '>') {
                end_word();
                ++i_;
                redirect();
            } else if (c == ';' || c == '&' || c == '|' || c == '(' || c == ')') {
                end_word();
                end_command();
                ++i_;
            } else {
                word_ += c;
                in_word_ = true;
                ++i_;
            }
        }
        end_word();
        end_command();
    }

  private:
    void double_quoted() {
        ++i_;
        in_word_ = true;
        while (i_ < s_.size() && s_[i_] != '"') {
            char c = s_[i_];
            if (c == '\\' && i_ + 1 < s_.size()) {
                char n = s_[i_ + 1];
                if (n == '\n') {
                    i_ += 2;
                } else if (n == '"' || n == '\\' || n == '$' || n == '`') {
                    word_ += n;
                    i_ += 2;
                } else {
                    word_ += c;
                    ++i_;
                }
            } else if (c == '$' && i_ + 1 < s_.size() && (s_[i_ + 1] == '(' || s_[i_ + 1] == '{')) {
                balanced(s_[i_ + 1], s_[i_ + 1] == '(' ? ')' : '}');
            } else {
                word_ += c;
                ++i_;
            }
        }
        ++i_;
    }

    // Copies "$(...)" or "${...}" raw into the word.
    void balanced(char open, char close) {
        std::size_t start = i_;
        i_ += 2;
        int depth = 1;
        char quote = 0;
        while (i_ < s_.size() && depth) {
            char c = s_[i_];
            if (quote) {
                if (c == quote) quote = 0;
            } else if (c == '\'' || c == '"') {
                quote = c;
            } else if (c == '\\') {
                ++i_;
            } else if (c == open) {
                ++depth;
            } else if (c == close) {
                --depth;
            }
            ++i_;
        }
        word_.append(s_.substr(start, std::min(i_, s_.size()) - start));
        in_word_ = true;
    }

    // At '<' or '>': reads the operator; the next word is its target (dropped).
    void redirect() {
        std::string op;
        while (i_ < s_.size() && (s_[i_] == '<' || s_[i_] == '>' || s_[i_] == '&' ||
                                  s_[i_] == '|' || (s_[i_] == '-' && op == "<<")))
            op += s_[i_++];
        if (op == "<<" || op == "<<-") {
            heredoc_next_ = true;
            heredoc_chomp_ = op == "<<-";
        }
        skip_next_ = true;
    }

    void end_word() {
        if (!in_word_) return;
        std::string w = std::move(word_);
        word_.clear();
        in_word_ = false;
        if (skip_next_) {
            skip_next_ = false;
            if (heredoc_next_) pending_.push_back({w, heredoc_chomp_});
            heredoc_next_ = false;
            return;
        }
        static const std::set<std::string> lead = {"if",    "then",  "else", "elif", "do",
                                                   "while", "until", "!",    "{"};
        static const std::set<std::string> trail = {"fi", "done", "esac", "}"};
        if (words_.empty() && (lead.count(w) || trail.count(w))) return;
        if (w == "}") {
            end_command();
            return;
        }
        words_.push_back(std::move(w));
    }

    void end_command() {
        if (!words_.empty()) normalize(std::move(words_), out_, depth_);
        words_.clear();
    }

    // After a newline: skips the bodies of shell heredocs opened on the line just ended.
    void skip_heredoc_bodies() {
        for (auto& [delim, chomp] : pending_) {
            while (i_ < s_.size()) {
                auto nl = s_.find('\n', i_);
                auto end = nl == std::string_view::npos ? s_.size() : nl;
                std::string_view line = s_.substr(i_, end - i_);
                i_ = end + (nl == std::string_view::npos ? 0 : 1);
                if (chomp) line = text::trim_left(line, "\t");
                if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
                if (line == delim) break;
            }
        }
        pending_.clear();
    }

    std::string_view s_;
    std::vector<Command>& out_;
    int depth_;
    std::size_t i_ = 0;
    std::string word_;
    bool in_word_ = false;
    bool skip_next_ = false, heredoc_next_ = false, heredoc_chomp_ = false;
    std::vector<std::string> words_;
    std::vector<std::pair<std::string, bool>> pending_;
};

// The commands a command runs for its input: `find ... -exec CMD {} ;` (also -execdir, -ok,
// -okdir; ended by ";" or "+") and `xargs [options] CMD`.
std::vector<std::vector<std::string>> run_by(const Command& c) {
    std::vector<std::vector<std::string>> r;
    const auto& v = c.argv;
    const std::string n = c.name();
    if (n == "find") {
        for (std::size_t i = 1; i < v.size(); ++i) {
            if (v[i] != "-exec" && v[i] != "-execdir" && v[i] != "-ok" && v[i] != "-okdir")
                continue;
            std::vector<std::string> sub;
            for (++i; i < v.size() && v[i] != ";" && v[i] != "+"; ++i) sub.push_back(v[i]);
            if (!sub.empty()) r.push_back(std::move(sub));
        }
    } else if (n == "xargs") {
        static const std::set<std::string> with_value = {"-n", "-I", "-L", "-P", "-d",
                                                         "-E", "-s", "-a", "-e", "-l"};
        std::size_t i = 1;
        while (i < v.size() && v[i].size() > 1 && v[i][0] == '-') {
            if (v[i] == "--") {
                ++i;
                break;
            }
            i += with_value.count(v[i]) ? 2 : 1;
        }
        if (i < v.size()) r.emplace_back(v.begin() + static_cast<long>(i), v.end());
    }
    return r;
}

void normalize(std::vector<std::string> words, std::vector<Command>& out, int depth) {
    Command cmd;
    std::size_t i = 0;
    for (bool changed = true; changed && i < words.size();) {
        changed = false;
        while (i < words.size() && is_assignment(words[i])) cmd.assigns.push_back(words[i++]);
        if (i >= words.size()) break;
        const std::string name = basename_of(words[i]);
        if (name == "sudo" || name == "env" || name == "exec" || name == "command" ||
            name == "nohup" || name == "time" || name == "nice" || name == "stdbuf") {
            ++i;
            while (i < words.size() && words[i].size() > 1 && words[i][0] == '-') {
                const auto& o = words[i++];
                bool takes_value = (name == "sudo" && (o == "-u" || o == "-g" || o == "-C" ||
                                                       o == "-U" || o == "-h" || o == "-p")) ||
                                   (name == "env" && o == "-u") || (name == "nice" && o == "-n");
                if (takes_value) ++i;
                if (o == "--") break;
            }
            changed = true;
        }
    }
    cmd.argv.assign(words.begin() + static_cast<long>(std::min(i, words.size())), words.end());
    if (cmd.argv.empty()) return;
    // sh -c 'script': the script's commands instead of the shell
    static const std::set<std::string> shells = {"sh", "bash", "dash", "ash", "zsh", "ksh"};
    if (shells.count(cmd.name()) && depth < 4) {
        for (std::size_t k = 1; k < cmd.argv.size(); ++k) {
            const auto& a = cmd.argv[k];
            if (a.size() < 2 || a[0] != '-' || a[1] == '-') break;
            if (a.find('c') != std::string::npos && k + 1 < cmd.argv.size()) {
                Lexer(cmd.argv[k + 1], out, depth + 1).run();
                return;
            }
        }
    }
    std::vector<std::vector<std::string>> runs = run_by(cmd);
    out.push_back(std::move(cmd));
    if (depth < 4)
        for (auto& r : runs) normalize(std::move(r), out, depth + 1);
}

} // namespace

std::string Command::name() const {
    return argv.empty() ? std::string() : basename_of(argv[0]);
}

std::vector<Command> split_commands(std::string_view script) {
    std::vector<Command> out;
    Lexer(script, out, 0).run();
    return out;
}

std::vector<Command> commands_from_argv(const std::vector<std::string>& argv) {
    std::vector<Command> out;
    if (!argv.empty()) normalize(argv, out, 0);
    return out;
}

} // namespace gantry::lint
