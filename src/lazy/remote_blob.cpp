#include "lazy/remote_blob.hpp"

#include "util/error.hpp"

#include <cerrno>
#include <cstdio>
#include <unistd.h>

namespace gantry::lazy {

namespace {
constexpr std::size_t kRecentChunks = 8;
constexpr std::chrono::seconds kFailFast{5};
constexpr std::uint64_t kStreamFlush = 256u << 10;

// A 200 to a Range request from a byte past 0: the registry sent the blob from its start
Error ignored_range(const std::string& what, const std::string& domain, std::uint64_t offset,
                    std::uint64_t length) {
    return Error(Errc::network,
                 what + ": registry " + domain + " ignored the Range request for bytes " +
                     std::to_string(offset) + "-" + std::to_string(offset + length - 1) +
                     " and sent the whole blob (HTTP 200, not 206 Partial Content)",
                 "the registry does not serve Range requests, which a lazy pull needs; pull "
                 "the image without --lazy");
}
} // namespace

void RemoteBlob::check_content_range(const registry::Response& r, std::uint64_t offset,
                                     std::size_t length) const {
    if (r.status != 206) return;
    const std::string range = r.header("content-range");
    if (range.empty()) return; // the chunks' digests still decide
    unsigned long long first = 0, last = 0;
    char slash = 0;
    if (std::sscanf(range.c_str(), "bytes %llu-%llu%c", &first, &last, &slash) == 3 &&
        slash == '/' && first == offset && last == offset + length - 1)
        return;
    std::string shown = range.substr(0, 80); // the registry's bytes: the printable ones shown
    for (char& ch : shown)
        if (static_cast<unsigned char>(ch) < 0x20 || static_cast<unsigned char>(ch) > 0x7e)
            ch = '?';
    throw Error(Errc::invalid,
                what_ + ": registry " + client_->domain() + " answered a request for bytes " +
                    std::to_string(offset) + "-" + std::to_string(offset + length - 1) +
                    " with Content-Range \"" + shown + "\"",
                "the registry (or a proxy in front of it) serves other bytes than asked: "
                "report it to its operator, or pull the image without --lazy");
}

Error RemoteBlob::unanswered(const Error& e) const {
    auto* transport = dynamic_cast<const registry::TransportError*>(&e);
    if (transport && transport->timed_out())
        return Error(
            e.code(),
            what_ + ": " +
                (transport->bound() // the message names the registry, the rate seen
                     ? e.message()
                     : "registry " + client_->domain() +
                           " sent too slowly and the request was abandoned: " + e.message()),
            "the registry or the link to it is too slow for a lazily pulled "
            "container; pull the image without --lazy, or raise the bounds "
            "(GANTRY_LAZY_MIN_RATE, GANTRY_LAZY_RATE_WINDOW, GANTRY_LAZY_REQUEST_TIME, "
            "GANTRY_LAZY_REQUEST_RATE: docs/lazy-pull.md, Faults)");
    return Error(e.code(),
                 what_ + ": registry " + client_->domain() + " did not answer: " + e.message(),
                 "the registry must stay reachable while a lazily pulled container "
                 "runs; pull the image without --lazy to run it offline");
}

RemoteBlob::RemoteBlob(std::shared_ptr<registry::Client> client, std::string repo,
                       oci::Digest digest, std::uint64_t size, Fd cache, std::string what)
    : client_(std::move(client)), repo_(std::move(repo)), digest_(std::move(digest)), size_(size),
      cache_(std::move(cache)), what_(std::move(what)) {}

void RemoteBlob::check_failed() const {
    std::lock_guard hold(failed_mu_);
    if (failed_ && std::chrono::steady_clock::now() - failed_at_ < kFailFast) throw *failed_;
}

void RemoteBlob::remember(const Error& e) {
    if (e.code() != Errc::network && e.code() != Errc::auth) return;
    std::lock_guard hold(failed_mu_);
    failed_ = e;
    failed_at_ = std::chrono::steady_clock::now();
}

void RemoteBlob::succeeded(std::uint64_t length) {
    {
        std::lock_guard hold(failed_mu_);
        failed_.reset();
    }
    fetched_ += length;
}

std::string RemoteBlob::fetch(std::uint64_t offset, std::size_t length) {
    if (length == 0) return {};
    check_failed();
    std::string body;
    try {
        body = fetch_range(offset, length);
    } catch (const Error& e) {
        remember(e);
        throw;
    }
    succeeded(length);
    return body;
}

void RemoteBlob::stream_into_copy(std::uint64_t offset, std::size_t length,
                                  const std::function<void(std::uint64_t)>& arrived) {
    if (length == 0) return;
    check_failed();
    if (offset > size_ || length > size_ - offset)
        throw Error(Errc::invalid,
                    what_ + ": a read past the blob's " + std::to_string(size_) + " bytes");
    if (!client_)
        throw Error(Errc::network, what_ + ": the chunk is not in the local copy and no "
                                           "registry was given to fetch it from");
    const std::uint64_t end = offset + length;
    std::uint64_t at = offset;
    bool whole = false;   // a 200 (the registry ignored Range): only from byte 0, cut at LENGTH
    bool ignored = false; // a 200 for a range past byte 0: nothing of it is taken
    registry::HttpRequest req;
    req.headers = {"Range: bytes=" + std::to_string(offset) + "-" + std::to_string(end - 1)};
    req.max_body = 1 << 20; // an error document
    req.expected_bytes = length;
    // written (and ARRIVED told) kStreamFlush bytes at a time: curl hands 16 KiB pieces, and a
    // write and a wake-up of the waiting reader for each cost more CPU than the wait they save
    std::string pending;
    pending.reserve(static_cast<std::size_t>(std::min<std::uint64_t>(length, kStreamFlush)));
    req.on_headers = [&](const registry::Response& r) {
        at = offset; // a retry starts over
        pending.clear();
        whole = r.status == 200 && offset == 0;
        ignored = r.status == 200 && offset != 0;
        check_content_range(r, offset, length);
    };
    req.sink = [&](const char* p, std::size_t n) {
        if (ignored) return false;
        std::size_t take = static_cast<std::size_t>(std::min<std::uint64_t>(n, end - at));
        if (take != n && !whole) return false; // a 206 longer than asked: refused
        pending.append(p, take);
        at += take;
        if (pending.size() >= kStreamFlush || at == end) {
            std::uint64_t from = at - pending.size();
            for (std::size_t done = 0; done < pending.size();) {
                ssize_t w = ::pwrite(cache_.get(), pending.data() + done, pending.size() - done,
                                     static_cast<off_t>(from + done));
                if (w <= 0) return false;
                done += static_cast<std::size_t>(w);
            }
            pending.clear();
            arrived(at);
        }
        return !(whole && at == end); // a 200: the rest is not wanted
    };
    registry::Response r;
    try {
        try {
            r = client_->call(req, "/v2/" + repo_ + "/blobs/" + digest_.str(),
                              {"repository:" + repo_ + ":pull"});
        } catch (const registry::TransportError& e) {
            if (!(whole && at == end && e.aborted())) throw; // a 200 cut at LENGTH: done
            r.status = 200;
        }
    } catch (const Error& e) {
        if (!ignored && e.code() == Errc::invalid) throw; // check_content_range's
        Error named =
            ignored ? ignored_range(what_, client_->domain(), offset, length) : unanswered(e);
        remember(named);
        throw named;
    }
    try {
        if (r.status != 206 && !(r.status == 200 && whole))
            client_->fail(
                r, what_ + " (bytes " + std::to_string(offset) + "+" + std::to_string(length) + ")",
                repo_);
        if (at != end)
            throw Error(Errc::network,
                        what_ + ": registry " + client_->domain() + " answered " +
                            std::to_string(at - offset) + " bytes for a range of " +
                            std::to_string(length),
                        "the registry does not serve Range requests; pull without --lazy");
    } catch (const Error& e) {
        remember(e);
        throw;
    }
    succeeded(length);
}

std::string RemoteBlob::fetch_range(std::uint64_t offset, std::size_t length) const {
    if (length == 0) return {};
    if (offset > size_ || length > size_ - offset)
        throw Error(Errc::invalid,
                    what_ + ": a read past the blob's " + std::to_string(size_) + " bytes");
    if (!client_)
        throw Error(Errc::network, what_ + ": the chunk is not in the local copy and no "
                                           "registry was given to fetch it from");
    registry::HttpRequest req;
    req.headers = {"Range: bytes=" + std::to_string(offset) + "-" +
                   std::to_string(offset + length - 1)};
    req.max_body = length + 1;
    req.expected_bytes = length;
    long status = 0; // the final response's, once its headers came
    req.on_headers = [&](const registry::Response& got) {
        status = got.status;
        check_content_range(got, offset, length);
    };
    registry::Response r;
    try {
        r = client_->call(req, "/v2/" + repo_ + "/blobs/" + digest_.str(),
                          {"repository:" + repo_ + ":pull"});
    } catch (const Error& e) {
        // a body over LENGTH + 1 bytes: the client's "larger than N MiB" said nothing useful
        if (status == 200) throw ignored_range(what_, client_->domain(), offset, length);
        if (status == 206 && e.code() == Errc::invalid) throw; // check_content_range's
        throw unanswered(e);
    }
    if (r.status == 200 && offset == 0 && r.body.size() >= length)
        r.body.resize(length);
    else if (r.status == 200)
        throw ignored_range(what_, client_->domain(), offset, length);
    else if (r.status != 206)
        client_->fail(
            r, what_ + " (bytes " + std::to_string(offset) + "+" + std::to_string(length) + ")",
            repo_);
    if (r.body.size() != length)
        throw Error(Errc::network,
                    what_ + ": registry " + client_->domain() + " answered " +
                        std::to_string(r.body.size()) + " bytes for a range of " +
                        std::to_string(length),
                    "the registry does not serve Range requests; pull without --lazy");
    return std::move(r.body);
}

void RemoteBlob::fill(std::uint64_t begin, std::uint64_t end) {
    ReadPriority::Reader first(priority_.get());
    std::string bytes = fetch(begin, static_cast<std::size_t>(end - begin));
    if (::pwrite(cache_.get(), bytes.data(), bytes.size(), static_cast<off_t>(begin)) !=
        static_cast<ssize_t>(bytes.size()))
        throw_errno("cannot write the local copy of " + what_);
}

std::shared_ptr<const std::string> RemoteBlob::chunk(const Chunk& c) {
    // a hit is the same bytes only if the entry asking names the same digest: two entries may
    // point at one offset (the TOC refuses different digests there; this does not rely on it)
    for (auto it = recent_.begin(); it != recent_.end(); ++it)
        if (it->offset == c.offset && it->inner_offset == c.inner_offset &&
            it->data->size() == c.size && it->digest == c.digest && it->codec == c.codec) {
            recent_.splice(recent_.begin(), recent_, it);
            return recent_.front().data;
        }
    const std::size_t len = static_cast<std::size_t>(c.end - c.offset);
    std::string bytes(len, '\0');
    std::shared_ptr<const std::string> data;
    ssize_t n = ::pread(cache_.get(), bytes.data(), len, static_cast<off_t>(c.offset));
    if (n == static_cast<ssize_t>(len)) {
        try {
            data = std::make_shared<const std::string>(inflate_chunk(bytes, c, what_));
        } catch (const Error&) {
            // not (yet) in the local copy
        }
    }
    if (!data) {
        ReadPriority::Reader first(priority_.get()); // the prefetch waits meanwhile
        bytes = fetch(c.offset, len);
        data = std::make_shared<const std::string>(inflate_chunk(bytes, c, what_));
        // kept only once verified; a failed write only costs a later fetch
        [[maybe_unused]] ssize_t w =
            ::pwrite(cache_.get(), bytes.data(), bytes.size(), static_cast<off_t>(c.offset));
    }
    recent_.push_front({c.offset, c.inner_offset, c.codec, c.digest, data});
    if (recent_.size() > kRecentChunks) recent_.pop_back();
    return data;
}

} // namespace gantry::lazy
