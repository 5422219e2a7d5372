// The syntax tree of a parsed template (parse.cpp builds it, execute.cpp walks it).
#pragma once

#include "gotemplate/template.hpp"

#include <string>
#include <vector>

namespace gantry::gotemplate {

struct Pipe;

// One operand of a command.
struct Arg {
    enum Kind { field, variable, dot, function, literal, sub } kind = literal;
    std::string name;               // variable: "$x" ("$" for the root); function: its name
    std::vector<std::string> chain; // field names after it: .A.B, $x.A, (pipe).A
    json value;                     // literal: string, number, bool, null
    std::shared_ptr<Pipe> pipe;     // sub: the parenthesised pipeline
    std::size_t pos = 0;            // byte offset in the template, for errors
};

struct Command {
    std::vector<Arg> args;
};

struct Pipe {
    std::vector<std::string> vars; // declared or assigned variables ($i, $e)
    bool declare = false;          // := (else =, when vars is not empty)
    std::vector<Command> cmds;
    std::size_t pos = 0;
};

struct Node {
    enum Kind { list, text_, action, if_, range, with, break_, continue_ } kind = list;
    std::string text;
    std::shared_ptr<Pipe> pipe;
    std::vector<std::shared_ptr<Node>> children; // list: its nodes
    std::shared_ptr<Node> body, otherwise;       // if, range, with
    std::size_t pos = 0;
};

} // namespace gantry::gotemplate

namespace gantry::gotemplate {

// A function a template may call by name (functions.cpp).
bool is_function(std::string_view name);
// "1:5" for byte offset POS of TEXT, as errors name a place.
std::string place(std::string_view text, std::size_t pos);
// literals.cpp: the literal of TEXT at Q ("...", `...` or '...'; a number), its value out, the
// index after it returned; Error(usage) naming the place of a malformed one.
std::size_t lex_quoted(std::string_view text, std::size_t q, std::string& out);
std::size_t lex_number(std::string_view text, std::size_t q, json& value);
// The code point of S when it is exactly one UTF-8 sequence, else -1 (a character constant).
long first_code_point(const std::string& s);

} // namespace gantry::gotemplate
