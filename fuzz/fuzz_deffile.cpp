// Fuzzes the Apptainer definition file parser (deffile/parse, deffile/sections) and {{ var }}
// substitution (deffile/arguments), as `gantry build -f FILE.def` reads a definition file.
#include "deffile/arguments.hpp"
#include "deffile/deffile.hpp"
#include "fuzz_support.hpp"

using namespace gantry;

GANTRY_FUZZ_TARGET(deffile) {
    std::string_view in = fuzz::bytes(data, size);
    (void)deffile::looks_like_definition(in);
    fuzz::expect_error([&] {
        auto def = deffile::parse(in, "fuzz.def");
        FUZZ_CHECK(!def.stages.empty());
        int last = 0;
        for (const auto& st : def.stages) {
            FUZZ_CHECK(st.line > last);
            last = st.line;
            FUZZ_CHECK(!st.bootstrap().empty());
            for (const auto& s : st.sections) {
                FUZZ_CHECK(s.line > st.line);
                if (s.name == "files") (void)deffile::file_copies(s, "fuzz.def");
                if (s.name == "labels") (void)deffile::labels(s, "fuzz.def");
            }
        }
        auto used = deffile::substitute(def, {{"A", "a"}, {"B", "{{A}}"}}, "fuzz.def");
        FUZZ_CHECK(used.size() <= 2);
        std::size_t total = 0;
        for (const auto& st : def.stages)
            for (const auto& s : st.sections) total += s.body.size();
        FUZZ_CHECK(total <= 2 * deffile::kMaxSubstituted);
    });
    return 0;
}
