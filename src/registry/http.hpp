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
#include <vector>

namespace gantry::registry {

struct Transport {
    bool tls_verify = true;
    std::string ca_pem;                  // extra trusted CA certificates, added to the system's
    std::string client_cert, client_key; // PEM files for mutual TLS (certs.d/*.cert, *.key)
    long connect_timeout = 30;           // seconds
    long stall_timeout = 60;             // abort when no byte moved for this long (seconds)
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
    // Called once the final response's status and headers are known, before its body.
    std::function<void(const Response&)> on_headers;
    // Receives the body of 2xx responses instead of Response::body; returns false to abort.
    std::function<bool(const char*, std::size_t)> sink;
    // Polled during the transfer; true aborts it (perform then throws Error(network)).
    std::function<bool()> cancelled;
};

// A failure below HTTP: DNS, connect, TLS, timeout, dropped connection.
class TransportError : public Error {
  public:
    TransportError(std::string message, std::string hint, int curl_code, bool tls)
        : Error(Errc::network, std::move(message), std::move(hint)), curl_code_(curl_code),
          tls_(tls) {}
    int curl_code() const { return curl_code_; }
    bool tls() const { return tls_; } // the TLS handshake or certificate check failed
    bool aborted() const;             // by the sink or cancelled()

  private:
    int curl_code_;
    bool tls_;
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

using text::url_escape; // util/text.hpp

} // namespace gantry::registry
