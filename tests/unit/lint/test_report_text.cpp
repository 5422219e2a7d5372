// lint's text formats (tty, gnu): a Dockerfile's words quoted in a message or a file name print
// no line of their own (docs/printed-text.md); the JSON formats hold them as they are.
#include "lint/report.hpp"

#include <gtest/gtest.h>

namespace lint_report_text_test {

using namespace gantry::lint;

TEST(LintReport, TextFormatsEscapeWhatAFindingQuotes) {
    gantry::findings::Finding f;
    f.id = "GL003";
    f.severity = gantry::findings::Severity::warn;
    f.message = "base image x\ny:1 GL000 error: forged\x1b[2J";
    f.fix = "pin it\r";
    f.at.line = 2;
    FileResult r{"Docker\nfile", {f}};
    std::string word = level_word(f.severity);
    EXPECT_EQ(render({r}, Format::tty, false, {}),
              "Docker\\nfile:2 GL003 " + word +
                  ": base image x\\ny:1 GL000 error: forged\\x1b[2J\n  fix: pin it\\r\n");
    EXPECT_EQ(render({r}, Format::gnu, false, {}),
              "Docker\\nfile:2:1: " + word +
                  ": GL003 base image x\\ny:1 GL000 error: forged\\x1b[2J\n");
    EXPECT_NE(render({r}, Format::json, false, {}).find("forged\\u001b[2J"), std::string::npos);
}

} // namespace lint_report_text_test
