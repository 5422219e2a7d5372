// lazy/toc_parser: what the streaming reader decides where JSON leaves room (toc_parser.hpp):
// keys given twice, nesting, numbers past uint64 or a double, strings that are not UTF-8, a
// syntax error after a refused entry, tarSplitDigest. test_toc_differential shows the DOM reader
// it replaced decided the same.
#include "lazy/toc.hpp"
#include "util/error.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

namespace toc_parser_test {

using namespace gantry;
using lazy::Toc;
using lazy::TocFormat;

namespace {

Toc parse(const std::string& text, TocFormat format = TocFormat::estargz) {
    return Toc::parse(text, 100000, "layer t", format);
}

void expect_refused(const std::string& text, const std::string& why) {
    try {
        parse(text);
        ADD_FAILURE() << "accepted: " << text.substr(0, 200);
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::invalid);
        EXPECT_NE(e.message().find(why), std::string::npos) << e.message();
    }
}

const lazy::Node& at(const Toc& t, const std::string& name) {
    auto it = t.nodes[0].children.find(name);
    if (it == t.nodes[0].children.end()) throw std::runtime_error("no " + name);
    return t.nodes[it->second];
}

std::string doc(const std::string& entries, const std::string& extra = "") {
    return "{\"version\":1,\"entries\":[" + entries + "]" + extra + "}";
}

std::string nested(std::size_t depth) {
    return std::string(depth, '[') + std::string(depth, ']');
}

} // namespace

TEST(TocParser, KeysGivenTwiceTakeTheirLastValue) {
    Toc t = parse(doc(R"({"name":"x","type":"dir","type":"reg","size":0})"));
    EXPECT_TRUE(S_ISREG(at(t, "x").mode));
    t = parse(doc(R"({"name":"x","type":"dir","mode":493,"mode":448})"));
    EXPECT_EQ(at(t, "x").mode & 07777, 0700u);
    // the top level's entries too: the first array is dropped, refusals in it included
    t = parse(doc(R"({"name":"../x","type":"reg"})", R"(,"entries":[{"name":"y","type":"dir"}])"));
    EXPECT_EQ(t.nodes.size(), 2u);
    EXPECT_TRUE(S_ISDIR(at(t, "y").mode));
    expect_refused(
        R"({"version":1,"entries":[{"name":"y","type":"dir"}],"entries":[{"name":"../x","type":"reg"}]})",
        "'..'");
    expect_refused(doc("", R"(,"version":2)"), "version 1");
    // xattrs: the last value of a key, in key order
    t = parse(doc(
        R"({"name":"x","type":"dir","xattrs":{"user.b":"AQID","user.a":"!!","user.a":"aGk="}})"));
    ASSERT_EQ(at(t, "x").xattrs.size(), 2u);
    EXPECT_EQ(at(t, "x").xattrs[0], (std::pair<std::string, std::string>("user.a", "hi")));
    EXPECT_EQ(at(t, "x").xattrs[1].first, "user.b");
}

TEST(TocParser, NestingIsSkippedWhereNothingReadsIt) {
    // as deep as 64 MiB of JSON allows: the parser keeps a bit per level, no stack
    Toc t = parse(doc(R"({"name":"x","type":"dir","other":)" + nested(1'000'000) + "}",
                      ",\"more\":" + nested(1'000'000)));
    EXPECT_TRUE(S_ISDIR(at(t, "x").mode));
    expect_refused(doc(R"({"name":"x","type":"dir","mode":)" + nested(10000) + "}"),
                   "has a mode that is not a whole number up to 4294967295: [...]");
    expect_refused(doc(R"({"name":)" + nested(10) + R"(,"type":"dir"})"),
                   "wrong type (name must be string, but is array)");
    expect_refused(doc(R"({"name":"x","type":"dir","other":)" + nested(1000).substr(1) + "}"),
                   "is not JSON");
}

