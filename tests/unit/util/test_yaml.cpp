// util/yaml: the tree built from libyaml's events (scalars with their style and tag, nulls,
// line numbers, aliases), syntax errors with their position, and the limits on hostile input.
#include "util/error.hpp"
#include "util/yaml.hpp"

#include <gtest/gtest.h>
#include <string>

namespace util_yaml_test {

using gantry::Errc;
using gantry::Error;
using gantry::yaml::Node;
using gantry::yaml::parse;
using gantry::yaml::SyntaxError;

TEST(Yaml, MappingsSequencesAndScalarsInOrder) {
    Node n = parse("b: 1\na:\n  - x\n  - 'y'\n  - \"z\"\nc: {k: v}\n");
    ASSERT_TRUE(n.is_map());
    ASSERT_EQ(n.entries.size(), 3u);
    EXPECT_EQ(n.entries[0].first.value, "b"); // document order, not sorted
    EXPECT_EQ(n.entries[1].first.value, "a");
    const Node* a = n.find("a");
    ASSERT_TRUE(a && a->is_seq());
    ASSERT_EQ(a->items.size(), 3u);
    EXPECT_TRUE(a->items[0].plain);
    EXPECT_FALSE(a->items[1].plain); // quoted: a string whatever it reads like
    EXPECT_FALSE(a->items[2].plain);
    EXPECT_EQ(a->items[2].value, "z");
    EXPECT_EQ(a->line, 3);
    EXPECT_EQ(a->items[1].line, 4);
    EXPECT_EQ(n.find("c")->find("k")->value, "v");
    EXPECT_EQ(n.find("missing"), nullptr);
}

TEST(Yaml, NullsAndTags) {
    Node n = parse("a:\nb: ~\nc: null\nd: ''\ne: !!str null\nf: NULL\ng: !!int '7'\n");
    EXPECT_TRUE(n.find("a")->is_null());
    EXPECT_TRUE(n.find("b")->is_null());
    EXPECT_TRUE(n.find("c")->is_null());
    EXPECT_TRUE(n.find("f")->is_null());
    EXPECT_TRUE(n.find("d")->is_scalar()); // quoted empty string
    EXPECT_TRUE(n.find("e")->is_scalar());
    EXPECT_EQ(n.find("e")->tag, "tag:yaml.org,2002:str");
    EXPECT_EQ(n.find("g")->tag, "tag:yaml.org,2002:int");
    EXPECT_TRUE(parse("").is_null());
    EXPECT_TRUE(parse("---\n").is_null());
}

TEST(Yaml, FirstDocumentOnly) {
    Node n = parse("---\na: 1\n---\nb: 2\n");
    EXPECT_TRUE(n.find("a"));
    EXPECT_FALSE(n.find("b"));
}

TEST(Yaml, AliasesAreCopiesOfTheirAnchor) {
    Node n = parse("base: &b {x: 1, y: [2, 3]}\nother: *b\nlist: [&s v, *s]\n");
    const Node* o = n.find("other");
    ASSERT_TRUE(o && o->is_map());
    EXPECT_EQ(o->find("y")->items.size(), 2u);
    EXPECT_EQ(n.find("list")->items[1].value, "v");
    try {
        parse("a: *nowhere\n");
        FAIL() << "an alias without its anchor parsed";
    } catch (const SyntaxError& e) {
        EXPECT_EQ(e.line, 1);
    }
}

TEST(Yaml, SyntaxErrorsSayWhere) {
    try {
        parse("a: 1\nb: [x, y\nc: 2\n");
        FAIL() << "parsed";
    } catch (const SyntaxError& e) {
        EXPECT_GE(e.line, 2);
        EXPECT_GE(e.column, 1);
        EXPECT_FALSE(e.message.empty());
    }
    try {
        parse("a: b: c\n");
        FAIL() << "parsed";
    } catch (const SyntaxError& e) {
        EXPECT_EQ(e.line, 1);
        EXPECT_NE(e.message.find("mapping"), std::string::npos) << e.message;
    }
}

namespace {

// a0 is a pair; each next level is a pair of the level before: 2^(levels+1) scalars expanded
std::string doubling_aliases(int levels) {
    std::string doc = "a0: &a0 [x, x]\n";
    for (int i = 1; i <= levels; ++i) {
        std::string n = std::to_string(i), prev = std::to_string(i - 1);
        doc += "a" + n + ": &a" + n + " [*a" + prev + ", *a" + prev + "]\n";
    }
    return doc;
}

} // namespace

TEST(Yaml, AliasBombIsRefused) {
    try {
        parse(doubling_aliases(30));
        FAIL() << "an alias bomb expanded";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::invalid);
        EXPECT_NE(e.message().find("nodes"), std::string::npos) << e.message();
    }
    // well under the limit: accepted
    EXPECT_EQ(parse(doubling_aliases(8)).find("a8")->items.size(), 2u);
}

