#include "dockerfile/words.hpp"

#include "dockerfile/text.hpp"
#include "util/error.hpp"

namespace gantry::dockerfile {

const Env& platform_args() {
    static const Env args = {{"TARGETPLATFORM", "linux/amd64"},
                             {"TARGETOS", "linux"},
                             {"TARGETARCH", "amd64"},
                             {"TARGETVARIANT", ""},
                             {"BUILDPLATFORM", "linux/amd64"},
                             {"BUILDOS", "linux"},
                             {"BUILDARCH", "amd64"},
                             {"BUILDVARIANT", ""}};
    return args;
}

namespace {

bool is_name_start(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}
bool is_name_char(char c) {
    return is_name_start(c) || (c >= '0' && c <= '9');
}

class Expander {
  public:
    Expander(std::string_view s, const Env& env, char escape) : s_(s), env_(env), esc_(escape) {}

    Expanded run() {
        Expanded out;
        out.value = word(s_.size(), out);
        return out;
    }

  private:
    // Expands s_[i_, end) into a string.
    std::string word(std::size_t end, Expanded& out) {
        std::string v;
        while (i_ < end) {
            char c = s_[i_];
            if (c == '\'') {
                auto close = s_.find('\'', i_ + 1);
                if (close == std::string_view::npos || close >= end) close = end;
                put(v, s_.substr(i_ + 1, close - i_ - 1));
                i_ = close < end ? close + 1 : end;
            } else if (c == '"') {
                ++i_;
                while (i_ < end && s_[i_] != '"') {
                    char d = s_[i_];
                    if (d == esc_ && i_ + 1 < end &&
                        (s_[i_ + 1] == '"' || s_[i_ + 1] == '$' || s_[i_ + 1] == esc_)) {
                        put(v, s_.substr(i_ + 1, 1));
                        i_ += 2;
                    } else if (d == '$') {
                        put(v, dollar(end, out));
                    } else {
                        put(v, s_.substr(i_, 1));
                        ++i_;
                    }
                }
                if (i_ < end) ++i_; // closing quote
            } else if (c == esc_) {
                if (i_ + 1 < end) {
                    put(v, s_.substr(i_ + 1, 1));
                    i_ += 2;
                } else {
                    put(v, s_.substr(i_, 1));
                    ++i_;
                }
            } else if (c == '$') {
                put(v, dollar(end, out));
            } else {
                put(v, s_.substr(i_, 1));
                ++i_;
            }
        }
        return v;
    }

    // Appends piece to v, refusing a word longer than kMaxExpandedWord before it is made.
    void put(std::string& v, std::string_view piece) {
        if (v.size() + piece.size() > kMaxExpandedWord)
            throw Error(
                Errc::invalid,
                "expanding the variables of \"" + excerpt() + "\" makes a value of more than " +
                    std::to_string(kMaxExpandedWord) + " bytes",
                "no RUN step could receive a value that long (the kernel's limit for one "
                "string); references nested through ENV or ARG multiply a value at each level: "
                "shorten the chain");
        v.append(piece);
    }

    std::string excerpt() const {
        return s_.size() > 60 ? std::string(s_.substr(0, 60)) + "..." : std::string(s_);
    }

    void unresolved(Expanded& out, const std::string& name) {
        out.resolved = false;
        out.unresolved.push_back(name);
    }

