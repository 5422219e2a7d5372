#include "engine_api/server.hpp"

#include "engine_api/listen.hpp"
#include "engine_api/tls_front.hpp"
#include "records/state.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"
#include "util/fs.hpp"
#include "util/library.hpp"
#include "util/lock.hpp"
#include "util/log.hpp"

#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <microhttpd.h>
#include <mutex>
#include <optional>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <system_error>
#include <thread>
#include <unistd.h>
#include <vector>

namespace gantry::engine_api {

namespace {

// libmicrohttpd's calls, bound once from libmicrohttpd.so.12.
struct ApiSrvMhd {
    decltype(&MHD_start_daemon) start_daemon = nullptr;
    decltype(&MHD_stop_daemon) stop_daemon = nullptr;
    decltype(&MHD_get_connection_values_n) get_values = nullptr;
    decltype(&MHD_get_connection_info) get_info = nullptr;
    decltype(&MHD_lookup_connection_value) lookup = nullptr;
    decltype(&MHD_create_response_from_buffer) from_buffer = nullptr;
    decltype(&MHD_create_response_from_callback) from_callback = nullptr;
    decltype(&MHD_add_response_header) add_header = nullptr;
    decltype(&MHD_queue_response) queue = nullptr;
    decltype(&MHD_destroy_response) destroy = nullptr;
    decltype(&MHD_create_response_for_upgrade) for_upgrade = nullptr;
    decltype(&MHD_upgrade_action) upgrade_action = nullptr;
    decltype(&MHD_add_connection) add_connection = nullptr;
};

const ApiSrvMhd& api_srv_mhd() {
    static const ApiSrvMhd m = [] {
        static const Library lib("libmicrohttpd.so.12", "gantry system service needs libmicrohttpd",
                                 "install it: apt-get install libmicrohttpd12");
        ApiSrvMhd f;
        lib.bind(f.start_daemon, "MHD_start_daemon");
        lib.bind(f.stop_daemon, "MHD_stop_daemon");
        lib.bind(f.get_values, "MHD_get_connection_values_n");
        lib.bind(f.get_info, "MHD_get_connection_info");
        lib.bind(f.lookup, "MHD_lookup_connection_value");
        lib.bind(f.from_buffer, "MHD_create_response_from_buffer");
        lib.bind(f.from_callback, "MHD_create_response_from_callback");
        lib.bind(f.add_header, "MHD_add_response_header");
        lib.bind(f.queue, "MHD_queue_response");
        lib.bind(f.destroy, "MHD_destroy_response");
        lib.bind(f.for_upgrade, "MHD_create_response_for_upgrade");
        lib.bind(f.upgrade_action, "MHD_upgrade_action");
        lib.bind(f.add_connection, "MHD_add_connection");
        return f;
    }();
    return m;
}

struct ApiSrvState {
    const ServiceContext* ctx = nullptr;
    std::atomic<int> connections{0};
    std::atomic<std::int64_t> last_activity_ms{0};
    std::mutex store_mutex; // the store's object is shared by the connections' threads
};

std::int64_t api_srv_now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

// One request's state across the access handler's calls (its body arrives in pieces).
struct ApiSrvRequest {
    std::string uri_raw;          // the target as sent, up to a raw NUL (api_srv_uri)
    const char* uri_at = nullptr; // where libmicrohttpd holds it (then decoded in place)
    bool seen = false;            // the access handler's first call is past
    std::string body;
    bool too_big = false;
    std::map<std::string, std::string> query;
    std::multimap<std::string, std::string> query_all;
    std::string bad_query; // the first query value over the limit
    std::string nul_query; // why the first query parameter with a NUL byte is refused
    // an upload (request.hpp's upload_limit): spooled to UPLOAD_PATH in the store's tmp/
    RouteId upload_route = RouteId::not_found;
    std::uint64_t upload_limit = 0, uploaded = 0;
    Fd upload_fd;
    std::filesystem::path upload_path;
    FileLock upload_lock;     // the store's writer lock: `system prune` leaves tmp/'s file alone
    std::string upload_error; // why the upload could not be spooled ("" : it was)
    ~ApiSrvRequest() {
        if (!upload_path.empty()) ::unlink(upload_path.c_str());
    }
};

// The route URL and METHOD name, when its body is an upload (nothing for a malformed path:
// the request is answered when it ends).
std::optional<RouteId> api_srv_upload_route(const char* url, const char* method) {
    try {
        auto t = split_version(url);
        auto id = match_route(method, t.path).id;
        if (upload_limit(id) > 0) return id;
    } catch (const ApiError&) {
    }
    return std::nullopt;
}

// A file in the store's tmp/ for REQ's upload, removed when the request ends.
void api_srv_open_upload(const ServiceContext& ctx, ApiSrvRequest& req) noexcept {
    auto dir = std::filesystem::path(ctx.store_root) / "tmp";
    try {
        if (ctx.store) req.upload_lock = ctx.store->writer_lock();
        std::string tmpl = (dir / "api-upload-XXXXXX").string();
        int fd = ::mkostemp(tmpl.data(), O_CLOEXEC);
        if (fd < 0) throw_errno("cannot make a file in " + dir.string());
        req.upload_fd = Fd(fd);
        req.upload_path = tmpl;
    } catch (const std::exception& e) {
        req.upload_error = std::string("cannot spool the request's body: ") + e.what();
    }
}

struct ApiSrvStream {
    std::unique_ptr<Stream> stream;
    int fd = -1; // the connection's socket: has the client hung up?
};

// Set when the service stops: every stream that waits (wait, logs -f, events, stats) ends, so
// that libmicrohttpd's connection threads can be joined.
std::atomic<bool>& api_srv_stopping() {
    static std::atomic<bool> stopping{false}; // function-local: no start-up constructor
    return stopping;
}

bool api_srv_gone(int fd) {
    if (api_srv_stopping().load()) return true;
    if (fd < 0) return false;
    pollfd p{fd, POLLIN | POLLRDHUP, 0};
    if (::poll(&p, 1, 0) <= 0) return false;
    if (p.revents & (POLLHUP | POLLRDHUP | POLLERR)) return true;
    char c;
    return ::recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
}

ssize_t api_srv_read(void* cls, std::uint64_t, char* buf, std::size_t max) {
    auto* s = static_cast<ApiSrvStream*>(cls);
    try {
        std::size_t n = s->stream->read(buf, max, [s] { return api_srv_gone(s->fd); });
        return n == 0 ? MHD_CONTENT_READER_END_OF_STREAM : static_cast<ssize_t>(n);
    } catch (const std::exception&) {
        return MHD_CONTENT_READER_END_WITH_ERROR;
    }
}

void api_srv_free(void* cls) {
    delete static_cast<ApiSrvStream*>(cls);
}

// docker's hijack: the 101 answer sent, the connection's socket is the handler's until it
// returns (in this connection's own thread: one thread per connection). Over TLS the socket is
// one end of tls_front.hpp's socketpair: libmicrohttpd sees plain connections only.
void api_srv_upgraded(void* cls, MHD_Connection*, void*, const char* extra_in,
                      std::size_t extra_in_size, MHD_socket sock, MHD_UpgradeResponseHandle* urh) {
    std::unique_ptr<Hijack> h(static_cast<Hijack*>(cls));
    int flags = ::fcntl(sock, F_GETFL);
    if (flags >= 0) ::fcntl(sock, F_SETFL, flags & ~O_NONBLOCK);
    try {
        h->run(sock, std::string(extra_in ? extra_in : "", extra_in ? extra_in_size : 0));
    } catch (const std::exception& e) {
        log::debug(std::string("engine api: a hijacked connection failed: ") + e.what());
    }
    h.reset();
    api_srv_mhd().upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
}

// The client's process on a unix socket (0 where the socket cannot say, and for the TLS front's
// socket pairs, whose peer is this process).
pid_t api_srv_client_pid(MHD_Connection* c) {
    auto* info = api_srv_mhd().get_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    ucred cred{};
    socklen_t len = sizeof cred;
    if (!info || ::getsockopt(info->connect_fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 ||
        cred.pid <= 0 || cred.pid == ::getpid())
        return 0;
    return cred.pid;
}

MHD_Result api_srv_queue(MHD_Connection* c, Response res) {
    const auto& m = api_srv_mhd();
    MHD_Response* r = nullptr;
    if (res.hijack) {
        // docker's clients ask for it (Connection: Upgrade, Upgrade: tcp); without it there is
        // no way to hand them the connection
        const char* up = m.lookup(c, MHD_HEADER_KIND, "Upgrade");
        if (!up || std::strcmp(up, "tcp") != 0)
            return api_srv_queue(c, error_response(400, "this endpoint hijacks the connection: "
                                                        "send Connection: Upgrade and Upgrade: "
                                                        "tcp, as docker's clients do"));
        Hijack* h = res.hijack.release();
        r = m.for_upgrade(&api_srv_upgraded, h);
        if (!r) {
            delete h;
            return MHD_NO;
        }
        m.add_header(r, "Upgrade", "tcp");
        res.status = 101;
    } else if (res.stream) {
        auto* s = new ApiSrvStream{std::move(res.stream), -1};
        if (auto* info = m.get_info(c, MHD_CONNECTION_INFO_CONNECTION_FD)) s->fd = info->connect_fd;
        r = m.from_callback(MHD_SIZE_UNKNOWN, 32 * 1024, &api_srv_read, s, &api_srv_free);
        if (!r) api_srv_free(s);
    } else {
        r = m.from_buffer(res.body.size(), res.body.data(), MHD_RESPMEM_MUST_COPY);
    }
    if (!r) return MHD_NO;
    if (!res.content_type.empty() && res.status != 204 && res.status != 304)
        m.add_header(r, "Content-Type", res.content_type.c_str());
    m.add_header(r, "Api-Version", kApiVersion);
    m.add_header(r, "Docker-Experimental", "false");
    m.add_header(r, "Ostype", "linux");
    m.add_header(r, "Server", "gantry (linux)");
    for (auto& [k, v] : res.headers) m.add_header(r, k.c_str(), v.c_str());
    MHD_Result ret = m.queue(c, static_cast<unsigned>(res.status), r);
    m.destroy(r);
    return ret;
}

Response api_srv_too_big() {
    return error_response(400, "the request body is larger than " + std::to_string(kMaxBodyBytes) +
                                   " bytes, the most gantry's Engine API reads");
}

// every query parameter, with its decoded bytes' length: a NUL (%00) is seen, not cut at
MHD_Result api_srv_arg(void* cls, MHD_ValueKind, const char* key, std::size_t key_size,
                       const char* value, std::size_t value_size) {
    auto* req = static_cast<ApiSrvRequest*>(cls);
    std::string k(key ? key : "", key ? key_size : 0);
    std::string v(value ? value : "", value ? value_size : 0);
    try {
        check_query_param(k, v);
    } catch (const ApiError& e) {
        if (req->nul_query.empty()) req->nul_query = e.what();
    }
    if (v.size() > kMaxQueryValueBytes && req->bad_query.empty()) req->bad_query = k;
    req->query_all.emplace(k, v);
    req->query.emplace(std::move(k), std::move(v)); // the first of a repeated key, as docker's
    return MHD_YES;
}

bool api_srv_uses_store(RouteId id) {
    switch (id) {
    case RouteId::info:
    case RouteId::containers_list:
    case RouteId::images_list:
    case RouteId::image_inspect:
    case RouteId::image_history:
    case RouteId::image_delete:
    case RouteId::image_tag:
        return true;
    default:
        return false;
    }
}

// A raw NUL byte in the request target: libmicrohttpd ends the target at the space before the
// version (which it NUL-terminates), so a target whose text ends before that space held one.
bool api_srv_hidden_nul(const ApiSrvRequest& req, const char* version) {
    if (!req.uri_at || !version) return false;
    auto at = reinterpret_cast<std::uintptr_t>(req.uri_at);
    auto ver = reinterpret_cast<std::uintptr_t>(version);
    return ver > at + req.uri_raw.size() + 1 && ver - at <= kMaxHeaderBytes && version[-1] == '\0';
}

MHD_Result api_srv_access(void* cls, MHD_Connection* c, const char* url, const char* method,
                          const char* version, const char* upload, std::size_t* upload_size,
                          void** con_cls) {
    auto* st = static_cast<ApiSrvState*>(cls);
    st->last_activity_ms = api_srv_now_ms();
    auto* req = static_cast<ApiSrvRequest*>(*con_cls);
    if (!req) { // made by api_srv_uri, always; a request without it has no raw target
        req = new ApiSrvRequest;
        *con_cls = req;
    }
    if (!req->seen) {
        req->seen = true;
        // a NUL in the path: refused before routing (the decoded URL is cut at it)
        if (api_srv_hidden_nul(*req, version)) req->uri_raw.push_back('\0');
        try {
            check_raw_target(req->uri_raw);
        } catch (const ApiError& e) {
            return api_srv_queue(c, error_response(e.status(), e.what()));
        }
        const char* length = api_srv_mhd().lookup(c, MHD_HEADER_KIND, "Content-Length");
        if (auto id = api_srv_upload_route(url, method)) {
            req->upload_route = *id;
            req->upload_limit = upload_limit(*id);
            if (length && std::strtoull(length, nullptr, 10) > req->upload_limit)
                return api_srv_queue(c, error_response(413, upload_too_big(*id)));
            api_srv_open_upload(*st->ctx, *req);
            return MHD_YES;
        }
        // a body announced over the bound is refused before any of it is read
        if (length && std::strtoull(length, nullptr, 10) > kMaxBodyBytes)
            return api_srv_queue(c, api_srv_too_big());
        return MHD_YES;
    }
    if (*upload_size) {
        if (req->upload_limit > 0) {
            req->uploaded += *upload_size;
            if (req->uploaded > req->upload_limit) {
                req->too_big = true;
            } else if (req->upload_fd) {
                try {
                    fs::write_all(req->upload_fd.get(), upload, *upload_size,
                                  req->upload_path.string());
                } catch (const Error& e) {
                    req->upload_error = "cannot spool the request's body: " + e.message();
                    req->upload_fd = Fd();
                }
            }
        } else if (req->body.size() + *upload_size > kMaxBodyBytes) {
            req->too_big = true;
        } else {
            req->body.append(upload, *upload_size);
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (req->too_big)
        return api_srv_queue(c, req->upload_limit > 0
                                    ? error_response(413, upload_too_big(req->upload_route))
                                    : api_srv_too_big());
    if (!req->upload_error.empty()) return api_srv_queue(c, error_response(500, req->upload_error));
    api_srv_mhd().get_values(c, MHD_GET_ARGUMENT_KIND, &api_srv_arg, req);
    if (!req->nul_query.empty()) return api_srv_queue(c, error_response(400, req->nul_query));
    if (!req->bad_query.empty())
        return api_srv_queue(c, error_response(400, "the query value of " + req->bad_query +
                                                        " is longer than " +
                                                        std::to_string(kMaxQueryValueBytes) +
                                                        " bytes, the most gantry's Engine API "
                                                        "reads"));
    Request r;
    r.method = method;
    r.client_pid = api_srv_client_pid(c);
    r.query = std::move(req->query);
    r.query_all = std::move(req->query_all);
    r.body = std::move(req->body);
    r.upload = req->upload_path;
    for (const char* h : {"X-Registry-Auth", "X-Registry-Config", "Content-Type"})
        if (const char* v = api_srv_mhd().lookup(c, MHD_HEADER_KIND, h)) {
            std::string k = h;
            for (auto& ch : k) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
            r.headers[k] = v;
        }
    Response res;
    try {
        auto t = split_version(url);
        r.path = t.path;
        r.version = t.version;
        r.route = match_route(r.method, r.path);
        if (api_srv_uses_store(r.route.id)) {
            std::lock_guard<std::mutex> lock(st->store_mutex);
            res = dispatch(*st->ctx, r);
        } else {
            res = dispatch(*st->ctx, r);
        }
    } catch (const ApiError& e) {
        res = error_response(e.status(), e.what());
    }
    return api_srv_queue(c, std::move(res));
}

// libmicrohttpd's URI log callback: the request's object, made with the target as the client
// sent it (the access handler sees it percent-decoded, cut at a %00)
void* api_srv_uri(void*, const char* uri, MHD_Connection*) {
    auto* req = new ApiSrvRequest;
    req->uri_raw = uri ? uri : "";
    req->uri_at = uri;
    return req;
}

void api_srv_completed(void*, MHD_Connection*, void** con_cls, MHD_RequestTerminationCode) {
    delete static_cast<ApiSrvRequest*>(*con_cls);
    *con_cls = nullptr;
}

void api_srv_notify(void* cls, MHD_Connection*, void**, MHD_ConnectionNotificationCode code) {
    auto* st = static_cast<ApiSrvState*>(cls);
    st->last_activity_ms = api_srv_now_ms();
    st->connections += code == MHD_CONNECTION_NOTIFY_STARTED ? 1 : -1;
}

void api_srv_log(void*, const char* fmt, va_list ap) {
    char line[512];
    std::vsnprintf(line, sizeof line, fmt, ap);
    std::string s = line;
    while (!s.empty() && s.back() == '\n') s.pop_back();
    log::debug("libmicrohttpd: " + s);
}

} // namespace

int run_service(const ServiceContext& ctx, const ServiceOptions& o) {
    const auto& m = api_srv_mhd();
    Fd listener;
    std::unique_ptr<TlsFront> tls; // tcp:// with TLS: gantry ends it, MHD serves plain
    std::optional<std::filesystem::path> made;
    std::string where;
    if (auto fd = activation_fd(std::getenv("LISTEN_PID"), std::getenv("LISTEN_FDS"), ::getpid())) {
        ::unsetenv("LISTEN_PID");
        ::unsetenv("LISTEN_FDS");
        ::unsetenv("LISTEN_FDNAMES");
        ::fcntl(*fd, F_SETFD, FD_CLOEXEC);
        listener = Fd(*fd);
        where = "the socket systemd passed";
        if (!o.group.empty())
            throw Error(Errc::usage,
                        "--group " + o.group +
                            ": systemd made the socket (its group is "
                            "gantry.socket's SocketGroup=, its mode SocketMode=)",
                        "set SocketGroup= and SocketMode=0660 in a drop-in for gantry.socket");
    } else if (auto tcp = tcp_endpoint(o.uri)) {
        if (auto pems = read_tls(o.tls_cert, o.tls_key, o.tls_ca))
            tls = std::make_unique<TlsFront>(*pems);
        if (!o.group.empty())
            throw Error(Errc::usage, "--group is for a unix socket, not " + o.uri,
                        "drop --group (TCP's clients are checked by TLS)");
        listener = listen_tcp(*tcp);
        where = o.uri + (tls ? " (TLS: clients' certificates checked against --tlscacert)" : "");
        if (!tls)
            std::fprintf(stderr,
                         "gantry: warning: %s is served without TLS: whoever reaches it runs "
                         "containers as this user (give --tlscert, --tlskey and --tlscacert)\n",
                         o.uri.c_str());
    } else {
        if (!o.tls_cert.empty() || !o.tls_key.empty() || !o.tls_ca.empty())
            throw Error(Errc::usage, "--tlscert, --tlskey and --tlscacert are for tcp://",
                        "serve tcp://HOST:PORT, or drop them (a unix socket is the user's alone)");
        auto path = socket_path(o.uri.empty() ? default_socket_uri() : o.uri);
        listener = listen_unix(path);
        made = path;
        where = "unix://" + path.string();
        if (!o.group.empty()) {
            try {
                give_socket_group(path, o.group);
            } catch (...) {
                ::unlink(path.c_str());
                throw;
            }
            where += " (0660, group " + o.group + ")";
        }
    }
    // signals: waited for below, so SIGTERM ends the service cleanly; SIGPIPE ignored (a
    // client that hangs up mid-stream)
    ::signal(SIGPIPE, SIG_IGN);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, nullptr); // before MHD's threads: they inherit it

    ApiSrvState st;
    st.ctx = &ctx;
    // with TLS, libmicrohttpd listens on nothing: tls_front.hpp accepts, and hands it each
    // verified client's plain connection (MHD_add_connection)
    std::vector<MHD_OptionItem> listen_opts;
    if (!tls) listen_opts.push_back({MHD_OPTION_LISTEN_SOCKET, listener.get(), nullptr});
    listen_opts.push_back({MHD_OPTION_END, 0, nullptr});
    st.last_activity_ms = api_srv_now_ms();
    MHD_Daemon* d = m.start_daemon(
        MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL |
            MHD_USE_ERROR_LOG | MHD_ALLOW_UPGRADE |
            (tls ? MHD_USE_NO_LISTEN_SOCKET | MHD_USE_ITC : 0),
        0, nullptr, nullptr, &api_srv_access, &st, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        static_cast<std::size_t>(kMaxHeaderBytes), MHD_OPTION_URI_LOG_CALLBACK, &api_srv_uri,
        nullptr, MHD_OPTION_NOTIFY_COMPLETED, &api_srv_completed, nullptr,
        MHD_OPTION_NOTIFY_CONNECTION, &api_srv_notify, &st, MHD_OPTION_EXTERNAL_LOGGER,
        &api_srv_log, nullptr, MHD_OPTION_ARRAY, listen_opts.data(), MHD_OPTION_END);
    if (!d) throw Error(Errc::internal, "libmicrohttpd could not start serving " + where);
    if (tls)
        tls->start(listener.get(), [&m, d](int fd, const sockaddr* peer, socklen_t len) {
            if (m.add_connection(d, fd, peer, len) != MHD_YES) // it closed FD
                log::debug("engine api: libmicrohttpd refused a TLS client's connection");
        });
    if (o.idle_seconds > 0)
        std::fprintf(stderr,
                     "gantry: serving the Docker Engine API %s on %s (exits after %g s idle)\n",
                     kApiVersion, where.c_str(), o.idle_seconds);
    else
        std::fprintf(stderr, "gantry: serving the Docker Engine API %s on %s (until stopped)\n",
                     kApiVersion, where.c_str());
    for (;;) {
        timespec tick{0, 200 * 1000 * 1000};
        int sig = sigtimedwait(&set, nullptr, &tick);
        if (sig > 0) break;
        if (o.idle_seconds > 0 && st.connections.load() == 0 && (!tls || tls->active() == 0) &&
            api_srv_now_ms() - st.last_activity_ms.load() >
                static_cast<std::int64_t>(o.idle_seconds * 1000))
            break;
    }
    api_srv_stopping() = true;
    if (tls) tls->stop(); // its connections end: nothing is added to the daemon after this
    m.stop_daemon(d);
    if (made) ::unlink(made->c_str());
    return 0;
}

} // namespace gantry::engine_api
