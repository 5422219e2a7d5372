// Which fields of a bundle's config.json gantry honours: every key of the runtime spec (1.2) is
// either read by RuntimeSpec::from_json and applied, or refused here at create, naming the
// field and why, so that nothing a caller asks for is silently dropped (issue 37;
// docs/oci-runtime.md's table of fields). A key the spec does not define is refused the same
// way, except under "annotations" (free-form) and "linux.resources", "linux.seccomp" (checked
// field by field by their own readers).
#pragma once

#include <nlohmann/json.hpp>

namespace gantry::oci {

// Throws Error(invalid) for the first field of CONFIG (a parsed config.json) that gantry does
// not implement, with its path ("linux.intelRdt", "mounts[2].uidMappings") and the fix. An
// empty value (null, "", [], {}) asks for nothing and is accepted.
void check_spec_fields(const nlohmann::json& config);

} // namespace gantry::oci