TEST(Yaml, DeepNestingIsRefused) {
    std::string deep(100000, '[');
    try {
        parse(deep);
        FAIL() << "parsed";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::invalid);
        EXPECT_NE(e.message().find("deeper"), std::string::npos) << e.message();
    } catch (const SyntaxError&) {
        FAIL() << "depth should be refused before the syntax error at the end";
    }
    // an alias may not take a tree past the depth limit either
    std::string doc = "a: &a " + std::string(300, '[') + std::string(300, ']') +
                      "\nb: " + std::string(300, '[') + "*a" + std::string(300, ']') + "\n";
    EXPECT_THROW(parse(doc), Error);
    std::string ok = "a: " + std::string(200, '[') + std::string(200, ']') + "\n";
    EXPECT_NO_THROW(parse(ok));
}

// Fuzzing found `hookName: !!int createContainer` accepted: a tag is checked against its value.
namespace {
Error tag_error(const std::string& text) {
    try {
        parse(text);
    } catch (const Error& e) {
        return e;
    }
    ADD_FAILURE() << "parsed: " << text;
    return Error(Errc::internal, "");
}
} // namespace

TEST(Yaml, CoreTagsThatFitTheirValueAreKept) {
    Node n = parse("a: !!int 0x1F\nb: !!int -12_000\nc: !!float 1.5e3\nd: !!float .inf\n"
                   "e: !!bool false\nf: !!null ~\ng: !!str 12\nh: ! x\ni: !!seq [1]\n"
                   "j: !!map {k: v}\nk: !!float 7\nl: !!int 0o17\n");
    EXPECT_EQ(n.find("a")->tag, "tag:yaml.org,2002:int");
    EXPECT_EQ(n.find("a")->value, "0x1F");
    EXPECT_TRUE(n.find("f")->is_null()); // !!null makes a null node
    EXPECT_EQ(n.find("g")->value, "12");
    EXPECT_TRUE(n.find("i")->is_seq());
    EXPECT_TRUE(n.find("j")->is_map());
}

TEST(Yaml, TagThatContradictsItsValueNamesPathAndLine) {
    auto e = tag_error("devices:\n- name: x\n  hooks:\n  - hookName: !!int createContainer\n");
    EXPECT_EQ(e.code(), Errc::invalid);
    EXPECT_EQ(e.message(),
              "devices[0].hooks[0].hookName: YAML tag !!int does not fit \"createContainer\" "
              "(line 4)");
    EXPECT_FALSE(e.hint().empty());
    for (const char* bad :
         {"a: !!int 1.5", "a: !!int 12abc", "a: !!int ''", "a: !!float x1", "a: !!float 1e",
          "a: !!bool yes", "a: !!null 0", "a: !!int _1", "a: !!int 0x", "a: !!int 09"})
        EXPECT_TRUE(tag_error(bad).message().starts_with("a: YAML tag !!")) << bad;
}

TEST(Yaml, NonCoreAndMisplacedTagsAreRefused) {
    EXPECT_EQ(tag_error("a: !custom x\n").message(),
              "a: YAML tag !custom does not fit \"x\" (line 1)");
    EXPECT_EQ(tag_error("a: !!binary aGk=\n").message(),
              "a: YAML tag !!binary does not fit \"aGk=\" (line 1)");
    EXPECT_EQ(tag_error("a: !!seq {k: v}\n").message(),
              "a: YAML tag !!seq does not fit a mapping (line 1)");
    EXPECT_EQ(tag_error("a: !!map [1]\n").message(),
              "a: YAML tag !!map does not fit a sequence (line 1)");
    EXPECT_EQ(tag_error("- !!str [1]\n").message(),
              "[0]: YAML tag !!str does not fit a sequence (line 1)");
    EXPECT_EQ(tag_error("!!int x: 1\n").message(), "YAML tag !!int does not fit \"x\" (line 1)");
}

} // namespace util_yaml_test
