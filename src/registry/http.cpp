#include "registry/http.hpp"

#include "registry/curl.hpp"
#include "registry/transfer_bounds.hpp"
#include "util/text.hpp"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <deque>
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

using mono = std::chrono::steady_clock;

double seconds(mono::duration d) {
    return std::chrono::duration<double>(d).count();
}

// The Transport's bounds on one attempt, checked from curl's progress callback (called at least
// once a second, transfer or not): the rate over the last window, the overall bound, the wait
// for the answer to an upload. curl's own low-speed check cannot tell that wait from a stall,
// nor say what rate it saw.
struct Meter {
    enum class Hit { none, rate, total, reply };
    long min_rate = 1;
    long window = 60;       // seconds
    long long total_ms = 0; // 0: none
    long long reply_ms = 0; // 0: none
    bool upload = false;
    mono::time_point start = mono::now();
    mono::time_point reply_since{};
    bool awaiting = false;
    std::deque<std::pair<mono::time_point, double>> samples{{start, 0.0}}; // (when, bytes moved)
    Hit hit = Hit::none;
    double seen_bytes = 0, seen_secs = 0; // what the verdict was made on

    bool over(double dl, double ultotal, double ul) {
        const auto now = mono::now();
        const double moved = dl + ul, elapsed = seconds(now - start);
        if (total_ms > 0 && elapsed * 1000 >= static_cast<double>(total_ms)) {
            seen_bytes = moved;
            seen_secs = elapsed;
            hit = Hit::total;
            return true;
        }
        if (upload && ul >= ultotal && dl == 0) { // the body is sent: the registry's turn
            if (!awaiting) reply_since = now;
            awaiting = true;
            seen_secs = seconds(now - reply_since);
            if (reply_ms > 0 && seen_secs * 1000 >= static_cast<double>(reply_ms)) {
                hit = Hit::reply;
                return true;
            }
            samples.assign(1, {now, moved}); // the rate's window starts with its answer
            return false;
        }
        // a sample every 100 ms (every window/300 for windows over 30 s: at most ~300 kept)
        if (now - samples.back().first >=
            std::max<mono::duration>(std::chrono::milliseconds(100),
                                     std::chrono::milliseconds(window * 1000 / 300)))
            samples.emplace_back(now, moved);
        const auto horizon = now - std::chrono::seconds(window);
        while (samples.size() >= 2 && samples[1].first <= horizon) samples.pop_front();
        if (samples.front().first > horizon) return false; // not a window yet
        seen_secs = seconds(now - samples.front().first);
        seen_bytes = moved - samples.front().second;
        if (seen_bytes >= static_cast<double>(min_rate) * seen_secs) return false;
        hit = Hit::rate;
        return true;
    }
};

