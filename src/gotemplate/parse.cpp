// Go's text/template syntax: the lexer of an action and the parser of the whole template.
#include "gotemplate/syntax.hpp"
#include "util/error.hpp"

#include <cctype>
#include <cstdint>

namespace gantry::gotemplate {

std::string place(std::string_view text, std::size_t pos) {
    std::size_t line = 1, col = 1;
    for (std::size_t i = 0; i < pos && i < text.size(); ++i) {
        if (text[i] == '\n') {
            ++line;
            col = 1;
        } else
            ++col;
    }
    return std::to_string(line) + ":" + std::to_string(col);
}

namespace {

struct Token {
    enum Kind {
        ident,
        field,
        variable,
        dot,
        string,
        number,
        lparen,
        rparen,
        pipe,
        declare,
        assign,
        comma
    } kind = ident;
    std::string text; // ident/field/variable name; string's value
    json value;       // number, char
    std::size_t pos = 0;
    bool spaced = true; // whitespace (or the action's start) before it
};

bool template_space(char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}
bool word_char(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
}

class Parser {
  public:
    Parser(std::string_view text, const Limits& limits) : t_(text), limits_(limits) {}

    std::shared_ptr<Node> parse_all() {
        std::string ended;
        auto list = parse_list(ended);
        if (!ended.empty()) fail(end_pos_, "unexpected {{" + ended + "}}");
        return list;
    }

  private:
    [[noreturn]] void fail(std::size_t pos, const std::string& what) const {
        throw Error(Errc::usage, "template " + place(t_, pos) + ": " + what);
    }

    // Text up to the next action, and the action's tokens; false at the end of the template.
    // ENDED: the control word ("end", "else") that began the action, else empty.
    std::shared_ptr<Node> parse_list(std::string& ended) {
        if (++depth_ > limits_.max_depth)
            fail(p_, "nested deeper than " + std::to_string(limits_.max_depth) + " levels");
        auto list = std::make_shared<Node>();
        list->kind = Node::list;
        ended.clear();
        while (p_ < t_.size()) {
            auto open = t_.find("{{", p_);
            std::string_view text = t_.substr(p_, open == t_.npos ? t_.npos : open - p_);
            if (open == t_.npos) {
                add_text(*list, text);
                p_ = t_.size();
                break;
            }
            std::size_t q = open + 2;
            bool trim_left = q + 1 < t_.size() && t_[q] == '-' && template_space(t_[q + 1]);
            if (trim_left) {
                while (!text.empty() && template_space(text.back())) text.remove_suffix(1);
                q += 2;
            }
            add_text(*list, text);
            while (q < t_.size() && template_space(t_[q])) ++q;
            if (t_.compare(q, 2, "/*") == 0) {
                skip_comment(open, q);
                continue;
            }
            auto toks = lex_action(open, q);
            if (toks.empty()) fail(open, "missing value for command");
            if (toks[0].kind == Token::ident) {
                const auto& w = toks[0].text;
                if (w == "end" || w == "else") {
                    if (w == "end" && toks.size() > 1)
                        fail(toks[1].pos, "unexpected word after end");
                    ended = w;
                    end_pos_ = open;
                    else_toks_ = std::move(toks);
                    --depth_;
                    return list;
                }
                if (w == "if" || w == "range" || w == "with") {
                    list->children.push_back(parse_block(w, toks, open));
                    continue;
                }
                if (w == "break" || w == "continue") {
                    if (toks.size() > 1) fail(toks[1].pos, "unexpected word after " + w);
                    if (ranges_ == 0) fail(open, "{{" + w + "}} outside {{range}}");
                    auto n = std::make_shared<Node>();
                    n->kind = w == "break" ? Node::break_ : Node::continue_;
                    n->pos = open;
                    list->children.push_back(n);
                    continue;
                }
                if (w == "define" || w == "template" || w == "block")
                    fail(open, "{{" + w + "}} is not available in --format templates");
            }
            auto n = std::make_shared<Node>();
            n->kind = Node::action;
            n->pos = open;
            std::size_t i = 0;
            n->pipe = parse_pipe(toks, i, true);
            if (i != toks.size()) fail(toks[i].pos, "unexpected " + describe(toks[i]));
            list->children.push_back(n);
        }
        --depth_;
        return list;
    }

