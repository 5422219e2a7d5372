#include "lint/rx.hpp"

#include <stdexcept>

namespace gantry::lint {

namespace {

re2::RE2::Options rx_options(RxCase letter_case) {
    re2::RE2::Options o;
    o.set_encoding(re2::RE2::Options::EncodingLatin1);
    o.set_case_sensitive(letter_case == RxCase::sensitive);
    o.set_log_errors(false);
    return o;
}

} // namespace

Rx::Rx(std::string_view pattern, RxCase letter_case)
    : re_(re2::StringPiece(pattern.data(), pattern.size()), rx_options(letter_case)) {
    if (!re_.ok())
        throw std::logic_error("lint: pattern " + std::string(pattern) + ": " + re_.error());
}

bool rx_find(std::string_view s, RxMatch* m, const Rx& re, bool whole) {
    const re2::StringPiece text(s.data(), s.size());
    const auto anchor = whole ? re2::RE2::ANCHOR_BOTH : re2::RE2::UNANCHORED;
    if (m == nullptr) return re.re2().Match(text, 0, text.size(), anchor, nullptr, 0);
    std::vector<re2::StringPiece> pieces(1 + re.re2().NumberOfCapturingGroups());
    if (!re.re2().Match(text, 0, text.size(), anchor, pieces.data(),
                        static_cast<int>(pieces.size())))
        return false;
    m->groups_.assign(pieces.size(), {});
    for (std::size_t i = 0; i < pieces.size(); ++i)
        if (pieces[i].data() != nullptr) m->groups_[i] = {std::string(pieces[i]), true};
    return true;
}

std::string rx_replace(std::string s, const Rx& re, std::string_view rewrite) {
    re2::RE2::GlobalReplace(&s, re.re2(), re2::StringPiece(rewrite.data(), rewrite.size()));
    return s;
}

} // namespace gantry::lint
