// Image references ("busybox", "nvidia/cuda:12.4", "registry:5000/a/b@sha256:...") parsed and
// normalised the way docker does it (github.com/distribution/reference, ParseNormalizedNamed plus
// TagNameOnly):
//
//   reference  := name [ ":" tag ] [ "@" digest ]
//   name       := [ domain "/" ] path
//   domain     := host [ ":" port ]          host: dns-name | IPv4 | "[" IPv6 "]"; port: [0-9]+
//   path       := component [ "/" component ]*
//   component  := [a-z0-9]+ ( ( "." | "_" | "__" | "-"+ ) [a-z0-9]+ )*
//   tag        := [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}
//   digest     := "sha256:" [a-f0-9]{64}     (other algorithms: Errc::unsupported)
//
// The first path element is a registry domain only if it contains '.' or ':', is "localhost", or
// contains an uppercase letter (docker's rule: namespaces are lowercase, so "Foo/bar" names host
// "Foo"). Otherwise the registry is docker.io; "index.docker.io" is rewritten to "docker.io";
// single-element docker.io paths get "library/". The path (after normalisation) is at most 255
// characters. A bare 64-hex string is rejected: it is an image ID, not a name. enroot's and
// pyxis' REGISTRY#IMAGE[:TAG] ("nvcr.io#nvidia/pytorch:24.01") is read as REGISTRY/IMAGE[:TAG].
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace gantry::oci {

inline constexpr std::string_view kDefaultDomain = "docker.io";
inline constexpr std::string_view kLegacyDefaultDomain = "index.docker.io";
inline constexpr std::string_view kOfficialRepoPrefix = "library/";
inline constexpr std::string_view kDefaultTag = "latest";
inline constexpr std::size_t kMaxPathLength = 255;
inline constexpr std::size_t kMaxTagLength = 128;

struct Reference {
    std::string domain; // "docker.io", "registry.example.com:5000", "localhost", "[::1]:5000"
    std::string path;   // "library/busybox", "nvidia/cuda", "a/b/c"
    std::string tag;    // "" only when a digest was given without a tag (parse() fills "latest")
    std::string digest; // "" or "sha256:<64 lowercase hex>"

    // Parses and normalises s. Throws Error(Errc::invalid, "invalid image reference \"s\":
    // <reason>", hint), or Errc::unsupported for a well-formed digest of another algorithm than
    // sha256. When neither tag nor digest is given, tag is set to "latest"; a tag given together
    // with a digest is kept (str() then prints "repo:tag@digest").
    static Reference parse(std::string_view s);

    // domain + "/" + path: "docker.io/library/busybox".
    std::string repository() const;
    // Docker's short form: docker.io and a lone "library/" dropped: "busybox:latest",
    // "nvidia/cuda:12.4", "ghcr.io/x/y@sha256:...".
    std::string familiar() const;
    // Full normalised form: "docker.io/library/busybox:latest", "repo@sha256:...",
    // "repo:tag@sha256:...".
    std::string str() const;
    // tag, or "latest" if there is neither tag nor digest, or "" for a digest-only reference.
    std::string tag_or_latest() const;

    bool operator==(const Reference&) const = default;
};

// True for what may be a (short) image or blob ID: 4 to 64 lowercase hex characters, optionally
// prefixed "sha256:". Note that such strings ("dbcc1", "cafe") are often valid names as well; the
// caller decides which lookup wins.
bool looks_like_digest_prefix(std::string_view s);

} // namespace gantry::oci