    std::shared_ptr<Node> parse_block(const std::string& word, const std::vector<Token>& toks,
                                      std::size_t open) {
        auto n = std::make_shared<Node>();
        n->kind = word == "if" ? Node::if_ : word == "range" ? Node::range : Node::with;
        n->pos = open;
        std::size_t i = 1;
        if (i == toks.size()) fail(open, "missing value for " + word);
        n->pipe = parse_pipe(toks, i, true);
        if (i != toks.size()) fail(toks[i].pos, "unexpected " + describe(toks[i]));
        if (n->kind == Node::range) {
            if (n->pipe->vars.size() > 2) fail(open, "too many variables in range");
        } else if (n->pipe->vars.size() > 1)
            fail(open, "too many variables in " + word);
        if (n->kind == Node::range) ++ranges_;
        std::string ended;
        n->body = parse_list(ended);
        if (n->kind == Node::range) --ranges_;
        if (ended.empty()) fail(open, "unexpected EOF: {{" + word + "}} has no {{end}}");
        if (ended == "else") {
            auto etoks = std::move(else_toks_);
            if (etoks.size() > 1 && etoks[1].kind == Token::ident &&
                (etoks[1].text == "if" || etoks[1].text == "with") && n->kind != Node::range) {
                // {{else if X}}: an if in the else branch, ended by this block's {{end}}
                std::vector<Token> rest(etoks.begin() + 1, etoks.end());
                auto list = std::make_shared<Node>();
                list->kind = Node::list;
                list->children.push_back(parse_block(rest[0].text, rest, end_pos_));
                n->otherwise = list;
                return n;
            }
            if (etoks.size() > 1) fail(etoks[1].pos, "unexpected word after else");
            n->otherwise = parse_list(ended);
            if (ended != "end") fail(open, "{{" + word + "}} has no {{end}} after its {{else}}");
        }
        return n;
    }

    void add_text(Node& list, std::string_view text) {
        if (trim_next_)
            while (!text.empty() && template_space(text.front())) text.remove_prefix(1);
        trim_next_ = false;
        if (text.empty()) return;
        auto n = std::make_shared<Node>();
        n->kind = Node::text_;
        n->text = std::string(text);
        list.children.push_back(n);
    }

    void skip_comment(std::size_t open, std::size_t q) {
        auto close = t_.find("*/", q + 2);
        if (close == t_.npos) fail(open, "unclosed comment");
        std::size_t r = close + 2;
        bool trim_right = false;
        if (r + 3 < t_.size() + 1 && t_.compare(r, 3, " -}") == 0) {
            trim_right = true;
            r += 2;
        }
        if (t_.compare(r, 2, "}}") != 0) fail(open, "comment ends before closing delimiter");
        p_ = r + 2;
        trim_next_ = trim_right;
    }

