// util/yaml_emit: block YAML from JSON values, in their key order; strings plain only where YAML
// 1.1 reads them back as the same string; and whatever is written, util/yaml reads back as the
// value written (awkward strings, control characters, line separators, long keys, nesting).
#include "util/yaml.hpp"
#include "util/yaml_emit.hpp"

#include <functional>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <random>
#include <regex>
#include <string>
#include <vector>

namespace util_yaml_emit_test {

using gantry::yaml::emit;
using gantry::yaml::Node;
using gantry::yaml::parse;
using ojson = nlohmann::ordered_json;

namespace {

// What YAML 1.1 readers resolve a plain scalar to when it is not a string: the implicit
// resolvers of PyYAML (yaml/resolver.py: null, bool, int, float, timestamp, merge, value) and
// go-yaml v2's additions (y/n booleans, floats such as 1e5). Written independently of the
// emitter's own rule. (The YAML 1.1 type page's float regex would also take 0.5.0, which no
// reader does: nvidia-ctk writes `cdiVersion: 0.5.0` plain.)
bool yaml11_reads_as_non_string(const std::string& s) {
    static const std::regex non_string(
        "~|null|Null|NULL|"
        "y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF|"
        "[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|"
        "[-+]?[1-9][0-9_]*(:[0-5]?[0-9])+|"
        "[-+]?[0-9][0-9_]*\\.[0-9_]*([eE][-+][0-9]+)?|\\.[0-9_]+([eE][-+][0-9]+)?|"
        "[-+]?[0-9][0-9_]*(:[0-5]?[0-9])+\\.[0-9_]*|[-+]?\\.(inf|Inf|INF)|\\.(nan|NaN|NAN)|"
        "[-+]?(\\.[0-9]+|[0-9]+(\\.[0-9]*)?)([eE][-+]?[0-9]+)?|"
        "[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?(([Tt]|[ \\t]+).*)?|"
        "<<|=");
    return s.empty() || std::regex_match(s, non_string);
}

// The value YAML reads from the emitted text is `v`: same structure, keys in order, strings
// with the same text (plain only when YAML 1.1 reads them as strings), numbers as JSON writes
// them. On a difference, `why` says where.
bool same(const ojson& v, const Node& n, std::string& why, const std::string& at = "$") {
    auto differ = [&](const std::string& what) {
        why = at + ": " + what;
        return false;
    };
    if (v.is_object()) {
        if (!n.is_map()) return differ("not a mapping");
        if (n.entries.size() != v.size()) return differ("entry count");
        size_t i = 0;
        for (auto it = v.begin(); it != v.end(); ++it, ++i) {
            const auto& [key, value] = n.entries[i];
            if (!key.is_scalar() || key.value != it.key())
                return differ("key " + std::to_string(i) + " reads as \"" + key.value + "\"");
            if (key.plain && yaml11_reads_as_non_string(it.key()))
                return differ("plain key " + it.key());
            if (!same(it.value(), value, why, at + "." + it.key())) return false;
        }
        return true;
    }
    if (v.is_array()) {
        if (!n.is_seq()) return differ("not a sequence");
        if (n.items.size() != v.size()) return differ("item count");
        for (size_t i = 0; i < v.size(); ++i)
            if (!same(v[i], n.items[i], why, at + "[" + std::to_string(i) + "]")) return false;
        return true;
    }
    if (v.is_null()) return n.is_null() ? true : differ("not null");
    if (!n.is_scalar()) return differ("not a scalar");
    if (v.is_string()) {
        const auto& s = v.get_ref<const std::string&>();
        if (n.value != s) return differ("reads as \"" + n.value + "\"");
        if (n.plain && yaml11_reads_as_non_string(s)) return differ("plain " + s);
        return true;
    }
    if (!n.plain) return differ("a number or boolean written quoted");
    return n.value == v.dump() ? true : differ("reads as " + n.value);
}

void expect_round_trip(const ojson& v) {
    std::string text = emit(v);
    std::string why;
    Node n;
    try {
        n = parse(text);
    } catch (const gantry::yaml::SyntaxError& e) {
        ADD_FAILURE() << "unreadable at line " << e.line << ": " << e.message << "\n" << text;
        return;
    }
    EXPECT_TRUE(same(v, n, why)) << why << "\n" << text;
}

} // namespace

TEST(YamlEmit, BlockStyleInKeyOrder) {
    ojson doc = ojson::parse(R"({"cdiVersion": "0.5.0", "kind": "nvidia.com/gpu",
        "devices": [{"name": "0", "containerEdits": {"deviceNodes": [{"path": "/dev/nvidia0",
        "major": 195}], "env": ["A=1"]}}], "empty": {}, "none": [], "list": [[1, 2], [], {}],
        "flag": true, "nothing": null})");
    EXPECT_EQ(emit(doc), R"(cdiVersion: 0.5.0
kind: nvidia.com/gpu
devices:
- name: "0"
  containerEdits:
    deviceNodes:
    - path: /dev/nvidia0
      major: 195
    env:
    - A=1
empty: {}
none: []
list:
- - 1
  - 2
- []
- {}
flag: true
nothing: null
)");
}

TEST(YamlEmit, TopLevelScalarsAndEmptyCollections) {
    EXPECT_EQ(emit(ojson("text")), "text\n");
    EXPECT_EQ(emit(ojson(7)), "7\n");
    EXPECT_EQ(emit(ojson(-2.5)), "-2.5\n");
    EXPECT_EQ(emit(ojson(nullptr)), "null\n");
    EXPECT_EQ(emit(ojson::object()), "{}\n");
    EXPECT_EQ(emit(ojson::array()), "[]\n");
    EXPECT_EQ(emit(ojson("---")), "\"---\"\n"); // not a document marker
    EXPECT_TRUE(parse(emit(ojson("---"))).is_scalar());
}

