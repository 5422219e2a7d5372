// A template's values as text (docs/printed-text.md): every value read from the data is printed
// with util/printable.hpp's escapes, so a hostile label, name or command prints no line of its
// own, while the template's own text and what json makes of a value stay as Go prints them.
#include "gotemplate/docker_format.hpp"
#include "gotemplate/template.hpp"

#include <gtest/gtest.h>

namespace gotemplate_printed_test {

using namespace gantry::gotemplate;

std::string run_tmpl(const std::string& t, const json& dot, const Data& data = {}) {
    return Template::parse(t).execute(dot, data);
}

const json kHostile = json::parse(R"({
  "Names": "web\nFAKE line", "Command": "sh\r\u001b[2J", "Sep": "\u2028",
  "Mounts": ["/a\nb", "/c"], "Labels": {"k\ny": "v\tw", "plain": "x"},
  "Config": {"Env": ["A=1\n2", "B=\u0085"]}, "$labels": {"evil": "1\n2"}
})");

TEST(PrintedValues, AFieldPrintsEscaped) {
    EXPECT_EQ(run_tmpl("{{.Names}}", kHostile), R"(web\nFAKE line)");
    EXPECT_EQ(run_tmpl("{{.Command}}|{{.Sep}}", kHostile), R"(sh\r\x1b[2J|\u2028)");
    EXPECT_EQ(run_tmpl("{{.Mounts}}", kHostile), R"([/a\nb /c])");
    EXPECT_EQ(run_tmpl("{{.Labels}}", kHostile), R"(map[k\ny:v\tw plain:x])");
    EXPECT_EQ(run_tmpl("{{.}}", json("a\nb")), R"(a\nb)");
}

TEST(PrintedValues, TheTemplatesOwnNewlinesStay) {
    EXPECT_EQ(run_tmpl("{{range .Config.Env}}{{println .}}{{end}}", kHostile),
              "A=1\\n2\nB=\\u0085\n");
    EXPECT_EQ(run_tmpl("{{join .Mounts \"\\n\"}}", kHostile), "/a\\nb\n/c");
    EXPECT_EQ(run_tmpl("{{printf \"%s\\n\" .Names}}", kHostile), "web\\nFAKE line\n");
    EXPECT_EQ(run_tmpl("{{.Names | printf \"[%s]\"}}", kHostile), "[web\\nFAKE line]");
    EXPECT_EQ(run_tmpl("{{\"a\\nb\"}}", kHostile), "a\nb"); // a literal is the user's
}

TEST(PrintedValues, RangeVariablesAndFunctionsPrintEscaped) {
    EXPECT_EQ(run_tmpl("{{range $k, $v := .Labels}}{{$k}}={{$v}};{{end}}", kHostile),
              "k\\ny=v\\tw;plain=x;");
    EXPECT_EQ(run_tmpl("{{range .Mounts}}[{{.}}]{{end}}", kHostile), "[/a\\nb][/c]");
    EXPECT_EQ(run_tmpl("{{$n := .Names}}{{$n}}", kHostile), "web\\nFAKE line");
    EXPECT_EQ(run_tmpl("{{with .Labels}}{{.plain}}{{index . \"plain\"}}{{end}}", kHostile), "xx");
    EXPECT_EQ(run_tmpl("{{.Names | upper}}", kHostile), "WEB\\NFAKE LINE"); // as Go's upper of %q
    EXPECT_EQ(run_tmpl("{{index .Mounts 0}}", kHostile), "/a\\nb");
    Data data;
    data.methods["Label"] = [](const json& recv, const std::vector<json>& args) -> json {
        return recv["$labels"].value(args.at(0).get<std::string>(), "");
    };
    EXPECT_EQ(run_tmpl("{{.Label \"evil\"}}", kHostile, data), "1\\n2");
}

TEST(PrintedValues, JsonIsJsonOfTheValueItself) {
    EXPECT_EQ(run_tmpl("{{json .Names}}", kHostile), R"("web\nFAKE line")");
    EXPECT_EQ(run_tmpl("{{.Names | json}}", kHostile), R"("web\nFAKE line")");
    EXPECT_EQ(run_tmpl("{{json .Labels}}", kHostile), R"({"k\ny":"v\tw","plain":"x"})");
    EXPECT_EQ(run_tmpl("{{range .Mounts}}{{json .}}{{end}}", kHostile), R"("/a\nb""/c")");
    EXPECT_EQ(run_tmpl("{{$n := .Sep}}{{json $n}}", kHostile), R"("\u2028")");
    EXPECT_EQ(run_tmpl("{{with .Config}}{{json .Env}}{{end}}", kHostile),
              R"(["A=1\n2","B=\u0085"])"); // C1 escaped too (Go's encoding/json leaves it)
}

TEST(PrintedValues, ATableCellStaysOneCell) {
    Listing l;
    l.data.what = "a container";
    l.headers = {{"Names", "NAMES"}, {"Labels", "LABELS"}};
    std::vector<json> rows{{{"Names", "a\tb\nc"}, {"Labels", "x"}}};
    EXPECT_EQ(Format::parse("table {{.Names}}\\t{{.Labels}}", l).render(rows),
              "NAMES     LABELS\na\\tb\\nc   x\n");
    EXPECT_EQ(Format::parse("json", l).render(rows), R"({"Labels":"x","Names":"a\tb\nc"})"
                                                     "\n");
}

} // namespace gotemplate_printed_test