    // The tokens of the action whose "{{" is at OPEN, its content starting at Q; p_ after it.
    std::vector<Token> lex_action(std::size_t open, std::size_t q) {
        std::vector<Token> toks;
        bool spaced = true;
        for (;;) {
            if (q >= t_.size()) fail(open, "unclosed action");
            char c = t_[q];
            if (template_space(c)) {
                ++q;
                spaced = true;
                continue;
            }
            if (t_.compare(q, 2, "}}") == 0) {
                p_ = q + 2;
                trim_next_ = false;
                return toks;
            }
            if (c == '-' && spaced && t_.compare(q + 1, 2, "}}") == 0 && q > open + 2) {
                p_ = q + 3;
                trim_next_ = true;
                return toks;
            }
            if (toks.size() > 4096) fail(open, "action longer than 4096 words");
            Token tk;
            tk.pos = q;
            tk.spaced = spaced;
            spaced = false;
            if (c == '|' || c == '(' || c == ')' || c == ',' || c == '=') {
                tk.kind = c == '|'   ? Token::pipe
                          : c == '(' ? Token::lparen
                          : c == ')' ? Token::rparen
                          : c == ',' ? Token::comma
                                     : Token::assign;
                ++q;
            } else if (c == ':' && t_.compare(q, 2, ":=") == 0) {
                tk.kind = Token::declare;
                q += 2;
            } else if (c == '"' || c == '`') {
                tk.kind = Token::string;
                q = lex_quoted(t_, q, tk.text);
            } else if (c == '\'') {
                std::string s;
                q = lex_quoted(t_, q, s);
                auto cp = first_code_point(s);
                if (cp < 0) fail(tk.pos, "malformed character constant");
                tk.kind = Token::number;
                tk.value = cp;
            } else if (c == '.' && q + 1 < t_.size() && word_char(t_[q + 1]) &&
                       !std::isdigit(static_cast<unsigned char>(t_[q + 1]))) {
                tk.kind = Token::field;
                std::size_t e = q + 1;
                while (e < t_.size() && word_char(t_[e])) ++e;
                tk.text = std::string(t_.substr(q + 1, e - q - 1));
                q = e;
            } else if (c == '.' && !(q + 1 < t_.size() &&
                                     std::isdigit(static_cast<unsigned char>(t_[q + 1])))) {
                tk.kind = Token::dot;
                ++q;
            } else if (c == '$') {
                tk.kind = Token::variable;
                std::size_t e = q + 1;
                while (e < t_.size() && word_char(t_[e])) ++e;
                tk.text = std::string(t_.substr(q, e - q));
                q = e;
            } else if (std::isdigit(static_cast<unsigned char>(c)) || c == '.' ||
                       ((c == '-' || c == '+') && q + 1 < t_.size() &&
                        (std::isdigit(static_cast<unsigned char>(t_[q + 1])) ||
                         t_[q + 1] == '.'))) {
                tk.kind = Token::number;
                q = lex_number(t_, q, tk.value);
            } else if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
                std::size_t e = q;
                while (e < t_.size() && word_char(t_[e])) ++e;
                tk.kind = Token::ident;
                tk.text = std::string(t_.substr(q, e - q));
                q = e;
            } else {
                fail(q, "unexpected character in action: " + printable(c));
            }
            toks.push_back(std::move(tk));
        }
    }

    static std::string printable(char c) {
        auto u = static_cast<unsigned char>(c);
        if (u >= 0x20 && u < 0x7f) return std::string("'") + c + "'";
        char buf[8];
        std::snprintf(buf, sizeof buf, "0x%02x", u);
        return buf;
    }

    static std::string describe(const Token& t) {
        switch (t.kind) {
        case Token::pipe:
            return "\"|\"";
        case Token::lparen:
            return "\"(\"";
        case Token::rparen:
            return "\")\"";
        case Token::comma:
            return "\",\"";
        case Token::declare:
            return "\":=\"";
        case Token::assign:
            return "\"=\"";
        case Token::string:
            return "string";
        case Token::number:
            return "number";
        case Token::field:
            return "field ." + t.text;
        case Token::variable:
            return "variable " + t.text;
        case Token::dot:
            return "\".\"";
        case Token::ident:
            return "\"" + t.text + "\"";
        }
        return "word";
    }

    // A pipeline from TOKS at I, up to the end or an unmatched ")".
    std::shared_ptr<Pipe> parse_pipe(const std::vector<Token>& toks, std::size_t& i, bool decl) {
        auto pipe = std::make_shared<Pipe>();
        pipe->pos = i < toks.size() ? toks[i].pos : 0;
        if (decl) {
            std::size_t j = i;
            std::vector<std::string> vars;
            while (j < toks.size() && toks[j].kind == Token::variable) {
                vars.push_back(toks[j].text);
                ++j;
                if (j < toks.size() && toks[j].kind == Token::comma && vars.size() < 2) {
                    ++j;
                    continue;
                }
                break;
            }
            if (!vars.empty() && j < toks.size() &&
                (toks[j].kind == Token::declare || toks[j].kind == Token::assign)) {
                pipe->declare = toks[j].kind == Token::declare;
                for (auto& v : vars) {
                    if (v == "$") fail(toks[i].pos, "cannot assign to $");
                    if (!pipe->declare && !known(v)) fail(toks[i].pos, "undefined variable " + v);
                }
                pipe->vars = vars;
                i = j + 1;
            }
        }
        for (;;) {
            Command cmd;
            while (i < toks.size() && toks[i].kind != Token::pipe && toks[i].kind != Token::rparen)
                cmd.args.push_back(parse_operand(toks, i));
            if (cmd.args.empty())
                fail(i < toks.size() ? toks[i].pos : pipe->pos, "missing value for command");
            pipe->cmds.push_back(std::move(cmd));
            if (i < toks.size() && toks[i].kind == Token::pipe) {
                ++i;
                continue;
            }
            break;
        }
        for (std::size_t c = 1; c < pipe->cmds.size(); ++c) {
            auto& a = pipe->cmds[c].args[0];
            if (a.kind == Arg::literal || a.kind == Arg::dot || a.kind == Arg::variable)
                fail(a.pos, "non executable command in pipeline stage " + std::to_string(c + 1));
        }
        if (pipe->declare)
            for (auto& v : pipe->vars) vars_.push_back(v);
        return pipe;
    }

