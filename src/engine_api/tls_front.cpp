// tcp:// with TLS ended by gantry (engine_api/tls_front.hpp): the handshake and the relay.
#include "engine_api/tls_front.hpp"

#include "util/error.hpp"
#include "util/library.hpp"
#include "util/log.hpp"

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <fcntl.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <netdb.h>
#include <poll.h>
#include <string>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <system_error>

namespace gantry::engine_api {

namespace {

// GnuTLS's calls, bound once from libgnutls.so.30 (no other command pays for loading it).
struct ApiTlsfGnutls {
    decltype(&::gnutls_certificate_allocate_credentials) alloc_creds = nullptr;
    decltype(&::gnutls_certificate_free_credentials) free_creds = nullptr;
    decltype(&::gnutls_certificate_set_x509_key_mem) set_key_mem = nullptr;
    decltype(&::gnutls_certificate_set_x509_trust_mem) set_trust_mem = nullptr;
    decltype(&::gnutls_certificate_set_verify_function) set_verify_function = nullptr;
    decltype(&::gnutls_certificate_verify_peers) verify_peers = nullptr;
    decltype(&::gnutls_init) init = nullptr;
    decltype(&::gnutls_deinit) deinit = nullptr;
    decltype(&::gnutls_set_default_priority) set_default_priority = nullptr;
    decltype(&::gnutls_credentials_set) credentials_set = nullptr;
    decltype(&::gnutls_certificate_server_set_request) server_set_request = nullptr;
    decltype(&::gnutls_transport_set_int2) transport_set_int2 = nullptr;
    decltype(&::gnutls_handshake) handshake = nullptr;
    decltype(&::gnutls_record_recv) record_recv = nullptr;
    decltype(&::gnutls_record_send) record_send = nullptr;
    decltype(&::gnutls_record_get_direction) get_direction = nullptr;
    decltype(&::gnutls_bye) bye = nullptr;
    decltype(&::gnutls_error_is_fatal) is_fatal = nullptr;
    decltype(&::gnutls_strerror) strerror = nullptr;
};

const ApiTlsfGnutls& api_tlsf_gnutls() {
    static const ApiTlsfGnutls g = [] {
        static const Library lib("libgnutls.so.30", "the service's TLS needs GnuTLS",
                                 "install it: apt-get install libgnutls30");
        ApiTlsfGnutls f;
        lib.bind(f.alloc_creds, "gnutls_certificate_allocate_credentials");
        lib.bind(f.free_creds, "gnutls_certificate_free_credentials");
        lib.bind(f.set_key_mem, "gnutls_certificate_set_x509_key_mem");
        lib.bind(f.set_trust_mem, "gnutls_certificate_set_x509_trust_mem");
        lib.bind(f.set_verify_function, "gnutls_certificate_set_verify_function");
        lib.bind(f.verify_peers, "gnutls_certificate_verify_peers");
        lib.bind(f.init, "gnutls_init");
        lib.bind(f.deinit, "gnutls_deinit");
        lib.bind(f.set_default_priority, "gnutls_set_default_priority");
        lib.bind(f.credentials_set, "gnutls_credentials_set");
        lib.bind(f.server_set_request, "gnutls_certificate_server_set_request");
        lib.bind(f.transport_set_int2, "gnutls_transport_set_int2");
        lib.bind(f.handshake, "gnutls_handshake");
        lib.bind(f.record_recv, "gnutls_record_recv");
        lib.bind(f.record_send, "gnutls_record_send");
        lib.bind(f.get_direction, "gnutls_record_get_direction");
        lib.bind(f.bye, "gnutls_bye");
        lib.bind(f.is_fatal, "gnutls_error_is_fatal");
        lib.bind(f.strerror, "gnutls_strerror");
        return f;
    }();
    return g;
}

// The handshake's check of the client's certificate: present (GNUTLS_CERT_REQUIRE), signed by
// the CA of --tlscacert, valid now, and for TLS clients where it names its purposes (docker's
// daemon: Go's RequireAndVerifyClientCert). Nonzero fails the handshake.
int api_tlsf_verify(gnutls_session_t s) {
    gnutls_typed_vdata_st purpose{};
    purpose.type = GNUTLS_DT_KEY_PURPOSE_OID;
    purpose.data = reinterpret_cast<unsigned char*>(const_cast<char*>(GNUTLS_KP_TLS_WWW_CLIENT));
    unsigned status = 1;
    int rc = api_tlsf_gnutls().verify_peers(s, &purpose, 1, &status);
    return rc == 0 && status == 0 ? 0 : GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR;
}

std::int64_t api_tlsf_now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

std::string api_tlsf_peer(const sockaddr_storage& peer, socklen_t len) {
    char host[NI_MAXHOST], port[NI_MAXSERV];
    if (::getnameinfo(reinterpret_cast<const sockaddr*>(&peer), len, host, sizeof host, port,
                      sizeof port, NI_NUMERICHOST | NI_NUMERICSERV) != 0)
        return "a client";
    return peer.ss_family == AF_INET6 ? "[" + std::string(host) + "]:" + port
                                      : std::string(host) + ":" + port;
}

// Waits until FD is ready for EVENTS, for at most TIMEOUT_MS (-1: no limit): false when the
// time passed or STOP became readable.
bool api_tlsf_wait(int fd, short events, int stop, int timeout_ms) {
    pollfd p[2] = {{fd, events, 0}, {stop, POLLIN, 0}};
    int n;
    do n = ::poll(p, 2, timeout_ms);
    while (n < 0 && errno == EINTR);
    return n > 0 && p[1].revents == 0;
}

// Waits until the client's first TLS record (its ClientHello) is whole in FD's buffer, without
// taking it (GnuTLS reads it next; SO_RCVLOWAT keeps poll() from waking for less), saying how
// far it has come through HEARD: false when the client ended, the connection was dropped (shut
// down by the acceptor), DEADLINE (ms) passed or STOP became readable. A first record that is
// no handshake, or longer than a record may be, goes to GnuTLS as it is (which refuses it).
template <typename Tell>
bool api_tlsf_first_record(int fd, int stop, std::int64_t deadline, Tell heard) {
    int need = 5; // the record's header: type, version, length
    bool part = false, ended = false;
    for (;;) {
        int avail = 0;
        if (::ioctl(fd, FIONREAD, &avail) != 0) return false;
        if (need == 5 && avail >= 5) {
            unsigned char h[5];
            if (::recv(fd, h, sizeof h, MSG_PEEK) != 5) return false;
            int len = h[3] << 8 | h[4];
            need = h[0] == 0x16 && len <= 16384 + 2048 ? 5 + len : 0;
        }
        if (avail >= need) {
            int one = 1;
            ::setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &one, sizeof one);
            heard(Heard::hello);
            return true;
        }
        if (ended) return false;
        if (avail > 0 && !part) {
            heard(Heard::part);
            part = true;
        }
        ::setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &need, sizeof need);
        auto left = deadline - api_tlsf_now_ms();
        if (left <= 0) return false;
        pollfd p[2] = {{fd, POLLIN | POLLRDHUP, 0}, {stop, POLLIN, 0}};
        int n;
        do n = ::poll(p, 2, static_cast<int>(left));
        while (n < 0 && errno == EINTR);
        if (n < 0 || p[1].revents) return false;
        // its end (or the acceptor's shutdown): one more look at what came before it
        if (p[0].revents & (POLLRDHUP | POLLHUP | POLLERR)) ended = true;
    }
}

