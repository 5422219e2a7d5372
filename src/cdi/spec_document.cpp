#include "cdi/spec_document.hpp"

#include "cdi/spec_detail.hpp"
#include "util/error.hpp"
#include "util/json.hpp"
#include "util/yaml.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <nlohmann/json.hpp>

namespace gantry::cdi {

namespace {

// Resolves a YAML plain scalar as go-yaml v2 does for the types the schema uses.
void resolve_plain(Raw& r) {
    const std::string& t = r.text;
    static const std::array<const char*, 6> bools = {"true",  "True",  "TRUE",
                                                     "false", "False", "FALSE"};
    for (auto* b : bools)
        if (t == b) {
            r.kind = Raw::Kind::boolean;
            r.bval = t[0] == 't' || t[0] == 'T';
            return;
        }
    size_t i = (!t.empty() && (t[0] == '+' || t[0] == '-')) ? 1 : 0;
    std::string body = t.substr(i);
    bool neg = i == 1 && t[0] == '-';
    int base = 10;
    std::string digits = body;
    if (body.size() > 2 && body[0] == '0' && (body[1] == 'x' || body[1] == 'X'))
        base = 16, digits = body.substr(2);
    else if (body.size() > 2 && body[0] == '0' && (body[1] == 'o' || body[1] == 'O'))
        base = 8, digits = body.substr(2);
    else if (body.size() > 2 && body[0] == '0' && (body[1] == 'b' || body[1] == 'B'))
        base = 2, digits = body.substr(2);
    else if (body.size() > 1 && body[0] == '0')
        base = 8, digits = body.substr(1); // YAML 1.1: 0666 is octal
    auto valid_digit = [base](char c) {
        if (base == 16)
            return detail::is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
        return c >= '0' && c < static_cast<char>('0' + base);
    };
    if (!digits.empty() && std::all_of(digits.begin(), digits.end(), valid_digit)) {
        errno = 0;
        unsigned long long v = std::strtoull(digits.c_str(), nullptr, base);
        r.kind = Raw::Kind::integer;
        unsigned long long limit = neg ? 1ull + static_cast<unsigned long long>(LLONG_MAX)
                                       : static_cast<unsigned long long>(LLONG_MAX);
        if (errno == ERANGE || v > limit)
            r.overflow = true;
        else
            r.ival = neg ? static_cast<std::int64_t>(0 - v) : static_cast<std::int64_t>(v);
        return;
    }
    if (!body.empty() && (detail::is_digit(body[0]) || body[0] == '.')) {
        char* end = nullptr;
        std::strtod(t.c_str(), &end);
        if (end && *end == '\0') {
            r.kind = Raw::Kind::floating;
            return;
        }
    }
    r.kind = Raw::Kind::str;
}

Raw from_yaml(const yaml::Node& n) {
    Raw r;
    r.line = n.line;
    switch (n.kind) {
    case yaml::Node::Kind::null:
        break;
    case yaml::Node::Kind::scalar:
        r.text = n.value;
        // quoted (or tagged !!str / !): a string whatever it looks like; else typed by its text
        if ((!n.plain && n.tag.empty()) || n.tag == "!" || n.tag == "tag:yaml.org,2002:str") {
            r.kind = Raw::Kind::str;
        } else {
            r.plain = true;
            resolve_plain(r);
        }
        break;
    case yaml::Node::Kind::seq:
        r.kind = Raw::Kind::seq;
        for (const auto& item : n.items) r.items.push_back(from_yaml(item));
        break;
    case yaml::Node::Kind::map:
        r.kind = Raw::Kind::map;
        for (const auto& [k, val] : n.entries) {
            Raw v = from_yaml(val);
            v.key = k.is_scalar() ? k.value : std::string("?");
            v.key_line = k.line;
            r.items.push_back(std::move(v));
        }
        break;
    }
    return r;
}

// Builds a Raw tree from JSON through nlohmann's SAX interface, which (unlike json::parse)
// keeps duplicate keys for the reader to reject.
class JsonBuilder : public nlohmann::json_sax<nlohmann::json> {
  public:
    Raw root;
    std::string error;

