// docker's detach keys (runtime/detach_keys.hpp).
#include "runtime/detach_keys.hpp"

#include "util/error.hpp"
#include "util/text.hpp"

namespace gantry::runtime {

namespace {

Error api_dk_invalid(const std::string& keys, const std::string& why) {
    return Error(Errc::usage, "Invalid detach keys (" + keys + ") provided: " + why,
                 "give keys as docker does: ctrl-<a-z, @, [, \\, ], ^ or _> or one character, "
                 "separated by commas (the default is ctrl-p,ctrl-q)");
}

} // namespace

DetachKeys DetachKeys::parse(const std::string& keys) {
    DetachKeys d;
    const std::string given = keys.empty() ? kDefaultDetachKeys : keys;
    for (auto& key : text::split(given, ',')) {
        std::string k(key);
        if (k.size() == 1) {
            d.keys_.push_back(k[0]);
        } else if (k.size() == 6 && k.rfind("ctrl-", 0) == 0) {
            char c = k[5];
            if (c >= 'a' && c <= 'z')
                d.keys_.push_back(static_cast<char>(c - 'a' + 1));
            else if (c == '@' || c == '[' || c == '\\' || c == ']' || c == '^' || c == '_')
                d.keys_.push_back(static_cast<char>(c - '@')); // ctrl-@ is 0, ctrl-_ 31
            else
                throw api_dk_invalid(keys, "unknown character '" + std::string(1, c) + "'");
        } else {
            throw api_dk_invalid(keys, "\"" + k + "\" is not a key");
        }
    }
    return d;
}

std::string DetachKeys::scan(std::string_view data, bool& detached) {
    detached = false;
    std::string out;
    for (char c : data) {
        if (c == keys_[held_]) {
            if (++held_ == keys_.size()) {
                held_ = 0;
                detached = true;
                return out;
            }
            continue;
        }
        out.append(keys_, 0, held_); // the sequence broke: what was held goes on
        held_ = 0;
        if (c == keys_[0])
            held_ = 1;
        else
            out.push_back(c);
    }
    return out;
}

} // namespace gantry::runtime
