#include "util/printable.hpp"

#include <gtest/gtest.h>
#include <string>

namespace util_printable_test {

using gantry::text::is_printable;
using gantry::text::printable;
using gantry::text::quote;

// Go's strconv.Quote of each input, printed by this program under Debian 12's go 1.19.8 (`go run
// main.go`; the C++ literals below are its output, rewritten with C++'s escapes):
//   for _, s := range inputs { fmt.Printf("%q -> %s\n", s, strconv.Quote(s)) }
struct GoQuote {
    std::string in, go;
};
const GoQuote kGo[] = {
    {"", R"("")"},
    {"plain text", R"("plain text")"},
    {"a\nb", R"("a\nb")"},
    {"a\rb", R"("a\rb")"},
    {"tab\there", R"("tab\there")"},
    {"\x1b[2J", R"("\x1b[2J")"},
    {std::string(1, '\0'), R"("\x00")"},
    {"\a\b\f\v", R"("\a\b\f\v")"},
    {"\x1f", R"("\x1f")"},
    {"\x7f", R"("\x7f")"},
    {"\xc2\x80", R"("\u0080")"},
    {"\xc2\x85", R"("\u0085")"}, // NEL
    {"\xc2\x9b", R"("\u009b")"}, // CSI
    {"\xc2\x9f", R"("\u009f")"},
    {"\xc3\xa9", "\"\xc3\xa9\""},                                 // é
    {"\xe6\x97\xa5\xe6\x9c\xac", "\"\xe6\x97\xa5\xe6\x9c\xac\""}, // 日本
    {"\xf0\x9f\x98\x80", "\"\xf0\x9f\x98\x80\""},                 // U+1F600
    {"\xe2\x80\xa8", R"("\u2028")"},
    {"\xe2\x80\xa9", R"("\u2029")"},
    {"\xe2\x80\xaa", R"("\u202a")"},
    {"\xe2\x80\xae", R"("\u202e")"},
    {"\xe2\x81\xa6", R"("\u2066")"},
    {"\xe2\x81\xa9", R"("\u2069")"},
    {"\xff", R"("\xff")"},
    {"\xc3", R"("\xc3")"},                         // cut off
    {"\xe2\x80", R"("\xe2\x80")"},                 // cut off: each byte
    {"\xc0\xaf", R"("\xc0\xaf")"},                 // overlong '/'
    {"\xed\xa0\x80", R"("\xed\xa0\x80")"},         // a surrogate
    {"\xf4\x90\x80\x80", R"("\xf4\x90\x80\x80")"}, // past U+10FFFF
    {"a\xff"
     "b\xfe",
     R"("a\xffb\xfe")"},
    {"back\\slash", R"("back\\slash")"},
    {"say \"hi\"", R"("say \"hi\"")"},
    {"x=1\nFAKE 2026 container start evil", R"("x=1\nFAKE 2026 container start evil")"},
};

TEST(Printable, QuoteIsGoStrconvQuote) {
    for (const auto& c : kGo) EXPECT_EQ(quote(c.in), c.go) << c.go;
}

TEST(Printable, PrintableIsGoQuoteWithoutTheQuotesOfPlainText) {
    // printable leaves `"` and `\` as they are: Go's quoted body, less the escapes of those two
    for (const auto& c : kGo) {
        std::string body = c.go.substr(1, c.go.size() - 2), want;
        for (std::size_t i = 0; i < body.size(); ++i) {
            if (body[i] == '\\' && i + 1 < body.size() &&
                (body[i + 1] == '"' || body[i + 1] == '\\'))
                ++i;
            want += body[i];
        }
        EXPECT_EQ(printable(c.in), want) << c.go;
        EXPECT_EQ(is_printable(c.in), want == c.in) << c.go;
    }
}

TEST(Printable, PlainTextIsUnchanged) {
    for (std::string s : {"nginx:latest", "sleep 100", "C:\\path\\x", "k=v, a=\"b\"", "caf\xc3\xa9",
                          "\xc2\xa0nbsp", "\xe2\x80\x8bzero width"}) {
        EXPECT_TRUE(is_printable(s)) << s;
        EXPECT_EQ(printable(s), s);
    }
}

TEST(Printable, TheEscapedFormIsOneLineAndStable) {
    std::string hostile = "a\nb\r\x1b[2J\xe2\x80\xa8\xc2\x85\xff\t\x7f";
    std::string once = printable(hostile);
    EXPECT_EQ(once, R"(a\nb\r\x1b[2J\u2028\u0085\xff\t\x7f)");
    EXPECT_TRUE(is_printable(once));
    EXPECT_EQ(printable(once), once);
    for (char c : once) EXPECT_GE(static_cast<unsigned char>(c), 0x20);
}

TEST(Printable, EveryByteAloneIsEscapedOrPlain) {
    for (int b = 0; b < 256; ++b) {
        std::string s(1, static_cast<char>(b));
        bool plain = b >= 0x20 && b < 0x7f;
        EXPECT_EQ(is_printable(s), plain) << b;
        if (!plain) {
            EXPECT_EQ(printable(s).substr(0, 1), "\\") << b;
        }
    }
}

} // namespace util_printable_test