    // s_[i_] == '$'
    std::string dollar(std::size_t end, Expanded& out) {
        if (i_ + 1 >= end) {
            ++i_;
            return "$";
        }
        char n = s_[i_ + 1];
        if (is_name_start(n)) {
            std::size_t j = i_ + 1;
            while (j < end && is_name_char(s_[j])) ++j;
            std::string name(s_.substr(i_ + 1, j - i_ - 1));
            i_ = j;
            auto it = env_.find(name);
            if (it == env_.end()) {
                unresolved(out, name);
                return {};
            }
            return it->second;
        }
        if (n != '{') {
            ++i_;
            return "$";
        }
        // ${...}: find the matching brace (nested ${} allowed in the word part)
        std::size_t j = i_ + 2, depth = 1;
        while (j < end && depth) {
            if (s_[j] == esc_ && j + 1 < end) {
                j += 2;
                continue;
            }
            if (s_[j] == '{') ++depth;
            if (s_[j] == '}') --depth;
            if (depth) ++j;
        }
        if (j >= end)
            throw Error(Errc::invalid, "missing '}' in variable substitution \"" +
                                           std::string(s_.substr(i_, end - i_)) + "\"");
        std::size_t close = j, k = i_ + 2;
        while (k < close && is_name_char(s_[k])) ++k;
        std::string name(s_.substr(i_ + 2, k - i_ - 2));
        auto it = env_.find(name);
        bool set = it != env_.end();
        std::string val = set ? it->second : std::string();
        if (name.empty() || !is_name_start(name[0])) {
            // ${#VAR} and other forms gantry does not evaluate
            unresolved(out, std::string(s_.substr(i_, close + 1 - i_)));
            i_ = close + 1;
            return {};
        }
        if (k == close) {
            i_ = close + 1;
            if (!set) unresolved(out, name);
            return val;
        }
        bool colon = s_[k] == ':';
        std::size_t op = colon ? k + 1 : k;
        char m = op < close ? s_[op] : '\0';
        if (m != '-' && m != '+' && m != '?') {
            // ${VAR%pat}, ${VAR#pat}, ${VAR/a/b}: not evaluated
            unresolved(out, std::string(s_.substr(i_, close + 1 - i_)));
            i_ = close + 1;
            return {};
        }
        i_ = op + 1;
        if (++depth_ > kMaxExpansionDepth)
            throw Error(Errc::invalid, "variable substitution nested more than " +
                                           std::to_string(kMaxExpansionDepth) +
                                           " levels deep in \"" + excerpt() + "\"");
        std::string alt = word(close, out);
        --depth_;
        i_ = close + 1;
        bool empty_or_unset = !set || (colon && val.empty());
        switch (m) {
        case '-':
            return empty_or_unset ? alt : val;
        case '+':
            return empty_or_unset ? std::string() : alt;
        default: // '?'
            if (empty_or_unset) unresolved(out, name);
            return val;
        }
    }

    std::string_view s_;
    const Env& env_;
    char esc_;
    std::size_t i_ = 0;
    int depth_ = 0;
};

} // namespace

bool is_var_name(std::string_view s) {
    if (s.empty() || !is_name_start(s[0])) return false;
    for (char c : s)
        if (!is_name_char(c)) return false;
    return true;
}

std::vector<std::string> split_words(std::string_view s, char escape) {
    std::vector<std::string> words;
    std::string cur;
    bool in_word = false;
    char quote = 0;
    for (std::size_t i = 0; i < s.size(); ++i) {
        char c = s[i];
        if (quote) {
            cur += c;
            if (c == escape && quote == '"' && i + 1 < s.size()) {
                cur += s[++i];
            } else if (c == quote) {
                quote = 0;
            }
            continue;
        }
        if (is_space(c) || c == '\n') {
            if (in_word) words.push_back(std::move(cur));
            cur.clear();
            in_word = false;
            continue;
        }
        in_word = true;
        cur += c;
        if (c == escape && i + 1 < s.size()) {
            cur += s[++i];
        } else if (c == '"' || c == '\'') {
            quote = c;
        }
    }
    if (quote)
        throw Error(Errc::invalid, std::string("unterminated ") +
                                       (quote == '"' ? "double" : "single") + " quote in \"" +
                                       std::string(s.substr(0, 60)) +
                                       (s.size() > 60 ? "...\"" : "\""));
    if (in_word) words.push_back(std::move(cur));
    return words;
}

Expanded expand_word(std::string_view raw, const Env& env, char escape) {
    return Expander(raw, env, escape).run();
}

} // namespace gantry::dockerfile