TEST(YamlEmit, PlainOnlyWhereReadBackAsTheSameString) {
    for (std::string s : {"abc", "/usr/lib64", "0.5.0", "580.95.05", "--flag", "K=V", "a:b",
                          "nvidia.com/gpu=all", "-x", "_u", "a,b", "v1.2+cu12"}) {
        std::string text = emit(ojson(s));
        EXPECT_EQ(text, s + "\n");
        expect_round_trip(ojson(s));
    }
    for (std::string s :
         {"",       "yes",  "No",    "on",  "OFF", "y",     "null",  "~",          "12",   "0x10",
          "0666",   "1.5",  ".5",    "-1",  "+1",  "1e5",   "1_000", "2024-01-02", "<<",   "=",
          "trail:", "a: b", "x #y",  "- a", "@x",  "*star", "&amp",  "!bang",      "%p",   "{a}",
          "[a]",    "'s'",  "\"q\"", "|",   ">",   "?",     "a\nb",  "tab\t",      " lead"}) {
        std::string text = emit(ojson(s));
        EXPECT_EQ(text.front(), '"') << s;
        expect_round_trip(ojson(s));
    }
}

TEST(YamlEmit, CharactersYamlDoesNotReadRaw) {
    // DEL and C1 controls are refused by YAML readers; NEL, LS and PS are line breaks. All are
    // escaped; other non-ASCII text stays as it is.
    const std::string del = "a\x7f"
                            "b",
                      c1 = "a\xc2\x80"
                           "b",
                      nel = "a\xc2\x85"
                            "b",
                      ls = "a\xe2\x80\xa8"
                           "b",
                      ps = "a\xe2\x80\xa9"
                           "b",
                      nonchar = "a\xef\xbf\xbe\xef\xbf\xbf"
                                "b";
    EXPECT_EQ(emit(ojson(del)), "\"a\\u007fb\"\n");
    EXPECT_EQ(emit(ojson(nel)), "\"a\\u0085b\"\n");
    EXPECT_EQ(emit(ojson(ls)), "\"a\\u2028b\"\n");
    EXPECT_EQ(emit(ojson(nonchar)), "\"a\\ufffe\\uffffb\"\n");
    EXPECT_EQ(emit(ojson("é ü \xe2\x82\xac \xf0\x9f\x98\x80")),
              "\"é ü \xe2\x82\xac \xf0\x9f\x98\x80\"\n");
    for (const auto& s : {del, c1, nel, ls, ps, nonchar, std::string("\x01\x1f\t\r\n\\\"")}) {
        expect_round_trip(ojson(s));
        expect_round_trip(ojson{{s, s}});
    }
    // Invalid UTF-8 is replaced, as gantry's JSON replaces it.
    EXPECT_EQ(parse(emit(ojson("a\xff"))).value, "a\xef\xbf\xbd");
}

TEST(YamlEmit, LongKeysAreExplicit) {
    for (size_t n : {1000u, 1024u, 1025u, 5000u}) {
        std::string key(n, 'k');
        ojson doc{{key, "v"}, {"short", {{key, {1, 2}}, {"x", {{key, ojson::object()}}}}}};
        std::string text = emit(doc);
        EXPECT_EQ(text.find("? ") != std::string::npos, n > 1024) << n;
        expect_round_trip(doc);
    }
    std::string quoted_key(1023, 'q'); // 1025 characters with its quotes
    quoted_key[0] = '0';
    expect_round_trip(ojson{{quoted_key, "v"}});
}

TEST(YamlEmit, RandomDocumentsReadBackAsWritten) {
    std::mt19937_64 rng(7);
    const std::vector<std::string> pieces = {"a",
                                             "Z",
                                             "0",
                                             "9",
                                             ".",
                                             "-",
                                             "_",
                                             "/",
                                             ":",
                                             " ",
                                             "#",
                                             "'",
                                             "\"",
                                             "\\",
                                             "\n",
                                             "\t",
                                             "\r",
                                             "{",
                                             "}",
                                             "[",
                                             "]",
                                             ",",
                                             "&",
                                             "*",
                                             "!",
                                             "|",
                                             ">",
                                             "%",
                                             "@",
                                             "`",
                                             "?",
                                             "=",
                                             "~",
                                             "+",
                                             "yes",
                                             "null",
                                             "0x",
                                             "1e3",
                                             "---",
                                             "...",
                                             "é",
                                             "\x7f",
                                             "\xc2\x85",
                                             "\xe2\x80\xa8",
                                             "\xef\xbf\xbf",
                                             "\x01"};
    auto random_string = [&] {
        std::string s;
        for (size_t n = rng() % 6; n > 0; --n) s += pieces[rng() % pieces.size()];
        return s;
    };
    std::function<ojson(int)> random_value = [&](int depth) -> ojson {
        switch (depth > 3 ? rng() % 4 : rng() % 6) {
        case 0:
            return random_string();
        case 1:
            return static_cast<std::int64_t>(rng() % 2000) - 1000;
        case 2:
            return rng() % 2 == 0;
        case 3:
            return rng() % 3 ? ojson(random_string()) : ojson(nullptr);
        case 4: {
            ojson a = ojson::array();
            for (size_t n = rng() % 4; n > 0; --n) a.push_back(random_value(depth + 1));
            return a;
        }
        default: {
            ojson o = ojson::object();
            for (size_t n = rng() % 4; n > 0; --n) o[random_string()] = random_value(depth + 1);
            return o;
        }
        }
    };
    for (int i = 0; i < 2000; ++i) {
        ojson doc = random_value(0);
        expect_round_trip(doc);
        if (HasFailure()) break;
    }
}

} // namespace util_yaml_emit_test
