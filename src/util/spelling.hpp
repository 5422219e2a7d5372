// Enumerations spelled as words: one table of {value, word} pairs serves both directions, where a
// switch (value -> word) and a chain of ifs (word -> value) would each list every value.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

namespace gantry::text {

template <class E>
struct Spelling {
    E value;
    const char* word;
};

// The word TABLE spells VALUE with; OTHERWISE for a value the table does not list.
template <class E, std::size_t N>
constexpr const char* word_for(const Spelling<E> (&table)[N], E value, const char* otherwise) {
    for (const auto& s : table)
        if (s.value == value) return s.word;
    return otherwise;
}

// The value TABLE spells WORD with (exactly: case and all); nullopt for a word it does not list.
template <class E, std::size_t N>
constexpr std::optional<E> value_for(const Spelling<E> (&table)[N], std::string_view word) {
    for (const auto& s : table)
        if (word == s.word) return s.value;
    return std::nullopt;
}

} // namespace gantry::text
