// Go's text/template semantics as docker's --format users rely on them: each expectation is
// what `go run` of text/template (docker's templates.Parse functions added) prints.
#include "gotemplate/docker_format.hpp"
#include "gotemplate/template.hpp"
#include "util/error.hpp"

#include <gtest/gtest.h>

namespace gotemplate_test {

using gantry::Errc;
using gantry::Error;
using namespace gantry::gotemplate;

std::string run_tmpl(const std::string& t, const json& dot, const Data& data = {}) {
    return Template::parse(t).execute(dot, data);
}

// The message of the Error(usage) running T over DOT throws.
std::string tmpl_error(const std::string& t, const json& dot = json::object(),
                       const Data& data = {}) {
    try {
        run_tmpl(t, dot, data);
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::usage) << e.message();
        return e.message();
    }
    ADD_FAILURE() << t << " did not fail";
    return {};
}

const json kContainer = json::parse(R"({
  "ID": "abc123", "Names": "web", "Image": "busybox:latest", "Status": "Up 2 minutes",
  "State": "running", "Ports": "", "Count": 3, "Ratio": 0.5, "Big": 1e21, "Up": true,
  "Mounts": ["/a", "/b"], "Env": {"B": "2", "A": "1"}, "Empty": [], "Nothing": null,
  "Config": {"Labels": {"com.example.x": "1", "y": "two"}, "User": ""},
  "$labels": {"tier": "front"}
})");

TEST(GoTemplate, FieldsNestedAndPrinted) {
    EXPECT_EQ(run_tmpl("{{.ID}} {{.Names}}", kContainer), "abc123 web");
    EXPECT_EQ(run_tmpl("{{.Config.Labels.y}}", kContainer), "two");
    EXPECT_EQ(run_tmpl("{{.Count}} {{.Ratio}} {{.Up}} {{.Big}}", kContainer), "3 0.5 true 1e+21");
    EXPECT_EQ(run_tmpl("{{.Mounts}} {{.Env}} {{.Nothing}}", kContainer),
              "[/a /b] map[A:1 B:2] <nil>");
    EXPECT_EQ(run_tmpl("{{.}}", json("plain")), "plain");
    EXPECT_EQ(run_tmpl("{{.}} {{.}}", json::parse("[0.00001, 100000.0]")[0]), "1e-05 1e-05");
    EXPECT_EQ(run_tmpl("{{index . 1}}", json::parse("[0.00001, 100000.0]")), "100000");
    // what Go's fmt prints for these float64s (go1.19)
    EXPECT_EQ(
        run_tmpl("{{range .}}{{.}}|{{end}}", json::parse("[1e6, 1234567.0, 123456.7, 1e20, 0.0001, "
                                                         "2000000000000002.331, 12345678.9]")),
        "1e+06|1.234567e+06|123456.7|1e+20|0.0001|2.0000000000000022e+15|1.23456789e+07|");
    EXPECT_EQ(run_tmpl("{{ .ID }}-{{- \" x \" -}} -{{.Names}}", kContainer), "abc123- x -web");
    EXPECT_EQ(run_tmpl("a {{/* note */}}b {{- /* gone */ -}} c", kContainer), "a bc");
    EXPECT_EQ(run_tmpl(R"({{"a\tb\u00e9"}}{{`raw\n`}}{{'x'}})", kContainer),
              "a\tb\xc3\xa9raw\\n120");
}

TEST(GoTemplate, JsonFunctionIsCompactSortedAndHidesDollarKeys) {
    EXPECT_EQ(run_tmpl("{{json .Env}}", kContainer), R"({"A":"1","B":"2"})");
    EXPECT_EQ(run_tmpl("{{json .Config.Labels}}", kContainer),
              R"({"com.example.x":"1","y":"two"})");
    auto all = run_tmpl("{{json .}}", kContainer);
    EXPECT_EQ(all.find("$labels"), std::string::npos);
    EXPECT_EQ(run_tmpl("{{json \"<&>\"}}", kContainer), "\"<&>\""); // not HTML-escaped
    EXPECT_EQ(run_tmpl("{{json .Nothing}}", kContainer), "null");
    // Go's escapes where nlohmann's differ
    EXPECT_EQ(run_tmpl("{{json \"\\b\\f\\n\\\\\\u2028\"}}", kContainer),
              "\"\\u0008\\u000c\\n\\\\\\u2028\"");
}

