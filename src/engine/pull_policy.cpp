#include "engine/pull_policy.hpp"

#include "util/config_file.hpp"
#include "util/error.hpp"
#include "util/spelling.hpp"

namespace gantry::engine {

namespace {

constexpr text::Spelling<PullPolicy> kWords[] = {{PullPolicy::missing, "missing"},
                                                 {PullPolicy::always, "always"},
                                                 {PullPolicy::newer, "newer"},
                                                 {PullPolicy::never, "never"},
                                                 {PullPolicy::lazy, "lazy"}};

constexpr const char* kExample = "it is YAML, e.g. `pull_policy: never`";

} // namespace

PullPolicy parse_pull_policy(std::string_view word, const std::string& where) {
    if (auto p = text::value_for(kWords, word)) return *p;
    throw Error(Errc::usage, where + ": \"" + std::string(word) + "\" is not a pull policy",
                "use missing (the default: pull an image the store lacks), always, newer, never "
                "or lazy");
}

PullPolicy pull_policy(const std::string& flag) {
    if (!flag.empty()) return parse_pull_policy(flag, "--pull");
    std::string file;
    yaml::Node doc = config_file::load(file, kExample);
    const yaml::Node* key = doc.kind == yaml::Node::Kind::map ? doc.find("pull_policy") : nullptr;
    if (!key || key->kind == yaml::Node::Kind::null) return PullPolicy::missing;
    const std::string where = file + " line " + std::to_string(key->line) + ": pull_policy";
    if (key->kind != yaml::Node::Kind::scalar)
        throw Error(Errc::invalid, where + " is not a word", "write e.g. `pull_policy: never`");
    try {
        return parse_pull_policy(key->value, where);
    } catch (const Error& e) {
        throw Error(Errc::invalid, e.message(), e.hint());
    }
}

const char* pull_policy_word(PullPolicy policy) {
    return text::word_for(kWords, policy, "missing");
}

} // namespace gantry::engine
