// The functions a template calls by name (functions.cpp).
#pragma once

#include "gotemplate/template.hpp"

namespace gantry::gotemplate {

// FN applied to ARGS (and/or are the executor's: they stop early). HEADER: docker's header
// pass, where its own functions return their first argument. Error(usage) without a place.
json call_function(const std::string& fn, const std::vector<json>& args, bool header);

} // namespace gantry::gotemplate
