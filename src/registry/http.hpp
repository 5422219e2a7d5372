// One HTTP exchange over libcurl (loaded at run time, see curl.hpp): a request with headers and
// an optional body (memory or a file range), a response whose body is kept in memory or streamed
// to a sink. No retries and no authentication here: client.hpp adds those.
#pragma once

#include "util/error.hpp"
#include "util/text.hpp"

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <sys/types.h>
#include <vector>

namespace gantry::registry {

struct Transport {
    bool tls_verify = true;
    std::string ca_pem;                  // extra trusted CA certificates, added to the system's
    std::string client_cert, client_key; // PEM files for mutual TLS (certs.d/*.cert, *.key)
    long connect_timeout = 30;           // seconds
    // The rate bound: a transfer that moved fewer than MIN_RATE bytes a second over the last
    // STALL_TIMEOUT seconds is abandoned. 0: registry/transfer_bounds.hpp's (1024 bytes a second
    // over 30 s by default, config.yaml's registry_transfer: and GANTRY_REGISTRY_*). The wait
    // for the registry's answer once an upload's body is sent is bounded by DOCUMENT_TIME
    // instead (a registry checks the digest of what it received then).
    long stall_timeout = 0;
    long min_rate = 0;
    // The overall bound on a request for a document (its response kept in memory, its body, if
    // any, from memory: manifests, configs, tokens, indexes): DOCUMENT_TIME seconds plus the
    // expected bytes (HttpRequest::expected_bytes) at MIN_RATE. 0: transfer_bounds.hpp's (60 s).
    // Blobs (a sink or a body_fd) have none: the rate bounds them.
    long document_time = 0;
    // When TIME_BASE > 0, a bound on each attempt's whole time (connection included), documents
    // and blobs alike, instead of the document bound: TIME_BASE seconds plus the expected body
    // (HttpRequest::expected_bytes) at AVERAGE_RATE bytes a second, so that a registry sending
    // just above MIN_RATE cannot hold a request for hours while a big honest body on a slow
    // link still arrives (the lazy path sets it)
    long time_base = 0;
    long average_rate = 0;
    // The fix a bound's error names (the knobs that set it); empty: transfer_bounds.hpp's.
    std::string bounds_hint;
    // The bound above for a body of BYTES, in milliseconds (0: none).
    long long time_limit_ms(std::uint64_t bytes) const;
};

struct Response {
    long status = 0;
    std::map<std::string, std::string> headers; // lower-case names; the last value wins
    std::string body;                           // unless a sink took it
    std::string url;                            // after redirects
    std::string header(const std::string& lower_name) const;
};

struct HttpRequest {
    std::string method = "GET";
    std::string url;
    std::vector<std::string> headers; // "Name: value"
    std::string body;                 // sent for PUT/POST/PATCH when body_fd < 0
    int body_fd = -1;                 // else [body_offset, body_offset + body_length) of this fd
    std::uint64_t body_offset = 0;
    std::uint64_t body_length = 0;
    bool follow_redirects = true; // Authorization headers are never sent to another host
    std::uint64_t max_body = 16u << 20;
    std::uint64_t expected_bytes = 0; // the body's size when known (a Range, a descriptor's size):
                                      // Transport's overall bound grows with it
    // Called once the final response's status and headers are known, before its body.
    std::function<void(const Response&)> on_headers;
    // Receives the body of 2xx responses instead of Response::body; returns false to abort.
    std::function<bool(const char*, std::size_t)> sink;
    // Polled during the transfer; true aborts it (perform then throws Error(network)).
    std::function<bool()> cancelled;
};

// A failure below HTTP: DNS, connect, TLS, timeout, dropped connection, a Transport bound (the
// message then names the registry, the object, the bytes and rate seen and the bound).
class TransportError : public Error {
  public:
    TransportError(std::string message, std::string hint, int curl_code, bool tls,
                   bool bound = false)
        : Error(Errc::network, std::move(message), std::move(hint)), curl_code_(curl_code),
          tls_(tls), bound_(bound) {}
    int curl_code() const { return curl_code_; }
    bool tls() const { return tls_; }     // the TLS handshake or certificate check failed
    bool aborted() const;                 // by the sink or cancelled()
    bool timed_out() const;               // a Transport bound: connecting, too slow, or too long
    bool bound() const { return bound_; } // the rate, a document's or an answer's time bound

  private:
    int curl_code_;
    bool tls_;
    bool bound_;
};

// One curl easy handle: reused for consecutive requests (keep-alive). Not thread-safe.
class Session {
  public:
    Session();
    ~Session();
    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;
    Response perform(const HttpRequest& req, const Transport& t);

  private:
    void* h_ = nullptr;
};

// In a process that must not outlive its parent (a lazy image's serving process, whose parent
// is the `gantry` or monitor process the container belongs to): from now on every transfer's
// progress callback compares getppid() with PARENT and ends the process (_exit, a line on
// stderr) once they differ, so that a transfer in flight never keeps an orphan alive.
// PR_SET_PDEATHSIG is the first line; this covers the window where it was not armed.
void exit_when_orphaned(pid_t parent);

using text::url_escape; // util/text.hpp

} // namespace gantry::registry