struct ApiTlsfSession {
    gnutls_session_t s = nullptr;
    ~ApiTlsfSession() {
        if (s) api_tlsf_gnutls().deinit(s);
    }
};

// Bytes on their way in one direction: read whole into BUF, written out from OFF.
struct ApiTlsfChunk {
    char buf[16384];
    std::size_t off = 0, len = 0;
    bool empty() const { return off == len; }
};

short api_tlsf_dir(gnutls_session_t s) {
    return api_tlsf_gnutls().get_direction(s) ? POLLOUT : POLLIN;
}

bool api_tlsf_retry(ssize_t rc) {
    return rc == GNUTLS_E_AGAIN || rc == GNUTLS_E_INTERRUPTED;
}

// Relays between the TLS session S on TCP and the plain socket PLAIN (both non-blocking) until
// both directions have ended, or the service stops (STOPPING set, STOP readable). Each direction's
// end is carried: the client's close_notify (or its TCP end) as shutdown(SHUT_WR) on PLAIN once its
// bytes are delivered; the service's end as a close_notify. Every record GnuTLS holds is read
// before the relay waits on the socket: GnuTLS may have read a record (the close_notify behind the
// last data) that poll() cannot see.
void api_tlsf_relay(gnutls_session_t s, int tcp, int plain, int stop,
                    const std::atomic<bool>& stopping) {
    const auto& g = api_tlsf_gnutls();
    auto up = std::make_unique<ApiTlsfChunk>();   // the client's bytes, for the service
    auto down = std::make_unique<ApiTlsfChunk>(); // the service's, for the client
    bool up_eof = false, up_done = false, down_eof = false, down_done = false;
    short recv_dir = POLLIN, send_dir = POLLOUT, bye_dir = POLLOUT;
    while ((!up_done || !down_done) && !stopping.load(std::memory_order_relaxed)) {
        bool moved = false;
        if (!up_eof && !up_done && up->empty()) {
            ssize_t n = g.record_recv(s, up->buf, sizeof up->buf);
            if (n > 0) {
                up->off = 0;
                up->len = static_cast<std::size_t>(n);
            } else if (n == 0 || n == GNUTLS_E_PREMATURE_TERMINATION) {
                up_eof = true; // a close_notify, or the client's TCP end without one
            } else if (api_tlsf_retry(n)) {
                recv_dir = api_tlsf_dir(s);
            } else if (g.is_fatal(static_cast<int>(n))) {
                return;
            }
            moved = n != GNUTLS_E_AGAIN;
        }
        if (!up_done && !up->empty()) {
            ssize_t w = ::send(plain, up->buf + up->off, up->len - up->off, MSG_NOSIGNAL);
            if (w > 0) {
                up->off += static_cast<std::size_t>(w);
                moved = true;
            } else if (errno != EAGAIN) {
                moved = true;
                if (errno != EINTR) { // the service closed its end: nothing more to give it
                    up_done = true;
                    up->off = up->len;
                }
            }
        }
        if (up_eof && !up_done && up->empty()) {
            ::shutdown(plain, SHUT_WR); // the service sees the client's end (docker's stdin)
            up_done = moved = true;
        }
        if (!down_eof && down->empty()) {
            ssize_t r = ::recv(plain, down->buf, sizeof down->buf, 0);
            if (r > 0) {
                down->off = 0;
                down->len = static_cast<std::size_t>(r);
                moved = true;
            } else if (r == 0 || errno != EAGAIN) {
                down_eof = r == 0 || errno != EINTR; // the service's end (or its socket's error)
                moved = true;
            }
        }
        if (!down->empty()) {
            ssize_t n = g.record_send(s, down->buf + down->off, down->len - down->off);
            if (n > 0) {
                down->off += static_cast<std::size_t>(n);
                moved = true;
            } else if (api_tlsf_retry(n)) {
                send_dir = api_tlsf_dir(s);
            } else {
                return; // the client is gone
            }
        }
        if (down_eof && !down_done && down->empty()) {
            int rc = g.bye(s, GNUTLS_SHUT_WR);
            if (api_tlsf_retry(rc)) {
                bye_dir = api_tlsf_dir(s);
            } else {
                down_done = moved = true;
            }
        }
        if (moved) continue;
        pollfd p[3] = {{tcp, 0, 0}, {plain, 0, 0}, {stop, POLLIN, 0}};
        if (!up_eof && !up_done && up->empty()) p[0].events |= recv_dir;
        if (!down->empty()) p[0].events |= send_dir;
        if (down_eof && !down_done && down->empty()) p[0].events |= bye_dir;
        if (!up_done && !up->empty()) p[1].events |= POLLOUT;
        if (!down_eof && down->empty()) p[1].events |= POLLIN;
        if (p[1].events == 0 && up_done) p[1].fd = -1; // its hang-up would wake poll() for nothing
        int n;
        do n = ::poll(p, 3, -1);
        while (n < 0 && errno == EINTR);
        if (n < 0 || p[2].revents) return;
        if ((p[0].revents & (POLLERR | POLLHUP)) && !(p[0].events & POLLIN)) return; // reset
        if (p[1].revents & POLLERR) return;
        // the service closed the socketpair whole: the client's bytes have nowhere to go
        if ((p[1].revents & POLLHUP) && !(p[1].events & POLLIN)) {
            up_done = true;
            up->off = up->len;
        }
    }
}

} // namespace

