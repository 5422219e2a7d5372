// deffile/: Apptainer definition files read as hostile input (the grammar of Apptainer's
// pkg/build/types/parser/deffile.go), and {{ var }} substitution (args.NewReader's rules).
#include "deffile/arguments.hpp"
#include "deffile/deffile.hpp"
#include "util/error.hpp"

#include <gtest/gtest.h>
#include <string>

namespace deffile_parse_test {

using gantry::Errc;
using gantry::Error;
using namespace std::string_literals;
namespace df = gantry::deffile;

df::Definition parse(const std::string& text) {
    return df::parse(text, "app.def");
}

// The error TEXT gets: its code and message.
std::pair<Errc, std::string> refusal(const std::string& text) {
    try {
        parse(text);
    } catch (const Error& e) {
        return {e.code(), e.message()};
    }
    ADD_FAILURE() << "accepted: " << text;
    return {Errc::internal, ""};
}

TEST(Deffile, HeaderAndSections) {
    auto d = parse("# a recipe\n\nBootStrap: docker\nFrom: debian:12 # the base\n\n"
                   "%post -c /bin/bash\n  apt-get update\n\n%environment\n  export A=1\n"
                   "%runscript\n  exec python \"$@\"\n%labels\n  Author me\n  Version 1.0 beta\n");
    ASSERT_EQ(d.stages.size(), 1u);
    const auto& st = d.stages[0];
    EXPECT_EQ(st.line, 3);
    EXPECT_EQ(st.bootstrap(), "docker");
    EXPECT_EQ(st.value("from"), "debian:12");
    EXPECT_EQ(st.header.at("from").line, 4);
    ASSERT_EQ(st.sections.size(), 4u);
    EXPECT_EQ(st.sections[0].name, "post");
    EXPECT_EQ(st.sections[0].args, "-c /bin/bash");
    EXPECT_EQ(st.sections[0].line, 6);
    EXPECT_EQ(st.sections[0].body, "  apt-get update\n\n");
    EXPECT_EQ(st.section("environment")->body, "  export A=1\n");
    auto labels = df::labels(*st.section("labels"), "app.def");
    ASSERT_EQ(labels.size(), 2u);
    EXPECT_EQ(labels[1].first, "Version");
    EXPECT_EQ(labels[1].second, "1.0 beta");
}

TEST(Deffile, RepeatedSectionsAreConcatenatedAsApptainersParser) {
    // HPC Container Maker writes one %post per building block; %files stay apart
    auto d = parse("Bootstrap: docker\nFrom: a\n%post\n  a\n%environment\n  export A=1\n"
                   "%post -c /bin/bash\n  b\n%files\n  x /x\n%files\n  y /y\n%post\n  c\n");
    const auto& st = d.stages[0];
    ASSERT_EQ(st.sections.size(), 4u);
    EXPECT_EQ(st.sections[0].name, "post");
    EXPECT_EQ(st.sections[0].body, "  a\n  b\n  c\n");
    EXPECT_EQ(st.sections[0].args, "-c /bin/bash"); // a later section's arguments win
    EXPECT_EQ(st.sections[0].line, 3);
    EXPECT_EQ(st.sections[1].name, "environment");
    EXPECT_EQ(st.sections[2].name, "files");
    EXPECT_EQ(st.sections[3].name, "files");
}

// a SCIF app's section is named by its app too: "%apprun foo" twice is concatenated, "%apprun
// bar" stays apart (Apptainer's parser keys sections by "apprun foo")
TEST(Deffile, AppSectionsAreKeyedByTheirApp) {
    auto d = parse("Bootstrap: docker\nFrom: a\n%apprun foo\n  a\n%apprun bar\n  b\n"
                   "%apprun foo # again\n  c\n");
    const auto& st = d.stages[0];
    ASSERT_EQ(st.sections.size(), 2u);
    EXPECT_EQ(st.sections[0].args, "foo # again");
    EXPECT_EQ(st.sections[0].body, "  a\n  c\n");
    EXPECT_EQ(st.sections[1].args, "bar");
}

TEST(Deffile, CrlfContinuationAndBom) {
    auto d =
        parse("\xEF\xBB\xBF"
              "Bootstrap: docker\r\nFrom: registry.example/\\\r\n  app:1\r\n%post\r\necho hi\r\n");
    EXPECT_EQ(d.stages[0].value("from"), "registry.example/app:1");
    EXPECT_EQ(d.stages[0].sections[0].body, "echo hi\n");
}

TEST(Deffile, MultiStageAndFiles) {
    auto d = parse("Bootstrap: docker\nFrom: alpine\nStage: build\n%post\n  make\n"
                   "Bootstrap: scratch\nStage: final\n%files from build\n  /out/app /usr/bin/app\n"
                   "  \"/a b\" '/c d'\n%files\n  data.txt\n  # a comment\n  conf/ /etc/app/\n");
    ASSERT_EQ(d.stages.size(), 2u);
    EXPECT_EQ(d.stages[1].line, 6);
    EXPECT_EQ(d.stages[1].value("stage"), "final");
    const auto& from = d.stages[1].sections[0];
    EXPECT_EQ(from.args, "from build");
    auto copies = df::file_copies(from, "app.def");
    ASSERT_EQ(copies.size(), 2u);
    EXPECT_EQ(copies[0].src, "/out/app");
    EXPECT_EQ(copies[0].dst, "/usr/bin/app");
    EXPECT_EQ(copies[0].line, 9);
    EXPECT_EQ(copies[1].src, "/a b");
    EXPECT_EQ(copies[1].dst, "/c d");
    auto plain = df::file_copies(d.stages[1].sections[1], "app.def");
    ASSERT_EQ(plain.size(), 2u);
    EXPECT_EQ(plain[0].dst, "");
    EXPECT_EQ(plain[1].line, 14);
}

TEST(Deffile, AnIndentedFirstBootstrapStartsTheStage) {
    auto d = parse("\n   Bootstrap: docker\n   From: a\n%post\n  true\n");
    ASSERT_EQ(d.stages.size(), 1u);
    EXPECT_EQ(d.stages[0].line, 2);
    EXPECT_EQ(d.stages[0].value("from"), "a");
}

TEST(Deffile, Detection) {
    EXPECT_TRUE(df::looks_like_definition("\n# c\n  bootstrap: docker\n"));
    EXPECT_FALSE(df::looks_like_definition("FROM debian\n"));
    EXPECT_FALSE(df::looks_like_definition(""));
}

TEST(Deffile, RefusesWhatGantryDoesNotHonour) {
    struct Case {
        std::string text;
        Errc code;
        std::string says;
    } cases[] = {
        {"Bootstrap: docker\nFrom: a\n%appinstall\n", Errc::invalid, "needs the app's name"},
        {"Bootstrap: docker\nFrom: a\n%apprun ../x\n", Errc::invalid, "needs the app's name"},
        {"Bootstrap: docker\nFrom: a\n%bogus\n", Errc::invalid,
         "app.def:3: unknown section %bogus"},
        {"Bootstrap: library\nFrom: a\n", Errc::unsupported, "bootstrap agent library"},
        {"Bootstrap: yum\nMirrorURL: x\n", Errc::unsupported, "header keyword mirrorurl"},
        {"Bootstrap: docker\nFrom: a\nColour: blue\n", Errc::invalid,
         "app.def:3: unknown header keyword colour"},
        {"Bootstrap: docker\nFrom: a\nFrom: b\n", Errc::invalid, "given twice"},
        {"Bootstrap: docker\n", Errc::invalid, "needs a From: line"},
        {"Bootstrap: scratch\nFrom: a\n", Errc::invalid, "takes no From:"},
        {"Bootstrap: docker\nFrom: a\nno colon here\n", Errc::invalid, "app.def:3: header line"},
        {"%post\n  echo\n", Errc::invalid, "app.def:1: section %post before the first Bootstrap"},
        {"FROM debian\n", Errc::invalid, "before the first Bootstrap"},
        {"# only a comment\n", Errc::invalid, "no Bootstrap: line"},
        {"Bootstrap: docker\nFrom: a\n%runscript -c /bin/bash\n", Errc::unsupported,
         "section arguments"},
        {"Bootstrap: docker\nFrom: a\n%files to x\n", Errc::invalid, "%files takes"},
        {"Bootstrap: docker\nFrom: a\nStage: x\nBootstrap: docker\nFrom: b\nStage: X\n",
         Errc::invalid, "app.def:6: stage x is named twice"},
        {"Bootstrap: docker\nFrom: a\nStage: 1st\n", Errc::invalid, "invalid stage name"},
        {"Bootstrap: docker\nFrom: a\n%post\necho \0x\n", Errc::invalid, "NUL byte"},
    };
    for (auto& c : cases) {
        if (c.says == "NUL byte") c.text = "Bootstrap: docker\nFrom: a\n%post\necho \0x\n"s;
        auto [code, msg] = refusal(c.text);
        EXPECT_EQ(code, c.code) << c.text;
        EXPECT_NE(msg.find(c.says), std::string::npos) << msg;
    }
}

TEST(Deffile, NulByteNamesItsLine) {
    std::string text = "Bootstrap: docker\nFrom: a\n%post\necho \0x\n"s;
    EXPECT_NE(refusal(text).second.find("app.def:4: a NUL byte"), std::string::npos);
}

TEST(Deffile, HostileInputIsBounded) {
    std::string huge = "Bootstrap: docker\nFrom: a\n%post\n" + std::string(df::kMaxDefinition, 'x');
    EXPECT_NE(refusal(huge).second.find("over 4 MiB"), std::string::npos);
    // an unterminated section is its body to the end of the file; a long line is text
    auto d = parse("Bootstrap: docker\nFrom: a\n%post\n" + std::string(100000, 'y'));
    EXPECT_EQ(d.stages[0].sections[0].body.size(), 100001u);
    // a section opened as the last line, with no body
    d = parse("Bootstrap: docker\nFrom: a\n%runscript");
    EXPECT_EQ(d.stages[0].sections[0].body, "");
    // a header continued to the end of the file
    d = parse("Bootstrap: docker\nFrom: a\\");
    EXPECT_EQ(d.stages[0].value("from"), "a");
    // an unterminated quote in %files
    d = parse("Bootstrap: docker\nFrom: a\n%files\n  \"a b /x\n");
    EXPECT_THROW(df::file_copies(d.stages[0].sections[0], "app.def"), Error);
    // three words
    d = parse("Bootstrap: docker\nFrom: a\n%files\n  a b c\n");
    EXPECT_THROW(df::file_copies(d.stages[0].sections[0], "app.def"), Error);
    // many stages
    std::string many;
    for (int i = 0; i < 2000; ++i) many += "Bootstrap: scratch\n";
    EXPECT_EQ(parse(many).stages.size(), 2000u);
}

std::string substituted(const std::string& text, std::map<std::string, std::string> args = {},
                        std::set<std::string>* used = nullptr) {
    auto d = parse(text);
    auto u = df::substitute(d, args, "app.def");
    if (used) *used = u;
    return d.stages.back().sections.back().body;
}

TEST(DeffileArguments, DefaultsBuildArgsAndNesting) {
    const std::string def = "Bootstrap: docker\nFrom: {{ BASE }}\n%arguments\n  BASE=debian:12\n"
                            "  VER=1.{{MINOR}}\n  MINOR=2\n%post\n  echo {{ VER }} {{MINOR}}\n";
    EXPECT_EQ(substituted(def), "  echo 1.2 2\n");
    std::set<std::string> used;
    EXPECT_EQ(substituted(def, {{"MINOR", "9"}, {"OTHER", "x"}}, &used), "  echo 1.9 9\n");
    EXPECT_EQ(used, (std::set<std::string>{"MINOR"}));
    auto d = parse(def);
    df::substitute(d, {{"BASE", "alpine:3"}}, "app.def");
    EXPECT_EQ(d.stages[0].value("from"), "alpine:3");
}

TEST(DeffileArguments, WhatIsLeftAsWritten) {
    // not references: Go templates, a dash, an unclosed one; a commented line
    const std::string def = "Bootstrap: docker\nFrom: a\n%post\n  fmt '{{.Id}}' {{ a-b }} {{ x\n"
                            "  echo hi # {{ NOPE }}\n  #!{{ V }}\n%arguments\n  V=v\n";
    auto d = parse(def);
    df::substitute(d, {}, "app.def");
    EXPECT_EQ(d.stages[0].sections[0].body,
              "  fmt '{{.Id}}' {{ a-b }} {{ x\n  echo hi # {{ NOPE }}\n  #!v\n");
}

TEST(DeffileArguments, UndefinedAndMalformed) {
    try {
        substituted("Bootstrap: docker\nFrom: a\n%post\n  true\n  echo {{ MISSING }}\n");
        FAIL();
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::invalid);
        EXPECT_NE(e.message().find("app.def:5: the build variable MISSING is not defined"),
                  std::string::npos)
            << e.message();
        EXPECT_NE(e.hint().find("--build-arg MISSING=VALUE"), std::string::npos);
    }
    EXPECT_THROW(substituted("Bootstrap: docker\nFrom: a\n%arguments\n  novalue\n"), Error);
    EXPECT_THROW(substituted("Bootstrap: docker\nFrom: a\n%arguments\n  a-b=1\n"), Error);
    // a value holding a reference to itself is replaced once, not forever
    EXPECT_EQ(substituted("Bootstrap: docker\nFrom: a\n%arguments\n  A={{A}}x\n%post\n  {{A}}\n"),
              "  {{A}}xx\n");
}

} // namespace deffile_parse_test

namespace deffile_parse_test {

TEST(DeffileArguments, SubstitutionIsBounded) {
    std::string refs;
    for (int i = 0; i < 4000; ++i) refs += "{{B}}";
    std::string def = "Bootstrap: docker\nFrom: a\n%arguments\n  B=" + std::string(10000, 'b') +
                      "\n  A=" + refs + "\n%post\n  {{A}} {{A}}\n";
    try {
        substituted(def);
        FAIL();
    } catch (const Error& e) {
        EXPECT_NE(e.message().find("app.def:7: {{ A }} makes the text over 16 MiB"),
                  std::string::npos)
            << e.message();
    }
}

} // namespace deffile_parse_test
