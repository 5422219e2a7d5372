#include "registry/http.hpp"

#include "registry/curl.hpp"
#include "util/text.hpp"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstring>
#include <unistd.h>

namespace gantry::registry {

std::string Response::header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? std::string() : it->second;
}

bool TransportError::aborted() const {
    return curl_code_ == CURLE_WRITE_ERROR || curl_code_ == CURLE_ABORTED_BY_CALLBACK;
}

bool TransportError::timed_out() const {
    return curl_code_ == CURLE_OPERATION_TIMEDOUT;
}

long long Transport::time_limit_ms(std::uint64_t bytes) const {
    if (time_base <= 0) return 0;
    long long ms = static_cast<long long>(time_base) * 1000;
    if (average_rate > 0)
        ms += static_cast<long long>(std::min<std::uint64_t>(bytes, std::uint64_t(1) << 40) * 1000 /
                                     static_cast<std::uint64_t>(average_rate));
    return ms;
}

namespace {

std::atomic<pid_t> watched_parent{0}; // exit_when_orphaned's

struct Exchange {
    const HttpRequest* req;
    Response* resp;
    CURL* h;
    bool started = false; // on_headers called
    bool sink_failed = false;
    std::exception_ptr error; // thrown by a callback
    std::uint64_t sent = 0;
};

std::size_t on_header(char* p, std::size_t size, std::size_t n, void* ud) {
    auto* x = static_cast<Exchange*>(ud);
    std::string line(text::trim_right(std::string_view(p, size * n), "\r\n"));
    if (line.starts_with("HTTP/")) { // a new response (redirect, 100-continue): start over
        x->resp->headers.clear();
        return size * n;
    }
    auto colon = line.find(':');
    if (colon == std::string::npos) return size * n;
    std::string name = text::lower(std::string_view(line).substr(0, colon));
    x->resp->headers[name] = text::trim_left(std::string_view(line).substr(colon + 1), " \t");
    return size * n;
}

std::size_t on_write(char* p, std::size_t size, std::size_t n, void* ud) {
    auto* x = static_cast<Exchange*>(ud);
    std::size_t len = size * n;
    try {
        if (!x->started) {
            x->started = true;
            long code = 0;
            curl().easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &code);
            x->resp->status = code;
            if (x->req->on_headers) x->req->on_headers(*x->resp);
        }
        bool ok2xx = x->resp->status >= 200 && x->resp->status < 300;
        if (ok2xx && x->req->sink) {
            if (!x->req->sink(p, len)) {
                x->sink_failed = true;
                return 0;
            }
            return len;
        }
        if (x->resp->body.size() + len > x->req->max_body) {
            x->sink_failed = true;
            x->error = std::make_exception_ptr(
                Error(Errc::invalid,
                      x->req->url + ": the response is larger than " +
                          std::to_string(x->req->max_body >> 20) + " MiB",
                      "the registry sent an unexpected document; check the reference"));
            return 0;
        }
        x->resp->body.append(p, len);
        return len;
    } catch (...) {
        x->error = std::current_exception();
        x->sink_failed = true;
        return 0;
    }
}

std::size_t on_read(char* buf, std::size_t size, std::size_t n, void* ud) {
    auto* x = static_cast<Exchange*>(ud);
    const HttpRequest& r = *x->req;
    std::size_t want = size * n;
    if (r.body_fd >= 0) {
        std::uint64_t left = r.body_length - x->sent;
        want = static_cast<std::size_t>(std::min<std::uint64_t>(want, left));
        if (want == 0) return 0;
        ssize_t got = ::pread(r.body_fd, buf, want, static_cast<off_t>(r.body_offset + x->sent));
        if (got <= 0) return CURL_READFUNC_ABORT;
        x->sent += static_cast<std::uint64_t>(got);
        return static_cast<std::size_t>(got);
    }
    std::size_t left = r.body.size() - static_cast<std::size_t>(x->sent);
    want = std::min(want, left);
    std::memcpy(buf, r.body.data() + x->sent, want);
    x->sent += want;
    return want;
}

int on_progress(void* ud, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
    if (pid_t parent = watched_parent.load(std::memory_order_relaxed);
        parent > 0 && ::getppid() != parent) {
        static constexpr char msg[] =
            "gantry: the process this image was served for has ended: the serving process "
            "stops (a transfer was in flight)\n";
        [[maybe_unused]] auto n = ::write(2, msg, sizeof msg - 1);
        ::_exit(1);
    }
    auto* x = static_cast<Exchange*>(ud);
    return x->req->cancelled && x->req->cancelled() ? 1 : 0;
}

std::string describe(CURLcode rc, const char* errbuf, const std::string& url) {
    std::string detail = errbuf && *errbuf ? errbuf : curl().easy_strerror(rc);
    return url + ": " + detail;
}

bool is_tls_error(CURLcode rc) {
    switch (rc) {
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
        return true;
    default:
        return false;
    }
}

} // namespace

void exit_when_orphaned(pid_t parent) {
    watched_parent.store(parent);
}

