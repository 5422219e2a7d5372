#include "sqsh/facts.hpp"

#include "sqsh/confined.hpp"
#include "sqsh/image.hpp"
#include "sqsh/server.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"
#include "util/fs.hpp"
#include "util/inherited_fds.hpp"

#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

namespace gantry::sqsh {

namespace {

constexpr std::size_t kMaxPasswd = 4u << 20;
constexpr std::size_t kMaxAnswer = kMaxHeader + kMaxPasswd + 4096;

} // namespace

std::shared_ptr<Image> open_deferred(const std::string& path) {
    Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) throw_errno("cannot open " + path);
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) throw_errno("cannot stat " + path);
    if (!S_ISREG(st.st_mode))
        throw Error(Errc::invalid, path + " is not a regular file",
                    "give the path of a .sqsh file");
    return std::make_shared<Image>(std::move(fd), path, Image::Deferred{});
}

Facts read_facts(Image& image, bool want_passwd, const std::function<void()>& confine) {
    const std::string& path = image.path();
    struct stat st {};
    if (::fstat(image.fd(), &st) != 0) throw_errno("cannot stat " + path);
    Facts facts;
    char head[kSuperblockSize] = {};
    ssize_t got = ::pread(image.fd(), head, sizeof head, 0);
    if (got < 0) throw_errno("cannot read " + path);
    facts.super = check_superblock(std::string_view(head, static_cast<std::size_t>(got)),
                                   static_cast<std::uint64_t>(st.st_size), path);

    // the answer: "header" and the header xattr's raw value (parse_header verifies it here),
    // or "ok" (a squashfs without one); then passwd
    std::string answer = run_confined(
        image, confine,
        [want_passwd](Image& im) {
            std::string out;
            im.open_tables();
            auto h = im.root_xattr(kHeaderXattr, kMaxHeader);
            put_field(out, h ? "header" : "ok");
            if (h) put_field(out, *h);
            put_field(out, want_passwd ? im.read_file("etc/passwd", kMaxPasswd).value_or("") : "");
            return out;
        },
        kMaxAnswer);
    std::string_view rest(answer);
    std::string kind;
    if (!take_field(rest, kind)) damaged(path, "the confined reader's answer is cut short");
    std::string header, passwd;
    if ((kind != "ok" && kind != "header") || (kind == "header" && !take_field(rest, header)) ||
        !take_field(rest, passwd) || !rest.empty())
        damaged(path, "the confined reader's answer is malformed");
    if (kind == "header") facts.header = parse_header(header, path);
    if (passwd.size() > kMaxPasswd) damaged(path, "its etc/passwd is over 4 MiB");
    facts.passwd = std::move(passwd);
    return facts;
}

} // namespace gantry::sqsh
