// ADD of a URL (http or https): the file fetched with the registry HTTP stack (libcurl, with
// the system's CAs; redirects followed) into the build's work directory, hashed on the way, its
// name the URL path's last segment (or `index.html`, as docker), mode 0600 and the
// Last-Modified time, as BuildKit writes it; never extracted. `ADD --checksum=sha256:HEX` is
// verified before the file is used. Its content digest goes into the step's cache key, so an
// unchanged download is a cache hit.
#pragma once

#include <filesystem>
#include <string>

namespace gantry::image_build {

struct Fetched {
    std::filesystem::path dir; // holds the one file `name`
    std::string name;
    std::string digest; // "sha256:..."
};

bool is_url(const std::string& source);

// Error(network) for a failed transfer or a non-2xx status (named), Error(invalid) for a
// checksum mismatch, Error(io) past MAX_BYTES.
Fetched fetch_url(const std::string& url, const std::filesystem::path& dir,
                  const std::string& checksum, std::uint64_t max_bytes = 64ull << 30);

} // namespace gantry::image_build
