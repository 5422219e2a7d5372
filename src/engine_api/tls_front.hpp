// tcp:// with TLS (docker's daemon's --tlsverify): gantry ends the TLS itself with GnuTLS
// (libgnutls loaded with dlopen) and hands libmicrohttpd plain connections. Each accepted TCP
// connection gets a thread of its own: the handshake (bounded in time; the client's certificate
// required and checked against --tlscacert then, as Go's RequireAndVerifyClientCert does), then
// a relay between the TLS session and one end of a socketpair whose other end is given to
// libmicrohttpd (MHD_add_connection). The relay carries each direction's end: the client's
// close_notify (docker's CLI sends one at the end of a hijacked stdin, without a TCP shutdown)
// becomes shutdown(SHUT_WR) on the socketpair, and the service's end a close_notify
// (gnutls_bye(GNUTLS_SHUT_WR)).
// Connections in their handshake and served ones are bounded apart: the pending ones by
// tls_admission.hpp (64, 8 from one source; one that arrives with no place left takes that of
// the pending one that has shown least, which is closed), the served ones by max_served (128;
// one more is closed once its handshake is done). So threads and descriptors stay bounded
// (a thread and a socket per pending connection; a thread, a socket and a socketpair per served
// one, beside libmicrohttpd's thread for it), and no number of clients that say nothing keeps
// a client that speaks from its handshake.
#pragma once

#include "engine_api/listen.hpp"
#include "engine_api/tls_admission.hpp"
#include "util/fd.hpp"

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <sys/socket.h>
#include <thread>

namespace gantry::engine_api {

// Hands a plain connection (one end of a socketpair) to the HTTP server, with the TCP peer's
// address; the server owns FD from then on (closes it even when it refuses it).
using AddConnection = std::function<void(int fd, const sockaddr* peer, socklen_t len)>;

struct TlsFrontLimits {
    int handshake_ms = 10000; // a client that has not finished its handshake by then is dropped
    PendingLimits pending;    // connections in their handshake (tls_admission.hpp)
    int max_served = 128;     // served at once (handshake done); more are closed after it
};

class TlsFront {
  public:
    // The certificate, key and CA of PEMS loaded: Error(usage) naming the flag whose file GnuTLS
    // refuses (a key that does not match the certificate, a CA file with no certificate).
    explicit TlsFront(const TlsPems& pems, TlsFrontLimits limits = {});
    ~TlsFront(); // stop()
    TlsFront(const TlsFront&) = delete;
    TlsFront& operator=(const TlsFront&) = delete;

    // Accepts on LISTENER (a listening TCP socket, kept by the caller) in a thread of its own
    // until stop(); each verified client's plain connection goes to ADD.
    void start(int listener, AddConnection add);

    // Stops accepting, ends every connection (handshakes and relays) and waits for their
    // threads: ADD is not called after it returns.
    void stop();

    // Connections held now (in handshake or relayed): the service is not idle while any is.
    int active() const;
    // Of those, the ones served (handshake done, relayed).
    int served() const;

    struct Creds; // GnuTLS's credentials (tls_front.cpp)

  private:
    void accept_loop(int listener);
    bool admit(std::unique_lock<std::mutex>& lock, const std::string& source,
               const std::string& who);
    bool serve(int tcp, const sockaddr_storage& peer, socklen_t len, PendingHandshakes::Id id);

    std::unique_ptr<Creds> creds_;
    TlsFrontLimits limits_;
    AddConnection add_;
    Fd stop_fd_; // an eventfd, readable once stop() begins: every poll() here watches it
    std::atomic<bool> stopping_{false};
    std::thread acceptor_;
    std::mutex add_mutex_;
    mutable std::mutex mutex_;
    std::condition_variable idle_; // a connection ended (a pending one, or a served one)
    PendingHandshakes pending_;
    int served_ = 0;
};

} // namespace gantry::engine_api