    bool known(const std::string& v) const {
        for (auto& k : vars_)
            if (k == v) return true;
        return v == "$";
    }

    Arg parse_operand(const std::vector<Token>& toks, std::size_t& i) {
        const Token& t = toks[i];
        Arg a;
        a.pos = t.pos;
        bool chainable = true; // a literal or a function takes no .Field after it
        switch (t.kind) {
        case Token::field:
            a.kind = Arg::field;
            a.chain.push_back(t.text);
            ++i;
            break;
        case Token::dot:
            a.kind = Arg::dot;
            ++i;
            break;
        case Token::variable:
            if (!known(t.text)) fail(t.pos, "undefined variable " + t.text);
            a.kind = Arg::variable;
            a.name = t.text;
            ++i;
            break;
        case Token::string:
            a.value = t.text;
            ++i;
            chainable = false;
            break;
        case Token::number:
            a.value = t.value;
            ++i;
            chainable = false;
            break;
        case Token::ident:
            ++i;
            if (t.text == "true" || t.text == "false") {
                a.value = t.text == "true";
                chainable = false;
                break;
            }
            if (t.text == "nil") {
                a.value = nullptr;
                chainable = false;
                break;
            }
            if (!is_function(t.text)) fail(t.pos, "function \"" + t.text + "\" not defined");
            a.kind = Arg::function;
            a.name = t.text;
            chainable = false;
            break;
        case Token::lparen: {
            if (++depth_ > limits_.max_depth)
                fail(t.pos, "nested deeper than " + std::to_string(limits_.max_depth) + " levels");
            ++i;
            a.kind = Arg::sub;
            a.pipe = parse_pipe(toks, i, true);
            if (i >= toks.size() || toks[i].kind != Token::rparen)
                fail(t.pos, "unclosed left paren");
            ++i;
            --depth_;
            break;
        }
        default:
            fail(t.pos, "unexpected " + describe(t) + " in operand");
        }
        while (chainable && i < toks.size() && toks[i].kind == Token::field && !toks[i].spaced) {
            a.chain.push_back(toks[i].text);
            ++i;
        }
        if (i < toks.size() && !toks[i].spaced && toks[i].kind != Token::rparen &&
            toks[i].kind != Token::pipe)
            fail(toks[i].pos, "unexpected " + describe(toks[i]) + " in operand");
        return a;
    }

    std::string_view t_;
    const Limits& limits_;
    std::size_t p_ = 0, end_pos_ = 0;
    int depth_ = 0, ranges_ = 0;
    bool trim_next_ = false;
    std::vector<Token> else_toks_;
    std::vector<std::string> vars_; // declared so far (Go scopes them; here: known or not)
};

} // namespace

Template Template::parse(std::string_view text, Limits limits) {
    if (text.size() > limits.max_template)
        throw Error(Errc::usage, "template of " + std::to_string(text.size()) +
                                     " bytes: the limit is " + std::to_string(limits.max_template));
    Template t;
    t.limits_ = limits;
    t.text_ = std::make_shared<const std::string>(text);
    t.root_ = Parser(*t.text_, limits).parse_all();
    return t;
}

} // namespace gantry::gotemplate
