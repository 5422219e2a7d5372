// Executing a parsed template over a JSON value, as Go's text/template executes one over Go
// values: fields are object keys, methods are the Data's, the rest is functions.cpp's.
//
// The data is someone else's text (a label, an image's env, a command), the template the user's:
// every value read from the data (a field, a method's result, dot, a variable) is printable
// (util/printable.hpp: a control character escaped as Go's %q escapes it) where it is read, so
// no value prints a line of its own while the template's own text, its literals and what
// println, printf or join add keep their newlines. Only json's argument is read raw: its output
// is JSON, which escapes every control character itself. The values range, with and a variable
// hold are kept raw, and made printable when a field or variable reads them.
#include "gotemplate/functions.hpp"
#include "gotemplate/syntax.hpp"
#include "util/error.hpp"
#include "util/printable.hpp"

namespace gantry::gotemplate {

namespace {

// Sets FLAG while it lives (when ON), and gives it back its value after.
struct RawScope {
    bool& flag;
    bool was;
    RawScope(bool& f, bool on) : flag(f), was(f) { flag = was || on; }
    ~RawScope() { flag = was; }
    RawScope(const RawScope&) = delete;
    RawScope& operator=(const RawScope&) = delete;
};

// V with every string in it, keys too, printable (util/printable.hpp); hidden keys ('$') kept.
json printable_value(const json& v) {
    switch (v.type()) {
    case json::value_t::string: {
        const auto& s = v.get_ref<const std::string&>();
        return text::is_printable(s) ? v : json(text::printable(s));
    }
    case json::value_t::array: {
        json out = json::array();
        for (const auto& e : v) out.push_back(printable_value(e));
        return out;
    }
    case json::value_t::object: {
        json out = json::object();
        for (auto it = v.begin(); it != v.end(); ++it)
            out[it.key().starts_with('$') ? it.key() : text::printable(it.key())] =
                printable_value(it.value());
        return out;
    }
    default:
        return v;
    }
}

class Executor {
  public:
    Executor(std::string_view text, const json& root, const Data& data, const Limits& limits,
             bool header)
        : text_(text), root_(root), data_(data), limits_(limits), header_(header) {
        vars_.emplace_back("$", root);
    }

    enum class Flow { normal, brk, cont };

    Flow walk(const Node& n, const json& dot) {
        step(n.pos);
        switch (n.kind) {
        case Node::list:
            for (auto& c : n.children) {
                auto f = walk(*c, dot);
                if (f != Flow::normal) return f;
            }
            return Flow::normal;
        case Node::text_:
            write(n.text);
            return Flow::normal;
        case Node::action: {
            auto v = eval_pipe(*n.pipe, dot);
            if (n.pipe->vars.empty()) write(print_value(v));
            return Flow::normal;
        }
        case Node::break_:
            return Flow::brk;
        case Node::continue_:
            return Flow::cont;
        case Node::if_:
        case Node::with: {
            auto mark = vars_.size();
            auto v = n.kind == Node::with ? eval_raw(*n.pipe, dot) : eval_pipe(*n.pipe, dot);
            Flow f = Flow::normal;
            if (truth(v))
                f = walk(*n.body, n.kind == Node::with ? v : dot);
            else if (n.otherwise)
                f = walk(*n.otherwise, dot);
            vars_.resize(mark);
            return f;
        }
        case Node::range:
            return walk_range(n, dot);
        }
        return Flow::normal;
    }

    const std::string& output() const { return out_; }

  private:
    Flow walk_range(const Node& n, const json& dot) {
        auto mark = vars_.size();
        const auto& vars = n.pipe->vars;
        // the variables are bound per element, not to the whole value
        Pipe p = *n.pipe;
        p.vars.clear();
        auto v = eval_raw(p, dot);
        vars_.resize(mark);
        if (!v.is_array() && !v.is_object() && !v.is_null())
            fail(n.pos, "range can't iterate over " + print_value(v));
        bool any = false;
        std::size_t i = 0;
        for (auto it = v.begin(); !v.is_null() && it != v.end(); ++it, ++i) {
            if (v.is_object() && !it.key().empty() && it.key()[0] == '$') continue;
            any = true;
            json key = v.is_object() ? json(it.key()) : json(i);
            if (vars.size() == 1) vars_.emplace_back(vars[0], *it);
            if (vars.size() == 2) {
                vars_.emplace_back(vars[0], key);
                vars_.emplace_back(vars[1], *it);
            }
            auto f = walk(*n.body, *it);
            vars_.resize(mark);
            if (f == Flow::brk) break;
        }
        if (!any && n.otherwise) {
            auto f = walk(*n.otherwise, dot);
            vars_.resize(mark);
            return f;
        }
        return Flow::normal;
    }