TEST(GoTemplate, RangeIfWithAndVariables) {
    EXPECT_EQ(run_tmpl("{{range .Mounts}}[{{.}}]{{end}}", kContainer), "[/a][/b]");
    EXPECT_EQ(run_tmpl("{{range $i, $m := .Mounts}}{{$i}}={{$m}} {{end}}", kContainer),
              "0=/a 1=/b ");
    EXPECT_EQ(run_tmpl("{{range $k, $v := .Env}}{{$k}}:{{$v}},{{end}}", kContainer), "A:1,B:2,");
    EXPECT_EQ(run_tmpl("{{range .Empty}}x{{else}}none{{end}}", kContainer), "none");
    EXPECT_EQ(
        run_tmpl("{{range .Mounts}}{{if eq . \"/a\"}}{{continue}}{{end}}{{.}}{{end}}", kContainer),
        "/b");
    EXPECT_EQ(run_tmpl("{{range .Mounts}}{{.}}{{break}}{{end}}", kContainer), "/a");
    EXPECT_EQ(run_tmpl("{{if .Up}}up{{else}}down{{end}}", kContainer), "up");
    EXPECT_EQ(run_tmpl("{{if .Config.User}}u{{else if .Empty}}e{{else if .Count}}c{{else}}n{{end}}",
                       kContainer),
              "c");
    EXPECT_EQ(run_tmpl("{{with .Config}}{{.Labels.y}}{{end}}{{with .Empty}}x{{else}}-{{end}}",
                       kContainer),
              "two-");
    EXPECT_EQ(run_tmpl("{{$n := .Names}}{{range .Mounts}}{{$n}}{{$.ID}}{{end}}", kContainer),
              "webabc123webabc123");
    EXPECT_EQ(run_tmpl("{{$x := 1}}{{$x = 2}}{{$x}}", kContainer), "2");
    EXPECT_EQ(run_tmpl("{{(index .Mounts 1)}} {{(.Config).Labels.y}}", kContainer), "/b two");
}

TEST(GoTemplate, DockerAndGoFunctions) {
    EXPECT_EQ(
        run_tmpl("{{.Names | upper}} {{lower \"AbC\"}} {{title \"hello world\"}}", kContainer),
        "WEB abc Hello World");
    EXPECT_EQ(run_tmpl("{{join .Mounts \",\"}} {{split \"a:b\" \":\"}}", kContainer),
              "/a,/b [a b]");
    EXPECT_EQ(
        run_tmpl("{{index .Config.Labels \"com.example.x\"}}|{{index .Config.Labels \"none\"}}|",
                 kContainer),
        "1||");
    EXPECT_EQ(run_tmpl("{{len .Mounts}} {{len .Names}} {{slice .Names 1}}", kContainer), "2 3 eb");
    EXPECT_EQ(run_tmpl("{{len .}}", kContainer),
              std::to_string(kContainer.size() - 1)); // no $labels
    EXPECT_EQ(run_tmpl("{{pad .Names 1 2}}|{{truncate .ID 3}}", kContainer), " web  |abc");
    EXPECT_EQ(run_tmpl("{{and .Up .Count}} {{or .Empty .Names}} {{not .Up}}", kContainer),
              "3 web false");
    EXPECT_EQ(run_tmpl("{{eq .Count 3}} {{ne .Names \"x\"}} {{lt 1 2.5}} {{ge \"b\" \"a\"}} {{eq "
                       ".State \"exited\" \"running\"}}",
                       kContainer),
              "true true true true true");
    EXPECT_EQ(run_tmpl("{{printf \"%s=%d %q %-4s|\" .Names .Count .ID \"x\"}}", kContainer),
              "web=3 \"abc123\" x   |");
    EXPECT_EQ(run_tmpl("{{print 1 2 \"a\" \"b\"}}{{println \"z\"}}", kContainer), "1 2abz\n");
    EXPECT_EQ(run_tmpl("{{.Names | printf \"%s!\"}}", kContainer), "web!");
}

TEST(GoTemplate, MethodsTakeArgumentsAndPipes) {
    Data data;
    data.what = "a container";
    data.methods["Label"] = [](const json& recv, const std::vector<json>& args) -> json {
        if (args.size() != 1 || !args[0].is_string())
            throw Error(Errc::usage, "Label takes a name");
        auto& l = recv["$labels"];
        auto it = l.find(args[0].get<std::string>());
        return it == l.end() ? json("") : *it;
    };
    EXPECT_EQ(
        run_tmpl("{{.Label \"tier\"}}|{{.Label \"no\"}}|{{\"tier\" | .Label}}", kContainer, data),
        "front||front");
    EXPECT_NE(tmpl_error("{{.Label}}", kContainer, data).find("Label takes a name"),
              std::string::npos);
    EXPECT_NE(tmpl_error("{{.Names \"x\"}}", kContainer, data).find("not a method"),
              std::string::npos);
}

TEST(GoTemplate, UnknownFieldNamesTheFieldAndTheFieldsThereAre) {
    Data data;
    data.what = "a container";
    auto e = tmpl_error("{{.Nmes}}", kContainer, data);
    EXPECT_NE(e.find("no field .Nmes in a container"), std::string::npos) << e;
    EXPECT_NE(e.find(".Names"), std::string::npos) << e;
    EXPECT_EQ(e.find("$labels"), std::string::npos) << e;
    e = tmpl_error("{{.Config.Lables}}", kContainer, data);
    EXPECT_NE(e.find("no field .Lables in .Config: its fields are .Labels .User"),
              std::string::npos)
        << e;
    e = tmpl_error("{{.ID.X}}", kContainer);
    EXPECT_NE(e.find("can't evaluate field X"), std::string::npos) << e;
    e = tmpl_error("{{.Nothing.X}}", kContainer);
    EXPECT_NE(e.find("nil pointer evaluating .Nothing.X"), std::string::npos) << e;
}

