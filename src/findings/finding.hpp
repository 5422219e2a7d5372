// findings: what doctor, lint and analyze report, in one model with one severity scale. A finding
// has a stable ID ("CUDA-DRIVER-TOO-OLD", "GL003", "DEVEL-TOOLCHAIN"), a severity, one sentence
// naming the thing, and the fix; lint's add where in the Dockerfile (Location), analyze's the
// files and bytes behind it (Subject). The rules themselves live with their owners (the vendors'
// doctor rules under gpu_vendors/, lint/, analyze/); each report spells the scale in its own
// words at its output edge (Words), so their JSON and text keep the fields and words they had.
#pragma once

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace gantry::findings {

// The one scale, least severe first: pass < info < warn < fail.
enum class Severity { pass, info, warn, fail };

// The words a report spells the scale with. doctor (and analyze, which uses info and warn):
// "pass", "info", "warn", "fail"; lint (hadolint's words): "info", "warning", "error", where
// fail is "error", warn is "warning" and pass has no word.
enum class Words { doctor, lint };

// The word for S; "?" for a severity WORDS has no word for (lint's pass).
const char* to_string(Severity s, Words words = Words::doctor);
// The severity WORD names in WORDS (exactly); nullopt for any other word.
std::optional<Severity> parse(std::string_view word, Words words = Words::doctor);

// lint: where in the Dockerfile (line 0: nowhere, a finding of another report).
struct Location {
    int line = 0;
    int column = 1;
    std::string stage;           // stage name or index
    std::size_t instruction = 0; // index in the Dockerfile's instructions (for pragmas)
};

// analyze: the files behind a finding and what removing them would save.
struct Subject {
    std::string title;
    std::uint64_t bytes = 0;                                  // what removing the cause would save
    std::uint64_t count = 0;                                  // files involved
    std::vector<std::pair<std::string, std::uint64_t>> paths; // largest first (a sample)
    std::string slim_class; // the `gantry slim --remove` class that removes it ("" if none)
    nlohmann::json details = nlohmann::json::object();
};

struct Finding {
    std::string id; // stable: "HOST-NO-DRIVER", "GL003", "DEVEL-TOOLCHAIN"
    Severity severity = Severity::pass;
    std::string message; // names the thing
    std::string fix;     // what to do instead
    int version = 0;     // a doctor rule's toolkit version it was about (encoded); 0: none
    Location at;         // lint's
    Subject subject;     // analyze's
};

// analyze's severity for a finding that costs BYTES: warn from 10 MB on, else info.
Severity by_size(std::uint64_t bytes);
// Keeps the N largest of PATHS (ties: by name), largest first: a Subject's sample.
void keep_largest(std::vector<std::pair<std::string, std::uint64_t>>& paths, std::size_t n = 10);

// The worst severity among the findings (pass for none).
Severity worst(const std::vector<Finding>& f);
// True when some finding is at least as severe as THRESHOLD (nullopt: never).
bool reaches(const std::vector<Finding>& f, std::optional<Severity> threshold);

} // namespace gantry::findings