    [[noreturn]] void fail(std::size_t pos, const std::string& what) const {
        throw Error(Errc::usage, "template " + place(text_, pos) + ": " + what);
    }

    void step(std::size_t pos) {
        if (++steps_ > limits_.max_steps)
            fail(pos, "more than " + std::to_string(limits_.max_steps) + " steps");
    }

    void write(const std::string& s) {
        if (out_.size() + s.size() > limits_.max_output)
            throw Error(Errc::usage, "template output over " +
                                         std::to_string(limits_.max_output >> 20) + " MiB");
        out_ += s;
    }

    // P's value with the data's strings as they are: what range, with and a variable hold
    json eval_raw(const Pipe& p, const json& dot) {
        RawScope raw(raw_, true);
        return eval_pipe(p, dot);
    }

    static bool calls_json(const Command& c) {
        return c.args[0].kind == Arg::function && c.args[0].name == "json";
    }

    json eval_pipe(const Pipe& p, const json& dot) {
        if (!p.vars.empty() && !raw_) return eval_raw(p, dot); // a variable holds raw data
        json v;
        bool have = false;
        for (std::size_t i = 0; i < p.cmds.size(); ++i) {
            // what is piped into json is read raw: `{{.Config | json}}`
            RawScope raw(raw_, i + 1 < p.cmds.size() && calls_json(p.cmds[i + 1]));
            v = eval_command(p.cmds[i], dot, have ? &v : nullptr);
            have = true;
        }
        if (!p.vars.empty()) {
            if (p.declare) {
                vars_.emplace_back(p.vars[0], v);
            } else {
                for (auto it = vars_.rbegin(); it != vars_.rend(); ++it)
                    if (it->first == p.vars[0]) {
                        it->second = v;
                        return v;
                    }
                fail(p.pos, "undefined variable " + p.vars[0]);
            }
        }
        return v;
    }

    json eval_command(const Command& c, const json& dot, const json* piped) {
        step(c.args[0].pos);
        const Arg& first = c.args[0];
        if (first.kind == Arg::function) {
            if (first.name == "and" || first.name == "or") {
                if (c.args.size() + (piped ? 1 : 0) < 2)
                    fail(first.pos, "wrong number of args for " + first.name);
                json v;
                for (std::size_t i = 1; i <= c.args.size(); ++i) {
                    if (i == c.args.size()) {
                        if (!piped) break;
                        v = *piped;
                    } else
                        v = eval_arg(c.args[i], dot);
                    if (truth(v) != (first.name == "and")) return v;
                }
                return v;
            }
            std::vector<json> args;
            {
                RawScope raw(raw_, calls_json(c)); // json's output escapes them itself, as JSON
                for (std::size_t i = 1; i < c.args.size(); ++i)
                    args.push_back(eval_arg(c.args[i], dot));
            }
            if (piped) args.push_back(*piped);
            try {
                return call_function(first.name, args, header_);
            } catch (const Error& e) {
                fail(first.pos, "error calling " + first.name + ": " + e.message());
            }
        }
        // a field chain whose last name may be a method taking the other words as arguments
        if (c.args.size() > 1 || piped) {
            if ((first.kind != Arg::field && first.kind != Arg::variable &&
                 first.kind != Arg::sub) ||
                first.chain.empty())
                fail(first.pos, "can't give argument to non-function " + describe(first));
            std::vector<json> args;
            for (std::size_t i = 1; i < c.args.size(); ++i)
                args.push_back(eval_arg(c.args[i], dot));
            if (piped) args.push_back(*piped);
            return eval_chain(first, dot, &args);
        }
        return eval_arg(first, dot);
    }

    static std::string describe(const Arg& a) {
        std::string s = a.kind == Arg::variable ? a.name : a.kind == Arg::dot ? "." : "";
        for (auto& f : a.chain) s += "." + f;
        return s.empty() ? "value" : s;
    }