TEST(GoTemplate, SyntaxErrorsNameThePlace) {
    for (const char* bad : {"{{.ID",
                            "{{if .Up}}x",
                            "{{end}}",
                            "{{nosuch .ID}}",
                            "{{.ID | 3}}",
                            "{{\"x}}",
                            "{{(.ID}}",
                            "{{$y}}",
                            "{{break}}",
                            "{{define \"x\"}}{{end}}",
                            "{{range .A}}{{else if .B}}{{end}}",
                            "{{/* x",
                            "{{.ID %}}",
                            "{{}}",
                            "{{'ab'}}",
                            "{{\"\\q\"}}",
                            "{{1x}}",
                            "{{print \"a\"\"b\"}}",
                            "{{print \"a\".X}}",
                            "{{len(.ID)}}"}) {
        try {
            Template::parse(bad);
            ADD_FAILURE() << bad << " parsed";
        } catch (const Error& e) {
            EXPECT_EQ(e.code(), Errc::usage) << bad;
            EXPECT_TRUE(e.message().starts_with("template")) << bad << ": " << e.message();
        }
    }
    try {
        Template::parse("ab\n  {{.X | }}");
        ADD_FAILURE();
    } catch (const Error& e) {
        EXPECT_NE(e.message().find("template 2:"), std::string::npos) << e.message();
    }
}

TEST(GoTemplate, BoundedInTextDepthStepsAndOutput) {
    Limits small;
    small.max_template = 10;
    EXPECT_THROW(Template::parse("{{.ID}}{{.ID}}", small), Error);
    std::string deep;
    for (int i = 0; i < 100; ++i) deep += "{{if .}}";
    EXPECT_NE(tmpl_error(deep).find("nested deeper than 64"), std::string::npos);
    std::string parens(100, '(');
    EXPECT_THROW(Template::parse("{{" + parens + "1" + std::string(100, ')') + "}}"), Error);
    json big = json::array();
    for (int i = 0; i < 1000; ++i) big.push_back(i);
    Limits tight;
    tight.max_steps = 100000;
    EXPECT_THROW(Template::parse("{{range .}}{{range $.}}{{range $.}}{{end}}{{end}}{{end}}", tight)
                     .execute(big, {}),
                 Error);
    tight.max_output = 1000;
    EXPECT_THROW(Template::parse("{{range .}}xxxxxxxxxx{{end}}", tight).execute(big, {}), Error);
}

TEST(DockerFormat, TableAlignsAsGoTabwriterWithHeaders) {
    Listing l;
    l.data.what = "a container";
    l.headers = {{"ID", "CONTAINER ID"}, {"Names", "NAMES"}};
    l.default_table = "{{.ID}}\\t{{.Names}}";
    std::vector<json> rows{{{"ID", "abc"}, {"Names", "web"}}, {{"ID", "d"}, {"Names", "longer"}}};
    EXPECT_EQ(Format::parse("table {{.ID}}\\t{{.Names}}", l).render(rows),
              "CONTAINER ID   NAMES\nabc            web\nd              longer\n");
    EXPECT_EQ(Format::parse("table", l).render(rows),
              "CONTAINER ID   NAMES\nabc            web\nd              longer\n");
    // a header of its own for a field without one; short columns padded to 10
    EXPECT_EQ(Format::parse("table {{.Names}}\\t{{.ID}}", l).render({}),
              "NAMES     CONTAINER ID\n");
    EXPECT_EQ(Format::parse("{{.ID}}:{{.Names}}", l).render(rows), "abc:web\nd:longer\n");
    EXPECT_EQ(Format::parse("json", l).render(rows),
              "{\"ID\":\"abc\",\"Names\":\"web\"}\n{\"ID\":\"d\",\"Names\":\"longer\"}\n");
    EXPECT_EQ(Format::parse("table {{.Names | upper}}", l).render(rows), "NAMES\nWEB\nLONGER\n");
    try {
        Format::parse("{{.Nope}}", l).render(rows);
        ADD_FAILURE();
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::usage);
        EXPECT_NE(
            e.message().find(
                "--format: template 1:3: no field .Nope in a container: its fields are .ID .Names"),
            std::string::npos)
            << e.message();
    }
}

TEST(DockerFormat, TabwriterBlocks) {
    // one wide cell pads every line of its block: bounded
    std::string many;
    for (int i = 0; i < 1000; ++i) many += "x\t\n";
    EXPECT_THROW(tabwrite(many + std::string(5000, 'w') + "\t\n", 1 << 20), Error);
    EXPECT_EQ(tabwrite("a\tb\nlonger-than-ten\tc\n"), "a                 b\nlonger-than-ten   c\n");
    EXPECT_EQ(tabwrite("x\n\na\tb\n"), "x\n\na         b\n");
    EXPECT_EQ(tabwrite("é\tb\n"), "é         b\n");
}

} // namespace gotemplate_test
