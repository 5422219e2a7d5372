// cdi/spec_versions: the CDI spec version rules (specs-go/version.go): the versions there are,
// which content needs which version (mount type 0.4.0, hostPath and device names starting with a
// digit 0.5.0, annotations 0.6.0, intelRdt and additionalGids 0.7.0, netDevices 1.1.0, ...), and
// from those the lowest cdiVersion a spec can declare. gantry writes that lowest version, so
// older consumers load its specs too.
#pragma once

#include "cdi/spec_model.hpp"

#include <optional>
#include <string>
#include <vector>

namespace gantry::cdi {

// The versions gantry knows, oldest first ("0.1.0" … "1.1.0").
const std::vector<std::string>& known_versions();
// Compares "X.Y.Z" (optional leading "v"); nullopt when either is malformed.
std::optional<int> compare_versions(const std::string& a, const std::string& b);

// A version some content of a spec needs, and the field that needs it ("devices[0].annotations").
struct VersionNeed {
    std::string version, field;
};
// The highest version the spec's content needs: {"0.3.0", "the CDI format itself"} when
// nothing needs more.
VersionNeed required_version(const Spec& spec);
// The lowest cdiVersion that can carry this spec's content (at least 0.3.0).
std::string minimum_version(const Spec& spec);

// The problems of the spec's cdiVersion, each starting with "cdiVersion: ": missing, unknown,
// or below required_version().
std::vector<std::string> check_version(const Spec& spec);

} // namespace gantry::cdi