Session::Session() {
    h_ = curl().easy_init();
    if (!h_) throw Error(Errc::internal, "curl_easy_init failed");
}

Session::~Session() {
    if (h_) curl().easy_cleanup(static_cast<CURL*>(h_));
}

Response Session::perform(const HttpRequest& req, const Transport& t) {
    const CurlApi& c = curl();
    CURL* h = static_cast<CURL*>(h_);
    c.easy_reset(h); // keeps the connection cache
    Response resp;
    Exchange x{&req, &resp, h};
    char errbuf[CURL_ERROR_SIZE] = {};
    curl_slist* hdrs = nullptr;
    for (auto& s : req.headers) hdrs = c.slist_append(hdrs, s.c_str());
    struct Free {
        curl_slist* l;
        ~Free() {
            if (l) curl().slist_free_all(l);
        }
    };

    c.easy_setopt(h, CURLOPT_URL, req.url.c_str());
    c.easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    c.easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    c.easy_setopt(h, CURLOPT_USERAGENT, "gantry/0.1");
    c.easy_setopt(h, CURLOPT_HEADERFUNCTION, &on_header);
    c.easy_setopt(h, CURLOPT_HEADERDATA, &x);
    c.easy_setopt(h, CURLOPT_WRITEFUNCTION, &on_write);
    c.easy_setopt(h, CURLOPT_WRITEDATA, &x);
    c.easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    c.easy_setopt(h, CURLOPT_XFERINFOFUNCTION, &on_progress);
    c.easy_setopt(h, CURLOPT_XFERINFODATA, &x);
    c.easy_setopt(h, CURLOPT_CONNECTTIMEOUT, t.connect_timeout);
    c.easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, std::max(t.min_rate, 1L));
    c.easy_setopt(h, CURLOPT_LOW_SPEED_TIME, t.stall_timeout);
    if (long long ms = t.time_limit_ms(req.expected_bytes); ms > 0)
        c.easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(ms));
    c.easy_setopt(h, CURLOPT_FOLLOWLOCATION, req.follow_redirects ? 1L : 0L);
    c.easy_setopt(h, CURLOPT_MAXREDIRS, 10L);
    c.easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    c.easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    c.easy_setopt(h, CURLOPT_ACCEPT_ENCODING, nullptr); // blobs are hashed as sent
    c.easy_setopt(h, CURLOPT_SSL_VERIFYPEER, t.tls_verify ? 1L : 0L);
    c.easy_setopt(h, CURLOPT_SSL_VERIFYHOST, t.tls_verify ? 2L : 0L);
    curl_blob ca{const_cast<char*>(t.ca_pem.data()), t.ca_pem.size(), CURL_BLOB_COPY};
    if (!t.ca_pem.empty()) c.easy_setopt(h, CURLOPT_CAINFO_BLOB, &ca);
    if (!t.client_cert.empty()) c.easy_setopt(h, CURLOPT_SSLCERT, t.client_cert.c_str());
    if (!t.client_key.empty()) c.easy_setopt(h, CURLOPT_SSLKEY, t.client_key.c_str());

    bool has_body = req.method == "PUT" || req.method == "POST" || req.method == "PATCH";
    if (req.method == "HEAD") {
        c.easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else if (req.method == "GET") {
        c.easy_setopt(h, CURLOPT_HTTPGET, 1L);
    } else if (has_body) {
        curl_off_t len = req.body_fd >= 0 ? static_cast<curl_off_t>(req.body_length)
                                          : static_cast<curl_off_t>(req.body.size());
        c.easy_setopt(h, CURLOPT_UPLOAD, 1L);
        c.easy_setopt(h, CURLOPT_READFUNCTION, &on_read);
        c.easy_setopt(h, CURLOPT_READDATA, &x);
        c.easy_setopt(h, CURLOPT_INFILESIZE_LARGE, len);
        c.easy_setopt(h, CURLOPT_CUSTOMREQUEST, req.method.c_str());
        hdrs = c.slist_append(hdrs, "Expect:"); // no 100-continue round trip
    } else {
        c.easy_setopt(h, CURLOPT_CUSTOMREQUEST, req.method.c_str());
    }
    Free guard{hdrs};
    c.easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);

    CURLcode rc = c.easy_perform(h);
    if (x.error) std::rethrow_exception(x.error);
    if (rc != CURLE_OK) {
        bool tls = is_tls_error(rc);
        std::string hint =
            tls ? "the registry's certificate is not trusted: add its CA under "
                  "~/.config/gantry/certs.d/HOST:PORT/ca.crt, or pass --tls-verify=false for a "
                  "test registry"
                : "check the registry address and your network; the command can be retried";
        throw TransportError(describe(rc, errbuf, req.url), hint, rc, tls);
    }
    long code = 0;
    c.easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    resp.status = code;
    if (!x.started && req.on_headers) req.on_headers(resp);
    char* eff = nullptr;
    c.easy_getinfo(h, CURLINFO_EFFECTIVE_URL, &eff);
    resp.url = eff ? eff : req.url;
    return resp;
}

} // namespace gantry::registry