struct TlsFront::Creds {
    gnutls_certificate_credentials_t cred = nullptr;
    ~Creds() {
        if (cred) api_tlsf_gnutls().free_creds(cred);
    }
};

TlsFront::TlsFront(const TlsPems& pems, TlsFrontLimits limits)
    : creds_(std::make_unique<Creds>()), limits_(limits), pending_(limits.pending) {
    const auto& g = api_tlsf_gnutls();
    if (int rc = g.alloc_creds(&creds_->cred); rc < 0)
        throw Error(Errc::internal, std::string("GnuTLS: ") + g.strerror(rc));
    auto datum = [](const std::string& s) {
        return gnutls_datum_t{reinterpret_cast<unsigned char*>(const_cast<char*>(s.data())),
                              static_cast<unsigned>(s.size())};
    };
    gnutls_datum_t cert = datum(pems.cert), key = datum(pems.key), ca = datum(pems.ca);
    if (int rc = g.set_key_mem(creds_->cred, &cert, &key, GNUTLS_X509_FMT_PEM); rc < 0)
        throw Error(Errc::usage,
                    std::string("--tlscert and --tlskey: GnuTLS cannot use them: ") +
                        g.strerror(rc),
                    "give the service's PEM certificate and its unencrypted PEM private key "
                    "(the key of that certificate)");
    int n = g.set_trust_mem(creds_->cred, &ca, GNUTLS_X509_FMT_PEM);
    if (n <= 0)
        throw Error(Errc::usage,
                    std::string("--tlscacert: no CA certificate GnuTLS can read in it") +
                        (n < 0 ? std::string(" (") + g.strerror(n) + ")" : ""),
                    "give the PEM certificate of the CA that signed the clients' certificates");
    g.set_verify_function(creds_->cred, &api_tlsf_verify);
    stop_fd_ = Fd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!stop_fd_) throw_errno("cannot make an eventfd");
}

