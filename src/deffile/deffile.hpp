// deffile/: Apptainer's definition files (FILE.def) read as hostile input: the model and the
// parser (this header), and `{{ var }}` substitution from %arguments and --build-arg
// (arguments.hpp). No Debian library reads them; the grammar is Apptainer's own parser's
// (pkg/build/types/parser/deffile.go): a stage starts at a line beginning `Bootstrap:`; its
// header is `Key: value` lines (`#` comments, a trailing `\` continues a value) up to the first
// line whose first word starts with `%`, which opens a section; a section's body is every line
// up to the next such line. gantry reads what it honours and refuses the rest by name: header
// keys other than Bootstrap, From and Stage, bootstrap agents other than docker, docker-daemon,
// oci, localimage, oras and scratch, unknown sections, section arguments it would not apply, an
// %app* section without a plain app name (%setup and %pre are read: image_build runs them on the
// host as the user). A section written twice is concatenated, as Apptainer's parser does (the
// later arguments winning; %files sections stay apart; a SCIF app's sections keyed by its app).
// Every refusal is Error(invalid or unsupported) with "FILE:LINE: ..." and a hint. What the
// sections become in an image is image_build/definition.hpp's.
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace gantry::deffile {

// The largest definition file read (Apptainer's own reads any size; a larger recipe is not one).
inline constexpr std::size_t kMaxDefinition = 4u << 20;

struct HeaderValue {
    std::string value;
    int line = 0;
};

struct Section {
    std::string name; // lower case, without '%': "post", "files"
    std::string args; // the rest of the %name line, trimmed ("from build", "-c /bin/bash")
    std::string body; // the lines after it, each ending in '\n'
    int line = 0;     // the %name line
};

struct FileCopy {
    std::string src, dst; // dst empty: the same path as src
    int line = 0;
};

struct Stage {
    int line = 0;                                        // its Bootstrap: line
    std::map<std::string, HeaderValue> header;           // lower-case keys: bootstrap, from, stage
    std::vector<Section> sections;                       // in the order written
    std::string bootstrap() const;                       // lower case
    std::string value(const std::string& key) const;     // "" when absent
    const Section* section(std::string_view name) const; // the first of that name, or nullptr
};

struct Definition {
    std::vector<Stage> stages;
};

// Parses TEXT (named FILE in messages). Throws Error(invalid) for malformed input and
// Error(unsupported) for what gantry does not honour, each "FILE:LINE: ..." with a hint.
Definition parse(std::string_view text, const std::string& file);

// Whether TEXT reads as a definition file: its first line that is neither blank nor a comment
// starts with `Bootstrap:` (any case).
bool looks_like_definition(std::string_view text);

// A %files section's lines: "SRC [DST]" (double or single quotes keep spaces). Error(invalid)
// for a line of more than two words.
std::vector<FileCopy> file_copies(const Section& s, const std::string& file);

// %labels: "NAME VALUE" lines (the value is the rest of the line, trimmed).
std::vector<std::pair<std::string, std::string>> labels(const Section& s, const std::string& file);

} // namespace gantry::deffile