    bool null() override { return add(Raw{}); }
    bool boolean(bool v) override {
        Raw r;
        r.kind = Raw::Kind::boolean;
        r.bval = v;
        r.text = v ? "true" : "false";
        return add(std::move(r));
    }
    bool number_integer(number_integer_t v) override {
        Raw r;
        r.kind = Raw::Kind::integer;
        r.ival = v;
        r.text = std::to_string(v);
        return add(std::move(r));
    }
    bool number_unsigned(number_unsigned_t v) override {
        Raw r;
        r.kind = Raw::Kind::integer;
        r.overflow = v > static_cast<number_unsigned_t>(LLONG_MAX);
        r.ival = r.overflow ? 0 : static_cast<std::int64_t>(v);
        r.text = std::to_string(v);
        return add(std::move(r));
    }
    bool number_float(number_float_t, const string_t& s) override {
        Raw r;
        r.kind = Raw::Kind::floating;
        r.text = s;
        return add(std::move(r));
    }
    bool string(string_t& s) override {
        Raw r;
        r.kind = Raw::Kind::str;
        r.text = s;
        return add(std::move(r));
    }
    bool binary(binary_t&) override { return add(Raw{}); }
    bool start_object(std::size_t) override { return open(Raw::Kind::map); }
    bool key(string_t& k) override {
        pending_key_ = k;
        return true;
    }
    bool end_object() override { return close(); }
    bool start_array(std::size_t) override { return open(Raw::Kind::seq); }
    bool end_array() override { return close(); }
    bool parse_error(std::size_t pos, const std::string&,
                     const nlohmann::detail::exception& ex) override {
        std::string what = ex.what();
        // "[json.exception.parse_error.101] parse error at line 1, column 5: syntax error ..."
        if (auto p = what.find("parse error"); p != std::string::npos) what = what.substr(p);
        error = what.empty() ? "invalid JSON at byte " + std::to_string(pos) : what;
        return false;
    }

  private:
    std::vector<Raw*> stack_;
    std::string pending_key_;
    bool started_ = false;

    Raw* place(Raw r) {
        if (stack_.empty()) {
            root = std::move(r);
            started_ = true;
            return &root;
        }
        Raw& parent = *stack_.back();
        if (parent.kind == Raw::Kind::map) r.key = pending_key_;
        parent.items.push_back(std::move(r));
        return &parent.items.back();
    }
    bool add(Raw r) {
        place(std::move(r));
        return true;
    }
    bool open(Raw::Kind k) {
        // the Raw tree is walked (and freed) recursively: bound it as util/json does
        if (stack_.size() >= safe_json::kMaxDepth) {
            error = "the document " + safe_json::too_deep_message();
            return false;
        }
        Raw r;
        r.kind = k;
        stack_.push_back(place(std::move(r)));
        return true;
    }
    bool close() {
        stack_.pop_back();
        return true;
    }
};

} // namespace

Raw read_document(std::string_view text, Format format, const std::string& origin) {
    std::string where = origin.empty() ? "" : origin + ": ";
    if (format == Format::json) {
        JsonBuilder b;
        bool ok = nlohmann::json::sax_parse(text.begin(), text.end(), &b);
        if (!ok)
            throw Error(Errc::invalid, where + "invalid JSON: " + b.error,
                        "check the file with `python3 -m json.tool`");
        return std::move(b.root);
    }
    try {
        return from_yaml(yaml::parse(text));
    } catch (const yaml::SyntaxError& e) {
        throw Error(Errc::invalid,
                    where + "invalid YAML at line " + std::to_string(e.line) + ", column " +
                        std::to_string(e.column) + ": " + e.message,
                    "fix the YAML syntax (indentation, quotes, brackets)");
    } catch (const Error& e) {
        throw Error(e.code(), where + e.message(), e.hint());
    }
}

} // namespace gantry::cdi
