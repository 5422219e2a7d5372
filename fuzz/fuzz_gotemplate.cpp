// Fuzzes the Go template evaluator of --format (gotemplate/): the input up to its first NUL is
// a template run, as `ps --format` runs one, over a container-shaped row (with a method) and as
// a table; the rest, when it parses as JSON, is the data too. Every failure must be an
// Error(usage); the output bound must hold.
#include "fuzz_support.hpp"
#include "gotemplate/docker_format.hpp"
#include "gotemplate/template.hpp"
#include "util/error.hpp"

using namespace gantry;

GANTRY_FUZZ_TARGET(gotemplate) {
    std::string_view in = fuzz::bytes(data, size);
    auto nul = in.find('\0');
    std::string_view text = in.substr(0, nul);
    gotemplate::json row = gotemplate::json::parse(
        R"({"ID":"abc","Names":"web","Mounts":["/a","/b"],"Labels":"a=b",
            "Config":{"Labels":{"k":"v"}},"N":3,"F":0.5,"Z":null,"$labels":{"a":"b"}})");
    if (nul != std::string_view::npos) {
        auto extra = gotemplate::json::parse(in.substr(nul + 1), nullptr, false);
        if (!extra.is_discarded() && extra.is_object()) row["X"] = extra;
    }
    gotemplate::Listing listing;
    listing.data.what = "a container";
    listing.data.methods["Label"] = [](const gotemplate::json& recv,
                                       const std::vector<gotemplate::json>& args) {
        if (args.size() != 1 || !args[0].is_string()) throw Error(Errc::usage, "Label: a name");
        auto& l = recv.at("$labels");
        auto it = l.find(args[0].get<std::string>());
        return it == l.end() ? gotemplate::json("") : *it;
    };
    listing.headers = {{"ID", "CONTAINER ID"}, {"Names", "NAMES"}};
    listing.default_table = "{{.ID}}\\t{{.Names}}";
    gotemplate::Limits limits;
    limits.max_output = 1 << 20;
    limits.max_steps = 200000;
    auto usage_only = [](const Error& e) { FUZZ_CHECK(e.code() == Errc::usage); };
    try {
        auto f = gotemplate::Format::parse(text, listing, limits);
        auto out = f.render({row, row});
        FUZZ_CHECK(out.size() <= limits.max_output);
    } catch (const Error& e) {
        usage_only(e);
    }
    try {
        auto t = gotemplate::Template::parse(text, limits);
        auto out = t.execute(row, listing.data);
        FUZZ_CHECK(out.size() <= limits.max_output);
        FUZZ_CHECK(gotemplate::tabwrite(out, limits.max_output).size() <= limits.max_output);
    } catch (const Error& e) {
        usage_only(e);
    }
    return 0;
}