TEST(TocParser, NumbersPastTheirRangeAreRefused) {
    // past a double: a syntax error (nlohmann: "number overflow")
    expect_refused(doc(R"({"name":"x","type":"dir","mode":1e400})"), "is not JSON");
    // past uint64: a float, not a whole number
    expect_refused(doc(R"({"name":"x","type":"reg","size":18446744073709551616})"),
                   "has a size that is not a whole number up to 18446744073709551615: "
                   "1.8446744073709552e+19");
    expect_refused(doc(R"({"name":"x","type":"dir","uid":4294967296})"), "not a whole number");
    expect_refused(doc(R"({"name":"x","type":"dir","uid":1.0})"),
                   "not a whole number up to 4294967295: 1.0");
    // -0 is an integer 0, as nlohmann reads it
    Toc t = parse(doc(R"({"name":"x","type":"dir","uid":-0})"));
    EXPECT_EQ(at(t, "x").uid, 0u);
}

TEST(TocParser, StringsMustBeUtf8) {
    expect_refused(doc("{\"name\":\"\xff\",\"type\":\"dir\"}"), "is not JSON");
    expect_refused(doc("{\"name\":\"\xed\xa0\x80\",\"type\":\"dir\"}"), "is not JSON"); // surrogate
    expect_refused(doc(R"({"name":"\ud800","type":"dir"})"), "is not JSON");
    expect_refused(doc("{\"name\":\"x\",\"type\":\"dir\",\"other\":\"\xc0\xaf\"}"), "is not JSON");
    Toc t = parse(doc(R"({"name":"caf\u00e9","type":"dir"})"));
    EXPECT_TRUE(S_ISDIR(at(t, "caf\xc3\xa9").mode));
    expect_refused(doc(R"({"name":"a\u0000b","type":"dir"})"), "NUL");
}

TEST(TocParser, SyntaxErrorsWinOverRefusedEntries) {
    // the first entry is refused, but the document is not JSON: that is what is said, as before
    expect_refused(R"({"version":1,"entries":[{"name":"../x","type":"reg"},)", "is not JSON");
    expect_refused(doc(R"({"name":"../x","type":"reg"})") + "x", "is not JSON");
    // the version before the entries, wherever it is in the text
    expect_refused(R"({"entries":[{"name":"../x","type":"reg"}],"version":7})", "version 1");
    expect_refused(R"({"entries":[5]})", "version 1");
    expect_refused(R"({"version":1})", "key 'entries' not found");
    expect_refused(R"({"version":1,"entries":{}})", "no entries array");
    expect_refused(doc(R"({"name":"a","type":"dir"},5)"), "not an object");
}

// fuzz_estargz_toc's first seconds on the streaming reader: an entry without a modtime passed
// the empty string_view's null data() to memcpy (UBSan; fuzz/regressions/estargz_toc/crash-e0e1...)
TEST(TocParser, AnEntryWithoutAModtimeHasTimeZero) {
    Toc t = parse(doc(R"({"name":"p","type":"dir"})"));
    EXPECT_EQ(at(t, "p").mtime, 0);
    expect_refused(R"({"version": 1, "entries": [{"name": "p", "type": "reg", "size":";ababa`"}]})",
                   "has a size that is not a whole number");
    t = parse(doc(R"({"name":"p","type":"dir","modtime":"2024-01-02T03:04:05Z"})"));
    EXPECT_EQ(at(t, "p").mtime, 1704164645);
}

TEST(TocParser, TarSplitDigestIsTheTopLevelString) {
    const std::string d = "sha256:" + std::string(64, 'a');
    Toc t = parse(doc("", ",\"tarSplitDigest\":\"" + d + "\""), TocFormat::zstd_chunked);
    EXPECT_EQ(t.tar_split_digest, d);
    t = parse(doc("", ",\"tarSplitDigest\":5"), TocFormat::zstd_chunked);
    EXPECT_EQ(t.tar_split_digest, "");
    t = parse(doc(R"({"name":"x","type":"dir","tarSplitDigest":"sha256:x"})"));
    EXPECT_EQ(t.tar_split_digest, "");
}

} // namespace toc_parser_test