TlsFront::~TlsFront() {
    stop();
}

void TlsFront::start(int listener, AddConnection add) {
    add_ = std::move(add);
    int flags = ::fcntl(listener, F_GETFL);
    if (flags >= 0) ::fcntl(listener, F_SETFL, flags | O_NONBLOCK);
    acceptor_ = std::thread(&TlsFront::accept_loop, this, listener);
}

void TlsFront::stop() {
    stopping_ = true; // a relay that never waits (a stream that never pauses) sees it
    std::uint64_t one = 1;
    if (::write(stop_fd_.get(), &one, sizeof one) < 0) {
        // the eventfd counts up to 2^64-2: a second stop() finds it readable already
    }
    if (acceptor_.joinable()) acceptor_.join();
    std::unique_lock<std::mutex> lock(mutex_);
    idle_.wait(lock, [this] { return pending_.size() == 0 && served_ == 0; });
}

int TlsFront::active() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return pending_.size() + served_;
}

void TlsFront::accept_loop(int listener) {
    for (;;) {
        pollfd p[2] = {{listener, POLLIN, 0}, {stop_fd_.get(), POLLIN, 0}};
        if (::poll(p, 2, -1) < 0) {
            if (errno == EINTR) continue;
            return;
        }
        if (p[1].revents) return;
        if (!(p[0].revents & POLLIN)) {
            if (p[0].revents & (POLLERR | POLLNVAL)) return;
            continue;
        }
        sockaddr_storage peer{};
        socklen_t len = sizeof peer;
        Fd conn(::accept4(listener, reinterpret_cast<sockaddr*>(&peer), &len,
                          SOCK_NONBLOCK | SOCK_CLOEXEC));
        if (!conn) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
                api_tlsf_wait(-1, 0, stop_fd_.get(), 100); // out of something: not a busy loop
            continue;
        }
        const std::string source = source_of(reinterpret_cast<const sockaddr*>(&peer), len);
        PendingHandshakes::Id id;
        {
            std::unique_lock<std::mutex> lock(mutex_);
            if (!admit(lock, source, api_tlsf_peer(peer, len))) continue;
            id = pending_.add(source, conn.get());
        }
        try {
            std::thread([this, c = std::move(conn), peer, len, id]() mutable {
                bool served = serve(c.get(), peer, len, id);
                {
                    std::lock_guard<std::mutex> lock(mutex_);
                    if (served)
                        --served_;
                    else
                        pending_.remove(id);
                    idle_.notify_all(); // under the lock: stop() cannot return before it is done
                }
                c.reset(); // closed once pending_ no longer holds it: the acceptor shuts down
                           // only what pending_ holds
            }).detach();
        } catch (const std::system_error&) {
            std::lock_guard<std::mutex> lock(mutex_);
            pending_.remove(id);
        }
    }
}

// Makes room among the pending handshakes for a connection from SOURCE (WHO: its address, for
// the log): while there is none, the pending one that has shown least is shut down (its thread
// ends, and leaves its place), and this waits for a place to free, at most 1 s (a thread that
// has not left by then: WHO is closed instead, the bound holds). False: WHO is closed.
bool TlsFront::admit(std::unique_lock<std::mutex>& lock, const std::string& source,
                     const std::string& who) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(1);
    while (!pending_.room_for(source)) {
        if (stopping_.load()) return false;
        if (auto v = pending_.victim_for(source)) {
            pending_.dropped(v->id);
            ::shutdown(v->fd, SHUT_RDWR);
            log::debug("engine api: " + std::to_string(pending_.size()) + " TLS handshakes (" +
                       std::to_string(pending_.from(source)) + " from " + source +
                       "): dropped the one that had shown least, for " + who);
        }
        if (idle_.wait_until(lock, until) == std::cv_status::timeout &&
            !pending_.room_for(source)) {
            log::debug("engine api: no place for the TLS handshake of " + who + ": closed");
            return false;
        }
    }
    return true;
}

