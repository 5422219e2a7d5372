// What the OCI image document tests share (test_image_*.cpp): three digests, catching a
// gantry::Error as a value (code, message, hint), and a minimal one-layer manifest document.
#pragma once

#include "oci/image.hpp"
#include "util/error.hpp"

#include <optional>
#include <string>

// Named, not anonymous: the unit tests may be built as one translation unit (a unity build).
namespace oci_image_test {

using gantry::Errc;
using gantry::Error;
using gantry::oci::json;
namespace media = gantry::oci::media;

inline const std::string kA = "sha256:" + std::string(64, 'a');
inline const std::string kB = "sha256:" + std::string(64, 'b');
inline const std::string kC = "sha256:" + std::string(64, 'c');

struct Failure {
    Errc code;
    std::string message;
    std::string hint;
};

template <typename F>
std::optional<Failure> failure_of(F&& f) {
    try {
        f();
    } catch (const Error& e) {
        return Failure{e.code(), e.message(), e.hint()};
    }
    return std::nullopt;
}

inline bool contains(const std::string& s, const std::string& part) {
    return s.find(part) != std::string::npos;
}

// A minimal manifest document with one layer.
inline json manifest_doc(const char* mt, const char* config_mt, const char* layer_mt) {
    json j;
    j["schemaVersion"] = 2;
    if (mt) j["mediaType"] = mt;
    j["config"] = {{"mediaType", config_mt}, {"digest", kA}, {"size", 7}};
    j["layers"] = json::array({json{{"mediaType", layer_mt}, {"digest", kB}, {"size", 1234}}});
    return j;
}

} // namespace oci_image_test
