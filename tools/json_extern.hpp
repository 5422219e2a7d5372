// nlohmann::json's templates, declared instantiated elsewhere (C++'s explicit instantiation
// declarations) in the sanitizer build, where each unity batch otherwise compiled its own copy
// of every member function it used: at clang -O0 nothing is inlined, so the batches call the one
// copy that tools/json_instantiation.cpp compiles into gantry_util. That cut a batch's compile
// by 15-20% (docs/testing.md "Build time"). The release build (GCC -O2) does not use it: GCC
// instantiates inline members anyway to inline them, and compiled no faster.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#define GANTRY_JSON_INSTANCES(KIND)                                                                \
    KIND template class nlohmann::basic_json<>;                                                    \
    KIND template class nlohmann::detail::serializer<nlohmann::json>;                              \
    KIND template class nlohmann::detail::json_sax_dom_parser<nlohmann::json>;                     \
    KIND template class nlohmann::detail::json_sax_dom_callback_parser<nlohmann::json>;            \
    KIND template class nlohmann::detail::lexer<                                                   \
        nlohmann::json, nlohmann::detail::iterator_input_adapter<const char*>>;                    \
    KIND template class nlohmann::detail::parser<                                                  \
        nlohmann::json, nlohmann::detail::iterator_input_adapter<const char*>>;                    \
    KIND template class nlohmann::detail::lexer<                                                   \
        nlohmann::json, nlohmann::detail::iterator_input_adapter<std::string::const_iterator>>;    \
    KIND template class nlohmann::detail::parser<                                                  \
        nlohmann::json, nlohmann::detail::iterator_input_adapter<std::string::const_iterator>>;

GANTRY_JSON_INSTANCES(extern)