int TlsFront::served() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return served_;
}

// One connection's thread: the handshake, then (served) the relay. True when it was served
// (moved from pending_ to served_), false when it is still pending_'s.
bool TlsFront::serve(int tcp, const sockaddr_storage& peer, socklen_t len,
                     PendingHandshakes::Id id) {
    const auto& g = api_tlsf_gnutls();
    const std::string who = api_tlsf_peer(peer, len);
    auto dropped = [&] {
        std::lock_guard<std::mutex> lock(mutex_);
        return pending_.was_dropped(id);
    };
    // the handshake, bounded: a client that connects and says nothing holds this thread only
    // until the deadline, or until a connection that needs its place arrives; no other client
    // waits for it
    std::int64_t deadline = api_tlsf_now_ms() + limits_.handshake_ms;
    auto heard = [&](Heard h) {
        std::lock_guard<std::mutex> lock(mutex_);
        pending_.heard(id, h);
    };
    if (!api_tlsf_first_record(tcp, stop_fd_.get(), deadline, heard)) {
        char junk[4096]; // what it sent, read: closed so, the client sees an end (FIN), not a reset
        while (::recv(tcp, junk, sizeof junk, MSG_DONTWAIT) > 0) {
        }
        if (!stopping_.load())
            log::debug("engine api: " + who +
                       (dropped() ? " dropped in its TLS handshake, for another client"
                                  : " did not send its ClientHello in time (or ended): closed"));
        return false;
    }
    ApiTlsfSession session;
    if (g.init(&session.s, GNUTLS_SERVER) < 0) return false;
    gnutls_session_t s = session.s;
    g.set_default_priority(s);
    g.credentials_set(s, GNUTLS_CRD_CERTIFICATE, creds_->cred);
    g.server_set_request(s, GNUTLS_CERT_REQUIRE);
    g.transport_set_int2(s, tcp, tcp);
    for (;;) {
        int rc = g.handshake(s);
        if (rc == GNUTLS_E_SUCCESS) break;
        auto left = deadline - api_tlsf_now_ms();
        if (g.is_fatal(rc)) {
            bool cert = rc == GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR ||
                        rc == GNUTLS_E_CERTIFICATE_ERROR || rc == GNUTLS_E_NO_CERTIFICATE_FOUND ||
                        rc == GNUTLS_E_CERTIFICATE_REQUIRED;
            std::string why = "the TLS client " + who + " refused: " + g.strerror(rc);
            if (cert) // what the service's user looks for when a client is refused
                log::note(why + " (clients present a certificate that --tlscacert's CA signed)");
            else
                log::debug("engine api: " + why +
                           (dropped() ? " (dropped in its handshake, for another client)" : ""));
            return false;
        }
        if (left <= 0 ||
            (rc == GNUTLS_E_AGAIN &&
             !api_tlsf_wait(tcp, api_tlsf_dir(s), stop_fd_.get(), static_cast<int>(left)))) {
            if (!stopping_.load())
                log::debug("engine api: " + who +
                           " did not finish its TLS handshake in time: closed");
            return false;
        }
    }
    {
        std::lock_guard<std::mutex> lock(mutex_);
        if (served_ >= limits_.max_served) {
            log::note("the TLS client " + who +
                      " was closed after its handshake: " + std::to_string(served_) +
                      " connections are served at once, the most the service takes (clients "
                      "that hold fewer connections open, or another service, make room)");
            return false;
        }
        pending_.remove(id); // from here the acceptor never shuts it down
        ++served_;
        idle_.notify_all(); // a pending place is free
    }
    int sp[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sp) != 0) {
        log::debug(std::string("engine api: no socketpair for a TLS client: ") +
                   std::strerror(errno));
        return true;
    }
    Fd plain(sp[0]);
    {
        std::lock_guard<std::mutex> lock(add_mutex_); // one MHD_add_connection at a time
        add_(sp[1], reinterpret_cast<const sockaddr*>(&peer), len);
    }
    api_tlsf_relay(s, tcp, plain.get(), stop_fd_.get(), stopping_);
    return true;
}

} // namespace gantry::engine_api
