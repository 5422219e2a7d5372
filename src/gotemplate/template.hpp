// gotemplate: Go's text/template language, the subset docker's `--format` users write, over
// nlohmann::json data. Written here because no maintained C++ library implements Go's template
// semantics (Debian 12 has inja and mustache, which are other languages; docs/docker-cli.md).
//
// What it evaluates: text and actions ({{.A.B}}, {{- trim -}}, {{/* comments */}}), pipelines
// (`.X | lower`), variables ($, $x := ..., $x = ...), parenthesised pipelines, if/else if/else,
// range (arrays, objects in key order, $i, $e :=, else, break, continue), with/else, and the
// functions of Go's templates and docker's (json, join, split, lower, upper, title, pad,
// truncate, index, len, slice, eq, ne, lt, le, gt, ge, and, or, not, print, printf, println).
// define/template/block and html/js/urlquery/call are refused by name.
//
// Untrusted input: the template and the data are bounded (Limits); every failure is an
// Error(usage) naming what failed, never a crash or a hang (fuzz/fuzz_gotemplate.cpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace gantry::gotemplate {

using json = nlohmann::json;

struct Limits {
    std::size_t max_template = 64 * 1024; // bytes of template text
    int max_depth = 64;                   // nesting of blocks and parentheses
    std::size_t max_output = 16 << 20;    // bytes one execution may write
    std::uint64_t max_steps = 10'000'000; // nodes one execution may evaluate
};

// A method a value answers with arguments, as docker's `{{.Label "k"}}` on a container.
using Method = std::function<json(const json& receiver, const std::vector<json>& args)>;

// What a template's data is, for the error naming an unknown field, and its methods.
struct Data {
    std::string what = "the data";         // "a container": "no field .Foo in a container"
    std::map<std::string, Method> methods; // names callable on the top-level value
    // Paths from the top-level value (".Actor.Attributes") that are Go maps, not structs: a
    // key they lack is Go's missing map key, printed "<no value>" and false, not an error.
    std::set<std::string> maps;
};

struct Node; // template.cpp's syntax tree

class Template {
  public:
    // Error(usage) naming the position and the fault; the template is kept whole.
    static Template parse(std::string_view text, Limits limits = {});
    // DOT executed: the output, or Error(usage) naming the failure. Keys beginning with '$'
    // are hidden (no template can name them; json and printing leave them out): methods read
    // them. HEADER: docker's header pass, where its functions return their first argument and
    // a method returns the header of its name.
    std::string execute(const json& dot, const Data& data, bool header = false) const;

  private:
    std::shared_ptr<const Node> root_;
    std::shared_ptr<const std::string> text_;
    Limits limits_;
};

// Go's value of a key a map lacks (Data::maps): printed "<no value>", false, json null.
json no_value();
bool is_no_value(const json& v);

// Go's %v of a value: strings as they are, arrays "[a b]", objects "map[k:v]", null "<nil>".
std::string print_value(const json& v);
// docker's json function: compact, HTML characters not escaped, hidden keys left out.
std::string to_json(const json& v);
// Go's truth: false, 0, null, and empty strings, arrays and objects are false.
bool truth(const json& v);

} // namespace gantry::gotemplate