struct Exchange {
    const HttpRequest* req;
    Response* resp;
    CURL* h;
    bool started = false; // on_headers called
    bool sink_failed = false;
    std::exception_ptr error; // thrown by a callback
    std::uint64_t sent = 0;
    Meter meter;
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

int on_progress(void* ud, curl_off_t, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow) {
    if (pid_t parent = watched_parent.load(std::memory_order_relaxed);
        parent > 0 && ::getppid() != parent) {
        static constexpr char msg[] =
            "gantry: the process this image was served for has ended: the serving process "
            "stops (a transfer was in flight)\n";
        [[maybe_unused]] auto n = ::write(2, msg, sizeof msg - 1);
        ::_exit(1);
    }
    auto* x = static_cast<Exchange*>(ud);
    if (x->req->cancelled && x->req->cancelled()) return 1;
    return x->meter.over(static_cast<double>(dlnow), static_cast<double>(ultotal),
                         static_cast<double>(ulnow))
               ? 1
               : 0;
}

// What URL asks for, in words ("manifest library/busybox:1.36", "blob sha256:… of
// library/busybox", "an upload to library/busybox") and the host it asks ("registry HOST").
std::pair<std::string, std::string> target_of(const std::string& url) {
    std::string_view rest = url;
    if (auto p = rest.find("://"); p != std::string_view::npos) rest.remove_prefix(p + 3);
    auto slash = rest.find('/');
    std::string host(rest.substr(0, slash));
    std::string path(slash == std::string_view::npos ? "/" : rest.substr(slash));
    path = path.substr(0, path.find('?'));
    if (!path.starts_with("/v2/")) return {"the answer to " + path, host};
    std::string api = path.substr(4);
    host = "registry " + host;
    if (api.empty()) return {"the API root /v2/", host};
    if (auto m = api.rfind("/manifests/"); m != std::string::npos) {
        std::string ref = api.substr(m + 11);
        return {"manifest " + api.substr(0, m) + (ref.find(':') == std::string::npos ? ":" : "@") +
                    ref,
                host};
    }
    if (auto u = api.find("/blobs/uploads"); u != std::string::npos)
        return {"an upload to " + api.substr(0, u), host};
    if (auto b = api.rfind("/blobs/"); b != std::string::npos)
        return {"blob " + api.substr(b + 7) + " of " + api.substr(0, b), host};
    return {path, host};
}

std::string fixed1(double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.1f", v);
    return buf;
}

// The message of an attempt a Meter bound ended.
std::string bound_message(const Meter& m, const HttpRequest& req, const std::string& effective) {
    auto [what, host] = target_of(req.url);
    if (!effective.empty() && effective != req.url) {
        auto [w2, host2] = target_of(effective);
        if (host2 != host) host += " (redirected to " + host2 + ")";
    }
    const std::string rate = m.seen_secs > 0 ? fixed1(m.seen_bytes / m.seen_secs) : "0.0";
    // a download "from registry HOST was sent too slowly"; an upload: the registry took it so
    const std::string slow = m.upload ? host + " took " + what + " too slowly"
                                      : what + " from " + host + " was sent too slowly";
    switch (m.hit) {
    case Meter::Hit::rate:
        return slow + ": " + std::to_string(static_cast<long long>(m.seen_bytes)) +
               " bytes in the last " + fixed1(m.seen_secs) + " s (" + rate +
               " bytes/s), under the floor of " + std::to_string(m.min_rate) + " bytes/s over " +
               std::to_string(m.window) + " s: abandoned";
    case Meter::Hit::total:
        return slow + ": not done within its bound of " +
               fixed1(static_cast<double>(m.total_ms) / 1000) + " s (" +
               std::to_string(static_cast<long long>(m.seen_bytes)) + " bytes moved, " + rate +
               " bytes/s): abandoned";
    default:
        return host + " did not answer " + what + " within " +
               fixed1(static_cast<double>(m.reply_ms) / 1000) +
               " s of its last byte being sent: abandoned";
    }
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
    // The bounds (Meter): the Transport's, or transfer_bounds.hpp's where it leaves them unset
    // (read only then: the lazy path's serving process sets its own and reads no config file).
    const bool upload = req.method == "PUT" || req.method == "POST" || req.method == "PATCH";
    const bool document = !req.sink && req.body_fd < 0;
    TransferBounds b;
    if (t.min_rate <= 0 || t.stall_timeout <= 0 ||
        (t.document_time <= 0 && (t.time_base <= 0 || upload)))
        b = transfer_bounds();
    Meter& m = x.meter;
    m.min_rate = t.min_rate > 0 ? t.min_rate : b.min_rate;
    m.window = t.stall_timeout > 0 ? t.stall_timeout : b.rate_window;
    const long document_time = t.document_time > 0 ? t.document_time : b.document_time;
    if (t.time_base > 0)
        m.total_ms = t.time_limit_ms(req.expected_bytes);
    else if (document)
        m.total_ms =
            static_cast<long long>(document_time) * 1000 +
            static_cast<long long>(std::min<std::uint64_t>(req.expected_bytes, 1ull << 40) * 1000 /
                                   static_cast<std::uint64_t>(m.min_rate));
    m.upload = upload;
    m.reply_ms = static_cast<long long>(document_time) * 1000;
    // curl's own bound, a backstop only: the Meter's fires first and says why
    if (m.total_ms > 0) c.easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(m.total_ms + 5000));
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

    const bool has_body = upload;
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

    m.start = mono::now();
    m.samples.assign(1, {m.start, 0.0});
    CURLcode rc = c.easy_perform(h);
    if (x.error) std::rethrow_exception(x.error);
    if (rc != CURLE_OK && m.hit != Meter::Hit::none) {
        char* eff = nullptr;
        c.easy_getinfo(h, CURLINFO_EFFECTIVE_URL, &eff);
        throw TransportError(bound_message(m, req, eff ? eff : ""),
                             t.bounds_hint.empty() ? kTransferBoundsHint : t.bounds_hint,
                             CURLE_OPERATION_TIMEDOUT, false, true);
    }
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
