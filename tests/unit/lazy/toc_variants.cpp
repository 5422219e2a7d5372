// The hostile variants of toc_differential.hpp's fixtures.
#include "toc_differential.hpp"

#include <random>

namespace toc_differential {

using gantry::lazy::TocFormat;
using nlohmann::json;

namespace {

const char* const kKeys[] = {"type",        "name",      "offset",      "linkName",  "innerOffset",
                             "chunkOffset", "chunkSize", "chunkDigest", "chunkType", "mode",
                             "uid",         "gid",       "modtime",     "devMajor",  "devMinor",
                             "size",        "digest",    "endOffset",   "xattrs",    "userName",
                             "unknownField"};

std::vector<json> values() {
    return {nullptr,
            true,
            false,
            0,
            1,
            2,
            -1,
            0.5,
            1.0,
            1.1e35,
            4294967295u,
            4294967296u,
            18446744073709551615u,
            1ull << 40,
            "",
            "x",
            "reg",
            "dir",
            "chunk",
            "zeros",
            "hardlink",
            "symlink",
            "char",
            "socket",
            "../x",
            "/abs",
            "a//b",
            "a/./b",
            "./",
            "etc",
            "etc/passwd",
            ".wh.x",
            ".wh..",
            std::string("a\0b", 3),
            "sha256:" + std::string(64, 'f'),
            "sha256:" + std::string(63, 'f') + "G",
            "2024-01-02T03:04:05Z",
            "2024-13-45T99:99:99",
            "aGk=",
            "!!",
            json::array(),
            json::array({"aGk="}),
            json::array({json::array()}),
            json::object(),
            {{"user.x", "aGk="}},
            {{"", "aGk="}},
            {{"user.x", 5}},
            {{"user.x", "%%"}}};
}

std::string fmt(TocFormat f) {
    return f == TocFormat::estargz ? "estargz" : "zstd";
}

// DOC with entries as texts: {"entries":[...],"version":1} and EXTRA top-level text
std::string doc_of(const std::vector<std::string>& entries, const std::string& extra = "") {
    std::string s = "{\"entries\":[";
    for (std::size_t i = 0; i < entries.size(); ++i) s += (i ? "," : "") + entries[i];
    return s + "],\"version\":1" + extra + "}";
}

std::string nested(std::size_t depth, char open, const std::string& inner) {
    std::string s;
    for (std::size_t i = 0; i < depth; ++i) s += open == '[' ? "[" : "{\"a\":";
    s += inner;
    for (std::size_t i = 0; i < depth; ++i) s += open == '[' ? ']' : '}';
    return s;
}

// modtimes: what strptime and timegm made of them (a fast path reads the common form)
void modtime_variants(Comparison& c, TocFormat format, const json& base) {
    for (const char* t : {"2024-01-02T03:04:05Z",
                          "1970-01-01T00:00:00Z",
                          "1969-12-31T23:59:59Z",
                          "0000-01-01T00:00:00Z",
                          "9999-12-31T23:59:59Z",
                          "2024-02-29T12:00:00Z",
                          "2023-02-29T12:00:00Z",
                          "2024-02-30T00:00:00Z",
                          "2024-02-31T00:00:00Z",
                          "2024-04-31T00:00:00Z",
                          "2024-12-31T23:59:60Z",
                          "2024-12-31T23:59:61Z",
                          "2024-12-31T23:59:62Z",
                          "2024-12-31T24:00:00Z",
                          "2024-00-10T00:00:00Z",
                          "2024-01-00T00:00:00Z",
                          "2024-01-32T00:00:00Z",
                          "2024-13-01T00:00:00Z",
                          "2024-1-2T3:4:5Z",
                          "2024-01-02t03:04:05Z",
                          "2024-01-02 03:04:05Z",
                          "2024-01-02T03:04:05",
                          "2024-01-02T03:04:05.123456789Z",
                          "2024-01-02T03:04:05.+01:00",
                          "2024-01-02T03:04:05+05:30",
                          "2024-01-02T03:04:05-00:00",
                          "2024-01-02T03:04:05+5:30",
                          "2024-01-02T03:04:05+99:99",
                          "2024-01-02T03:04:05-12:3x",
                          "2024-01-02T03:04:05x",
                          " 2024-01-02T03:04:05Z",
                          "20240-01-02T03:04:05Z",
                          "1900-03-01T00:00:00Z",
                          "1600-02-29T00:00:00Z",
                          "-001-01-01T00:00:00Z",
                          "2024-01-02T03:04",
                          "2024-01-02T03:04:05.999+14:00",
                          "2000-01-01T00:00:00.000000000000000000000001Z",
                          "",
                          "x"}) {
        json d = base;
        d["entries"][2]["modtime"] = t;
        c.compare(d.dump(), kFixtureTocOffset, format, fmt(format) + " modtime " + t);
        if (!c.take()) continue;
        d["entries"][2]["modtime"] = std::string(t) + std::string("\0+01:00", 7);
        c.compare_taken(d.dump(), kFixtureTocOffset, format, fmt(format) + " modtime NUL " + t);
    }
}

} // namespace

void field_variants(Comparison& c, TocFormat format) {
    const json base = fixture(format);
    const auto vals = values();
    std::mt19937 rnd(41);
    for (std::size_t i = 0; i < base["entries"].size(); ++i)
        for (const char* key : kKeys) {
            json d;
            if (c.take()) {
                d = base;
                d["entries"][i].erase(key);
                c.compare_taken(d.dump(), kFixtureTocOffset, format, fmt(format) + " erase " + key);
            }
            for (int n = 0; n < 4; ++n) {
                const json& v = vals[rnd() % vals.size()]; // drawn whether compared or not
                if (!c.take()) continue;
                d = base;
                d["entries"][i][key] = v;
                c.compare_taken(
                    d.dump(), kFixtureTocOffset, format,
                    fmt(format) + " entry " + std::to_string(i) + " " + key + "=" +
                        v.dump(-1, ' ', false, json::error_handler_t::replace).substr(0, 40));
            }
        }
    modtime_variants(c, format, base);
    // every value for the fields of the entry kinds that read most of them
    for (std::size_t i : {2u, 3u, 4u, 7u})
        for (const char* key : kKeys)
            for (const json& v : vals) {
                if (!c.take()) continue;
                json d = base;
                d["entries"][i][key] = v;
                c.compare_taken(d.dump(), kFixtureTocOffset, format,
                                fmt(format) + " all values: entry " + std::to_string(i) + " " +
                                    key);
            }
}

void structure_variants(Comparison& c, TocFormat format) {
    const json base = fixture(format);
    const std::size_t n = base["entries"].size();
    auto with = [&](const json& entries, const std::string& label) {
        json d = base;
        d["entries"] = entries;
        c.compare(d.dump(), kFixtureTocOffset, format, fmt(format) + " " + label);
    };
    for (std::size_t i = 0; i < n; ++i) {
        const json& e = base["entries"];
        json x = e;
        x.erase(i);
        with(x, "without entry " + std::to_string(i));
        x = e;
        x.insert(x.begin() + static_cast<long>(i), e[i]);
        with(x, "entry " + std::to_string(i) + " twice");
        if (i + 1 < n) {
            x = e;
            std::swap(x[i], x[i + 1]);
            with(x, "entries swapped at " + std::to_string(i));
        }
        x = e;
        x.erase(i);
        x.push_back(e[i]);
        with(x, "entry " + std::to_string(i) + " last");
        x = e;
        x.erase(i);
        x.insert(x.begin(), e[i]);
        with(x, "entry " + std::to_string(i) + " first");
        for (const json& odd : {json(1), json("x"), json(nullptr), json::array(), json::object()}) {
            x = e;
            x.insert(x.begin() + static_cast<long>(i), odd);
            with(x, "a non-object entry at " + std::to_string(i));
        }
    }
    for (const char* key : {"version", "entries", "tarSplitDigest", "other"}) {
        json d = base;
        d.erase(key);
        c.compare(d.dump(), kFixtureTocOffset, format, fmt(format) + " no " + key);
        for (const json& v : values()) {
            d = base;
            d[key] = v;
            c.compare(d.dump(), kFixtureTocOffset, format, fmt(format) + " top " + key);
        }
    }
    for (const char* top : {"[]", "1", "\"x\"", "null", "{}", "{\"version\":1}", "{\"entries\":[]}",
                            "{\"version\":1,\"entries\":[]}"})
        c.compare(top, kFixtureTocOffset, format, fmt(format) + " document " + top);
    // the offsets against the TOC's: each entry's offset at, just below and past it
    for (std::uint64_t off : {0ull, 1ull, 999ull, 1000ull, 1001ull, 1049ull, 1050ull, 1051ull})
        c.compare(base.dump(), off, format, fmt(format) + " toc offset " + std::to_string(off));
}

void text_variants(Comparison& c, TocFormat format) {
    const json base = fixture(format);
    const std::string tsd = format == TocFormat::zstd_chunked
                                ? ",\"tarSplitDigest\":\"sha256:" + std::string(64, '7') + "\""
                                : "";
    std::vector<std::string> entries;
    for (auto& e : base["entries"]) entries.push_back(e.dump());
    auto check = [&](const std::string& text, const std::string& label) {
        c.compare(text, kFixtureTocOffset, format, fmt(format) + " " + label);
    };
    check(doc_of(entries, tsd), "as text");
    // a key twice in an entry: the first or the second value counts
    for (std::size_t i = 0; i < entries.size(); ++i)
        for (auto& [key, v] : base["entries"][i].items())
            for (const json& other : {json("dir"), json("x"), json(0), json(5), json(nullptr),
                                      json::object({{"user.b", "AQID"}})}) {
                std::string inner = entries[i].substr(1, entries[i].size() - 2);
                std::string kv = json(key).dump() + ":" + other.dump();
                for (const std::string& twice : std::vector<std::string>{
                         "{" + kv + "," + inner + "}", "{" + inner + "," + kv + "}"}) {
                    auto copy = entries;
                    copy[i] = twice;
                    check(doc_of(copy, tsd), "entry " + std::to_string(i) + " key twice " + key);
                }
            }
    const std::string good = doc_of(entries, tsd);
    const std::string list = good.substr(good.find('['), good.rfind(']') - good.find('[') + 1);
    for (const std::string& extra : std::vector<std::string>{
             ",\"version\":2", ",\"version\":1", ",\"entries\":[]", ",\"entries\":5",
             ",\"entries\":" + list, ",\"entries\":[{\"name\":\"../x\",\"type\":\"reg\"}]",
             ",\"tarSplitDigest\":5", ",\"tarSplitDigest\":\"a\",\"tarSplitDigest\":\"b\""}) {
        check(doc_of(entries, tsd + extra), "top-level key twice: " + extra);
        // the other order: the bad array first, the good one last
        check("{\"version\":1" + extra + ",\"entries\":" + list + tsd + "}",
              "top-level key twice, first: " + extra);
    }
    // xattrs as the DOM iterated them
    for (const std::string& x : std::vector<std::string>{
             "{\"user.a\":\"aGk=\",\"user.a\":\"!!\"}", "{\"user.a\":\"!!\",\"user.a\":\"aGk=\"}",
             "{\"b\":\"aGk=\",\"a\":\"AQID\"}", "[\"aGk=\",\"AQID\"]", "[\"aGk=\",5]", "\"aGk=\"",
             "5", "null", "{}", "[]", "{\"a\":[\"aGk=\"]}", "[[\"aGk=\"]]", nested(500, '[', "1"),
             "{\"a\":" + nested(500, '{', "1") + "}",
             "{\"big\":\"" + std::string(87000, 'A') + "\",\"a\":\"!!\"}",
             "{\"big\":\"" + std::string(87400, 'A') + "\"}",
             "{\"a\":\"aGk=\",\"b\":\"" + std::string(87380, 'A') + "\"}",
             "{\"a\":\"aGk=\",\"b\":\"" + std::string(87376, 'A') + "\"}",
             "[" + std::string(200, ' ') +
                 "\"aGk=\",\"aGk=\",\"aGk=\",\"aGk=\",\"aGk=\",\"aGk=\","
                 "\"aGk=\",\"aGk=\",\"aGk=\",\"aGk=\",\"aGk=\",\"aGk=\"]"}) {
        auto copy = entries;
        copy[2].insert(copy[2].size() - 1, ",\"xattrs\":" + x);
        check(doc_of(copy, tsd), "xattrs " + x.substr(0, 40));
    }
    // deep nesting, where it is skipped and where it is read (where it is read, 200 levels: the
    // DOM reference's message dumps the value, recursively, and 2,000 levels overflowed the
    // stack of build-san's -O0 + ASan unit binary; the streaming reader keeps no stack)
    for (const std::string where : {"unknownField", "mode", "name", "xattrs", "userName"})
        for (char open : {'[', '{'}) {
            auto copy = entries;
            copy[2].insert(copy[2].size() - 1,
                           ",\"" + where +
                               "\":" + nested(where == "unknownField" ? 100000 : 200, open, "1"));
            check(doc_of(copy, tsd), "nested in " + where);
        }
    check(doc_of(entries, tsd + ",\"deep\":" + nested(100000, '[', "{}")), "nested at the top");
    check(doc_of(entries, tsd + ",\"version\":" + nested(3, '[', "1")), "nested version");
    check(doc_of(entries, tsd + ",\"x\":" + nested(100000, '[', "")), "nested, unclosed");
    auto odd = entries;
    odd.insert(odd.begin() + 3, nested(1000, '[', "{}"));
    check(doc_of(odd, tsd), "a nested array as an entry");
    // numbers
    for (const char* key :
         {"size", "offset", "mode", "uid", "chunkSize", "devMajor", "innerOffset"})
        for (const char* num : {"-0",
                                "0.0",
                                "1e2",
                                "1E400",
                                "-1e400",
                                "1.5e-400",
                                "100.0",
                                "123456789012345678901234567890",
                                "18446744073709551616",
                                "18446744073709551615",
                                "-9223372036854775808",
                                "-9223372036854775809",
                                "00",
                                "01",
                                "+1",
                                ".5",
                                "0x10",
                                "NaN",
                                "Infinity",
                                "-",
                                "1e",
                                "100"}) {
            auto copy = entries;
            copy[2].insert(copy[2].size() - 1, std::string(",\"") + key + "\":" + num);
            check(doc_of(copy, tsd), std::string(key) + "=" + num);
        }
    // strings: escapes, bytes that are not UTF-8, control characters
    for (const char* name :
         {"\"\\u00e9t\\u00e9\"", "\"a\\u0000b\"", "\"\\ud800\"", "\"\\udc00x\"",
          "\"\\ud83d\\ude00\"", "\"etc\\/x\"", "\"\xff\"", "\"\xc0\xaf\"", "\"\xed\xa0\x80\"",
          "\"\xe2\x82\"", "\"\x01\"", "\"\\x41\"", "\"\\u12\"", "\"\xf4\x90\x80\x80\"",
          "\"caf\xc3\xa9\"", "\"a\tb\"", "\"\\t\""}) {
        for (const char* key : {"name", "linkName", "chunkDigest", "type", "modtime"}) {
            auto copy = entries;
            copy[2].insert(copy[2].size() - 1, std::string(",\"") + key + "\":" + name);
            check(doc_of(copy, tsd), std::string(key) + " string " + name);
        }
        std::string key_text = std::string(",") + name + ":1";
        auto copy = entries;
        copy[2].insert(copy[2].size() - 1, key_text);
        check(doc_of(copy, tsd), std::string("key ") + name);
    }
    // around the document
    for (const std::string& t :
         std::vector<std::string>{"\xEF\xBB\xBF" + good, good + " \n\t", good + "x", good + ",",
                                  "/*c*/" + good, good + good, " " + good, "\xEF\xBB" + good,
                                  std::string(), std::string("{"), std::string("\"\"")})
        check(t, "around: " + t.substr(0, 8));
    // truncations and changed bytes
    for (std::size_t n = 0; n < good.size(); n += 7) check(good.substr(0, n), "truncated");
    std::mt19937 rnd(40);
    std::string bytes = "{}[]\",:0123456789-.eE tnrufalse\\/\x80\xff";
    bytes += '\0';
    for (int i = 0; i < 2000; ++i) {
        std::string t = good;
        for (int k = 0, m = 1 + static_cast<int>(rnd() % 3); k < m; ++k)
            t[rnd() % t.size()] = bytes[rnd() % bytes.size()];
        check(t, "bytes changed");
    }
}

} // namespace toc_differential