    json eval_arg(const Arg& a, const json& dot) {
        switch (a.kind) {
        case Arg::literal:
            return a.value;
        case Arg::function: {
            if (a.name == "and" || a.name == "or")
                fail(a.pos, "wrong number of args for " + a.name);
            try {
                return call_function(a.name, {}, header_);
            } catch (const Error& e) {
                fail(a.pos, "error calling " + a.name + ": " + e.message());
            }
        }
        default:
            return eval_chain(a, dot, nullptr);
        }
    }

    // The value an operand names: its start (dot, a variable, a parenthesised pipeline) and its
    // field chain; ARGS: the arguments of a method call at the chain's end.
    json eval_chain(const Arg& a, const json& dot, const std::vector<json>* args) {
        json cur;
        std::string path;
        bool at_root = false;
        switch (a.kind) {
        case Arg::field:
        case Arg::dot:
            cur = dot;
            at_root = &dot == &root_;
            break;
        case Arg::variable: {
            bool found = false;
            for (auto it = vars_.rbegin(); it != vars_.rend(); ++it)
                if (it->first == a.name) {
                    cur = it->second;
                    found = true;
                    break;
                }
            if (!found) fail(a.pos, "undefined variable " + a.name);
            path = a.name;
            at_root = a.name == "$";
            break;
        }
        case Arg::sub:
            cur = eval_pipe(*a.pipe, dot);
            path = "(...)";
            break;
        default:
            fail(a.pos, "unexpected operand");
        }
        rooted_ = (a.kind == Arg::field || a.kind == Arg::dot)
                      ? &dot == &root_
                      : a.kind == Arg::variable && a.name == "$";
        for (std::size_t i = 0; i < a.chain.size(); ++i) {
            const auto& name = a.chain[i];
            bool last = i + 1 == a.chain.size();
            cur = field(cur, name, path, at_root, last ? args : nullptr, a.pos);
            path += "." + name;
            at_root = false;
        }
        return raw_ ? cur : printable_value(cur);
    }

    json field(const json& recv, const std::string& name, const std::string& path, bool at_root,
               const std::vector<json>* args, std::size_t pos) {
        if (recv.is_object()) {
            auto it = recv.find(name);
            if (it != recv.end()) {
                if (args && !(header_ && at_root))
                    fail(pos, path + "." + name + " is not a method but has arguments");
                return *it;
            }
            if (auto m = data_.methods.find(name); m != data_.methods.end() && at_root) {
                try {
                    return m->second(recv, args ? *args : std::vector<json>{});
                } catch (const Error& e) {
                    fail(pos, "error calling " + name + ": " + e.message());
                }
            }
            if (rooted_ && data_.maps.count(path.rfind("$", 0) == 0 ? path.substr(1) : path))
                return no_value();
            std::string fields;
            for (auto k = recv.begin(); k != recv.end(); ++k)
                if (!k.key().empty() && k.key()[0] != '$') fields += " ." + k.key();
            if (at_root)
                for (auto& [m, fn] : data_.methods) fields += " ." + m;
            std::string where =
                at_root && (path.empty() || path == "$") ? data_.what : (path.empty() ? "." : path);
            throw Error(Errc::usage,
                        "template " + place(text_, pos) + ": no field ." + name + " in " + where +
                            (fields.empty() ? " (it has none)" : ": its fields are" + fields));
        }
        if (recv.is_null())
            fail(pos,
                 "nil pointer evaluating " + (path.empty() ? std::string(".") : path) + "." + name);
        fail(pos, "can't evaluate field " + name + " in " + std::string(recv.type_name()) + " " +
                      (path.empty() ? std::string(".") : path));
    }

    std::string_view text_;
    const json& root_;
    const Data& data_;
    const Limits& limits_;
    bool header_;
    bool rooted_ = false; // the operand being evaluated begins at the top-level value
    bool raw_ = false;    // the data read as it is (json's argument), not printable
    std::string out_;
    std::uint64_t steps_ = 0;
    std::vector<std::pair<std::string, json>> vars_;
};

} // namespace

std::string Template::execute(const json& dot, const Data& data, bool header) const {
    Executor ex(*text_, dot, data, limits_, header);
    ex.walk(*root_, dot);
    return ex.output();
}

} // namespace gantry::gotemplate
