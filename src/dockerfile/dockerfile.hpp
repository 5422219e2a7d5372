// dockerfile/: the Dockerfile model that gantry lint and gantry build share: the parser (this
// header), one instruction's line (instruction), words and their expansion (words).
//
// A Dockerfile parsed the way BuildKit's frontend reads it: parser directives (# syntax=,
// # escape=, # check=) at the top, line continuations with the escape character (comment and
// empty lines inside a continuation skipped), heredocs on RUN/COPY/ADD (<<EOF, <<-EOF, quoted
// delimiters, several on one line, N<<EOF), flags (--mount=..., --from=...), JSON (exec) form,
// case-insensitive instructions and ONBUILD. Malformed input throws Error(Errc::invalid) with
// "line N: ..." naming the problem.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace gantry::dockerfile {

struct Flag {
    std::string name;  // without "--"
    std::string value; // quotes removed
    bool has_value = false;
};

struct Heredoc {
    std::string name;    // the delimiter word, quotes removed
    std::string content; // body lines, each ending in '\n' (leading tabs removed for <<-)
    bool expand = true;  // false when the delimiter was quoted (<<'EOF', <<"EOF")
    bool chomp = false;  // <<-
    int fd = 0;          // N in N<<EOF
    int line = 0;        // line of the first body line
};

struct Instruction {
    std::string keyword;     // upper case: "RUN", "COPY"...
    int line = 0;            // first line (1-based)
    int end_line = 0;        // last line, heredoc bodies included
    std::string original;    // the logical line: continuations joined, comment lines dropped
    std::vector<Flag> flags; // leading --name[=value] words
    std::string args;        // the text after the keyword and the flags
    bool json = false;       // exec form: args is a JSON array of strings
    std::vector<std::string> json_args;
    std::vector<Heredoc> heredocs;
    std::vector<std::string> comments;  // comment lines since the previous instruction
    std::shared_ptr<Instruction> child; // ONBUILD's instruction

    std::vector<const Flag*> flags_named(std::string_view name) const;
    const Flag* flag(std::string_view name) const; // the last one of that name, or nullptr
};

struct Dockerfile {
    char escape = '\\';
    std::map<std::string, std::string> directives; // lower-case names: syntax, escape, check
    std::vector<Instruction> instructions;
};

// Parses a Dockerfile. Throws Error(Errc::invalid, "line N: ...") on malformed input.
Dockerfile parse_dockerfile(std::string_view text);

// A parsed --mount flag of RUN (BuildKit: type=bind|cache|tmpfs|secret|ssh, CSV of key=value).
struct Mount {
    std::string type = "bind";
    std::string target; // target=, dst=, destination=
    std::string source; // source=, src=
    std::string from;
    std::string id;
};
// Throws Error(Errc::invalid) for an unknown type or a missing target where one is required.
Mount parse_mount(std::string_view value);

} // namespace gantry::dockerfile
