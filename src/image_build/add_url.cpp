#include "image_build/add_url.hpp"

#include "registry/http.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"
#include "util/fs.hpp"
#include "util/hash.hpp"

#include <ctime>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace gantry::image_build {
namespace {

std::string file_name(const std::string& url) {
    std::string path = url.substr(url.find("://") + 3);
    path = path.substr(0, path.find_first_of("?#"));
    auto slash = path.find('/');
    path = slash == std::string::npos ? "" : path.substr(slash);
    while (path.ends_with("/")) path.pop_back();
    std::string name = path.substr(path.rfind('/') + 1);
    if (name.empty() || name == "." || name == "..") return "index.html";
    return name;
}

// "Wed, 21 Oct 2015 07:28:00 GMT" -> Unix time, or -1
time_t http_date(const std::string& v) {
    std::tm tm{};
    if (!::strptime(v.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm)) return -1;
    return ::timegm(&tm);
}

} // namespace

bool is_url(const std::string& source) {
    return source.starts_with("http://") || source.starts_with("https://");
}

Fetched fetch_url(const std::string& url, const std::filesystem::path& dir,
                  const std::string& checksum, std::uint64_t max_bytes) {
    if (!checksum.empty() && !(checksum.starts_with("sha256:") && checksum.size() == 71))
        throw Error(Errc::invalid, "ADD --checksum=" + checksum + " is not a sha256 digest",
                    "give --checksum=sha256:<64 hex digits>");
    Fetched f;
    f.dir = dir;
    f.name = file_name(url);
    std::filesystem::create_directories(dir);
    auto path = dir / f.name;
    Fd out(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    if (!out) throw_errno("cannot write " + path.string());
    Sha256 h;
    std::uint64_t total = 0;
    registry::HttpRequest req;
    req.url = url;
    req.sink = [&](const char* p, std::size_t n) {
        total += n;
        if (total > max_bytes) return false;
        h.update(std::string_view(p, n));
        fs::write_all(out.get(), p, n, path.string());
        return true;
    };
    registry::Session session;
    registry::Response res;
    try {
        res = session.perform(req, registry::Transport{});
    } catch (const Error& e) {
        if (total > max_bytes)
            throw Error(Errc::io,
                        "ADD " + url + ": larger than " + std::to_string(max_bytes) + " bytes");
        throw Error(e.code(), "ADD " + url + ": " + e.message(), e.hint());
    }
    if (res.status < 200 || res.status >= 300)
        throw Error(Errc::network,
                    "ADD " + url + ": the server answered HTTP " + std::to_string(res.status),
                    "check the URL; ADD fetches without credentials");
    f.digest = "sha256:" + h.hex_final();
    if (!checksum.empty() && checksum != f.digest)
        throw Error(Errc::invalid,
                    "ADD " + url + ": checksum mismatch: got " + f.digest + ", want " + checksum,
                    "the file changed on the server, or --checksum is wrong");
    if (auto t = http_date(res.header("last-modified")); t >= 0) {
        struct timespec ts[2] = {{t, 0}, {t, 0}};
        ::futimens(out.get(), ts);
    }
    ::fchmod(out.get(), 0600);
    return f;
}

} // namespace gantry::image_build
