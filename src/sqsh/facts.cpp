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

Superblock read_superblock(Image& image, std::string* bytes) {
    const std::string& path = image.path();
    struct stat st {};
    if (::fstat(image.fd(), &st) != 0) throw_errno("cannot stat " + path);
    char head[kSuperblockSize] = {};
    ssize_t got = ::pread(image.fd(), head, sizeof head, 0);
    if (got < 0) throw_errno("cannot read " + path);
    std::string_view read(head, static_cast<std::size_t>(got));
    if (bytes) bytes->assign(read);
    return check_superblock(read, static_cast<std::uint64_t>(st.st_size), path);
}

Facts read_facts(Image& image, bool want_passwd, const std::function<void()>& confine) {
    Superblock super = read_superblock(image);
    return facts_from(super, ask_facts(image, want_passwd, confine), image.path());
}

std::string ask_facts(Image& image, bool want_passwd, const std::function<void()>& confine) {
    // the answer: "header" and the header xattr's raw value (parse_header verifies it here),
    // or "ok" (a squashfs without one); then passwd
    return run_confined(
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
}

Facts facts_from(const Superblock& super, std::string_view answer, const std::string& path) {
    Facts facts;
    facts.super = super;
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
